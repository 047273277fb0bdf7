"""The v1 series and database routes over HTTP, and what every v1 body must be: JSON,
small, with known fields of the right types."""

import json

import pytest

from tests.support.server import running_server

JSON_HEADERS = {"Content-Type": "application/json"}


def send(client, method, path, doc=None, headers=None, raw=None):
    body = raw if raw is not None else (None if doc is None else json.dumps(doc).encode())
    return client.json(method, path, body=body, headers={**JSON_HEADERS, **(headers or {})})


@pytest.fixture
def server(tmp_path):
    with running_server(tmp_path) as (client, app):
        yield client, app


def test_series_pin_put_then_get(server):
    client, app = server
    response, doc = send(client, "PUT", "/v1/series/Test%20Series", {"last": 7, "purpose": "test"})
    assert response.status == 200, doc
    response, doc = client.json("GET", "/v1/series/Test%20Series")
    assert response.status == 200
    assert doc["data"]["suffix"] == "test-series" and doc["data"]["last"] == 7
    assert doc["data"]["source"] == "user" and doc["data"]["modifiedAt"].endswith("Z")
    assert (app.data_dir.series_dir / "test-series.json").is_file()


def test_series_list_hide_and_show(server):
    client, app = server
    send(client, "PUT", "/v1/series/quiet", {"purpose": "x", "nouns": ["owl"]})
    (app.data_dir.output / "quiet" / "annotated").mkdir(parents=True)
    names = [s["suffix"] for s in client.json("GET", "/v1/series")[1]["data"]]
    assert "quiet" in names and names == sorted(names)
    response, doc = send(client, "POST", "/v1/series/quiet/hidden", {"hidden": True})
    assert response.status == 200 and doc["data"]["deleted"] is True
    assert (app.data_dir.output / "quiet.deleted").is_dir()
    assert "quiet" not in [s["suffix"] for s in client.json("GET", "/v1/series")[1]["data"]]
    only = client.json("GET", "/v1/series?onlyHidden=1")[1]["data"]
    assert [s["suffix"] for s in only] == ["quiet"]
    assert "quiet" in [s["suffix"] for s in
                       client.json("GET", "/v1/series?includeHidden=1")[1]["data"]]
    send(client, "POST", "/v1/series/quiet/hidden", {"hidden": False})
    assert (app.data_dir.output / "quiet").is_dir()
    # putting it again keeps it shown and keeps what it filters
    doc = send(client, "PUT", "/v1/series/quiet", {"nouns": ["fox"]})[1]["data"]
    assert doc["nouns"] == ["fox"] and "deleted" not in doc


def test_a_hidden_series_makes_no_pictures_and_a_folder_clash_is_refused(server):
    client, app = server
    send(client, "PUT", "/v1/series/quiet", {"purpose": "x", "nouns": ["owl"]})
    assert send(client, "POST", "/v1/series/quiet/hidden", {"hidden": True})[0].status == 200
    address = "0x" + "78" * 20
    for method, path, doc in (
            ("POST", "/v1/images/generate", {"input": "new", "series": "quiet"}),
            ("POST", "/v1/images/preview", {"input": "new", "series": "quiet"}),
            ("POST", "/v1/batches", {"series": "quiet", "addresses": [address]}),
            ("GET", f"/dalle/quiet/{address}?generate=1", None)):
        response, answer = send(client, method, path, doc)
        assert response.status == 400, (path, answer)
        assert answer["error"]["code"] in ("series_invalid", "INVALID_SERIES")
        assert "hidden" in answer["error"]["message"]
    assert not (app.data_dir.output / "quiet").exists()  # nothing was written there
    (app.data_dir.output / "quiet" / "annotated").mkdir(parents=True)  # made by hand
    (app.data_dir.output / "quiet.deleted").mkdir()
    response, answer = send(client, "POST", "/v1/series/quiet/hidden", {"hidden": False})
    assert (response.status, answer["error"]["code"]) == (409, "series_invalid"), answer
    assert "output/quiet" in answer["error"]["message"] and str(app.data_dir.root) not in \
        answer["error"]["message"]
    assert client.json("GET", "/v1/series/quiet")[1]["data"]["deleted"] is True  # unchanged


def test_a_series_with_generations_under_way_is_not_hidden_and_a_queued_one_writes_nothing(
        tmp_path):
    from dalleserver.series_store import set_hidden
    from tests.support.backends import GatedBackend
    from tests.support.server import wait_done

    backend = GatedBackend(open_gate=False)
    first, second = "0x" + "12" * 20, "0x" + "34" * 20
    with running_server(tmp_path, backend=backend, flags={"workers": "1"}) as (client, app):
        send(client, "PUT", "/v1/series/quiet", {"purpose": "x", "nouns": ["owl"]})
        client.json("GET", f"/dalle/quiet/{first}?generate=1")  # holds the only worker
        assert backend.started.wait(10)
        client.json("GET", f"/dalle/quiet/{second}?generate=1")  # waits in the queue
        response, doc = send(client, "POST", "/v1/series/quiet/hidden", {"hidden": True})
        assert (response.status, doc["error"]["code"]) == (409, "series_invalid"), doc
        assert "2 generation(s)" in doc["error"]["message"] and response.getheader("Retry-After")
        # hidden behind the server's back (another process): the queued run writes nothing
        set_hidden(app.data_dir.series_dir, app.data_dir.output, "quiet", True)
        app.catalog.series.refresh(force=True)
        backend.gate.set()
        wait_done(app.runtime, ("quiet", first))
        snapshot = wait_done(app.runtime, ("quiet", second))
        assert "is hidden" in snapshot["error"], snapshot
        assert not any((app.data_dir.output / "quiet").rglob(f"{second}*"))
        assert not any((app.data_dir.output / "quiet.deleted").rglob(f"{second}*"))


