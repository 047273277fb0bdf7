"""The OpenAI backend and prompt enhancement, end to end against a real HTTP double on loopback:
request shapes, each error kind (attempts, delays, snapshot error, metrics), the breakers."""

import json
import logging
import threading
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dalleserver.config import load_config
from dalleserver.dress import Catalog
from dalleserver.provider.enhance import chat_payload
from dalleserver.provider.images import image_payload, orientation
from dalleserver.runtime import build_runtime
from tests.conftest import write_series
from tests.support import openai_double as od
from tests.support.server import wait_done

KEY = "sk-test-" + "q" * 40
A = "0x" + "7a" * 20
ADDRESSES = ["0x" + f"{i:02x}" * 20 for i in range(1, 12)]


class Sleeps:
    def __init__(self):
        self.delays = []

    def __call__(self, seconds):
        self.delays.append(seconds)


def make(tmp_path, api, env=None, breaker=None, workers=2):
    sleeps = Sleeps()
    environ = {"HOME": str(tmp_path), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base_url,
               "TB_DALLE_ENHANCEMENT_TIMEOUT": "2s", "TB_DALLE_IMAGE_TIMEOUT": "2s"}
    environ.update(env or {})
    config = load_config({"data_dir": str(tmp_path / "data"), "workers": str(workers)},
                         environ, cwd=tmp_path)
    runtime = build_runtime(config, guard_options={"sleep": sleeps, "rand": lambda: 0.5},
                            breaker_options=breaker)
    runtime.jobs.start()
    return runtime, sleeps


def generate(runtime, series="songbird-morning", address=A, timeout=30):
    runtime.jobs.submit(series, address)
    return wait_done(runtime, (series, address), timeout)


def metric(runtime, family, **labels):
    text = runtime.instruments.text()
    for fam in text_string_to_metric_families(text):
        if fam.name == family:
            return sum(s.value for s in fam.samples
                       if all(s.labels.get(k) == v for k, v in labels.items())
                       and not s.name.endswith("_created"))
    raise KeyError(family)


def requests_to(api, endpoint):
    suffix = {"chat": "/chat/completions", "images": "/images/generations"}[endpoint]
    return [r for r in api.requests if r["path"].endswith(suffix)]


@pytest.fixture
def api():
    with od.OpenAIDouble() as double:
        yield double


# -- request shapes ------------------------------------------------------------------------

def test_chat_payload_rules(tmp_path):
    dress = Catalog(None).dress("songbird-morning", A)
    config = load_config({}, {"HOME": str(tmp_path), "OPENAI_API_KEY": KEY}, cwd=tmp_path)
    payload = chat_payload(config, dress.prompt, "persona")
    assert list(payload) == ["model", "seed", "messages"]  # gpt-5 models take no temperature
    assert payload["model"] == "gpt-5.5" and payload["seed"] == 1337
    assert payload["messages"][0]["content"].startswith("persona\n\n")
    assert payload["messages"][1] == {"role": "user", "content": dress.prompt}
    config = load_config({}, {"HOME": str(tmp_path), "OPENAI_API_KEY": KEY,
                              "TB_DALLE_ENHANCEMENT_MODEL": "gpt-4o"}, cwd=tmp_path)
    assert list(chat_payload(config, "p", "a")) == ["model", "seed", "temperature", "messages"]


@pytest.mark.parametrize("model,wide,tall,square,quality", [
    ("gpt-image-2", "1536x1024", "1024x1536", "1024x1024", "high"),
    ("gpt-image-1", "1536x1024", "1024x1536", "1024x1024", "high"),
    ("gpt-image-1-mini", "1024x1024", "1024x1024", "1024x1024", "low"),
    ("dall-e-3", "1792x1024", "1024x1792", "1024x1024", "hd"),
    ("dall-e-2", "1024x1024", "1024x1024", "1024x1024", None),
    ("some-new-model", None, None, None, None),
])
def test_image_payload_sizes(tmp_path, model, wide, tall, square, quality):
    config = load_config({}, {"HOME": str(tmp_path), "OPENAI_API_KEY": KEY,
                              "TB_DALLE_IMAGE_MODEL": model}, cwd=tmp_path)
    dress = Catalog(None).dress("empty", A)
    for text, size in (("a Landscape scene", wide), ("a VERTICAL banner", tall),
                       ("a cat", square)):
        dress.enhanced_prompt = text
        payload = image_payload(config, dress)
        assert payload.get("size") == size, text
        assert payload.get("quality") == quality
        assert [k for k in payload if k in ("prompt", "n", "quality", "model", "size")] == [
            k for k in ("prompt", "n", "quality", "model", "size") if k in payload]
        assert payload["prompt"].startswith(dress.technical_prompt)
        assert payload["prompt"].rstrip().endswith(text) or model == "gpt-image-1"
        assert "response_format" not in payload


