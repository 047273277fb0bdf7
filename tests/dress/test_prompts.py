"""Prompts: structure, no dangling text, determinism, and properties over random addresses."""

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dalleserver.dress import Catalog
from dalleserver.dress.databases import ATTRIBUTE_SLOTS
from dalleserver.dress.prompts import article
from tests.conftest import clean_env, run_cli, write_csv, write_series

ADDRESS = "0x123456789abcdef0123456789abcdef012345678"
addresses = st.text(alphabet="0123456789abcdef", min_size=40, max_size=40).map(
    lambda h: "0x" + h)


@pytest.fixture(scope="module")
def catalog():
    return Catalog(None)


def _bad_text(text: str) -> list[str]:
    problems = []
    if not text.strip():
        problems.append("empty")
    for needle in ("None", "{", "}", "  ", ": .", " ,", " .", "..", ",,"):
        if needle in text:
            problems.append(repr(needle))
    if re.search(r"\b(a|an|the)\s*[.,]", text):
        problems.append("dangling article")
    if re.search(r"^[ \t]+|[ \t]+$", text, re.M):
        problems.append("untrimmed line")
    return problems


@settings(max_examples=300, deadline=None)
@given(address=addresses, series_index=st.integers(min_value=0, max_value=100))
def test_random_addresses_give_clean_prompts(catalog, address, series_index):
    names = catalog.series.names()
    series = names[series_index % len(names)]
    dress = catalog.dress(series, address)
    for attribute in dress.attributes:
        if attribute.name != "backStyle":
            assert 0 <= attribute.selector < attribute.count
            assert attribute.value == catalog.view(series).rows[attribute.database][
                attribute.selector]
    prompts = {
        "title": dress.title_prompt,
        "terse": dress.terse_prompt,
        "prompt": dress.prompt,
        "technical": dress.technical_prompt,
    }
    if dress.value("litStyle") not in ("", "none"):
        prompts["author"] = dress.author_prompt
    for kind, text in prompts.items():
        assert not _bad_text(text), (kind, _bad_text(text), text)
    assert "\n" not in dress.terse_prompt and "\n" not in dress.title_prompt
    assert dress.data_prompt.strip()
    assert "None" not in dress.data_prompt and "{" not in dress.data_prompt


def test_data_prompt_lists_every_attribute_short_and_long(catalog):
    dress = catalog.dress("empty", ADDRESS)
    lines = dress.data_prompt.splitlines()
    for attribute in dress.attributes:
        line = next(x for x in lines if x.startswith(attribute.name + " "))
        short = attribute.value.split(",")[0]
        if attribute.name != "backStyle":
            assert short in line
    adverb = dress.value("adverb").split(",")
    assert f"{adverb[0]} ({adverb[1]})" in dress.data_prompt
    assert ADDRESS in dress.data_prompt and dress.seed in dress.data_prompt


def test_prompt_structure(catalog):
    dress = catalog.dress("empty", ADDRESS)
    lines = dress.prompt.splitlines()
    assert lines[0].startswith("Draw ")
    assert lines[1] == ""
    labels = [x.split(":")[0] for x in lines if ":" in x]
    for label in ("Noun", "Emotion", "Camera/viewpoint", "Composition", "Gaze"):
        assert label in labels
    # an address has 15 attributes: no place and no trope, and no empty lines for them
    assert "Setting" not in dress.prompt and "Narrative undertone" not in dress.prompt
    assert dress.technical_prompt.splitlines()[-1].isupper()
    assert dress.title_prompt == dress.title_prompt.strip()
    noun = dress.value("noun").split(",")[0]
    assert noun in dress.terse_prompt


def test_none_and_missing_attributes_leave_no_dangling_text(data_dir):
    write_series(data_dir, "barren", json.dumps({
        name: ["\u2603 matches nothing"] for name in
        ("adverbs", "adjectives", "nouns", "emotions", "occupations", "actions", "artstyles",
         "litstyles", "colors", "viewpoints", "gazes", "compositions")}))
    catalog = Catalog(data_dir)
    dress = catalog.dress("barren", ADDRESS)
    assert all(a.value == "none" for a in dress.attributes if a.name != "backStyle")
    for text in (dress.title_prompt, dress.terse_prompt, dress.prompt, dress.technical_prompt):
        assert "none" not in text.lower().split()
        assert not [p for p in _bad_text(text) if p != "empty"], text
    assert dress.author_prompt == ""  # no literary style, no persona
    assert dress.title_prompt == ""
    assert dress.prompt.startswith("Draw a creature")


def test_long_seed_fills_place_and_trope(data_dir):
    write_csv(data_dir, "places", "version,place,cityRegion,country",
              ["harbor bridge,sydney,australia"])
    catalog = Catalog(data_dir)
    view = catalog.view("empty")
    dress = view.dress("ab" * 40)  # no 0x: the seed keeps all 160 characters
    assert len(dress.attributes) == 18
    assert "Setting: harbor bridge, sydney, australia" in dress.prompt
    assert "Narrative undertone: " in dress.prompt


def test_selector_json_keys_follow_the_original(catalog):
    doc = catalog.dress("empty", ADDRESS).to_json_dict()
    assert list(doc) == [
        "original", "originalName", "fileName", "fileSize", "modifiedAt", "seed", "prompt",
        "dataPrompt", "titlePrompt", "tersePrompt", "enhancedPrompt", "attributes",
        "seedChunks", "selectedTokens", "selectedRecords", "imageUrl", "generatedPath",
        "annotatedPath", "downloadMode", "ipfsHash", "cacheHit", "completed", "series",
        "colorLimit"]
    assert list(doc["attributes"][0]) == [
        "database", "name", "bytes", "number", "factor", "count", "selector", "value"]
    assert doc["selectedTokens"][-1] == "backStyle"
    assert len(doc["seedChunks"]) == 15 and len(doc["selectedRecords"]) == 16
    json.dumps(doc)


def test_mixed_case_address_is_lower_cased(catalog):
    upper = "0x" + ADDRESS[2:].upper()
    assert catalog.dress("empty", upper).to_json_dict() == catalog.dress(
        "empty", ADDRESS).to_json_dict()


def test_articles():
    assert article("otter") == "an" and article("fox") == "a"
    assert article("unicorn") == "a" and article("hour") == "an"


def test_same_prompts_in_two_processes(tmp_path):
    outputs = []
    for seed in ("1", "2"):
        env = clean_env(PYTHONHASHSEED=seed, HOME=str(tmp_path))
        result = run_cli("prompts", "style-noir" if _has("style-noir") else "empty",
                         ADDRESS, "--json", "--data-dir", str(tmp_path / "d"), env=env)
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    doc = json.loads(outputs[0])
    assert len(doc["attributes"]) == 16
    assert not (tmp_path / "d").exists()  # prompts writes nothing


def _has(series: str) -> bool:
    return series in Catalog(None).series.names()


def test_slot_table_is_the_originals():
    assert [n for n, _ in ATTRIBUTE_SLOTS] == [
        "adverb", "adjective", "noun", "emotion", "occupation", "action", "artStyle1",
        "artStyle2", "litStyle", "color1", "color2", "color3", "viewpoint", "gaze",
        "composition", "place", "trope"]
