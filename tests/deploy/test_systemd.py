"""The service under a real systemd, installed exactly as docs/operations.md says.

Each test boots a fresh copy of a Debian 11 root (systemd 247, glibc 2.31) with its own
systemd as PID 1 in new namespaces, no network but loopback, and /tmp and /run mounted
noexec (tests/deploy/machine.py), then runs the guide's command blocks in it as root.
Marker ``systemd`` (root, about a minute); .ci/run runs it.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.deploy import opsdoc
from tests.deploy.machine import Machine
from tests.deploy.roots import debian_root

pytestmark = pytest.mark.systemd
# what a clean run must never show in the unit's journal: a start or stop that timed out, a
# watchdog abort, or processes that had to be killed
TROUBLE = re.compile(r"timed out|[Ww]atchdog timeout|SIGKILL|SIGABRT|status=9/KILL|"
                     r"status=6/ABRT|core-dump|reception only permitted")
# systemd's own shortest useful watchdog for the test: the logic does not depend on the
# interval, and 3 x 30 s of waiting would only cost time (the shipped 30 s is checked too)
TEST_WATCHDOG = 5


@pytest.fixture(scope="module")
def packages(binary, root_tools, tmp_path_factory) -> dict[str, Path]:
    """The tarball and the .deb, built from the binary by deploy/build-packages.sh."""
    out = tmp_path_factory.mktemp("packages")
    result = subprocess.run([str(REPO / "deploy" / "build-packages.sh"), str(binary), str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"tarball": next(out.glob("*.tar.gz")), "deb": next(out.glob("*.deb"))}


def _blocks(machine: Machine, scenario: str, which: slice = slice(None)) -> None:
    for index, script in enumerate(opsdoc.scripts(scenario)[which]):
        path = f"/root/.{scenario}-{index}.sh"
        (machine.root / path.lstrip("/")).write_text(script)
        machine.run(f"bash -e -o pipefail {path}", timeout=180)


def _show(machine: Machine, *props: str) -> dict[str, str]:
    out = machine.run(f"systemctl show dalleserver -p {' -p '.join(props)}").stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def _cursor(machine: Machine) -> str:
    out = machine.run("journalctl --show-cursor -n 0 --no-pager").stdout
    return out.strip().rsplit("cursor: ", 1)[-1]


def _journal_since(machine: Machine, cursor: str) -> str:
    return machine.run(f"journalctl --no-pager -o cat --after-cursor='{cursor}' "
                       "-u dalleserver", check=False).stdout


def _wait(predicate, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _ready(machine: Machine) -> bool:
    return machine.run("curl -fsS http://127.0.0.1:8080/readyz", check=False).returncode == 0


def _nothing_unpacked_left(machine: Machine) -> None:
    left = machine.run("find /var/cache/dalleserver /tmp /var/tmp -mindepth 1 "
                       r"\( -name '_MEI*' -o -name 'staticx-*' \) -print",
                       check=False).stdout.strip()
    assert not left, f"unpacked files left behind: {left}"


def _server_pid(machine: Machine) -> int:
    """The Python server: the service's main PID is staticx's loader, whose child is
    PyInstaller's launcher, whose child is the server."""
    tree = machine.run("for p in $(cat /sys/fs/cgroup/system.slice/dalleserver.service/"
                       "cgroup.procs); do echo $p $(cut -d' ' -f4 /proc/$p/stat); done").stdout
    parents = dict(tuple(map(int, line.split())) for line in tree.splitlines())
    main = int(_show(machine, "MainPID")["MainPID"])
    launcher = [pid for pid, parent in parents.items() if parent == main]
    assert len(launcher) == 1, parents
    server = [pid for pid, parent in parents.items() if parent == launcher[0]]
    assert len(server) == 1 and len(parents) == 3, parents
    return server[0]


