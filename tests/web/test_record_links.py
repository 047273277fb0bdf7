"""v1 records over HTTP never come from outside the data dir: a record file that is a
symbolic link, or one reached through a linked folder, is not served, listed or exported
(it is counted in Skipped-Records, as a corrupt record is), as ``/files/`` does not serve
it; and records are written 0600 yet still served by the server itself."""

from __future__ import annotations

import json
import os
import stat

from tests.support.server import running_server, wait_done

A = "0x56" + "00" * 19
SEVENS, EIGHTS = "7" * 64, "8" * 64


def _make_a_picture(tmp_path):
    """Run a server once to make the picture of A; its record."""
    with running_server(tmp_path) as (client, app):
        client.get(f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        return json.loads((app.data_dir.output / "empty" / "metadata" / f"{A}.json")
                          .read_text())


def _outside_copy(record, seed, folder, directory):
    doc = json.loads(json.dumps(record))
    doc.update(seed=seed, input=seed, imageId="sha256:" + seed[:1] * 64)
    doc["series"]["name"] = folder
    directory.mkdir(parents=True)
    path = directory / f"{seed}.json"
    path.write_text(json.dumps(doc))
    return path


def test_records_linked_out_of_the_data_dir_are_not_served(tmp_path, caplog):
    record = _make_a_picture(tmp_path)
    data, outside = tmp_path / "data", tmp_path / "outside"
    target = _outside_copy(record, SEVENS, "empty", outside / "one")
    (data / "output" / "empty" / "metadata" / f"{SEVENS}.json").symlink_to(target)
    _outside_copy(record, EIGHTS, "linked", outside / "two" / "metadata")
    (data / "output" / "linked").symlink_to(outside / "two")
    with running_server(tmp_path) as (client, _):
        for seed in (SEVENS, EIGHTS):
            response, doc = client.json("GET", f"/v1/images/{seed}")
            assert response.status == 404, doc
            response, doc = client.json("POST", f"/v1/images/{seed}/export", body=b"{}",
                                        headers={"Content-Type": "application/json"})
            assert response.status == 404, doc
        assert client.get(f"/files/empty/metadata/{SEVENS}.json")[0].status == 404
        response, body = client.get("/v1/images?limit=500")
        assert response.status == 200
        assert [item["metadata"]["seed"] for item in json.loads(body)["data"]] == [A]
        assert response.getheader("Skipped-Records") == "2"
        assert str(tmp_path) not in body.decode()
        # the real record is still there
        assert client.json("GET", f"/v1/images/{A}")[0].status == 200
    skipped = [r.getMessage() for r in caplog.records if "cannot be used" in r.getMessage()]
    assert any("symbolic link" in m and SEVENS in m for m in skipped)
    assert any("outside the data directory" in m and EIGHTS in m for m in skipped)
    assert not any(str(tmp_path) in m for m in skipped)
    assert not (data / "output" / "empty" / "exports").exists()
    assert not (data / "output" / "linked" / "exports").exists()


def test_records_are_private_files_the_server_still_serves(tmp_path):
    _make_a_picture(tmp_path)
    path = tmp_path / "data" / "output" / "empty" / "metadata" / f"{A}.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    with running_server(tmp_path) as (client, _):
        response, body = client.get(f"/files/empty/metadata/{A}.json")
        assert response.status == 200 and json.loads(body)["seed"] == A
        response, doc = client.json("GET", f"/v1/images/{A}")
        assert response.status == 200 and doc["data"]["metadata"]["seed"] == A
