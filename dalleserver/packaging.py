"""The deployment files the binary carries, for ``dalleserver print-unit`` and ``print-env``.

An operator who downloaded only the binary gets the systemd unit and the commented settings
file from it. The files are package data copied from ``deploy/`` (``make deploy-data``); a
test checks that the copies match, so there is one hand-edited version of each.
"""

from __future__ import annotations

from importlib import resources

UNIT = "dalleserver.service"
ENV_EXAMPLE = "env.example"


def deploy_file(name: str) -> str:
    """The text of one file from ``dalleserver/data/deploy``."""
    return resources.files("dalleserver").joinpath("data", "deploy", name).read_text(
        encoding="utf-8")


def unit_text() -> str:
    """The systemd unit, as installed to /etc/systemd/system/dalleserver.service."""
    return deploy_file(UNIT)


def env_text() -> str:
    """The commented settings file, as installed to /etc/dalleserver/env."""
    return deploy_file(ENV_EXAMPLE)


def print_deploy_file(command: str) -> int:
    """``print-unit`` or ``print-env``: the file on stdout, exit 0."""
    print(unit_text() if command == "print-unit" else env_text(), end="")
    return 0
