"""Schemathesis, an independent checker, against a live server from its own /openapi.json:
no 5xx, no schema-valid request refused, every status, media type, header and body as
documented (the "all" checks). Bounded in examples and time.

Not run: ``negative_data_rejection`` (a schema-violating value must be refused). Some
parameters are ignored where they do not apply (``?size=`` without an image extension,
``?refresh=`` on the form page), which that check reports; refusing them is those routes'
owners' call. The operational routes refuse every value they do not take.

The server talks to the OpenAI double (speech works as with a key) and draws pictures
locally; the v1 API has its own run (its routes are another document's concern here).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support import openai_double as od
from tests.support.server import running_server

pytestmark = pytest.mark.audit

MAX_EXAMPLES = "20"  # per operation and phase; the time budget bounds the whole run
OPERATIONAL = "^/(health|livez|readyz|metrics|errors|series|openapi.json)$"


def schemathesis(url: str, *options: str, seconds: int = 120, timeout: float = 600
                 ) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "schemathesis.cli", "run", url, "--checks", "all",
               "--max-examples", MAX_EXAMPLES, "--max-time", str(seconds),
               "--request-timeout", "20", "--workers", "1", "--warnings", "off",
               "--no-color", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def audit(tmp_path, *options: str, seconds: int = 120) -> None:
    env = {"TB_DALLE_RATE_LIMIT": "0", "TB_DALLE_QUEUE_SIZE": "100000",
           "OPENAI_API_KEY": "sk-audit", "TB_DALLE_MAX_CONNECTIONS_PER_CLIENT": "0"}
    with od.OpenAIDouble() as api:
        env["OPENAI_BASE_URL"] = api.base_url
        flags = {"image_backend": "local", "workers": "2"}
        with running_server(tmp_path, flags=flags, env=env) as (client, _):
            result = schemathesis(f"http://127.0.0.1:{client.port}/openapi.json", *options,
                                  seconds=seconds)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout, report


def test_the_openapi_document_holds_against_the_live_server(tmp_path):
    audit(tmp_path, "--exclude-path-regex", "^/v1/",
          "--exclude-checks", "negative_data_rejection")


def test_operational_routes_refuse_what_the_document_does_not_allow(tmp_path):
    audit(tmp_path, "--include-path-regex", OPERATIONAL, seconds=60)
