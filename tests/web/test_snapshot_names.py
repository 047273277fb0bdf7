"""SnapshotNames: the names set in cached snapshot JSON and in snapshot dicts alike."""

from __future__ import annotations

import json

from dalleserver.web.names import SnapshotNames


def _snapshot(original_name: str = "") -> dict:
    return {"series": "empty", "address": "0x" + "11" * 20, "error": "",
            "dalleDress": {"original": "0x" + "11" * 20, "originalName": original_name,
                           "fileName": "x"},
            "notes": []}


def _compact(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def test_json_and_dict_give_the_same_answer() -> None:
    names = SnapshotNames("vitalik.eth", "primary.eth")
    for original in ("", "other.eth"):
        snapshot = _snapshot(original)
        labelled = json.loads(names.label_json(_compact(snapshot)))
        assert labelled == names.label(snapshot)
        assert labelled["dalleDress"]["originalName"] == "vitalik.eth"
        assert labelled["ensName"] == "primary.eth"
        assert snapshot["dalleDress"]["originalName"] == original  # the input is left alone


def test_a_request_by_address_keeps_the_runs_name() -> None:
    labelled = json.loads(SnapshotNames("", "").label_json(_compact(_snapshot("a.eth"))))
    assert labelled["dalleDress"]["originalName"] == "a.eth" and labelled["ensName"] == ""


def test_text_that_looks_like_the_key_is_left_alone() -> None:
    note = 'an odd note: "originalName":"x"'
    rest = {k: v for k, v in _snapshot().items() if k != "notes"}
    snapshot = {"notes": [note], **rest}  # the note comes before dalleDress in the JSON
    labelled = json.loads(SnapshotNames("vitalik.eth", "").label_json(_compact(snapshot)))
    assert labelled["notes"] == [note]
    assert labelled["dalleDress"]["originalName"] == "vitalik.eth"


def test_an_empty_snapshot_stays_empty() -> None:
    names = SnapshotNames("vitalik.eth", "vitalik.eth")
    assert names.label_json(b"{}") == b"{}"
    assert names.label({}) == {}
