"""TB_DALLE_RPC_URL / --rpc-url: off by default, validated, and never printed."""

from __future__ import annotations

import pytest

from dalleserver.config import ConfigError, load_config

URL = "https://mainnet.example.org/v3/SECRETKEY0123456789"


def test_off_by_default() -> None:
    assert load_config(environ={}).rpc_url == ""


def test_from_the_environment_and_the_flag() -> None:
    assert load_config(environ={"TB_DALLE_RPC_URL": f" {URL} "}).rpc_url == URL
    config = load_config({"rpc_url": "http://127.0.0.1:8545"},
                         environ={"TB_DALLE_RPC_URL": URL})
    assert config.rpc_url == "http://127.0.0.1:8545"
    assert config.sources["rpc_url"] == "--rpc-url"


def test_the_url_is_kept_whole() -> None:
    # some providers want the trailing slash after the key
    assert load_config(environ={"TB_DALLE_RPC_URL": URL + "/"}).rpc_url == URL + "/"


@pytest.mark.parametrize("bad", [
    "wss://mainnet.example.org/v3/SECRETKEY0123456789",
    "mainnet.example.org/v3/SECRETKEY0123456789",
    "http:///v3/SECRETKEY0123456789",
    "http://node:99999/SECRETKEY0123456789",
    "http://node/SECRETKEY0123456789 x",
])
def test_a_bad_value_is_refused_without_repeating_it(bad: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(environ={"TB_DALLE_RPC_URL": bad})
    message = str(caught.value)
    assert message.startswith("TB_DALLE_RPC_URL: invalid value (not shown); expected")
    assert "SECRETKEY" not in message


def test_never_printed() -> None:
    config = load_config(environ={"TB_DALLE_RPC_URL": URL})
    assert config.describe()["rpc_url"] == "set"
    assert load_config(environ={}).describe()["rpc_url"] == "unset"
    assert "SECRETKEY" not in repr(config)
