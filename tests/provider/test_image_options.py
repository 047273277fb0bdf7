"""Quality, size, output format and style per image model: what the request body carries
(through the OpenAI double), the defaults the original sends, and startup errors."""

import json

import pytest

from dalleserver.cli import main
from dalleserver.config import ConfigError, load_config
from dalleserver.costs.prices import PriceTable
from dalleserver.runtime import build_runtime
from tests.support import openai_double as od
from tests.support.server import wait_done

KEY = "sk-test-" + "o" * 40
A = "0x" + "5c" * 20


@pytest.fixture
def api():
    with od.OpenAIDouble() as double:
        yield double


def image_request(tmp_path, api, **env):
    """The JSON body of the one images call a generation makes with these settings."""
    environ = {"HOME": str(tmp_path), "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": api.base_url,
               "TB_DALLE_NO_ENHANCE": "1", **env}
    config = load_config({"data_dir": str(tmp_path / "data")}, environ, cwd=tmp_path)
    runtime = build_runtime(config, workers=1)
    runtime.jobs.start()
    try:
        runtime.jobs.submit("empty", A)
        snap = wait_done(runtime, ("empty", A))
    finally:
        runtime.jobs.stop(1)
    assert snap["error"] == "", snap["error"]
    (request,) = api.requests_to("images")
    return request["json"]


@pytest.mark.parametrize("model,quality", [
    ("gpt-image-2", "low"), ("gpt-image-2", "medium"), ("gpt-image-1", "auto"),
    ("gpt-image-1.5", "medium"), ("gpt-image-1-mini", "high"), ("dall-e-3", "standard"),
])
def test_the_body_carries_the_configured_quality(tmp_path, api, model, quality):
    body = image_request(tmp_path, api, TB_DALLE_IMAGE_MODEL=model,
                         TB_DALLE_IMAGE_QUALITY=quality)
    assert body["model"] == model and body["quality"] == quality


@pytest.mark.parametrize("model,quality", [
    ("gpt-image-2", "high"), ("gpt-image-1", "high"), ("gpt-image-1.5", "high"),
    ("gpt-image-1-mini", "low"), ("dall-e-3", "hd"), ("dall-e-2", None),
])
def test_without_a_setting_the_originals_quality_is_sent(tmp_path, api, model, quality):
    body = image_request(tmp_path, api, TB_DALLE_IMAGE_MODEL=model)
    assert body.get("quality") == quality
    assert "output_format" not in body and "style" not in body


def test_size_format_and_style_reach_the_body(tmp_path, api):
    body = image_request(tmp_path, api, TB_DALLE_IMAGE_SIZE="1024x1536",
                         TB_DALLE_IMAGE_FORMAT="webp")
    assert body["size"] == "1024x1536" and body["output_format"] == "webp"
    assert list(body) == ["prompt", "n", "quality", "model", "size", "output_format"]


@pytest.mark.parametrize("env,needle", [
    ({"TB_DALLE_IMAGE_QUALITY": "hd"},
     "TB_DALLE_IMAGE_QUALITY: 'hd' is not a quality of gpt-image-2; accepted: low, medium, "
     "high, auto"),
    ({"TB_DALLE_IMAGE_MODEL": "dall-e-3", "TB_DALLE_IMAGE_QUALITY": "high"},
     "TB_DALLE_IMAGE_QUALITY: 'high' is not a quality of dall-e-3; accepted: standard, hd"),
    ({"TB_DALLE_IMAGE_MODEL": "dall-e-3", "TB_DALLE_IMAGE_SIZE": "1536x1024"},
     "TB_DALLE_IMAGE_SIZE: '1536x1024' is not a size of dall-e-3; accepted: 1024x1024, "
     "1792x1024, 1024x1792"),
    ({"TB_DALLE_IMAGE_FORMAT": "gif"},
     "TB_DALLE_IMAGE_FORMAT: 'gif' is not an output format of gpt-image-2; accepted: png, "
     "jpeg, webp"),
    ({"TB_DALLE_IMAGE_MODEL": "dall-e-2", "TB_DALLE_IMAGE_FORMAT": "png"},
     "TB_DALLE_IMAGE_FORMAT: dall-e-2 takes no output format; leave it empty"),
    ({"TB_DALLE_IMAGE_STYLE": "vivid"},
     "TB_DALLE_IMAGE_STYLE: gpt-image-2 takes no style; leave it empty"),
])
def test_an_invalid_combination_is_a_startup_error(tmp_path, env, needle):
    with pytest.raises(ConfigError) as caught:
        load_config({}, {"HOME": str(tmp_path), **env}, cwd=tmp_path)
    assert str(caught.value) == needle


def test_an_invalid_quality_exits_2_with_one_line(tmp_path, monkeypatch, capsys):
    for name in [n for n in __import__("os").environ if n.startswith(("TB_DALLE_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("TB_DALLE_IMAGE_MODEL", "gpt-image-1")
    monkeypatch.setenv("TB_DALLE_IMAGE_QUALITY", "ultra")
    monkeypatch.chdir(tmp_path)
    assert main(["serve", "--port", "0", "--data-dir", str(tmp_path / "d")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "TB_DALLE_IMAGE_QUALITY: 'ultra' is not a quality of gpt-image-1" in err


def test_an_unknown_model_passes_settings_through(tmp_path, api):
    body = image_request(tmp_path, api, TB_DALLE_IMAGE_MODEL="local-sd",
                         TB_DALLE_IMAGE_QUALITY="fine")
    assert body["quality"] == "fine" and "size" not in body


def test_auto_is_recorded_and_priced_as_what_the_answer_reports(tmp_path, api):
    body = image_request(tmp_path, api, TB_DALLE_IMAGE_QUALITY="auto", TB_DALLE_IMAGE_SIZE="auto")
    assert (body["quality"], body["size"]) == ("auto", "auto")
    selector = json.loads((tmp_path / "data/output/empty/selector" / f"{A}.json").read_text())
    (call,) = selector["generation"]["paidCalls"]
    # the double, like the API, answers with the quality and size it chose
    assert (call["quality"], call["size"]) == ("medium", "1024x1024")
    assert call["estimatedCost"] == PriceTable().image("gpt-image-2", "medium", "1024x1024")
