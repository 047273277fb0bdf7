"""The databases and series we ship: format, size, no duplicates, complete noun taxonomy."""

from pathlib import Path

import pytest
from PIL import ImageColor

from dalleserver.dress import Catalog
from dalleserver.dress.databases import ALL_DATABASES, ATTRIBUTE_DATABASES, BUNDLED_DIR

MINIMUM_ROWS = {
    "adverbs": 500, "adjectives": 500, "actions": 300, "nouns": 400, "emotions": 150,
    "occupations": 200, "artstyles": 150, "litstyles": 60, "colors": 140, "viewpoints": 24,
    "gazes": 8, "compositions": 20, "places": 150, "tropes": 16, "backstyles": 6,
}
HEADERS = {
    "adverbs": "version,adverb,definition",
    "adjectives": "version,adjective,definition",
    "actions": "version,action,definition",
    "nouns": "version,commonName,family",
    "families": "version,family,order,commonName",
    "orders": "version,order,class,commonName",
    "classes": "version,class,phylum,commonName",
    "phyla": "version,phylum,commonName",
    "emotions": "version,emotion,group,polarity,language,description",
    "occupations": "version,occupation,description",
    "artstyles": "version,artisticStyle,group,sensitive,description",
    "litstyles": "version,literaryStyle,description",
    "colors": "version,name,hexValue",
    "viewpoints": "version,viewpoint,category,description",
    "gazes": "version,gaze",
    "compositions": "version,composition,category,description",
    "places": "version,place,cityRegion,country",
    "tropes": "version,trope,group,description",
    "backstyles": "version,backgroundStyle",
}


def _lines(name: str) -> list[str]:
    text = (BUNDLED_DIR / f"{name}.csv").read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    return text.split("\n")[:-1]


@pytest.mark.parametrize("name", ALL_DATABASES)
def test_format(name):
    lines = _lines(name)
    assert lines[0] == HEADERS[name]
    columns = len(lines[0].split(","))
    keys = []
    for line in lines[1:]:
        assert line.startswith("v0.1.0,"), line
        fields = line.split(",")
        assert len(fields) == columns, line
        assert all(f == f.strip() for f in fields), line
        assert line.isascii(), line
        assert '"' not in line, line
        assert fields[1], line
        keys.append(fields[1])
    assert len(keys) == len(set(keys)), "duplicate keys"
    if name in MINIMUM_ROWS:
        assert len(keys) >= MINIMUM_ROWS[name]


@pytest.mark.parametrize("name", ["adverbs", "adjectives", "actions", "occupations",
                                  "litstyles", "emotions", "artstyles", "tropes"])
def test_every_row_has_a_real_definition(name):
    definitions = [line.split(",")[-1] for line in _lines(name)[1:]]
    assert all(len(d.split()) >= 3 for d in definitions), name
    # not boilerplate: nearly every definition is different
    assert len(set(definitions)) >= 0.97 * len(definitions)


def test_emotions_columns():
    for line in _lines("emotions")[1:]:
        _, _, group, polarity, language, _ = line.split(",")
        assert polarity in ("positive", "negative", "neutral")
        assert group and language


def test_artstyles_sensitive_flag():
    flags = [line.split(",")[3] for line in _lines("artstyles")[1:]]
    assert set(flags) <= {"", "sensitive"}
    assert 5 <= flags.count("sensitive") < len(flags) / 4


def test_colors_are_the_css_named_colours():
    colors = dict(line.split(",")[1:] for line in _lines("colors")[1:])
    assert len(colors) >= 140
    for name, hex_value in colors.items():
        assert ImageColor.colormap[name] == hex_value


def test_backstyles_use_the_placeholders():
    for line in _lines("backstyles")[1:]:
        assert "[{Color3}]" in line


def test_noun_taxonomy_is_closed_and_has_no_orphans():
    table = {n: {ln.split(",")[1]: ln.split(",")[2:] for ln in _lines(n)[1:]}
             for n in ("nouns", "families", "orders", "classes", "phyla")}
    used = {"families": set(), "orders": set(), "classes": set(), "phyla": set()}
    for noun, (family,) in table["nouns"].items():
        order = table["families"][family][0]
        klass = table["orders"][order][0]
        phylum = table["classes"][klass][0]
        assert phylum in table["phyla"], noun
        used["families"].add(family)
        used["orders"].add(order)
        used["classes"].add(klass)
        used["phyla"].add(phylum)
    for name, keys in used.items():
        assert keys == set(table[name]), f"unreferenced rows in {name}"
    assert Catalog(None).unresolved_nouns() == []


def test_builtin_series_filters_all_match_rows():
    catalog = Catalog(None)
    themed = 0
    for series in catalog.series.all():
        if series.suffix == "empty":
            assert not series.active_filters
            continue
        assert series.active_filters, series.suffix
        assert series.purpose, series.suffix
        themed += 1
        for database, values in series.active_filters.items():
            if database not in ATTRIBUTE_DATABASES:
                continue
            rows = catalog.base_rows[database]
            for value in values:
                assert any(value in row for row in rows), (series.suffix, database, value)
            filtered = catalog.view(series.suffix).rows[database]
            assert filtered != ("none",)
            assert len(filtered) < len(rows), (series.suffix, database)
    assert themed >= 8


def test_package_data_is_inside_the_package():
    assert BUNDLED_DIR.parent.parent == Path(__file__).resolve().parents[2] / "dalleserver"