def test_tarball_install_as_documented(packages, tmp_path):
    with Machine(debian_root(), tmp_path) as machine:
        machine.put(packages["tarball"], f"/root/{packages['tarball'].name}")
        _blocks(machine, "tarball", slice(0, 2))
        _blocks(machine, "service")
        assert machine.run("systemctl is-active dalleserver").stdout.strip() == "active"
        assert _show(machine, "WatchdogUSec")["WatchdogUSec"] in ("30s", "30000000")
        server = _server_pid(machine)

        # the watchdog: pings keep the service alive through 3 intervals
        dropin = machine.root / "etc/systemd/system/dalleserver.service.d/watchdog.conf"
        dropin.parent.mkdir(parents=True)
        dropin.write_text(f"[Service]\nWatchdogSec={TEST_WATCHDOG}s\n")
        machine.run("systemctl daemon-reload && systemctl restart dalleserver")
        server = _server_pid(machine)
        cursor = _cursor(machine)
        time.sleep(3 * TEST_WATCHDOG + 1)
        state = _show(machine, "ActiveState", "NRestarts")
        assert state["ActiveState"] == "active" and _server_pid(machine) == server, state
        assert not TROUBLE.search(_journal_since(machine, cursor))
        dropin.unlink()
        machine.run("systemctl daemon-reload")

        # a crash: kill -9 of the server is followed by a restart
        restarts = int(_show(machine, "NRestarts")["NRestarts"])
        machine.run(f"kill -9 {server}")
        _wait(lambda: int(_show(machine, "NRestarts")["NRestarts"]) == restarts + 1,
              "the restart after kill -9")
        _wait(lambda: _ready(machine), "/readyz after the restart")
        assert _server_pid(machine) != server

        # the guide's restart, stop, clean and start; then a clean stop
        cursor = _cursor(machine)
        _blocks(machine, "tarball", slice(2, None))
        assert _ready(machine)
        started = time.monotonic()
        machine.run("systemctl stop dalleserver")
        stop_seconds = time.monotonic() - started
        final = _show(machine, "ActiveState", "Result", "ExecMainStatus")
        assert final == {"ActiveState": "inactive", "Result": "success",
                         "ExecMainStatus": "0"}, final
        journal = _journal_since(machine, cursor)
        assert not TROUBLE.search(journal), journal[-3000:]
        assert stop_seconds < 10
        _nothing_unpacked_left(machine)


def test_deb_install_as_documented(packages, tmp_path):
    with Machine(debian_root(), tmp_path) as machine:
        machine.put(packages["deb"], f"/root/{packages['deb'].name}")
        cursor = _cursor(machine)
        _blocks(machine, "deb")
        _blocks(machine, "service")
        assert machine.run("systemctl is-enabled dalleserver").stdout.strip() == "enabled"
        _server_pid(machine)
        user = machine.run("getent passwd dalleserver").stdout
        assert ":/var/lib/dalleserver:" in user and user.rstrip().endswith("nologin")
        assert machine.run("stat -c '%a %U' /etc/dalleserver/env").stdout.split() == [
            "600", "root"]
        assert machine.run("stat -c %U /var/lib/dalleserver").stdout.strip() == "dalleserver"
        assert "#OPENAI_API_KEY=" in machine.run("cat /etc/dalleserver/env").stdout
        assert not TROUBLE.search(_journal_since(machine, cursor))

        # removal stops the service cleanly and keeps the data; purge removes it
        machine.run("apt-get remove -y dalleserver", timeout=180)
        assert machine.run("systemctl is-active dalleserver", check=False).stdout.strip() in (
            "inactive", "unknown")
        assert machine.run("test -d /var/lib/dalleserver/output", check=False).returncode == 0
        assert not TROUBLE.search(_journal_since(machine, cursor))
        _nothing_unpacked_left(machine)
        machine.run("apt-get purge -y dalleserver", timeout=180)
        assert machine.run("test -e /var/lib/dalleserver", check=False).returncode != 0
