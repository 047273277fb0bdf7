"""The shell commands of README.md, for the tests that run them."""

from __future__ import annotations

import re

from tests.conftest import REPO

_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)
_COMMENT = re.compile(r"\s+#\s.*$")

# run by .ci/run itself (make test, then make test-binary, which runs make binary)
RUN_BY_CI = ("make test", "make test-binary", "make binary")


def readme_commands() -> list[str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            line = _COMMENT.sub("", line).strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands
