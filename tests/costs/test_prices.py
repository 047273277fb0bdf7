"""The price table: built-in prices, "auto", overrides from a JSON file, and the startup
errors of a table or a dollar budget that cannot be used."""

import json

import pytest

from dalleserver.config import ConfigError, load_config
from dalleserver.costs.prices import PRICES_AS_OF, PriceTable, load_price_table


def test_builtin_prices():
    prices = PriceTable()
    assert prices.image("gpt-image-2", "high", "1024x1024") == 0.211
    assert prices.image("gpt-image-2", "low", "1536x1024") == 0.005
    assert prices.image("dall-e-3", "hd", "1792x1024") == 0.12
    assert prices.image("dall-e-2", "", "1024x1024") == 0.02
    assert prices.image("gpt-image-1", "auto", "auto") == 0.25  # the dearest it may pick
    assert prices.image("gpt-image-1", "ultra", "1024x1024") is None
    assert prices.image("local-sd", "", "") is None
    assert prices.chat_call("gpt-5.5", 1_000_000, 0) == 5.0
    assert prices.chat_estimate("gpt-5.5") == pytest.approx((1000 * 5 + 2000 * 30) / 1e6)


def test_a_price_file_overrides_and_adds(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({
        "asOf": "2026-12-01",
        "images": {"gpt-image-2": {"high": {"1024x1024": 0.3}},
                   "local-sd": {"": {"": 0.001}}},
        "chat": {"my-llm": {"input": 1, "output": 2}},
        "chatTokensPerCall": {"output": 500},
    }))
    prices = load_price_table(path)
    assert prices.image("gpt-image-2", "high", "1024x1024") == 0.3
    assert prices.image("gpt-image-2", "high", "1536x1024") == 0.165  # kept
    assert prices.image("local-sd", "", "") == 0.001
    assert prices.chat_estimate("my-llm") == pytest.approx((1000 * 1 + 500 * 2) / 1e6)
    assert prices.as_of == "2026-12-01" and PriceTable().as_of == PRICES_AS_OF


@pytest.mark.parametrize("doc,needle", [
    ({"images": {"gpt-image-2": {"high": {"1024x1024": -1}}}},
     "images.gpt-image-2.high.1024x1024 must be a number of dollars (0 or more)"),
    ({"images": {"gpt-image-2": {"high": {"1024x1024": "cheap"}}}}, "must be a number"),
    ({"chat": {"gpt-5.5": {"cached": 1}}}, "chat.gpt-5.5.cached: only input and output"),
    ({"images": []}, "images must be an object"),
    ([], "the price table must be an object"),
])
def test_a_bad_price_file_is_one_startup_line(tmp_path, doc, needle):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(ConfigError) as caught:
        load_config({}, {"HOME": str(tmp_path), "TB_DALLE_PRICE_TABLE": str(path)},
                    cwd=tmp_path)
    assert str(caught.value).startswith("TB_DALLE_PRICE_TABLE: ")
    assert needle in str(caught.value) and "\n" not in str(caught.value)


def test_a_dollar_budget_needs_prices_for_what_it_buys(tmp_path):
    env = {"HOME": str(tmp_path), "OPENAI_API_KEY": "sk-x", "TB_DALLE_BUDGET": "$5/day",
           "TB_DALLE_IMAGE_MODEL": "local-sd"}
    with pytest.raises(ConfigError) as caught:
        load_config({}, env, cwd=tmp_path)
    assert str(caught.value) == (
        "TB_DALLE_BUDGET: a budget in dollars needs the price of local-sd pictures at quality "
        "(none) and size (none); add it with TB_DALLE_PRICE_TABLE")
    env.update(TB_DALLE_IMAGE_MODEL="gpt-image-1", TB_DALLE_ENHANCEMENT_MODEL="my-llm")
    with pytest.raises(ConfigError, match="the price of the chat model my-llm"):
        load_config({}, env, cwd=tmp_path)
    env["TB_DALLE_NO_ENHANCE"] = "1"
    assert load_config({}, env, cwd=tmp_path).budget.amount == 5
    # counting generations needs no prices
    load_config({}, {**env, "TB_DALLE_IMAGE_MODEL": "local-sd", "TB_DALLE_BUDGET": "9/day"},
                cwd=tmp_path)
