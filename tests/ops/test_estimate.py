"""``dalleserver estimate SERIES FILE``: pictures already made are counted, the rest priced
at the configured settings; bad lines are reported by number."""

import json
import os

import pytest

from dalleserver.cli import main
from dalleserver.costs.prices import PriceTable

ADDRESSES = ["0x" + f"{i:02x}" * 20 for i in range(1, 8)]


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    """Run the CLI in-process with a clean environment; returns (status, stdout, stderr)."""
    for name in [n for n in os.environ if n.startswith(("TB_DALLE_", "OPENAI_", "XDG_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)

    def run(*args, **env):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        status = main(list(args))
        out, err = capsys.readouterr()
        return status, out, err

    return run


def make_pictures(tmp_path, series, addresses):
    folder = tmp_path / "data/output" / series / "annotated"
    folder.mkdir(parents=True, exist_ok=True)
    for address in addresses:
        (folder / f"{address}.png").write_bytes(b"\x89PNG")


def test_estimate_counts_existing_pictures_and_prices_the_rest(tmp_path, cli):
    make_pictures(tmp_path, "empty", ADDRESSES[:3])
    make_pictures(tmp_path, "songbird-morning", ADDRESSES[3:])  # another series: not counted
    listing = tmp_path / "list.txt"
    listing.write_text("# to draw\n" + "\n".join(ADDRESSES) + "\n\n" + ADDRESSES[0].upper()
                       .replace("0X", "0x") + "  # again\n")
    status, out, err = cli("estimate", "empty", str(listing), "--json", "--data-dir",
                           str(tmp_path / "data"), OPENAI_API_KEY="sk-x",
                           TB_DALLE_NO_ENHANCE="1", TB_DALLE_IMAGE_QUALITY="low",
                           TB_DALLE_IMAGE_SIZE="1024x1024", TB_DALLE_BUDGET="2/day")
    assert status == 0 and err == ""
    doc = json.loads(out)
    assert (doc["addresses"], doc["existing"], doc["missing"], doc["duplicates"]) == (7, 3, 4, 1)
    price = PriceTable().image("gpt-image-2", "low", "1024x1024")
    assert doc["estimatedCost"] == {"images": pytest.approx(4 * price), "enhancement": 0.0,
                                    "total": pytest.approx(4 * price)}
    assert doc["budget"] == {"budget": "2/day", "periods": 2, "period": "day"}


def test_bad_lines_are_reported_by_number(tmp_path, cli):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{ADDRESSES[0]}\nnot an address\n\n0x12\n{'f' * 500}\n")
    status, out, err = cli("estimate", "empty", str(listing), "--data-dir",
                           str(tmp_path / "data"))
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith(f"{listing}:2: 'not an address' is not an Ethereum address")
    assert lines[1].startswith(f"{listing}:4: '0x12'")
    assert lines[2].startswith(f"{listing}:5: ") and len(lines[2]) < 200
    assert "to generate:     1" in out and "nothing is paid" in out


def test_unusable_series_or_file_is_one_line(tmp_path, cli):
    status, _, err = cli("estimate", "nope", str(tmp_path / "missing.txt"))
    assert status == 2 and err.count("\n") == 1 and "unknown series 'nope'" in err
    status, _, err = cli("estimate", "empty", str(tmp_path / "missing.txt"))
    assert status == 2 and err.count("\n") == 1 and "cannot read" in err
