"""Shared fixtures: temp data dirs, synthetic databases, and running the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
UPSTREAM_DATA = REPO.parent / "shared" / "upstream-data"


def write_csv(directory: Path, name: str, header: str, rows: list[str]) -> Path:
    """Write ``<directory>/databases/<name>.csv`` in the original's format."""
    folder = directory / "databases"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.csv"
    path.write_text(header + "\n" + "".join(f"v0.1.0,{row}\n" for row in rows))
    return path


def write_series(directory: Path, name: str, text: str) -> Path:
    folder = directory / "series"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(text)
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


def clean_env(**extra: str) -> dict[str, str]:
    """The current environment without any dalleserver or OpenAI settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TB_DALLE_", "OPENAI_", "XDG_DATA_HOME"))
    }
    env.update(extra)
    return env


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m dalleserver`` as a user would, capturing output."""
    return subprocess.run(
        [sys.executable, "-m", "dalleserver", *args],
        cwd=cwd or REPO,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
