"""Envelope, request IDs, routing (404/405), HEAD, limits, panic recovery, metrics, OpenAPI."""

import http.client
import json
import socket
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.server import running_server

REQUIRED_FAMILIES = [
    "dalleserver_up", "dalleserver_build_info", "dalleserver_http_requests",
    "dalleserver_http_request_duration_seconds", "dalleserver_errors",
    "dalleserver_error_code", "dalleserver_error_endpoint", "dalleserver_generations",
    "dalleserver_generation_duration_seconds", "dalleserver_generations_in_flight",
    "dalleserver_queue_depth", "dalleserver_openai_requests", "dalleserver_openai_errors",
    "dalleserver_openai_timeouts", "dalleserver_retries", "dalleserver_circuit_breaker_state",
    "dalleserver_rate_limited", "process_resident_memory_bytes", "process_cpu_seconds",
    "process_open_fds", "process_start_time_seconds",
]


@pytest.fixture
def server(tmp_path):
    with running_server(tmp_path) as (client, app):
        yield client, app


def test_index_lists_routes(server):
    client, app = server
    response, body = client.get("/")
    assert response.status == 200
    assert response.getheader("Content-Type").startswith("text/plain")
    for route in app.router.routes:
        assert route.template.split("{path")[0] in body.decode()


def test_unknown_route_is_404_envelope_with_request_id(server):
    client, _ = server
    response, doc = client.json("GET", "/nope")
    assert response.status == 404
    assert doc["success"] is False and doc["error"]["code"] == "NOT_FOUND"
    rid = response.getheader("X-Request-ID")
    assert len(rid) == 8 and doc["request_id"] == rid == doc["error"]["request_id"]
    assert doc["error"]["timestamp"].endswith("Z")


def test_inbound_request_id_is_echoed_or_replaced(server):
    client, _ = server
    response, doc = client.json("GET", "/series", headers={"X-Request-ID": "abc-123_X.y"})
    assert response.getheader("X-Request-ID") == "abc-123_X.y" == doc["request_id"]
    response, doc = client.json("GET", "/series", headers={"X-Request-ID": "bad id!"})
    assert response.getheader("X-Request-ID") != "bad id!"
    assert len(doc["request_id"]) == 8
    response, _ = client.json("GET", "/series", headers={"X-Request-ID": "x" * 65})
    assert len(response.getheader("X-Request-ID")) == 8


