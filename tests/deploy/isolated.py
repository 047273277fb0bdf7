"""Runs the single binary in a root file system with no network, as a user of that host would.

Started by tests/deploy/test_olddistro.py inside new pid, mount and network namespaces
(``unshare``): it brings up loopback, mounts /proc, a /tmp and the basic /dev nodes in the
root, then runs the binary chrooted there with an empty environment, drives the server from
this side over loopback, and prints one JSON report on stdout.

Usage: python -m tests.deploy.isolated ROOT BINARY
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ADDRESS = "0xd8da6bf26964af9d7eed9e03e53415d37aa96045"
SERVED = "0x" + "4d" * 20  # not the one `generate` made: the server must make its own
PNG = b"\x89PNG\r\n\x1a\n"
PORT = 8080


def _prepare(root: Path, binary: Path) -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["mount", "-t", "proc", "proc", str(root / "proc")], check=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=1777", "tmpfs", str(root / "tmp")],
                   check=True)
    for node in ("null", "zero", "random", "urandom"):
        target = root / "dev" / node
        if not target.exists():
            target.touch()
        subprocess.run(["mount", "--bind", f"/dev/{node}", str(target)], check=True)
    shutil.copy2(binary, root / "usr/local/bin/dalleserver")


def _in_root(root: Path, *args: str, env: dict[str, str], **kwargs) -> subprocess.Popen:
    def enter() -> None:
        os.chroot(root)
        os.chdir("/")

    return subprocess.Popen(["/usr/local/bin/dalleserver", *args], env=env, preexec_fn=enter,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def _run(root: Path, *args: str, env: dict[str, str]) -> dict:
    proc = _in_root(root, *args, env=env)
    out, err = proc.communicate(timeout=120)
    return {"code": proc.returncode, "stdout": out, "stderr": err}


def _get(path: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=10) as reply:
            return reply.status, reply.headers.get("Content-Type", ""), reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Content-Type", ""), err.read()


def _serve(root: Path, env: dict[str, str]) -> dict:
    started = time.monotonic()
    proc = _in_root(root, "serve", "--port", str(PORT), "--data-dir", "/data", env=env)
    report: dict = {}
    try:
        while True:
            try:
                if _get("/readyz")[0] == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() - started > 60:
                report["error"] = "never ready"
                return report
            time.sleep(0.02)
        report["ready_seconds"] = round(time.monotonic() - started, 3)
        report["trigger"] = _get(f"/dalle/nocturne/{SERVED}?generate=1")[0]
        deadline = time.monotonic() + 60
        body = b""
        while time.monotonic() < deadline:
            _, kind, body = _get(f"/dalle/nocturne/{SERVED}")
            if kind == "image/png":
                break
            time.sleep(0.1)
        report["png"] = body[:8] == PNG
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        report["exit"] = proc.returncode
        report["stderr_tail"] = err[-2000:]
    return report


def main(root_arg: str, binary_arg: str) -> int:
    """Run every check, print the JSON report; the test decides what passes."""
    root, binary = Path(root_arg), Path(binary_arg)
    _prepare(root, binary)
    # what a bare host gives a process: a PATH and nothing else (no HOME, no locale)
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    report = {
        "version": _run(root, "--version", env=env),
        "no_home": _run(root, "check", env=env),
        "check": _run(root, "check", "--data-dir", "/data", env=env),
        "generate": _run(root, "generate", "nocturne", ADDRESS, "--data-dir", "/data", env=env),
    }
    generated = report["generate"]["stdout"].strip()
    report["generate"]["png"] = bool(generated) and (
        root / generated.lstrip("/")).read_bytes()[:8] == PNG
    report["serve"] = _serve(root, env)
    report["left_in_tmp"] = sorted(p.name for p in (root / "tmp").iterdir())
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
