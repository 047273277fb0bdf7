"""nginx on 127.0.0.1 and a free port, in a folder of its own, with one worker: the cluster
tests put it in front of instances, the HTTP benchmarks (``bench/common.py``) serve a file
with it. Each user gives what goes into the ``http`` block and waits for it in its own way.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from tests.support.process import stop_process
from tests.support.redis_server import free_port

MAIN_CONF = """
daemon off;
worker_processes 1;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    client_body_temp_path {root}/tmp;
    proxy_temp_path {root}/tmp;
    fastcgi_temp_path {root}/tmp;
    uwsgi_temp_path {root}/tmp;
    scgi_temp_path {root}/tmp;
{http}
}}
"""


class NginxProcess:
    """The prefix folder (``root``, with ``tmp/`` for nginx's temporary files) and the port
    are made first (the configuration names them); ``start`` writes the configuration and
    runs nginx in the foreground. FileNotFoundError when nginx is not installed."""

    def __init__(self, prefix: str) -> None:
        self.binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(self.binary).exists():
            raise FileNotFoundError("nginx")
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix=prefix))
        (self.root / "tmp").mkdir()

    def start(self, http: str, connections: int = 1024) -> None:
        """Run nginx with ``http`` (directives and server blocks) in its ``http`` block."""
        conf = self.root / "nginx.conf"
        conf.write_text(MAIN_CONF.format(root=self.root, connections=connections, http=http))
        self.proc = subprocess.Popen([self.binary, "-p", str(self.root), "-c", str(conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def error_log(self) -> str:
        path = self.root / "error.log"
        return path.read_text() if path.exists() else ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self) -> None:
        """A graceful stop (SIGQUIT), killed after 10 s."""
        stop_process(self.proc, signal.SIGQUIT, 10)