def test_orientation_fixes_the_originals_bug():
    assert orientation("a wide landscape") == "landscape"
    assert orientation("shot vertically") == "portrait"
    assert orientation("a Portrait") == "portrait"
    assert orientation("HORIZONTAL bands") == "landscape"
    assert orientation("horizontal and vertical") == "square"


# -- end to end ----------------------------------------------------------------------------

def test_b64_generation_with_enhancement(tmp_path, api):
    api.script("chat", od.ok_chat("A luminous, enhanced scene."))
    api.script("images", od.ok_image_b64())
    runtime, _ = make(tmp_path, api)
    snap = generate(runtime)
    assert snap["error"] == "", snap
    out = tmp_path / "data/output/songbird-morning"
    assert (out / "enhanced" / f"{A}.txt").read_text() == "A luminous, enhanced scene."
    technical = (out / "technical" / f"{A}.txt").read_text()
    assert technical.endswith("\n\nA luminous, enhanced scene.")
    assert (out / "annotated" / f"{A}.png").is_file() and (out / "generated" / f"{A}.png").is_file()
    assert snap["dalleDress"]["downloadMode"] == "b64"
    chat, image = requests_to(api, "chat")[0], requests_to(api, "images")[0]
    assert chat["headers"]["authorization"] == f"Bearer {KEY}"
    assert chat["json"]["messages"][1]["content"] == snap["dalleDress"]["prompt"]
    assert image["json"]["prompt"].endswith("A luminous, enhanced scene.")
    assert not any(p["skipped"] for p in snap["phases"] if p["name"] in (
        "enhance_prompt", "image_wait", "image_download", "annotate"))
    assert metric(runtime, "dalleserver_openai_requests", endpoint="images",
                  outcome="success") == 1


def test_a_failed_picture_is_recorded_and_its_enhancement_used_again(tmp_path, api):
    api.script("chat", od.ok_chat("A luminous, enhanced scene."))
    api.script("images", od.content_policy())
    runtime, _ = make(tmp_path, api)
    assert generate(runtime)["error"]
    record = runtime.records.read("songbird-morning", A)  # the original's completed: false
    assert record["status"]["completed"] is False and record["artifacts"] == {}
    assert record["prompts"]["enhancedPrompt"] == "A luminous, enhanced scene."
    stages = record["stages"]
    assert stages["enhanced"] == {"status": "complete"}
    assert stages["generated"]["status"] == "failed" and stages["generated"]["error"]
    assert str(tmp_path) not in json.dumps(record)
    api.script("images", od.ok_image_b64())
    snap = generate(runtime)  # the chat model is not paid twice for the same prompt
    assert snap["error"] == "" and len(requests_to(api, "chat")) == 1, snap
    assert any("failed run was used again" in note for note in snap["notes"]), snap["notes"]
    assert requests_to(api, "images")[-1]["json"]["prompt"].endswith(
        "A luminous, enhanced scene.")
    record = runtime.records.read("songbird-morning", A)
    assert record["status"]["completed"] is True and record["stages"]["generated"] == {
        "status": "complete"}
    api.script("images", od.content_policy())  # a forced run that fails keeps the good record
    runtime.jobs.submit("songbird-morning", A, force=True)
    assert wait_done(runtime, ("songbird-morning", A))["error"]
    assert runtime.records.read("songbird-morning", A) == record


def test_url_answer_is_downloaded(tmp_path, api):
    api.script("images", od.ok_image_url())
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1"})
    snap = generate(runtime)
    assert snap["error"] == "" and snap["dalleDress"]["downloadMode"] == "url"
    assert snap["dalleDress"]["imageUrl"].startswith(api.base_url)
    assert api.calls("chat") == 0  # TB_DALLE_NO_ENHANCE
    assert [p["skipped"] for p in snap["phases"] if p["name"] == "enhance_prompt"] == [True]