def test_series_errors(server):
    client, _ = server
    cases = [
        ("PUT", "/v1/series/empty", {"purpose": "x"}, 409, "series_invalid"),  # built in
        ("POST", "/v1/series/empty/hidden", {"hidden": True}, 409, "series_invalid"),
        ("POST", "/v1/series/nobody/hidden", {"hidden": True}, 404, "series_not_found"),
        ("GET", "/v1/series/nobody", None, 404, "series_not_found"),
        ("PUT", "/v1/series/a", {"suffix": "b"}, 400, "series_invalid"),
        ("PUT", "/v1/series/a", {"nouns": "fox"}, 400, "invalid_input"),
        ("PUT", "/v1/series/a", {"last": "7"}, 400, "invalid_input"),
        ("PUT", "/v1/series/a", {"places": ["x"]}, 400, "invalid_input"),
    ]
    for method, path, body, status, code in cases:
        response, doc = send(client, method, path, body)
        assert (response.status, doc["error"]["code"]) == (status, code), (method, path, body)


@pytest.mark.parametrize("name", ["..%2F..%2Fetc", "%2e%2e", "-x", "a%00b", ".hidden",
                                  "x" * 101])
def test_path_tricks_in_series_names_write_nothing_outside(server, tmp_path, name):
    client, app = server
    response, doc = send(client, "PUT", f"/v1/series/{name}", {"purpose": "x"})
    assert response.status in (200, 400), doc
    written = [p for p in tmp_path.rglob("*.json") if "series" in p.parts]
    assert all(p.parent == app.data_dir.series_dir for p in written)
    if response.status == 400:
        assert doc["error"]["code"] in ("series_invalid", "invalid_input")
        assert str(tmp_path) not in doc["error"]["message"]


def test_databases_manifest_version_and_records(server):
    client, app = server
    response, doc = client.json("GET", "/v1/databases")
    [manifest] = doc["data"]
    assert manifest["version"] == "1.0.0" and manifest["archiveHash"].startswith("sha256:")
    assert len(manifest["files"]) == 19
    assert client.json("GET", "/v1/databases/1.0.0")[1]["data"] == manifest
    response, doc = client.json("GET", "/v1/databases/9.9.9")
    assert response.status == 404 and doc["error"]["code"] == "database_version_unavailable"
    _, doc = client.json("GET", "/v1/databases/any/records/nouns.csv?limit=3")
    assert doc["data"]["columns"] == ["commonName", "family", "order", "class", "phylum"]
    assert len(doc["data"]["records"]) == 3 and len(doc["data"]["records"][0]["values"]) == 5
    _, doc = client.json("GET", "/v1/databases/any/records/gazes?limit=0")
    assert doc["data"]["columns"] == ["gaze"]
    assert len(doc["data"]["records"]) == len(app.catalog.databases["gazes"].records)
    assert client.json("GET", "/v1/databases/x/records/gazes?limit=x")[0].status == 400
    response, doc = client.json("GET", "/v1/databases/x/records/..%2Fseries")
    assert response.status == 404 and doc["error"]["code"] == "database_version_unavailable"


def test_validate_notices_changed_files(tmp_path):
    (tmp_path / "data" / "databases").mkdir(parents=True)
    gazes = tmp_path / "data" / "databases" / "gazes.csv"
    gazes.write_text("version,gaze\nv0.1.0,sideways\n")
    with running_server(tmp_path) as (client, _):
        response, doc = send(client, "POST", "/v1/validate")
        assert response.status == 200 and doc["data"] == {"valid": True}
        gazes.write_text("version,gaze\nv0.1.0,upwards\n")
        response, doc = send(client, "POST", "/v1/validate")
        assert response.status == 500 and doc["error"]["code"] == "database_manifest_invalid"
        assert "gazes" in doc["error"]["message"] and str(tmp_path) not in json.dumps(doc)


