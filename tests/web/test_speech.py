"""Text to speech over HTTP: a clear 503 without a key; with one, the spoken prompt is made
once through the speech endpoint (behind its breaker and retry) and then served as a file."""

import hashlib
import json

import pytest

from tests.support import openai_double as od
from tests.support.server import running_server, wait_done

A = "0xf503017d7baf7fbc0fff7492b751025c6a78179b"
KEY = "sk-test-speech"


@pytest.fixture
def api():
    with od.OpenAIDouble() as double:
        yield double


def _env(api):
    return {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base_url, "TB_DALLE_NO_ENHANCE": "1"}


def test_without_a_key_speech_is_a_clear_503(tmp_path):
    with running_server(tmp_path) as (client, app):
        response, doc = client.json("GET", f"/dalle/empty/{A}/speech")
        assert response.status == 503 and doc["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert "OPENAI_API_KEY" in doc["error"]["message"]
        client.json("POST", "/v1/images/generate", body=b'{"input": "owls"}',
                    headers={"Content-Type": "application/json"})
        response, doc = client.json("GET", "/v1/images/" + _seed("owls") + "/speech")
        assert response.status == 503 and doc["error"]["code"] == "provider_unavailable"


def _seed(text):
    return hashlib.sha256(text.encode()).hexdigest()


def test_speech_is_made_once_and_served_as_a_file(tmp_path, api):
    env = _env(api)
    with running_server(tmp_path, flags={"image_backend": "local"}, env=env) as (client, app):
        client.json("GET", f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        response, body = client.get(f"/dalle/empty/{A}/speech")
        assert response.status == 200 and response.getheader("Content-Type") == "audio/mpeg"
        assert body == od.FAKE_MP3
        again, body2 = client.get(f"/dalle/empty/{A}/speech")
        assert again.status == 200 and body2 == body
        [call] = api.requests_to("speech")  # the second answer came from the file
        sent = json.loads(call["body"])
        assert sent["model"] == "tts-1" and sent["voice"] == "alloy"
        assert sent["input"] == (app.data_dir.text("empty", "enhanced", A).read_text())
        assert call["headers"]["authorization"] == f"Bearer {KEY}"
        assert (app.data_dir.output / "empty" / "audio" / f"{A}.mp3").is_file()
        # the v1 form of the same picture is the same file
        response, body = client.get(f"/v1/images/{A}/speech")
        assert response.status == 200 and api.calls("speech") == 1


def test_speech_failures_go_through_the_retry_and_are_reported(tmp_path, api):
    api.script("speech", od.server_error(500), od.server_error(500), od.server_error(500),
               od.server_error(500), od.server_error(500))
    with running_server(tmp_path, env=_env(api),
                        guard_options={"sleep": lambda s: None}) as (client, app):
        response, doc = client.json("GET", f"/dalle/empty/{A}/speech")
        assert response.status == 503 and "text to speech failed" in doc["error"]["message"]
        assert api.calls("speech") > 1  # retried
        assert KEY not in json.dumps(doc)
        assert not (app.data_dir.output / "empty" / "audio" / f"{A}.mp3").exists()