def test_oversized_or_broken_download_fails_clearly(tmp_path, api, monkeypatch):
    monkeypatch.setattr("dalleserver.provider.images.MAX_DOWNLOAD_BYTES", 1000)
    api.script("images", od.ok_image_url(png=b"x" * 5000))
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1"})
    snap = generate(runtime)
    assert "larger than 1000 bytes" in snap["error"]
    api.script("images", od.ok_image_url(download_status=404))
    snap = generate(runtime, address=ADDRESSES[0])
    assert "HTTP 404" in snap["error"]


def test_no_literary_style_skips_enhancement(tmp_path, api):
    write_series(tmp_path / "data", "plain", '{"litstyles": ["matches no style at all"]}')
    runtime, _ = make(tmp_path, api)
    snap = generate(runtime, series="plain")
    assert snap["error"] == "" and api.calls("chat") == 0


@pytest.mark.parametrize("actions,attempts,delays", [
    ((od.rate_limited(), od.rate_limited()), 3, [0.25, 0.5]),  # full jitter with rand=0.5
    ((od.rate_limited(retry_after="2"),), 2, [2.0]),
    ((od.rate_limited(retry_after_ms="1500"),), 2, [1.5]),
    ((od.server_error(500), od.server_error(503)), 3, [0.25, 0.5]),
    ((od.connection_reset(),), 2, [0.25]),
])
def test_retried_errors_then_success(tmp_path, api, actions, attempts, delays):
    api.script("images", *actions, od.ok_image_b64())
    runtime, sleeps = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1"})
    snap = generate(runtime)
    assert snap["error"] == "", snap["error"]
    assert api.calls("images") == attempts
    assert sleeps.delays == delays
    assert metric(runtime, "dalleserver_retries", operation="images") == attempts - 1


@pytest.mark.parametrize("action,attempts,needle", [
    (od.content_policy, 1, "refused the prompt (content policy)"),
    (od.insufficient_quota, 1, "quota exhausted"),
    (od.invalid_key, 1, "rejected the API key"),
    (od.broken_json, 1, "not JSON"),
    (lambda: od.bad_request("bad size"), 1, "refused the request (HTTP 400"),
    (lambda: od.server_error(503), 3, "unavailable (HTTP 503)"),
    (lambda: od.rate_limited(retry_after="120"), 1, "asked to wait 120s"),
])
def test_failures_give_readable_errors(tmp_path, api, action, attempts, needle):
    api.script("images", *[action() for _ in range(attempts)])
    runtime, sleeps = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1"})
    snap = generate(runtime)
    assert needle in snap["error"], snap["error"]
    assert snap["currentPhase"] == "failed" and snap["done"]
    assert api.calls("images") == attempts
    assert len(sleeps.delays) == attempts - 1
    assert KEY not in json.dumps(snap)
    assert not (tmp_path / "data/output/songbird-morning/annotated" / f"{A}.png").exists()
    assert metric(runtime, "dalleserver_openai_errors") == attempts


def test_timeouts_are_retried_and_counted(tmp_path, api):
    api.script("images", *[od.slow(1.5) for _ in range(3)])
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1",
                                          "TB_DALLE_IMAGE_TIMEOUT": "300ms"})
    snap = generate(runtime)
    assert "did not answer within 0.3s" in snap["error"]
    assert metric(runtime, "dalleserver_openai_timeouts") == 3
    assert api.calls("images") == 3


def test_breaker_opens_fails_fast_half_opens_and_closes(tmp_path, api):
    api.script("images", *[od.server_error(503) for _ in range(6)])
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1",
                                          "TB_DALLE_BREAKER_RESET": "400ms"}, workers=1)
    first = generate(runtime, address=ADDRESSES[0])  # 3 failures
    second = generate(runtime, address=ADDRESSES[1])  # 2 more: the breaker opens
    assert "HTTP 503" in first["error"]
    assert "provider unavailable, retry after" in second["error"]
    assert runtime.breakers["images"].state == "open"
    assert api.calls("images") == 5
    third = generate(runtime, address=ADDRESSES[2])  # fails fast: no call reaches the API
    assert "provider unavailable, retry after" in third["error"]
    assert api.calls("images") == 5
    assert metric(runtime, "dalleserver_circuit_breaker_state", breaker="images",
                  state="open") == 1
    assert metric(runtime, "dalleserver_circuit_breaker_state", breaker="chat",
                  state="closed") == 1
    time.sleep(0.45)
    assert runtime.breakers["images"].state == "half_open"
    api.script("images")  # the next calls succeed (script holds one more 503: drain it)
    api.script("images", od.ok_image_b64(), od.ok_image_b64())
    generate(runtime, address=ADDRESSES[3])  # the 6th scripted 503: probe fails, reopens
    assert runtime.breakers["images"].state == "open"
    time.sleep(0.45)
    assert generate(runtime, address=ADDRESSES[4])["error"] == ""
    assert generate(runtime, address=ADDRESSES[5])["error"] == ""
    assert runtime.breakers["images"].state == "closed"


