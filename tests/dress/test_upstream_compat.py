"""Given the original's databases and series, we select exactly the original's attributes.

Reads the original's data from ../shared/upstream-data (never shipped); skipped without it.
"""

import tarfile

import pytest

from dalleserver.dress import Catalog
from tests.conftest import UPSTREAM_DATA

pytestmark = pytest.mark.skipif(
    not (UPSTREAM_DATA / "databases.tar.gz").is_file(), reason="upstream data not available"
)


@pytest.fixture(scope="module")
def upstream_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("upstream")
    for name in ("databases.tar.gz", "series.tar.gz"):
        with tarfile.open(UPSTREAM_DATA / name) as archive:
            members = [
                m for m in archive.getmembers()
                if m.isfile() and not m.name.split("/")[-1].startswith("._")
                and m.name.endswith((".csv", ".json"))
            ]
            archive.extractall(root, members=members, filter="data")
    return root


@pytest.fixture(scope="module")
def catalog(upstream_dir):
    return Catalog(upstream_dir)


EMPTY_COUNTS = {
    "adverbs": 2937, "adjectives": 1295, "nouns": 2902, "emotions": 279, "occupations": 338,
    "actions": 1035, "artstyles": 298, "litstyles": 95, "colors": 139, "viewpoints": 32,
    "gazes": 8, "compositions": 20, "places": 1800, "tropes": 16,
}


def test_every_database_is_read_from_the_data_dir(catalog):
    assert all(db.source != "bundled" for db in catalog.databases.values())
    assert len(catalog.databases["artstyles"].records) == 325  # 27 sensitive rows


def test_empty_series_counts(catalog):
    assert catalog.view("empty").counts() == EMPTY_COUNTS


def test_every_noun_resolves(catalog):
    assert catalog.unresolved_nouns() == []
    assert "aardvark,aardvarks,tubulidentata group,mammals,chordates" in (
        catalog.base_rows["nouns"])


def test_filtered_counts_of_original_series(catalog):
    five = catalog.view("five-tone-postal-protozoa").counts()
    assert five["emotions"] == 23  # 'rage' also matches 'courage', 'outrage'...
    assert five["nouns"] == 2  # Latin order names match only two enriched rows
    assert catalog.view("human-archetypes").rows["nouns"] == ("none",)
    assert catalog.view("Five Tone Postal Protozoa") is catalog.view("five-tone-postal-protozoa")


def test_reference_spot_check(catalog):
    dress = catalog.dress("empty", "0xf503017d7baf7fbc0fff7492b751025c6a78179b")
    adverb = dress.attributes[0]
    assert (adverb.bytes, adverb.number, adverb.count, adverb.selector) == (
        "f50301", 16057089, 2937, 2810)
    assert adverb.value.startswith("wiggly,")
    gaze = dress.by_name["gaze"]
    assert (gaze.bytes, gaze.selector, gaze.count) == ("157b29", 0, 8)
    assert len(dress.attributes) == 16  # 15 selected + backStyle
    assert dress.by_name["backStyle"].value == (
        "The background should be this color [{Color3}] and pay homage to this artistic "
        "style [{ArtStyle2}]")
