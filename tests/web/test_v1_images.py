"""The v1 image routes over HTTP: generate (prompts at once, pictures as jobs), preview,
records for /dalle pictures too, listing, delete and restore, regenerate, export; the
original's test pins and the seed = address parity."""

import json
import time

import pytest
from PIL import Image

from tests.support.backends import GatedBackend
from tests.support.server import running_server, wait_done

A = "0xf503017d7baf7fbc0fff7492b751025c6a78179b"
PERSON = "dddd723c8a04831545f4890b843c520370f1547db507786023325b4b9de98a1c"
JSON_HEADERS = {"Content-Type": "application/json"}


def post(client, path, doc=None, headers=None, method="POST"):
    body = None if doc is None else json.dumps(doc).encode()
    return client.json(method, path, body=body, headers={**JSON_HEADERS, **(headers or {})})


def wait_job(client, location, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, doc = client.json("GET", location)
        if doc["data"]["state"] not in ("queued", "running"):
            return doc["data"]
        time.sleep(0.02)
    raise AssertionError("job did not finish")


@pytest.fixture
def server(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        yield client, app


def test_preview_pin_prompts_from_the_sha256_of_the_input(server):
    client, app = server
    response, doc = post(client, "/v1/images/preview", {"input": "Person Tour Coordinates"})
    assert response.status == 200, doc
    result = doc["data"]
    assert result["seed"] == PERSON and result["series"] == "empty"
    assert result["metadataPath"] == f"output/empty/metadata/{PERSON}.json"
    assert result["metadata"]["prompts"]["prompt"]
    assert len(result["metadata"]["selectedRecords"]) == 18  # 17 attributes, backstyle
    assert (app.data_dir.root / result["metadataPath"]).is_file()
    assert result["metadata"]["imageId"].startswith("sha256:")


def test_seed_address_gives_the_dalle_picture_and_its_record(server):
    client, app = server
    client.json("GET", f"/dalle/empty/{A}?generate=1")
    wait_done(app.runtime, ("empty", A))
    selector = json.loads((app.data_dir.selector("empty", A)).read_text())
    response, doc = post(client, "/v1/images/preview", {"seed": A.upper().replace("0X", "0x"),
                                                        "series": "Empty"})
    record = doc["data"]["metadata"]
    assert response.status == 200 and doc["data"]["seed"] == A
    assert record["prompts"]["prompt"] == selector["prompt"]
    assert record["prompts"]["tersePrompt"] == selector["tersePrompt"]
    assert [r["record"] for r in record["selectedRecords"]] == selector["selectedRecords"]
    # the record /dalle wrote is this one: same imageId, with the pictures and timings
    assert record["artifacts"]["annotated"] == f"output/empty/annotated/{A}.png"
    assert record["generation"]["backend"] == "gated"
    assert "annotate" in record["generation"]["phaseSeconds"]
    _, found = client.json("GET", f"/v1/images/{A}")
    assert found["data"]["metadata"]["imageId"] == record["imageId"]
    assert found["data"]["path"] == f"output/empty/metadata/{A}.json"


def test_generate_prompts_only_answers_at_once(server):
    client, app = server
    response, doc = post(client, "/v1/images/generate", {"input": "a quiet harbour"})
    assert response.status == 200
    stages = doc["data"]["metadata"]["stages"]
    assert stages["prompted"]["status"] == "complete"
    assert stages["generated"]["status"] == "skipped"


def test_generate_a_picture_is_a_job_with_a_location(server):
    client, app = server
    response, doc = post(client, "/v1/images/generate",
                         {"input": "a quiet harbour", "image": True, "annotate": True})
    assert response.status == 202, doc
    location = response.getheader("Location")
    assert location == doc["data"]["location"] and location.startswith("/v1/jobs/empty/")
    job = wait_job(client, location)
    assert job["state"] == "completed"
    result = job["result"]
    png = app.data_dir.root / result["annotatedPath"]
    with Image.open(png) as image:
        assert image.text["dalle:imageId"] == result["metadata"]["imageId"]
        assert image.text["dalle:input"] == "a quiet harbour"
    served, body = client.get("/files/" + result["annotatedPath"].removeprefix("output/"))
    assert served.status == 200 and body == png.read_bytes()
    again, doc = post(client, "/v1/images/generate",
                      {"input": "a quiet harbour", "image": True, "annotate": True})
    assert again.status == 200 and doc["data"]["metadata"]["status"]["cacheHit"] is True


def test_prefer_wait_answers_the_result_when_done_first(server):
    client, app = server
    response, doc = post(client, "/v1/images/generate",
                         {"input": "tide pools", "image": True}, headers={"Prefer": "wait=20"})
    assert response.status == 200, doc
    assert response.getheader("Preference-Applied") == "wait=20"
    assert doc["data"]["generatedPath"] and "annotatedPath" not in doc["data"]
    assert doc["data"]["metadata"]["stages"]["annotated"]["status"] == "skipped"


def _seed_records(client, texts):
    for text in texts:
        post(client, "/v1/images/generate", {"input": text})


def test_listing_pages_filters_and_sorts(server):
    client, app = server
    texts = [f"apple {i}" for i in range(5)] + [f"pear {i}" for i in range(4)]
    _seed_records(client, texts)
    seen, path = [], "/v1/images?limit=4"
    while path:
        response, doc = client.json("GET", path)
        assert response.status == 200
        seen += [item["metadata"]["input"] for item in doc["data"]]
        link = response.getheader("Link")
        path = link[1:link.index(">")] if link else ""
    assert seen == sorted(texts)
    _, doc = client.json("GET", "/v1/images?inputPrefix=pear&sort=-input")
    assert [i["metadata"]["input"] for i in doc["data"]] == [f"pear {i}" for i in range(3, -1, -1)]
    _, doc = client.json("GET", "/v1/images?series=nocturne")
    assert doc["data"] == []
    _, doc = client.json("GET", "/v1/images?series=%20EMPTY&limit=100")  # named as anywhere
    assert len(doc["data"]) == len(texts)
    assert client.json("GET", "/v1/images?limit=0")[1]["error"]["code"] == "invalid_input"
    assert client.json("GET", "/v1/images?cursor=nope")[1]["error"]["code"] == "invalid_input"


def test_a_corrupt_record_is_skipped_and_counted(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        _seed_records(client, ["one", "two"])
        broken = app.data_dir.output / "empty" / "metadata" / ("ab" * 32 + ".json")
    broken.write_text("{ not json")  # between two runs of the server
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        response, doc = client.json("GET", "/v1/images")
        assert response.status == 200 and len(doc["data"]) == 2
        assert response.getheader("Skipped-Records") == "1"
        assert client.json("GET", f"/v1/images/{'ab' * 32}")[0].status == 404


def test_delete_archives_and_restore_brings_back(server):
    client, app = server
    response, doc = post(client, "/v1/images/generate",
                         {"input": "lanterns", "image": True, "annotate": True},
                         headers={"Prefer": "wait=20"})
    image_id, seed = doc["data"]["metadata"]["imageId"], doc["data"]["seed"]
    annotated = app.data_dir.root / doc["data"]["annotatedPath"]
    response, doc = client.json("DELETE", f"/v1/images/{image_id}")
    assert response.status == 200 and doc["data"]["deleted"] is True
    assert not annotated.exists()
    assert (app.data_dir.root / "archives" / "empty" / "annotated" / annotated.name).is_file()
    for ident in (image_id, seed):  # a deleted picture and its speech are gone, by either
        for gone in (f"/v1/images/{ident}", f"/v1/images/{ident}/speech"):
            response, doc = client.json("GET", gone)
            assert (response.status, doc["error"]["code"]) == (404, "artifact_missing"), gone
            assert client.request("HEAD", gone)[0].status == 404, gone
    assert client.json("GET", "/v1/images")[1]["data"] == []
    assert len(client.json("GET", "/v1/images?archived=only")[1]["data"]) == 1
    assert client.json("DELETE", f"/v1/images/{image_id}")[0].status == 404
    response, doc = post(client, f"/v1/images/{image_id}/restore")
    assert response.status == 200 and annotated.is_file()
    assert client.json("GET", f"/v1/images/{image_id}")[1]["data"]["archived"] is False
    assert client.get(f"/v1/images/{image_id}/speech")[0].status != 404  # back with it


def test_regenerate_is_refused_when_the_series_changed_unless_forced(server):
    client, app = server
    assert post(client, "/v1/series/mine", {"purpose": "first"}, method="PUT")[0].status == 200
    _, doc = post(client, "/v1/images/generate",
                  {"input": "moths", "series": "mine", "image": True},
                  headers={"Prefer": "wait=20"})
    image_id = doc["data"]["metadata"]["imageId"]
    response, doc = post(client, f"/v1/images/{image_id}/regenerate")
    assert response.status == 202, doc
    wait_job(client, response.getheader("Location"))
    post(client, "/v1/series/mine", {"purpose": "second", "nouns": ["fox"]}, method="PUT")
    response, doc = post(client, f"/v1/images/{image_id}/regenerate")
    assert response.status == 409 and doc["error"]["code"] == "regeneration_refused"
    assert doc["error"]["details"]["changed"] == ["series"]
    response, doc = post(client, f"/v1/images/{image_id}/regenerate", {"force": True})
    assert response.status == 202
    job = wait_job(client, response.getheader("Location"))
    assert job["result"]["metadata"]["imageId"] != image_id  # another series definition
    # generating with a cached record made with another definition is refused alike
    response, doc = post(client, "/v1/images/generate",
                         {"input": "moths", "series": "mine"})
    assert response.status in (200, 409)


def test_export_stays_inside_the_data_dir(server, tmp_path):
    client, app = server
    _, doc = post(client, "/v1/images/generate", {"input": "owls"})
    image_id, seed = doc["data"]["metadata"]["imageId"], doc["data"]["seed"]
    response, doc = post(client, f"/v1/images/{image_id}/export")
    assert response.status == 200
    assert doc["data"]["dir"] == f"output/empty/exports/{seed}"
    assert sorted(doc["data"]["files"]) == ["data", "enhanced", "prompt", "terse", "title"] \
        or sorted(doc["data"]["files"]) == ["data", "prompt", "terse", "title"]
    response, doc = post(client, f"/v1/images/{image_id}/export",
                         {"dir": "my/exports", "includeTitle": True})
    assert response.status == 200 and list(doc["data"]["files"]) == ["title"]
    assert (app.data_dir.root / "my/exports/title.txt").is_file()
    (app.data_dir.root / "out").symlink_to(tmp_path)
    for bad in ("/tmp/x", "../x", "a/../../x", "~/x", "out/x"):
        response, doc = post(client, f"/v1/images/{image_id}/export", {"dir": bad})
        assert response.status == 400, bad
        assert doc["error"]["code"] == "invalid_input"
        assert str(tmp_path) not in doc["error"]["message"]


def test_error_codes_of_the_generate_routes(server):
    client, app = server
    cases = [
        ({"input": "x", "annotate": True}, 400, "invalid_input"),  # never possible
        ({}, 400, "invalid_input"),
        ({"seed": "0x1234"}, 400, "invalid_input"),
        ({"input": "x", "series": "no-such"}, 400, "series_invalid"),
    ]
    for body, status, code in cases:
        response, doc = post(client, "/v1/images/generate", body)
        assert (response.status, doc["error"]["code"]) == (status, code), body
    assert client.json("GET", "/v1/images/sha256:00")[1]["error"]["code"] == "artifact_missing"
    assert client.json("GET", f"/v1/jobs/empty/{PERSON}")[0].status == 404
    assert client.json("GET", f"/v1/jobs/nope/{PERSON}")[1]["error"]["code"] == \
        "series_not_found"
    assert post(client, "/v1/images/sha256:00/regenerate")[0].status == 404


def test_wrong_methods_are_405_with_allow_and_the_original_code(server):
    client, _ = server
    for method, path, allowed in (("GET", "/v1/images/generate", "POST"),
                                  ("DELETE", "/v1/series", "GET, HEAD"),
                                  ("PATCH", "/v1/series/empty", "GET, HEAD, PUT"),
                                  ("GET", "/v1/validate", "POST")):
        response, doc = client.json(method, path)
        assert response.status == 405, path
        assert response.getheader("Allow") == allowed
        assert doc["error"]["code"] == "invalid_input"


def test_writes_follow_the_admin_rule(tmp_path):
    with running_server(tmp_path, backend=GatedBackend(),
                        flags={"admin_token": "s3cret"}) as (client, _):
        response, doc = post(client, "/v1/images/generate", {"input": "x"})
        assert response.status == 401 and doc["error"]["code"] == "UNAUTHORIZED"
        for method, path in (("POST", "/v1/images/preview"), ("PUT", "/v1/series/x"),
                             ("POST", "/v1/series/x/hidden"), ("POST", "/v1/validate"),
                             ("DELETE", "/v1/images/x"), ("POST", "/v1/images/x/export")):
            assert post(client, path, {}, method=method)[0].status == 401, path
        good = {"Authorization": "Bearer s3cret"}
        assert post(client, "/v1/images/generate", {"input": "x"}, headers=good)[0].status == 200
        assert client.json("GET", "/v1/images")[0].status == 200  # reads are open


def test_a_failed_job_a_full_disk_and_the_rate_limit_have_their_codes(tmp_path):
    with running_server(tmp_path, backend=GatedBackend(fail="the renderer broke"),
                        env={"TB_DALLE_RATE_LIMIT": "2"}) as (client, app):
        response, doc = post(client, "/v1/images/generate", {"input": "x", "image": True},
                             headers={"Prefer": "wait=20"})
        assert response.status == 502 and doc["error"]["code"] == "provider_failed"
        assert "the renderer broke" in doc["error"]["message"]
        _, doc = post(client, "/v1/images/generate", {"input": "y"})
        (app.data_dir.root / "blocked").write_text("a file where a folder would go")
        response, doc = post(client, f"/v1/images/{doc['data']['seed']}/export",
                             {"dir": "blocked/inside"})
        assert response.status == 500 and doc["error"]["code"] == "metadata_invalid"
        assert str(tmp_path) not in doc["error"]["message"]
        post(client, "/v1/images/generate", {"input": "z", "image": True})
        response, doc = post(client, "/v1/images/generate", {"input": "w", "image": True})
        assert response.status == 429 and doc["error"]["code"] == "RATE_LIMITED"
        assert response.getheader("Retry-After")


def test_a_picture_deleted_again_stays_deleted(server):
    client, _ = server
    for _ in range(2):  # the second DELETE finds the first one's copy in the archive
        _, doc = post(client, "/v1/images/preview", {"input": "twice", "force": True})
        image_id = doc["data"]["metadata"]["imageId"]
        response, _ = post(client, f"/v1/images/{image_id}", method="DELETE")
        assert response.status == 200
        response, doc = client.json("GET", f"/v1/images/{image_id}")
        assert (response.status, doc["error"]["code"]) == (404, "artifact_missing")


def test_a_seed_several_series_share_is_refused_for_delete_and_restore(server):
    client, _ = server
    ids = {}
    for series in ("empty", "bug-guild"):
        _, doc = post(client, "/v1/images/preview", {"input": "shared", "series": series})
        ids[series] = doc["data"]["metadata"]["imageId"]
        seed = doc["data"]["seed"]
    assert client.json("GET", f"/v1/images/{seed}")[0].status == 200  # the first, as before
    response, doc = client.json("DELETE", f"/v1/images/{seed}")
    assert (response.status, doc["error"]["code"]) == (409, "invalid_input"), doc
    assert sorted(doc["error"]["details"]["imageIds"]) == sorted(ids.values())
    assert sorted(doc["error"]["details"]["series"]) == ["bug-guild", "empty"]
    for image_id in ids.values():  # named by imageId, each goes, and the seed with them
        assert client.json("DELETE", f"/v1/images/{image_id}")[0].status == 200
    for path in (f"/v1/images/{seed}", f"/v1/images/{seed}/speech"):
        assert client.json("GET", path)[0].status == 404, path
    response, doc = post(client, f"/v1/images/{seed}/restore")
    assert (response.status, doc["error"]["code"]) == (409, "invalid_input"), doc
    assert post(client, f"/v1/images/{ids['empty']}/restore")[0].status == 200
    assert post(client, f"/v1/images/{seed}/restore")[0].status == 200  # one is left
    assert client.json("DELETE", f"/v1/images/{seed}")[0].status == 409  # both active again


def test_a_dalle_remove_takes_the_png_out_of_its_record(server):
    client, app = server
    client.json("GET", f"/dalle/empty/{A}?generate=1")
    wait_done(app.runtime, ("empty", A))
    _, doc = client.json("GET", f"/v1/images/{A}")
    assert doc["data"]["metadata"]["artifacts"]["annotated"] == f"output/empty/annotated/{A}.png"
    assert client.json("GET", f"/dalle/empty/{A}?remove=1")[1]["data"]["removed"] is True
    _, doc = client.json("GET", f"/v1/images/{A}")
    artifacts = doc["data"]["metadata"]["artifacts"]
    assert "annotated" not in artifacts  # never a path to a file that is gone
    assert (app.data_dir.root / artifacts["generated"]).is_file()
    response, _ = post(client, f"/v1/images/{A}/regenerate")  # made again as it was made
    assert response.status == 202
    wait_job(client, response.getheader("Location"))
    _, doc = client.json("GET", f"/v1/images/{A}")
    assert doc["data"]["metadata"]["artifacts"]["annotated"] == f"output/empty/annotated/{A}.png"


def test_a_failed_generation_leaves_a_record_that_says_so(tmp_path):
    with running_server(tmp_path, backend=GatedBackend(fail="the renderer broke")) as (
            client, app):
        response, doc = post(client, "/v1/images/generate", {"input": "storm", "image": True},
                             headers={"Prefer": "wait=20"})
        assert (response.status, doc["error"]["code"]) == (502, "provider_failed"), doc
        location = doc["error"]["details"]["job"]
        seed = location.rsplit("/", 1)[1]
        _, doc = client.json("GET", f"/v1/images/{seed}")
        record = doc["data"]["metadata"]
        assert record["status"]["completed"] is False and record["artifacts"] == {}
        assert record["stages"]["generated"]["status"] == "failed"
        app.board.forget(("empty", seed))  # as after a restart: only the record is left
        _, doc = client.json("GET", location)
        assert doc["data"]["state"] == "failed" and doc["data"]["result"] is None
        assert "renderer broke" in doc["data"]["progress"]["error"]


def test_preview_answers_a_record_made_with_other_databases_as_it_is(server):
    client, app = server
    assert post(client, "/v1/series/mine", {"purpose": "first"}, method="PUT")[0].status == 200
    _, made = post(client, "/v1/images/preview", {"input": "tides", "series": "mine"})
    post(client, "/v1/series/mine", {"purpose": "second", "nouns": ["fox"]}, method="PUT")
    response, doc = post(client, "/v1/images/preview", {"input": "tides", "series": "mine"})
    assert response.status == 200, doc  # the original's: cached metadata as it is
    assert doc["data"]["metadata"] == made["data"]["metadata"]
    response, doc = post(client, "/v1/images/generate", {"input": "tides", "series": "mine"})
    assert (response.status, doc["error"]["code"]) == (409, "regeneration_refused")


def test_a_bad_wait_on_a_v1_route_is_its_invalid_input(server):
    client, _ = server
    response, doc = post(client, "/v1/images/generate?wait=abc",
                         {"input": "waiting", "image": True})
    assert (response.status, doc["error"]["code"]) == (400, "invalid_input"), doc


def test_a_series_edited_while_its_job_waits_is_drawn_and_recorded_as_edited(tmp_path):
    from dalleserver.dress.fingerprint import series_hash

    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend, flags={"workers": "1"}) as (client, app):
        assert post(client, "/v1/series/mine", {"nouns": ["owl"]}, method="PUT")[0].status == 200
        client.json("GET", f"/dalle/empty/{A}?generate=1")  # holds the only worker
        assert backend.started.wait(10)
        response, doc = post(client, "/v1/images/generate",
                             {"input": "moths", "series": "mine", "image": True})
        assert response.status == 202 and doc["data"]["state"] == "queued", doc
        assert post(client, "/v1/series/mine", {"nouns": ["fox"]}, method="PUT")[0].status == 200
        backend.gate.set()
        record = wait_job(client, response.getheader("Location"))["result"]["metadata"]
        assert record["series"]["hash"] == series_hash(app.catalog.series.get("mine"))
        nouns = [r["record"] for r in record["selectedRecords"] if r["attribute"] == "noun"]
        assert nouns and "fox" in nouns[0], record["selectedRecords"]
        with Image.open(app.data_dir.root / record["artifacts"]["generated"]) as picture:
            assert picture.text["dalle:seriesHash"] == record["series"]["hash"]


def test_a_request_the_running_job_does_not_cover_is_refused_not_joined(tmp_path):
    backend = GatedBackend(open_gate=False)
    with running_server(tmp_path, backend=backend) as (client, _):
        plain = {"input": "kites", "image": True}
        response, _ = post(client, "/v1/images/generate", plain)
        assert response.status == 202
        location = response.getheader("Location")
        assert backend.started.wait(10)
        for more in ({"annotate": True}, {"backstyle": "a plain white background"}):
            response, doc = post(client, "/v1/images/generate", {**plain, **more},
                                 headers={"Prefer": "wait=5"})
            assert (response.status, doc["error"]["code"]) == (409, "invalid_input"), more
            assert doc["error"]["details"]["job"] == location
            assert response.getheader("Retry-After")
        response, _ = post(client, "/v1/images/generate", plain)  # the same ask joins
        assert response.status == 202 and response.getheader("Location") == location
        backend.gate.set()
        assert wait_job(client, location)["state"] == "completed"
        response, doc = post(client, "/v1/images/generate", {**plain, "annotate": True},
                             headers={"Prefer": "wait=20"})
        assert response.status == 200 and doc["data"]["annotatedPath"], doc
