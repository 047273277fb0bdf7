"""Health, liveness and readiness, including a data dir that breaks while serving."""

import json
import shutil
import socket

from tests.conftest import clean_env, run_cli
from tests.support.backends import GatedBackend
from tests.support.server import running_server


def test_healthy_report(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, _):
        response, doc = client.json("GET", "/health")
        assert response.status == 200 and doc["success"]
        data = doc["data"]
        assert data["status"] in ("healthy", "degraded")
        assert set(data["components"]) == {"filesystem", "disk_space", "memory", "openai",
                                           "queue"}
        assert data["components"]["filesystem"]["status"] == "healthy"
        assert data["version"] and data["uptime_seconds"] >= 0
        for path, status in (("/livez", "alive"), ("/health?check=liveness", "alive"),
                             ("/readyz", "ready"), ("/health?check=readiness", "ready")):
            response, doc = client.json("GET", path)
            assert response.status == 200 and doc["data"] == {"status": status}, path
        assert client.json("GET", "/health?check=bogus")[0].status == 400


def test_broken_data_dir_is_unhealthy_and_not_ready(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        app.health.write_interval = 0
        root = app.data_dir.root
        shutil.rmtree(root)
        root.write_text("now a file")  # every write in the data dir fails, even as root
        response, doc = client.json("GET", "/health")
        assert response.status == 503 and doc["success"] is False
        assert doc["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert doc["data"]["status"] == "unhealthy"
        assert doc["data"]["components"]["filesystem"]["status"] == "unhealthy"
        response, doc = client.json("GET", "/readyz")
        assert response.status == 503 and doc["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert response.getheader("X-Request-ID") == doc["request_id"]
        assert client.json("GET", "/livez")[0].status == 200  # alive all the same
        root.unlink()
        root.mkdir()
        assert client.json("GET", "/readyz")[0].status == 200


def test_port_in_use_exits_2_with_one_line(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"),
                         env=clean_env(HOME=str(tmp_path)))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert f"port {port}" in last and "already in use" in last
    assert "Traceback" not in result.stderr


def test_unwritable_data_dir_exits_2(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run_cli("serve", "--port", "0", "--data-dir", str(blocker / "sub"),
                     env=clean_env(HOME=str(tmp_path)))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "not writable" in result.stderr


def test_readiness_tests_the_folders_generation_writes(tmp_path):
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        app.health.write_interval = 0
        output = app.data_dir.output
        shutil.rmtree(output)
        output.write_text("a file where the output folder should be")
        response, doc = client.json("GET", "/readyz")
        assert response.status == 503 and "output" in doc["error"]["message"]
        assert str(tmp_path) not in doc["error"]["message"]  # no machine path to clients
        response, doc = client.json("GET", "/health")
        assert doc["data"]["components"]["filesystem"]["status"] == "unhealthy"
        assert str(tmp_path) not in json.dumps(doc)
        output.unlink()
        (output / "empty").mkdir(parents=True)
        (output / "empty" / "annotated").write_text("a file where a folder should be")
        response, doc = client.json("GET", "/readyz")
        assert response.status == 503 and "output/empty/annotated" in doc["error"]["message"]
        (output / "empty" / "annotated").unlink()
        assert client.json("GET", "/readyz")[0].status == 200


def test_readiness_does_not_need_the_data_dir_root_itself(tmp_path):
    """Generation writes below output/ and locks/ only: a root that takes no new file (here
    its probe name is taken by a folder) does not make the server unready."""
    with running_server(tmp_path, backend=GatedBackend()) as (client, app):
        app.health.write_interval = 0
        (app.data_dir.root / ".write_test").mkdir()
        response, doc = client.json("GET", "/readyz")
        assert response.status == 200, doc
