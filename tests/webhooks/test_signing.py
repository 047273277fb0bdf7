"""Signatures checked by the Standard Webhooks reference library, the secret's forms, and
the allow-list."""

from __future__ import annotations

import base64
import json

import pytest
from standardwebhooks import Webhook

from dalleserver.config import ConfigError, load_config
from dalleserver.webhooks import AllowList, CallbackRefused
from dalleserver.webhooks.signing import new_message_id, signed_headers

KEY = bytes(range(32))
SECRET = "whsec_" + base64.b64encode(KEY).decode()


def test_the_reference_library_verifies_our_signature():
    import time

    body = json.dumps({"type": "generation.completed", "data": {"ü": 1}},
                      ensure_ascii=False).encode()
    headers = signed_headers(KEY, new_message_id(), int(time.time()), body)
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(SECRET).verify(body, headers) == {"type": "generation.completed",
                                                      "data": {"ü": 1}}
    tampered = dict(headers, **{"webhook-id": new_message_id()})
    with pytest.raises(Exception, match="signature"):
        Webhook(SECRET).verify(body, tampered)


def test_message_ids_are_unique_and_dotless():
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100 and not any("." in i for i in ids)


def _config(**env: str):
    return load_config({}, {"HOME": "/nonexistent-home", **env})


def test_the_secret_takes_the_standard_form_with_or_without_its_prefix():
    assert _config(TB_DALLE_WEBHOOK_SECRET=SECRET).webhook_secret == KEY
    assert _config(TB_DALLE_WEBHOOK_SECRET=SECRET[6:].rstrip("=")).webhook_secret == KEY
    for bad in ("whsec_short", "not base64 !", "whsec_" + base64.b64encode(b"k" * 65).decode()):
        with pytest.raises(ConfigError, match="TB_DALLE_WEBHOOK_SECRET.*24 to 64") as error:
            _config(TB_DALLE_WEBHOOK_SECRET=bad)
        assert bad not in str(error.value)  # a secret is never repeated


def test_hosts_without_a_secret_stop_the_start():
    with pytest.raises(ConfigError, match="TB_DALLE_WEBHOOK_HOSTS.*TB_DALLE_WEBHOOK_SECRET"):
        _config(TB_DALLE_WEBHOOK_HOSTS="hooks.example.com")
    with pytest.raises(ConfigError, match="TB_DALLE_WEBHOOK_HOSTS"):
        _config(TB_DALLE_WEBHOOK_HOSTS="a b", TB_DALLE_WEBHOOK_SECRET=SECRET)
    config = _config(TB_DALLE_WEBHOOK_HOSTS="Hooks.Example.com, 127.0.0.1:9000",
                     TB_DALLE_WEBHOOK_SECRET=SECRET)
    assert config.webhook_hosts == ("hooks.example.com", "127.0.0.1:9000")
    assert config.describe()["webhook_secret"] == "set" and SECRET not in repr(config)


def test_the_allow_list_takes_only_its_hosts():
    allow = AllowList(("hooks.example.com", "127.0.0.1:9000", "[::1]:8000"))
    target = allow.check("https://HOOKS.example.com/in?x=1#frag")
    assert (target.host, target.port, target.path, target.entry) == (
        "hooks.example.com", 443, "/in?x=1", "hooks.example.com")
    assert target.url == "https://HOOKS.example.com/in?x=1"
    assert allow.check("http://127.0.0.1:9000").path == "/"
    assert allow.check("http://[::1]:8000/x").host == "::1"
    for refused in ("http://127.0.0.1:9001/", "http://localhost:9000/", "ftp://hooks.example.com/",
                    "http://user:pw@hooks.example.com/", "http://evil.com/?hooks.example.com",
                    "http://hooks.example.com.evil.com/", "hooks.example.com/path",
                    "http://hooks.example.com:99999/", "http://hooks.example.com/ x",
                    "http://hooks.example.com/" + "a" * 3000):
        with pytest.raises(CallbackRefused):
            allow.check(refused)
