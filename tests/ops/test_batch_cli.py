"""'dalleserver batch' as a user runs it: in this process and against a server; bad lines
named by their numbers and skipped, a second run skipping what is done, exit codes."""

from __future__ import annotations

from tests.conftest import run_cli
from tests.support.backends import GatedBackend
from tests.support.server import running_server

TOKEN = "cli-token"
ADDRESSES = [f"0x{n:040x}" for n in range(1, 4)]


def _write_list(tmp_path, *extra: str):
    path = tmp_path / "addresses.txt"
    path.write_text("\n".join(["# a collection", ADDRESSES[0], "", "0x12",
                               f"{ADDRESSES[1]}  # two", *extra, ADDRESSES[2]]) + "\n")
    return path


def test_in_process_reports_bad_lines_and_resumes(tmp_path):
    listing, data = _write_list(tmp_path), str(tmp_path / "data")
    args = ("batch", str(listing), "--series", "empty", "--data-dir", data,
            "--image-backend", "local")
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    assert f"{listing}:4:" in first.stderr and "skipped" in first.stderr
    assert "done 3 failed 0 remaining 0" in first.stderr  # plain lines: not a terminal
    for address in ADDRESSES:
        assert (tmp_path / "data/output/empty/annotated" / f"{address}.png").is_file()
    again = run_cli(*args)
    assert again.returncode == 0, again.stderr
    assert "done 3 failed 0 remaining 0  0.0/s" in again.stderr  # nothing made again


def test_bad_input_exits_2(tmp_path):
    listing, data = _write_list(tmp_path), str(tmp_path / "data")
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing\n\n")
    for args, needle in (((str(listing), "--series", "nope"), "unknown series"),
                         ((str(tmp_path / "missing.txt"), "--series", "empty"), "cannot read"),
                         ((str(empty), "--series", "empty"), "has no address"),
                         ((str(listing), "--series", "empty", "--server", "ftp://h"),
                          "--server")):
        result = run_cli("batch", *args, "--data-dir", data)
        assert result.returncode == 2, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert needle in last and "Traceback" not in result.stderr


def test_against_a_server(tmp_path):
    listing = _write_list(tmp_path, "not an address either")
    with running_server(tmp_path, env={"TB_DALLE_ADMIN_TOKEN": TOKEN}) as (client, _app):
        server = f"http://127.0.0.1:{client.port}"
        args = ("batch", str(listing), "--series", "empty", "--server", server)
        refused = run_cli(*args)
        assert refused.returncode == 2 and "admin" in refused.stderr.lower()
        result = run_cli(*args, "--token", TOKEN)
        assert result.returncode == 0, result.stderr
        assert f"{listing}:4:" in result.stderr and f"{listing}:6:" in result.stderr
        assert "done 3 failed 0 remaining 0" in result.stderr
        again = run_cli(*args, "--token", TOKEN)
        assert again.returncode == 0 and "done 3 failed 0 remaining 0  0.0/s" in again.stderr


def test_failed_items_exit_1(tmp_path):
    listing = _write_list(tmp_path)
    with running_server(tmp_path, backend=GatedBackend(fail="the renderer broke"),
                        env={"TB_DALLE_ADMIN_TOKEN": TOKEN}) as (client, _app):
        result = run_cli("batch", str(listing), "--series", "empty", "--server",
                         f"http://127.0.0.1:{client.port}", "--token", TOKEN)
        assert result.returncode == 1, result.stderr
        assert "3 of 3 not made" in result.stderr