def test_wrong_method_is_405_with_allow(server):
    client, _ = server
    for method, path in (("POST", "/series"), ("DELETE", "/dalle/empty/0x" + "1" * 40),
                         ("PUT", "/metrics")):
        response, doc = client.json(method, path)
        assert response.status == 405, path
        assert doc["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert "GET" in response.getheader("Allow") and "HEAD" in response.getheader("Allow")


def test_head_has_headers_and_no_body(server):
    client, _ = server
    get, get_body = client.get("/series")
    head, head_body = client.request("HEAD", "/series")
    assert head.status == 200 and head_body == b""
    assert head.getheader("Content-Length") == str(len(get_body))


def test_keep_alive_serves_many_requests_on_one_connection(server):
    client, _ = server
    conn = http.client.HTTPConnection("127.0.0.1", client.port, timeout=10)
    for _ in range(20):
        response, _ = client.request("GET", "/livez", conn=conn)
        assert response.status == 200
        assert response.getheader("Connection") == "keep-alive"
    conn.close()


def test_series_route(server):
    client, _ = server
    response, doc = client.json("GET", "/series")
    names = doc["data"]["series"]  # the original's shape: names and their count
    assert names == sorted(names) and "empty" in names and doc["data"]["count"] == len(names)
    response, doc = client.json("GET", "/series?details=1")
    assert [s["suffix"] for s in doc["data"]["series"]] == names
    assert doc["data"]["count"] == len(names)
    response, doc = client.json("GET", "/series?details=maybe")
    assert response.status == 400 and doc["error"]["details"] == {"parameter": "details"}


def test_handler_exception_is_500_and_server_keeps_serving(server):
    client, app = server

    def boom(app, request):
        raise RuntimeError("kaboom")

    app.router.add("/boom", ("GET",), boom, "/boom")
    response, doc = client.json("GET", "/boom")
    assert response.status == 500 and doc["error"]["code"] == "INTERNAL_SERVER_ERROR"
    assert "kaboom" not in json.dumps(doc)
    assert client.get("/livez")[0].status == 200


def _raw(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


def test_limits(server):
    client, _ = server
    long_line = b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    assert _raw(client.port, long_line).startswith(b"HTTP/1.1 414")
    big_header = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 9000 + b"\r\n\r\n"
    assert _raw(client.port, big_header).startswith(b"HTTP/1.1 431")
    many = b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n"
    assert _raw(client.port, many).split(b" ")[1] in (b"431", b"400")
    # the server refuses by the declared length, without reading (or waiting for) the body
    too_big = b"POST /errors?clear=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n"
    answer = _raw(client.port, too_big)
    assert answer.startswith(b"HTTP/1.1 413") and b"PAYLOAD_TOO_LARGE" in answer
    assert _raw(client.port, b"garbage\r\n\r\n").split(b" ")[1] == b"400"


def test_slow_clients_do_not_block_others(server):
    client, _ = server
    lorises = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", client.port), timeout=10)
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # never finishes the headers
        lorises.append(sock)
    started = time.monotonic()
    for _ in range(10):
        assert client.get("/livez")[0].status == 200
    assert time.monotonic() - started < 5
    for sock in lorises:
        sock.close()


def test_metrics_parse_with_every_required_family(server):
    client, _ = server
    client.get("/nope")
    client.get("/series")
    response, body = client.get("/metrics")
    assert response.getheader("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    for name in REQUIRED_FAMILIES:
        assert name in families, name
    for line in text.splitlines():
        if line.startswith("# TYPE"):
            assert f"# HELP {line.split()[2]} " in text
    requests = families["dalleserver_http_requests"].samples
    assert any(s.labels == {"route": "/series", "method": "GET", "status": "200"}
               for s in requests)
    codes = {s.labels["code"]: s.value for s in families["dalleserver_error_code"].samples}
    assert codes["NOT_FOUND"] >= 1
    up = families["dalleserver_up"].samples[0].value
    assert up == 1
    response, doc = client.json("GET", "/metrics?format=json")
    assert doc["success"] and "dalleserver_http_requests_total" in doc["data"]


def test_openapi_matches_the_router(server):
    client, app = server
    response, doc = client.json("GET", "/openapi.json")
    assert doc["openapi"].startswith("3.1")
    documented = {(path, method.upper()) for path, item in doc["paths"].items()
                  for method in item}
    known = set()
    for route in app.router.routes:
        if not any(status < 400 for status in route.meta.answers):
            continue  # an incomplete path that only refuses is no operation
        for method in route.methods:
            known.add((route.meta.path, method))
    assert documented == known


def test_errors_report_and_clear(server):
    client, _ = server
    client.get("/missing-route")
    response, body = client.get("/errors")
    assert response.status == 200 and b"NOT_FOUND" in body
    response, doc = client.json("GET", "/errors?format=json")
    assert doc["data"]["by_code"]["NOT_FOUND"] >= 1
    response, doc = client.json("POST", "/errors?clear=1")  # loopback, no token configured
    assert response.status == 200 and doc["data"]["cleared"]
    response, doc = client.json("GET", "/errors?format=json")
    assert doc["data"]["total"] == 0
    # the Prometheus counter is never reset
    _, body = client.get("/metrics")
    assert 'dalleserver_error_code_total{code="NOT_FOUND"}' in body.decode()


def test_connection_cap_refuses_cleanly(tmp_path):
    env = {"TB_DALLE_MAX_CONNECTIONS": "3"}
    with running_server(tmp_path, env=env) as (client, _):
        held = [socket.create_connection(("127.0.0.1", client.port), timeout=10)
                for _ in range(3)]
        time.sleep(0.2)
        answer = _raw(client.port, b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in answer
        for sock in held:
            sock.close()
        time.sleep(0.3)
        assert client.get("/livez")[0].status == 200  # slots come back
        _, body = client.get("/metrics")
        assert "dalleserver_connections_rejected_total 1" in body.decode()
