"""The command blocks of docs/operations.md, by the test scenario that runs them.

Each ```sh block is preceded by ``<!-- test: SCENARIO -->``; a test runs the blocks of its
scenario in order, and ``test_every_documented_command_is_run`` checks that each scenario
has such a test, so that no command in the guide goes untried.
"""

from __future__ import annotations

import re

from tests.conftest import REPO

DOC = REPO / "docs" / "operations.md"
SCENARIOS = {
    "tarball": "tests/deploy/test_systemd.py::test_tarball_install_as_documented",
    "deb": "tests/deploy/test_systemd.py::test_deb_install_as_documented",
    "service": "both systemd scenarios, after their install blocks",
    "prometheus": "tests/deploy/test_monitoring.py::test_documented_promtool_commands",
}
BLOCK = re.compile(r"(?:<!-- test: (?P<tag>[a-z]+) -->\n)?```sh\n(?P<body>.*?)```", re.S)


def blocks() -> list[tuple[str | None, str]]:
    """(scenario or None, script) for every sh block, in document order."""
    return [(m.group("tag"), m.group("body")) for m in BLOCK.finditer(DOC.read_text())]


def scripts(scenario: str) -> list[str]:
    """The blocks of one scenario, each a script for ``bash -e``."""
    return [body for tag, body in blocks() if tag == scenario]
