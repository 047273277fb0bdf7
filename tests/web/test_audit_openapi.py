"""Schemathesis, an independent checker, against a live server from its own /openapi.json:
no 5xx, no schema-valid request refused, every status, media type, header and body as
documented (the "all" checks). Bounded in examples and time.

Not run: ``negative_data_rejection`` (a schema-violating value must be refused). Some
parameters are ignored where they do not apply (``?size=`` without an image extension,
``?refresh=`` on the form page), which that check reports; refusing them is those routes'
owners' call. The operational routes refuse every value they do not take.

The server talks to the OpenAI double (speech works as with a key) and draws pictures
locally.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import openai_double as od
from tests.support.server import running_server

pytestmark = pytest.mark.audit

MAX_EXAMPLES = "20"  # per operation and phase; the time budget bounds the whole run
OPERATIONAL = "^/(health|livez|readyz|metrics|errors|series|openapi.json)$"


# Rules JSON Schema cannot state, so a schema-valid request may rightly be refused there:
# the one check (positive_data_acceptance) is off for those operations only.
V1_CONFIG = """
[checks]
enabled = true  # all, as --checks all (which would override the lines below)

# a mixed-case address is a seed only with its EIP-55 checksum, a hash no pattern can say
[[operations]]
include-name = ["POST /v1/images/generate", "POST /v1/images/preview", "POST /v1/batches"]
checks.positive_data_acceptance.enabled = false

# DELETE cancels a batch, which stays readable with its state "cancelled" (not a removal)
[[operations]]
include-name = ["GET /v1/batches/{id}", "HEAD /v1/batches/{id}"]
checks.use_after_free.enabled = false

# a deleted record comes back, by design, through POST /v1/images/{id}/restore (and a
# preview of the same input makes the same imageId again); schemathesis counts only a
# creation at a prefix of the deleted path, so it reads the restored record as a
# use-after-free. tests/web/test_v1_images.py checks the 404s right after a DELETE.
[[operations]]
include-name = ["GET /v1/images/{id}", "HEAD /v1/images/{id}",
                "GET /v1/images/{id}/speech", "HEAD /v1/images/{id}/speech"]
checks.use_after_free.enabled = false

# a cursor is a position only this server makes, for one sort order (another parameter)
[[operations]]
include-name = ["GET /v1/images", "HEAD /v1/images"]
checks.positive_data_acceptance.enabled = false

# the body's suffix, when given, must name the path's series: a rule across the two
[[operations]]
include-name = ["PUT /v1/series/{name}"]
checks.positive_data_acceptance.enabled = false
"""


def schemathesis(url: str, *options: str, seconds: int = 120, timeout: float = 600,
                 config: Path | None = None) -> subprocess.CompletedProcess:
    first = ["--config-file", str(config)] if config is not None else []
    checks = [] if config is not None else ["--checks", "all"]  # the file says which
    command = [sys.executable, "-m", "schemathesis.cli", *first, "run", url, *checks,
               "--max-examples", MAX_EXAMPLES, "--max-time", str(seconds),
               "--request-timeout", "20", "--workers", "1", "--warnings", "off",
               "--no-color", *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout)


def audit(tmp_path, *options: str, seconds: int = 120, config: str = "") -> None:
    config_file = None
    if config:
        config_file = tmp_path / "schemathesis.toml"
        config_file.write_text(config, encoding="utf-8")
    env = {"TB_DALLE_RATE_LIMIT": "0", "TB_DALLE_QUEUE_SIZE": "100000",
           "OPENAI_API_KEY": "sk-audit", "TB_DALLE_MAX_CONNECTIONS_PER_CLIENT": "0"}
    with od.OpenAIDouble() as api:
        env["OPENAI_BASE_URL"] = api.base_url
        flags = {"image_backend": "local", "workers": "2"}
        with running_server(tmp_path, flags=flags, env=env) as (client, _):
            result = schemathesis(f"http://127.0.0.1:{client.port}/openapi.json", *options,
                                  seconds=seconds, config=config_file)
    report = result.stdout[-6000:] + result.stderr[-2000:]
    assert result.returncode == 0, report
    assert "passed" in result.stdout, report


def test_the_openapi_document_holds_against_the_live_server(tmp_path):
    audit(tmp_path, "--exclude-path-regex", "^/v1/",
          "--exclude-checks", "negative_data_rejection")


def test_operational_routes_refuse_what_the_document_does_not_allow(tmp_path):
    audit(tmp_path, "--include-path-regex", OPERATIONAL, seconds=60)


def test_the_v1_api_holds_against_the_live_server(tmp_path):
    audit(tmp_path, "--include-path-regex", "^/v1/",
          "--exclude-checks", "negative_data_rejection", seconds=90, config=V1_CONFIG)
