"""A real dalleserver on 127.0.0.1:0 in this process, and a small HTTP client for tests."""

from __future__ import annotations

import http.client
import json
import time
from contextlib import contextmanager
from pathlib import Path

from dalleserver.config import load_config
from dalleserver.service import create_server


class Client:
    def __init__(self, port: int) -> None:
        self.port = port

    def request(self, method: str, path: str, headers: dict | None = None,
                body: bytes | None = None, conn: http.client.HTTPConnection | None = None):
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        if own:
            conn.close()
        return response, data

    def json(self, method: str, path: str, **kw):
        response, data = self.request(method, path, **kw)
        return response, json.loads(data)

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)


def wait_done(runtime, key, timeout: float = 20):
    """The snapshot of a run once it is done (fails the test after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snap = runtime.board.snapshot(key)
        if snap and snap["done"]:
            return snap
        time.sleep(0.01)
    raise AssertionError("generation did not finish")


@contextmanager
def running_server(tmp_path: Path, backend=None, flags: dict | None = None,
                   env: dict | None = None, **options):
    """Yield (client, app) for a server with its data dir under ``tmp_path``, made by the
    composition root; ``options`` go to ``create_server`` (engine, timeouts, runtime
    options) and ``client.server`` is the HTTP engine."""
    all_flags = {"data_dir": str(tmp_path / "data"), "port": "0", "image_backend": "local"}
    all_flags.update(flags or {})
    environ = {"HOME": str(tmp_path)}
    environ.update(env or {})
    config = load_config(all_flags, environ, cwd=tmp_path)
    service = create_server(config, backend=backend, **options)
    service.start(poll_interval=0.05)
    try:
        client = Client(service.server.server_address[1])
        client.server = service.server
        yield client, service.app
    finally:
        service.stop(2)
