"""Who may do what and what a client reads: forwarded addresses and the admin rule, the
rate limit's buckets for IPv6 clients and the exemption of admin triggers, flags with one
meaning, encoded slashes and no caching of dynamic answers. Every request
is a real one on 127.0.0.1; remote clients are played through X-Forwarded-For from a
trusted proxy."""

from __future__ import annotations

import pytest

from dalleserver.web.guards import RateLimiter, rate_key
from tests.support.backends import GatedBackend
from tests.support.server import running_server

A = "0x" + "ab" * 20
B = "0x" + "bc" * 20
C = "0x" + "cd" * 20


@pytest.mark.parametrize(("trusted", "forwarded"), [
    ("127.0.0.1", "127.0.0.1"),  # every hop trusted: the resolver falls back to the peer
    ("127.0.0.1", "::1"),  # an untrusted hop that happens to be a loopback address
    ("127.0.0.1", "203.0.113.9, 127.0.0.1"),
    ("", "127.0.0.1"),  # a proxy on this machine nobody declared
])
def test_a_forwarded_request_is_never_local(tmp_path, trusted, forwarded):
    env = {"TB_DALLE_TRUSTED_PROXIES": trusted} if trusted else {}
    with running_server(tmp_path, backend=GatedBackend(), env=env) as (client, _):
        response, doc = client.json("GET", f"/dalle/empty/{A}?remove=1",
                                    headers={"X-Forwarded-For": forwarded})
        assert response.status == 401 and doc["error"]["code"] == "UNAUTHORIZED", forwarded
        response, _ = client.json("POST", "/errors?clear=1", headers={"Forwarded": "for=x"})
        assert response.status == 401
        response, _ = client.json("GET", f"/dalle/empty/{A}?remove=1")
        assert response.status == 200  # asked directly on this machine


def test_ipv6_clients_share_a_bucket_per_64(tmp_path):
    env = {"TB_DALLE_TRUSTED_PROXIES": "127.0.0.1", "TB_DALLE_RATE_LIMIT": "1"}
    with running_server(tmp_path, backend=GatedBackend(open_gate=False), env=env) as (
            client, _):
        def trigger(address: str, client_ip: str) -> int:
            return client.json("GET", f"/dalle/empty/{address}?generate=1",
                               headers={"X-Forwarded-For": client_ip})[0].status

        assert trigger(A, "2001:db8:1:2::1") == 202
        assert trigger(B, "2001:db8:1:2:ffff::9") == 429  # same /64: same subscriber
        assert trigger(B, "2001:db8:1:3::1") == 202  # another /64
        assert trigger(C, "::ffff:198.51.100.7") == 202
        assert trigger(C, "198.51.100.7") == 200  # the same client: joins its own run


def test_rate_keys():
    assert rate_key("198.51.100.7") == "198.51.100.7"
    assert rate_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert rate_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert rate_key("not an address") == "not an address"
    limiter = RateLimiter(1, clock=lambda: 0.0)
    limiter.consume("2001:db8::1")
    assert limiter.retry_after("2001:db8::2") > 0 and limiter.retry_after("2001:db9::1") == 0


@pytest.mark.parametrize(("exempt", "second", "third"), [("1", 202, 202), ("0", 429, 429)])
def test_admin_triggers_may_skip_the_rate_limit(tmp_path, exempt, second, third):
    env = {"TB_DALLE_RATE_LIMIT": "1", "TB_DALLE_ADMIN_TOKEN": "s3cret",
           "TB_DALLE_RATE_LIMIT_EXEMPT_ADMIN": exempt}
    admin = {"Authorization": "Bearer s3cret"}
    with running_server(tmp_path, backend=GatedBackend(open_gate=False), env=env) as (
            client, _):
        assert client.json("GET", f"/dalle/empty/{A}?generate=1", headers=admin)[0].status \
            == 202
        assert client.json("GET", f"/dalle/empty/{B}?generate=1", headers=admin)[0].status \
            == second
        # without the token the limit applies, and exempt triggers took nothing from it
        assert client.json("GET", f"/dalle/empty/{C}?generate=1")[0].status == third


def test_flags_have_one_meaning_and_the_first_value_counts(tmp_path):
    from tests.web.test_dalle import wait_done

    with running_server(tmp_path, backend=GatedBackend()) as (client, _):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        for query in ("remove=0", "remove=false", "remove=no", "remove=off",
                      "remove=0&remove=1"):
            response, _ = client.get(f"{path}?{query}")  # a plain GET: the picture
            assert response.status == 200, query
            assert response.getheader("Content-Type") == "image/png", query
        for query in ("remove", "remove=", "remove=2", "generate=", "generate=yes%20please"):
            response, doc = client.json("GET", f"{path}?{query}")
            name = query.partition("=")[0]
            assert response.status == 400, query
            assert doc["error"]["details"] == {"parameter": name}
            assert f"?{name}=" in doc["error"]["message"]
        response, doc = client.json("GET", f"{path}?remove=1&remove=0")
        assert response.status == 200 and doc["data"]["removed"] is True