def test_breaker_settings_come_from_the_configuration(tmp_path, api):
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_BREAKER_FAILURES": "2",
                                          "TB_DALLE_BREAKER_SUCCESSES": "3",
                                          "TB_DALLE_BREAKER_RESET": "1m"})
    snapshot = runtime.breakers["images"].snapshot()
    assert snapshot["state"] == "closed"
    breaker = runtime.breakers["images"]
    for _ in range(2):
        with pytest.raises(RuntimeError):
            breaker.call(lambda: (_ for _ in ()).throw(RuntimeError("down")))
    assert breaker.state == "open"
    assert 50 < breaker.snapshot()["retry_after"] <= 60


def test_chat_breaker_does_not_block_images(tmp_path, api):
    api.script("chat", *[od.server_error(500) for _ in range(9)])
    runtime, _ = make(tmp_path, api, workers=1)
    for address in ADDRESSES[:3]:
        snap = generate(runtime, address=address)
        assert snap["error"] == ""  # images still work
        assert any("enhancement unavailable" in n and "base prompt was used" in n
                   for n in snap["notes"])
        assert snap["dalleDress"]["enhancedPrompt"] == snap["dalleDress"]["prompt"]
    assert runtime.breakers["chat"].state == "open"
    assert runtime.breakers["images"].state == "closed"
    assert api.calls("chat") == 5


def test_concurrent_generations_during_a_trip(tmp_path, api):
    api.script("images", *[od.server_error(502) for _ in range(40)])
    runtime, _ = make(tmp_path, api, env={"TB_DALLE_NO_ENHANCE": "1"}, workers=4)
    results = {}

    def run(address):
        results[address] = generate(runtime, address=address)

    threads = [threading.Thread(target=run, args=(a,)) for a in ADDRESSES[:8]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 8
    assert all(r["done"] and r["error"] for r in results.values())
    assert runtime.breakers["images"].state == "open"
    assert any("provider unavailable" in r["error"] for r in results.values())
    assert api.calls("images") < 8 * 3  # the open breaker spared the provider


def test_key_never_logged(tmp_path, api, caplog):
    caplog.set_level(logging.DEBUG)
    api.script("images", od.invalid_key())
    api.script("chat", od.content_policy())
    runtime, _ = make(tmp_path, api)
    snap = generate(runtime)
    assert snap["error"]
    everything = caplog.text + json.dumps(snap) + runtime.instruments.text()
    everything += "".join(p.read_text(errors="ignore") for p in (tmp_path / "data").rglob("*")
                          if p.is_file())
    assert KEY not in everything
    assert "sk-test" not in everything


def test_health_follows_the_breakers(tmp_path, api):
    from tests.support.server import running_server

    env = {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base_url}
    with running_server(tmp_path, flags={"image_backend": "openai"}, env=env) as (client, app):
        response, doc = client.json("GET", "/health")
        assert doc["data"]["components"]["openai"]["status"] == "healthy"
        breaker = app.runtime.breakers["images"]

        def fail():
            raise RuntimeError("down")

        for _ in range(5):
            with pytest.raises(RuntimeError):
                breaker.call(fail)
        response, doc = client.json("GET", "/health")
        # every finished picture is still served: degraded, and kept by load balancers
        assert response.status == 200 and doc["data"]["status"] == "degraded"
        assert doc["data"]["components"]["openai"]["status"] == "degraded"
        assert doc["data"]["components"]["openai"]["breakers"]["images"] == "open"
        response, body = client.get("/metrics")
        assert ('dalleserver_circuit_breaker_state{breaker="images",state="open"} 1'
                in body.decode())
        response, doc = client.json("GET", f"/dalle/empty/{A}?generate=1")
        assert response.status == 202
        deadline = time.monotonic() + 10
        while not doc["data"].get("done") and time.monotonic() < deadline:
            time.sleep(0.05)
            _, doc = client.json("GET", f"/dalle/empty/{A}")
        assert doc["data"]["error"].startswith("provider unavailable, retry after")
        assert api.calls("images") == 0