def test_validate_notices_an_override_added_or_unreadable_after_the_start(tmp_path):
    overrides = tmp_path / "data" / "databases"
    with running_server(tmp_path) as (client, _):
        assert send(client, "POST", "/v1/validate")[0].status == 200
        overrides.mkdir(parents=True, exist_ok=True)
        (overrides / "adverbs.csv").write_text("version,adverb\nv0.1.0,slowly\n")
        response, doc = send(client, "POST", "/v1/validate")
        assert response.status == 500 and "adverbs" in doc["error"]["message"], doc
        (overrides / "adverbs.csv").write_bytes(b"version,adverb\n\xff\xfe\n")
        response, doc = send(client, "POST", "/v1/validate")
        assert response.status == 500 and "cannot be read" in doc["error"]["message"], doc
        assert str(tmp_path) not in json.dumps(doc)
        (overrides / "adverbs.csv").unlink()  # back to what was loaded
        assert send(client, "POST", "/v1/validate")[0].status == 200


@pytest.mark.parametrize("headers, raw, status, code", [
    ({"Content-Type": "text/plain"}, b'{"input": "x"}', 415, "UNSUPPORTED_MEDIA_TYPE"),
    ({}, b'{"input": ', 400, "invalid_input"),
    ({}, b"", 400, "invalid_input"),
    ({}, b"[1, 2]", 400, "invalid_input"),
    ({}, b'{"input": NaN}', 400, "invalid_input"),
    ({}, b'{"input": "' + b"x" * 70_000 + b'"}', 413, "PAYLOAD_TOO_LARGE"),
    ({}, b'{"input": "x", "Input": "y", "colour": 1}', 400, "invalid_input"),
    ({}, b'{"input": 7}', 400, "invalid_input"),
    ({}, b'{"input": "x", "image": "yes"}', 400, "invalid_input"),
    ({}, b'{"input": "' + b"x" * 5000 + b'"}', 400, "invalid_input"),
])
def test_bad_bodies(server, headers, raw, status, code):
    client, _ = server
    response, doc = send(client, "POST", "/v1/images/generate", headers=headers, raw=raw)
    assert (response.status, doc["error"]["code"]) == (status, code)


def test_unknown_fields_are_named(server):
    client, _ = server
    _, doc = send(client, "POST", "/v1/images/generate", {"input": "x", "Input": "y"})
    assert '"Input"' in doc["error"]["message"]
    assert doc["error"]["details"]["unknown"] == ["Input"]
    assert "input" in doc["error"]["details"]["allowed"]


def test_openapi_documents_v1_bodies_answers_and_codes(server):
    client, _ = server
    _, doc = client.json("GET", "/openapi.json")
    generate = doc["paths"]["/v1/images/generate"]["post"]
    body = generate["requestBody"]["content"]["application/json"]["schema"]
    assert body["additionalProperties"] is False and "input" in body["properties"]
    answer = generate["responses"]["202"]["content"]["application/json"]["schema"]
    assert answer["properties"]["data"]["required"][:3] == ["series", "seed", "state"]
    codes = doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]
    assert {"invalid_input", "series_not_found", "artifact_missing", "regeneration_refused",
            "INVALID_ADDRESS", "UNSUPPORTED_MEDIA_TYPE"} <= set(codes["enum"])
    assert "requestBody" not in doc["paths"]["/v1/series/{name}"]["get"]
    assert "requestBody" in doc["paths"]["/v1/series/{name}"]["put"]


@pytest.mark.parametrize("method, path", [
    ("DELETE", "/v1/images/" + "ab" * 32),
    ("POST", "/v1/images/" + "ab" * 32 + "/restore"),
    ("POST", "/v1/validate"),
])
def test_routes_without_a_body_refuse_one_that_is_not_empty_json(server, method, path):
    client, _ = server
    response, doc = send(client, method, path, raw=b"garbage",
                         headers={"Content-Type": "text/plain"})
    assert (response.status, doc["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")
    response, doc = send(client, method, path, {"x": 1})
    assert (response.status, doc["error"]["code"]) == (400, "invalid_input")
    assert "x" in doc["error"]["message"]
    response, doc = send(client, method, path, raw=b"x" * 200_000)
    assert response.status == 413
    for body in (b"", b"{}"):  # nothing, or an empty object, is what they take
        response, _ = send(client, method, path, raw=body)
        assert response.status in (200, 404), (body, response.status)


def test_every_flag_of_the_series_list_is_checked(server):
    client, _ = server
    for query in ("onlyHidden=1&includeHidden=maybe", "includeHidden=1&onlyHidden=maybe"):
        response, doc = client.json("GET", f"/v1/series?{query}")
        assert (response.status, doc["error"]["code"]) == (400, "invalid_input"), query


def test_the_document_takes_series_names_as_the_server_does(server):
    import re

    client, _ = server
    document = client.json("GET", "/openapi.json")[1]
    (name,) = [p for p in document["paths"]["/v1/series/{name}"]["put"]["parameters"]
               if p["in"] == "path"]
    for taken in ("Test Series", "test-series", "Z."):  # the original's pin among them
        assert re.search(name["schema"]["pattern"], taken), taken
        response, _ = send(client, "PUT", f"/v1/series/{taken.replace(' ', '%20')}", {})
        assert response.status == 200, taken
    assert not re.search(name["schema"]["pattern"], "-x")
