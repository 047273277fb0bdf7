"""A throw-away machine for the systemd checks: a copy of a debootstrap root whose own systemd
runs as PID 1 in new namespaces, with a private cgroup and only a loopback network.

``Machine.run`` enters all of its namespaces (nsenter), so commands run exactly as an
operator's shell on that host would; nothing it starts is reachable from outside.
"""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import time
import uuid
from pathlib import Path

from tests.deploy.roots import copy_root

HERE = Path(__file__).resolve().parent
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _cgroup2_dir() -> Path:
    """This process's own cgroup in the cgroup2 hierarchy (pure or hybrid layout)."""
    mount_point = None
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            left, _, right = line.partition(" - ")
            if right.split()[0] == "cgroup2":
                mount_point = left.split()[4]
                break
    if mount_point is None:
        raise RuntimeError("no cgroup2 hierarchy is mounted")
    with open("/proc/self/cgroup") as handle:
        own = next(line.split(":", 2)[2].strip() for line in handle if line.startswith("0::"))
    return Path(mount_point + own)


def _remove_cgroup(folder: Path) -> None:
    for child in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        try:
            child.rmdir()
        except OSError:
            pass
    try:
        folder.rmdir()
    except OSError:
        pass


class Machine:
    """One booted machine; use as a context manager (it is torn down on exit)."""

    def __init__(self, base: Path, workdir: Path) -> None:
        self.root = copy_root(base, workdir / "root")
        self.console = workdir / "console.log"
        self.console.write_text("")
        self.cgroup = _cgroup2_dir() / f"dalleserver-test-{uuid.uuid4().hex[:8]}"
        self.pid = 0
        self._outer: subprocess.Popen | None = None

    def __enter__(self) -> Machine:
        self.cgroup.mkdir()
        script = (f"echo $$ > {shlex.quote(str(self.cgroup / 'cgroup.procs'))} && exec unshare "
                  "--fork --pid --mount --cgroup --uts --ipc --net --propagation private "
                  f"bash {shlex.quote(str(HERE / 'boot-systemd.sh'))} "
                  f"{shlex.quote(str(self.root))} {shlex.quote(str(self.console))}")
        self._outer = subprocess.Popen(["bash", "-c", script], stdin=subprocess.DEVNULL,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                       start_new_session=True)
        try:
            self._wait_for_boot()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_for_boot(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not self.pid:
            children = Path(f"/proc/{self._outer.pid}/task/{self._outer.pid}/children")
            try:
                pids = children.read_text().split()
            except OSError:
                pids = []
            for pid in pids:
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    self.pid = int(pid)
            if self._outer.poll() is not None:
                raise RuntimeError(f"the machine did not boot:\n{self.console.read_text()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"systemd never started:\n{self.console.read_text()}")
            time.sleep(0.05)
        state = ""
        while time.monotonic() < deadline:
            state = self.run("systemctl is-system-running", check=False).stdout.strip()
            if state in ("running", "degraded"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"boot did not finish (state {state!r}):\n{self.console.read_text()}")

    def run(self, command: str, *, check: bool = True, timeout: float = 120,
            cwd: str = "/root") -> subprocess.CompletedProcess[str]:
        """``command`` in a root shell on the machine (bash -c), with a clean environment."""
        result = subprocess.run(
            ["nsenter", "-t", str(self.pid), "-a", "--", "env", "-i", f"PATH={PATH}",
             "HOME=/root", "LANG=C.UTF-8", "bash", "-c", f"cd {shlex.quote(cwd)} && {command}"],
            capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{command!r} exited {result.returncode}\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def put(self, source: Path, target: str, mode: int = 0o644) -> None:
        """Copy a host file into the machine (as if downloaded there)."""
        path = self.root / target.lstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(source.read_bytes())
        os.chmod(path, mode)

    def journal(self, unit: str) -> str:
        """The unit's journal and systemd's lines about it."""
        return self.run(f"journalctl --no-pager -o cat -u {shlex.quote(unit)}",
                        check=False).stdout

    def __exit__(self, *exc) -> None:
        if self._outer is not None:
            if self.pid:
                try:
                    os.kill(self.pid, signal.SIGKILL)  # PID 1 of its namespace: all go with it
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self._outer.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._outer.wait(30)
        # the machine's processes are gone: its mounts went with its mount namespace
        for _ in range(50):
            if not (self.cgroup / "cgroup.procs").exists():
                break
            _remove_cgroup(self.cgroup)
            if not self.cgroup.exists():
                break
            time.sleep(0.1)
        subprocess.run(["rm", "-rf", "--one-file-system", str(self.root)], check=False)
