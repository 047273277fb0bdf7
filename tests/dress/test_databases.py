"""Database parsing, noun enrichment, filters and overrides on small synthetic databases."""

import pytest

from dalleserver.dress import Catalog, DatabaseError
from dalleserver.dress.databases import filter_rows, parse_database_text
from tests.conftest import write_csv, write_series

ADDRESS = "0x123456789abcdef0123456789abcdef012345678"


def test_parse_strips_version_header_and_blank_keys():
    text = ("version,adverb,definition\r\nv0.1.0,boldly,with courage\n\n"
            "v0.1.0, ,nothing\nv0.1.0,a,b,c\n")
    db = parse_database_text("adverbs", text, "test")
    assert db.header == ("version", "adverb", "definition")
    assert db.rows == ("boldly,with courage", "a,b,c")
    assert db.version == "v0.1.0"


def test_filter_is_a_case_sensitive_substring_over_the_whole_row():
    rows = ("courage,bravery", "rage,anger", "Rage,capital", "calm,peace rage-free")
    assert filter_rows("emotions", rows, ["rage"]) == (
        "courage,bravery", "rage,anger", "calm,peace rage-free")
    assert filter_rows("emotions", rows, ["Rage"]) == ("Rage,capital",)
    # a trailing comma anchors the match to the end of the first column only
    assert filter_rows("emotions", rows, ["rage,"]) == ("courage,bravery", "rage,anger")
    assert filter_rows("emotions", rows, ["peace"]) == ("calm,peace rage-free",)


def test_sensitive_rows_removed_only_without_a_filter():
    rows = ("icon painting,sacred,sensitive,paints saints", "cubism,modern,,breaks planes")
    assert filter_rows("artstyles", rows, None) == ("cubism,modern,,breaks planes",)
    assert filter_rows("artstyles", rows, []) == ("cubism,modern,,breaks planes",)
    assert filter_rows("artstyles", rows, ["icon"]) == (rows[0],)
    assert filter_rows("litstyles", rows, None) == ("cubism,modern,,breaks planes",)
    # other databases keep sensitive-looking rows
    assert filter_rows("adverbs", rows, None) == rows


def test_empty_result_becomes_none():
    assert filter_rows("nouns", ("otter,weasels",), ["zebra"]) == ("none",)


def _taxonomy(data_dir):
    write_csv(data_dir, "nouns", "version,commonName,family",
              ["otter,mustelidae", "sea star,asteriidae", "mystery beast,unknownidae"])
    write_csv(data_dir, "families", "version,family,order,commonName",
              ["mustelidae,carnivora,weasels", "asteriidae,forcipulatida,sea stars"])
    write_csv(data_dir, "orders", "version,order,class,commonName",
              ["carnivora,mammalia,carnivorans", "forcipulatida,asteroidea,forcipulate stars"])
    write_csv(data_dir, "classes", "version,class,phylum,commonName",
              ["mammalia,chordata,mammals"])
    write_csv(data_dir, "phyla", "version,phylum,commonName", ["chordata,chordates"])


def test_noun_enrichment_walks_the_taxonomy(data_dir):
    _taxonomy(data_dir)
    catalog = Catalog(data_dir)
    assert catalog.base_rows["nouns"] == (
        "otter,weasels,carnivorans,mammals,chordates",
        "sea star,sea stars,forcipulate stars,,",  # class asteroidea missing -> "" onwards
        "mystery beast,,,,",
    )
    assert catalog.unresolved_nouns() == ["sea star", "mystery beast"]


def test_series_noun_filter_matches_enriched_common_names(data_dir):
    _taxonomy(data_dir)
    write_series(data_dir, "mammal-only", '{"nouns": ["mammals"]}')
    write_series(data_dir, "latin", '{"nouns": ["mustelidae"]}')
    catalog = Catalog(data_dir)
    assert catalog.view("mammal-only").rows["nouns"] == (
        "otter,weasels,carnivorans,mammals,chordates",)
    # Latin names are not in the enriched rows, so they match nothing
    assert catalog.view("latin").rows["nouns"] == ("none",)
    dress = catalog.dress("latin", ADDRESS)
    assert dress.value("noun") == "none"
    assert "none" not in dress.prompt.split("\n")[0]


def test_database_override_replaces_the_bundled_one(data_dir):
    write_csv(data_dir, "adverbs", "version,adverb,definition",
              ["alpha,first", "beta,second", "gamma,third"])
    catalog = Catalog(data_dir)
    assert catalog.databases["adverbs"].source.endswith("adverbs.csv")
    assert catalog.base_rows["adverbs"] == ("alpha,first", "beta,second", "gamma,third")
    # chunk 0x123456 over 3 rows: 3 * 1193046 / 2**24 = 0.21 -> row 0
    assert catalog.dress("empty", ADDRESS).value("adverb") == "alpha,first"
    bundled = Catalog(None)
    assert bundled.databases["adverbs"].source == "bundled"
    assert len(bundled.base_rows["adverbs"]) > 3


def test_bad_override_is_reported_with_its_path(data_dir):
    folder = data_dir / "databases"
    folder.mkdir()
    (folder / "gazes.csv").write_bytes(b"version,gaze\n\xff\xfe\x00bad\n")
    with pytest.raises(DatabaseError, match="gazes.csv"):
        Catalog(data_dir)
    (folder / "gazes.csv").write_text("version,gaze\n")
    with pytest.raises(DatabaseError, match="no data rows"):
        Catalog(data_dir)


def test_filtered_view_is_computed_once_per_series(data_dir):
    catalog = Catalog(data_dir)
    first = catalog.view("empty")
    assert catalog.view("EMPTY") is first
    assert catalog.view(" empty ") is first
