"""Series format, built-ins, user overrides and malformed files."""

import json
import os
import time

import pytest

from dalleserver.dress import Catalog, SeriesError
from dalleserver.dress.series import FILTER_FIELDS, SeriesRegistry, normalize_series_name
from tests.conftest import write_series


def test_name_normalisation():
    assert normalize_series_name("Five Tone Postal Protozoa") == "five-tone-postal-protozoa"
    assert normalize_series_name("-empty-") == "empty"
    assert normalize_series_name("EMPTY") == "empty"


def test_builtins_include_empty_and_eight_themed_series(data_dir):
    registry = SeriesRegistry(data_dir / "series")
    names = registry.names()
    assert "empty" in names
    themed = [n for n in names if registry.get(n).active_filters]
    assert len(themed) >= 8
    assert registry.get("empty").to_json_dict()["adverbs"] is None


def test_json_shape_follows_the_original(data_dir):
    write_series(data_dir, "mine", json.dumps({
        "suffix": "ignored-name", "purpose": "test", "last": 3, "colorLimit": "three",
        "emotions": ["joy"], "adverbs": [], "places": ["paris"]}))
    series = SeriesRegistry(data_dir / "series").get("mine")
    doc = series.to_json_dict()
    assert list(doc)[:3] == ["last", "suffix", "purpose"]
    assert doc["suffix"] == "mine"  # the file name is the series name
    assert doc["emotions"] == ["joy"] and doc["adverbs"] == [] and doc["nouns"] is None
    assert "places" not in doc  # unknown keys are dropped
    assert [k for k in doc if k in FILTER_FIELDS] == list(FILTER_FIELDS)
    assert doc["colorLimit"] == "three" and doc["source"] == "user"
    assert doc["modifiedAt"].endswith("Z")


def test_user_series_overrides_builtin(data_dir):
    write_series(data_dir, "empty", '{"suffix": "empty", "emotions": ["a"]}')
    catalog = Catalog(data_dir)
    series = catalog.series.get("empty")
    assert series.source == "user"
    assert all("a" in row for row in catalog.view("empty").rows["emotions"])


def test_malformed_files_are_reported_and_skipped(data_dir):
    good = write_series(data_dir, "good", '{"colors": ["red"]}')
    broken = write_series(data_dir, "broken", '{"colors": ["red"')
    wrong = write_series(data_dir, "wrong-type", '{"colors": "red"}')
    listy = write_series(data_dir, "listy", '["colors"]')
    badname = write_series(data_dir, "bad name!", "{}")
    registry = SeriesRegistry(data_dir / "series")
    errors = dict(registry.errors)
    assert str(good) not in errors
    assert "invalid JSON at line 1" in errors[str(broken)]
    assert '"colors" must be a list of strings' in errors[str(wrong)]
    assert "not a JSON object" in errors[str(listy)]
    assert str(badname) in errors
    assert "good" in registry.names()
    assert "broken" not in registry.names()
    with pytest.raises(SeriesError, match="unknown series"):
        registry.get("broken")


def test_new_user_series_is_seen_without_restart(data_dir):
    registry = SeriesRegistry(data_dir / "series", recheck=0)
    with pytest.raises(SeriesError):
        registry.get("later")
    path = write_series(data_dir, "later", '{"emotions": ["joy"]}')
    assert registry.get("later").filter_for("emotions") == ("joy",)
    path.write_text('{"emotions": ["awe"]}')
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))
    assert registry.get("later").filter_for("emotions") == ("awe",)
    path.unlink()
    with pytest.raises(SeriesError):
        registry.get("later")


def test_hidden_series_are_listed_only_on_request(data_dir):
    write_series(data_dir, "secret", '{"deleted": true}')
    registry = SeriesRegistry(data_dir / "series")
    assert "secret" not in registry.names()
    assert "secret" in registry.names(include_hidden=True)
    assert registry.get("secret").deleted


def test_more_series_than_the_old_view_cap_stay_cached(data_dir):
    for i in range(300):
        write_series(data_dir, f"s{i:03d}", json.dumps({"suffix": f"s{i:03d}",
                                                       "adverbs": ["quickly"]}))
    catalog = Catalog(data_dir)
    first = [catalog.view(f"s{i:03d}") for i in range(300)]
    again = [catalog.view(f"s{i:03d}") for i in range(300)]
    assert all(a is b for a, b in zip(first, again, strict=True))  # none rebuilt