def test_an_encoded_slash_never_reaches_another_route(tmp_path):
    from tests.web.test_dalle import wait_done

    with running_server(tmp_path, backend=GatedBackend()) as (client, _):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        response, doc = client.json("GET", f"/dalle/empty%2F{A}")  # one segment: no address
        assert response.status == 400 and doc["error"]["code"] == "MISSING_PARAMETER"
        response, doc = client.json("GET", f"{path}%2Fevents")
        assert response.status == 400 and doc["error"]["code"] == "INVALID_ADDRESS"
        response, _ = client.get(f"/dalle/%65mpty/{A}")  # an escaped letter is that letter
        assert response.getheader("Content-Type") == "image/png"


def test_dynamic_answers_are_never_stored(tmp_path):
    from tests.web.test_dalle import wait_done

    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        for route in (f"{path}?generate=1", "/health", "/readyz", "/livez", "/metrics",
                      "/metrics?format=json", "/series", "/errors", "/errors?format=json",
                      "/nowhere", f"/dalle/empty/{B}", "/health?check=bogus"):
            response, _ = client.get(route)
            assert response.getheader("Cache-Control") == "no-store", route
        response, _ = client.get(f"{path}/events")
        assert response.getheader("Cache-Control") == "no-store"


def test_unknown_methods_share_one_metrics_label(tmp_path):
    import socket

    with running_server(tmp_path, backend=GatedBackend()) as (client, _):
        for i in range(20):
            with socket.create_connection(("127.0.0.1", client.port), timeout=5) as sock:
                sock.sendall(b"M%dX /livez HTTP/1.1\r\nHost: x\r\n\r\n" % i)
                assert sock.recv(4096).startswith(b"HTTP/1.1 501 ")
        assert client.json("PUT", "/metrics")[0].status == 405
        text = client.get("/metrics")[1].decode()
    assert not any(f'method="M{i}X"' in text for i in range(20))
    assert 'method="OTHER",status="501"' in text and 'method="PUT"' in text


def test_symlinks_never_serve_a_file_from_outside(tmp_path):
    from tests.web.test_dalle import wait_done

    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not for the web")
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        png = app.data_dir.annotated("empty", A)
        png.unlink()
        png.symlink_to(secret)
        for url in (path, f"/thumbs/empty/{A}", f"{path}.png", f"{path}.webp?size=64",
                    f"/files/empty/annotated/{A}.png"):
            response, body = client.get(url)
            assert b"not for the web" not in body, url
            assert response.getheader("Content-Type") != "image/png", url


def test_a_folder_linked_out_of_the_data_dir_is_no_source_of_variants(tmp_path):
    from tests.web.test_dalle import wait_done

    outside = tmp_path / "elsewhere"
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        folder = app.data_dir.annotated("empty", A).parent
        folder.rename(outside)  # the picture now lives outside; a link takes its place
        folder.symlink_to(outside)
        app.runtime.variants.remove(("empty", A))
        for url in (path, f"{path}.png", f"{path}.webp?size=64", f"{path}.jpg?size=64",
                    f"{path}.png?size=64", f"/thumbs/empty/{A}"):
            response, _ = client.get(url)
            assert not response.getheader("Content-Type", "").startswith("image/"), url


def test_temp_files_are_never_served(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        folder = app.data_dir.output / "empty" / "annotated"
        folder.mkdir(parents=True)
        (folder / f".{A}.png.123.cafe.tmp").write_bytes(b"half a picture")
        (folder / "visible.txt").write_bytes(b"fine")
        assert client.get("/files/empty/annotated/visible.txt")[0].status == 200
        response, body = client.get(f"/files/empty/annotated/.{A}.png.123.cafe.tmp")
        assert response.status == 404 and b"half" not in body
        response, _ = client.get(f"/files/empty/annotated/%2e{A}.png.123.cafe.tmp")
        assert response.status == 404


def test_remove_and_generate_in_one_request_regenerate(tmp_path):
    from tests.web.test_dalle import wait_done

    backend = GatedBackend()
    with running_server(tmp_path, backend=backend) as (client, app):
        path = f"/dalle/empty/{A}"
        client.json("GET", path + "?generate=1")
        wait_done(client, path)
        response, doc = client.json("GET", path + "?remove=1&generate=1")
        assert response.status == 202 and doc["data"]["series"] == "empty"
        wait_done(client, path)
        assert backend.renders == 2
        response, _ = client.json("GET", path + "?remove=1&generate=1",
                                  headers={"X-Forwarded-For": "203.0.113.9"})
        assert response.status == 401 and backend.renders == 2  # admin rule first


@pytest.mark.parametrize("raw", [
    b"GET / HTTP/1.1\r\n\r\n",  # no Host
    b"POST /errors HTTP/1.1\r\nHost: a\r\nContent-Length: \xb2\r\n\r\n",
    b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n" + b"X: 1\r\n" * 101 + b"\r\n",
    b"POST /errors HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n",
])
def test_refusals_before_parsing_are_answered_like_any_error(tmp_path, raw):
    import json
    import socket

    with running_server(tmp_path, backend=GatedBackend()) as (client, _):
        with socket.create_connection(("127.0.0.1", client.port), timeout=10) as sock:
            sock.sendall(raw)
            reply = b""
            while chunk := sock.recv(65536):
                reply += chunk
    head, _, body = reply.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
    doc = json.loads(body)
    assert headers["X-Request-ID"] == doc["request_id"] == doc["error"]["request_id"]
    assert headers["Date"].endswith(" GMT") and doc["error"]["timestamp"].endswith("Z")
    assert headers["Cache-Control"] == "no-store" and headers["Connection"] == "close"
