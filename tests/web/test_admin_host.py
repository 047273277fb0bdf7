"""The admin rule against DNS rebinding: without a token, a write from loopback must name
this machine by a loopback name in its Host. A page of another site whose name was rebound
to 127.0.0.1 sends its own name as Host (and a matching Origin), and is refused; reads and
writes carrying the admin token are not affected."""

from __future__ import annotations

import socket

import pytest

from dalleserver.web.guards import names_loopback
from tests.support.server import running_server, wait_done

A = "0x56" + "00" * 19

REFUSED_HOSTS = ["evil.example", "evil.example:{port}", "localhost.evil.example:{port}",
                 "127.0.0.1.evil.example", "[::2]:{port}", "[::ffff:127.0.0.1]", "10.0.0.1",
                 "0.0.0.0:{port}", "myhost.local", ""]
ALLOWED_HOSTS = ["localhost", "localhost:{port}", "LocalHost:{port}", "app.localhost:{port}",
                 "127.0.0.1:{port}", "127.1.2.3", "[::1]", "[::1]:{port}", "localhost.:{port}",
                 "app.localhost."]


@pytest.mark.parametrize("host", ALLOWED_HOSTS)
def test_loopback_names(host):
    assert names_loopback(host.format(port=8090))


@pytest.mark.parametrize("host", [*REFUSED_HOSTS, "localhost:x", "127.1", "0177.0.0.1",
                                  "localhost:99999999", "localhost:65536", "localhost..",
                                  "evil.example, localhost", "x.example, app.localhost",
                                  "[::1]x", "[::1"])
def test_other_names(host):
    assert not names_loopback(host.format(port=8090))


def test_no_host_at_all_is_loopback():
    assert names_loopback(None)


def rebound(port: int, host: str = "evil.example:{port}") -> dict[str, str]:
    """What a rebound page sends: its own name as Host, and its own origin."""
    name = host.format(port=port)
    return {"Host": name, "Origin": f"http://{name}", "Content-Type": "application/json"}


def test_a_rebound_page_cannot_write(tmp_path):
    with running_server(tmp_path) as (client, app):
        client.get(f"/dalle/empty/{A}?generate=1")
        wait_done(app.runtime, ("empty", A))
        headers = rebound(client.port)
        response, doc = client.json("PUT", "/v1/series/usr", body=b"{}", headers=headers)
        assert response.status == 401 and doc["error"]["code"] == "UNAUTHORIZED"
        assert "localhost" in doc["error"]["message"]
        assert response.getheader("WWW-Authenticate").startswith("Bearer")
        assert not (app.data_dir.series_dir / "usr.json").exists()
        response, doc = client.json("GET", f"/dalle/empty/{A}?remove=1", headers=headers)
        assert response.status == 401 and doc["error"]["code"] == "UNAUTHORIZED"
        assert app.data_dir.annotated("empty", A).is_file()
        response, _ = client.json("POST", "/errors?clear=1", headers=headers)
        assert response.status == 401
        # reads are open to it, as to anyone
        response, _ = client.get(f"/dalle/empty/{A}", headers=headers)
        assert response.status == 200 and response.getheader("Content-Type") == "image/png"
        assert client.get("/v1/series", headers=headers)[0].status == 200


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_a_write_naming_another_host_is_refused(tmp_path, host):
    with running_server(tmp_path) as (client, app):
        headers = {"Host": host.format(port=client.port), "Content-Type": "application/json"}
        response, doc = client.json("PUT", "/v1/series/usr", body=b"{}", headers=headers)
        assert response.status == 401 and doc["error"]["code"] == "UNAUTHORIZED", host
        assert not (app.data_dir.series_dir / "usr.json").exists()


def test_writes_naming_a_loopback_host_are_accepted(tmp_path):
    with running_server(tmp_path) as (client, app):
        for number, host in enumerate(ALLOWED_HOSTS):
            name = host.format(port=client.port)
            response, doc = client.json("PUT", f"/v1/series/usr{number}", body=b"{}",
                                        headers={"Host": name,
                                                 "Content-Type": "application/json"})
            assert response.status == 200, (host, doc)
        # a page of this server itself (its Origin is the Host it names) may write too
        same = rebound(client.port, "localhost:{port}")
        assert client.json("POST", "/errors?clear=1", headers=same)[0].status == 200


def test_an_http_1_0_write_without_host_is_accepted(tmp_path):
    with running_server(tmp_path) as (client, _):
        with socket.create_connection(("127.0.0.1", client.port), timeout=10) as sock:
            sock.sendall(b"POST /errors?clear=1 HTTP/1.0\r\nContent-Length: 0\r\n\r\n")
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200") and b'"success":true' in answer


def test_the_admin_token_writes_whatever_the_host(tmp_path):
    env = {"TB_DALLE_ADMIN_TOKEN": "s3cret"}
    with running_server(tmp_path, env=env) as (client, app):
        headers = {"Host": f"evil.example:{client.port}", "Content-Type": "application/json"}
        response, _ = client.json("PUT", "/v1/series/usr", body=b"{}", headers=headers)
        assert response.status == 401
        headers["Authorization"] = "Bearer s3cret"
        response, doc = client.json("PUT", "/v1/series/usr", body=b"{}", headers=headers)
        assert response.status == 200, doc
        assert (app.data_dir.series_dir / "usr.json").is_file()


def raw_exchange(port: int, head: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("target, host, status", [
    ("http://evil.example/errors?clear=1", "localhost", b"401"),  # the target's name wins
    ("http://evil.example:{port}/errors?clear=1", "127.0.0.1", b"401"),
    ("http://localhost:{port}/errors?clear=1", "evil.example", b"200"),
    ("http://evil.example@localhost/errors?clear=1", "localhost", b"400"),  # no userinfo
])
def test_an_absolute_form_target_names_the_host(tmp_path, target, host, status):
    """RFC 9112 §3.2.2: with an absolute-form target, its authority is the host asked
    for, whatever Host says."""
    with running_server(tmp_path) as (client, _):
        line = target.format(port=client.port).encode()
        head = b"POST " + line + b" HTTP/1.1\r\nHost: " + host.encode() + \
            b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        assert raw_exchange(client.port, head).startswith(b"HTTP/1.1 " + status)
