"""Shared fixtures of the deployment checks: one binary per run, and the namespace roots."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy.roots import have_root_tools

BINARY = REPO / "dist" / "dalleserver"


@pytest.fixture(scope="session")
def binary() -> Path:
    """The single binary: ``$DALLESERVER_BINARY`` when set (.ci/run builds it once and
    shares it between the test runs), else built here with ``make binary``."""
    given = os.environ.get("DALLESERVER_BINARY")
    if given:
        path = Path(given).resolve()
        assert path.is_file() and os.access(path, os.X_OK), f"{path} is not executable"
        return path
    result = subprocess.run(["make", "binary"], cwd=REPO, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert BINARY.is_file() and os.access(BINARY, os.X_OK)
    return BINARY


@pytest.fixture(scope="session")
def root_tools() -> None:
    """Skip (with the reason) where namespaces, mounts and debootstrap are not available."""
    problem = have_root_tools()
    if problem:
        pytest.skip(problem)
