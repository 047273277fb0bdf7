"""The command line as a user runs it: prompts, series, check, errors."""

import json
import subprocess
import sys

from tests.conftest import REPO, clean_env, run_cli, write_series

ADDRESS = "0x123456789abcdef0123456789abcdef012345678"


def test_prompts_text(tmp_path):
    result = run_cli("prompts", "empty", ADDRESS, "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 0, result.stderr
    for heading in ("Title:", "Terse:", "Prompt:", "Data:", "Attributes:"):
        assert heading in result.stdout
    assert "adverbs row" in result.stdout
    assert not (tmp_path / "d").exists()


def test_prompts_json_and_case_insensitive_series(tmp_path):
    a = run_cli("prompts", "EMPTY", ADDRESS.upper().replace("0X", "0x"), "--json",
                "--data-dir", str(tmp_path))
    b = run_cli("prompts", "empty", ADDRESS, "--json", "--data-dir", str(tmp_path))
    assert a.returncode == 0 and a.stdout == b.stdout
    doc = json.loads(a.stdout)
    assert set(doc) >= {"series", "address", "title", "terse", "data", "prompt", "attributes"}
    assert doc["address"] == ADDRESS and doc["series"] == "empty"


def test_invalid_address_and_unknown_series_exit_2(tmp_path):
    for args, needle in (
        (("prompts", "empty", "0x1234"), "invalid address"),
        (("prompts", "empty", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), "checksum"),
        (("prompts", "no-such-series", ADDRESS), "unknown series"),
        (("prompts", "empty"), "address"),
    ):
        result = run_cli(*args, "--data-dir", str(tmp_path))
        assert result.returncode == 2, args
        assert needle in result.stderr, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_a_hidden_series_makes_nothing_from_the_command_line(tmp_path):
    write_series(tmp_path, "put-away", '{"purpose": "old", "deleted": true}')
    for command in ("prompts", "generate"):
        result = run_cli(command, "put-away", ADDRESS, "--data-dir", str(tmp_path))
        assert result.returncode == 2, result.stdout + result.stderr
        assert "is hidden" in result.stderr and result.stderr.count("\n") == 1
    assert not (tmp_path / "output" / "put-away").exists()


def test_series_lists_builtin_and_user(tmp_path):
    write_series(tmp_path, "zz-mine", '{"purpose": "mine", "emotions": ["joy"]}')
    write_series(tmp_path, "broken", "{nope")
    result = run_cli("series", "--json", "--data-dir", str(tmp_path))
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    names = [s["suffix"] for s in doc["series"]]
    assert names == sorted(names) and "empty" in names and "zz-mine" in names
    assert doc["count"] == len(names)
    assert "broken.json" in result.stderr and "invalid JSON" in result.stderr
    text = run_cli("series", "--data-dir", str(tmp_path))
    assert "zz-mine" in text.stdout and "emotions: joy" in text.stdout


def test_check_passes_on_a_fresh_data_dir(tmp_path):
    result = run_cli("check", "--data-dir", str(tmp_path / "fresh"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "everything is usable" in result.stdout
    assert "database nouns" in result.stdout


def test_check_fails_on_broken_series_and_unwritable_dir(tmp_path):
    write_series(tmp_path, "broken", "[")
    result = run_cli("check", "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert "FAIL" in result.stdout and "broken.json" in result.stdout
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("check", "--data-dir", str(blocker / "sub"))
    assert result.returncode == 1 and "data dir" in result.stdout


def test_entry_points_agree(tmp_path):
    args = ["prompts", "empty", ADDRESS, "--json", "--data-dir", str(tmp_path)]
    via_module = run_cli(*args)
    via_script = subprocess.run([sys.executable, str(REPO / "dalleserver.py"), *args],
                                capture_output=True, text=True, env=clean_env(), cwd=tmp_path)
    assert via_script.returncode == 0, via_script.stderr
    assert via_script.stdout == via_module.stdout
