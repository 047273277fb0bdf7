"""'dalleserver generate' and 'prompts' with ENS names, against the node double."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import run_cli
from tests.ens.conftest import VITALIK
from tests.support.rpc_double import RpcDouble

SECRET = "v3/SECRETKEY0123456789"


def test_prompts_of_a_name_are_those_of_its_address(tmp_path: Path, node: RpcDouble) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    by_name = run_cli("prompts", "empty", "Vitalik.ETH", "--json", "--rpc-url",
                      node.url + SECRET, *data)
    assert by_name.returncode == 0, by_name.stderr
    by_address = run_cli("prompts", "empty", VITALIK, "--json", *data)
    named, plain = json.loads(by_name.stdout), json.loads(by_address.stdout)
    assert named.pop("name") == "vitalik.eth" and plain.pop("name") == ""
    assert named == plain and named["address"] == VITALIK
    text = run_cli("prompts", "empty", "vitalik.eth", "--rpc-url", node.url, *data)
    assert f"Address: {VITALIK} (vitalik.eth)" in text.stdout


def test_generate_a_name_writes_the_files_of_its_address(tmp_path: Path,
                                                         node: RpcDouble) -> None:
    data = tmp_path / "data"
    result = run_cli("generate", "empty", "vitalik.eth", "--rpc-url", node.url,
                     "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    png = data / "output/empty/annotated" / f"{VITALIK}.png"
    assert result.stdout.strip() == str(png) and png.is_file()
    selector = json.loads((data / "output/empty/selector" / f"{VITALIK}.json").read_text())
    assert selector["originalName"] == "vitalik.eth"
    again = run_cli("generate", "empty", VITALIK, "--json", "--data-dir", str(data))
    assert again.returncode == 0 and json.loads(again.stdout)["cacheHit"]


def test_name_errors_exit_2_with_one_line(tmp_path: Path, node: RpcDouble,
                                          refused_url: str) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    cases = [
        ((), "vitalik.eth", "need an Ethereum node: set TB_DALLE_RPC_URL"),
        (("--rpc-url", node.url), "nobody.eth", "does not resolve to an address"),
        (("--rpc-url", node.url), "vitalík.eth", "Unicode and emoji names are not"),
        (("--rpc-url", refused_url + SECRET), "vitalik.eth", "cannot reach the Ethereum node"),
    ]
    for command in ("generate", "prompts"):
        for flags, name, needle in cases:
            result = run_cli(command, "empty", name, *flags, *data)
            assert result.returncode == 2, (command, name, result.stderr)
            assert needle in result.stderr and result.stderr.count("\n") == 1
            assert "Traceback" not in result.stderr and "SECRETKEY" not in result.stderr
    # a bad series is reported without asking the node
    node.clear()
    result = run_cli("prompts", "nope", "vitalik.eth", "--rpc-url", node.url, *data)
    assert result.returncode == 2 and "unknown series" in result.stderr
    assert node.requests == []
