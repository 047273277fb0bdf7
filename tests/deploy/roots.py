"""Root file systems for the deployment checks, made once and reused by every test and run.

A root is made by debootstrap from Debian's package registry (the only network these checks
use) into ``$DALLESERVER_ROOTS`` (default ``build/roots`` in the repository), under a lock so
that two test processes never make the same one twice. Tests copy a root before changing it.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from pathlib import Path

from tests.conftest import REPO

MIRROR = "http://deb.debian.org/debian"
# Debian 11: glibc 2.31 (as Ubuntu 20.04), systemd 247 - the oldest supported pair we can
# fetch; minbase plus what a service host has (systemd, dbus) and what the docs use (curl).
OLD_SUITE = "bullseye"
OLD_PACKAGES = ("systemd", "systemd-sysv", "dbus", "curl", "ca-certificates")


def roots_dir() -> Path:
    """Where roots are kept between runs (``$DALLESERVER_ROOTS`` or ``build/roots``)."""
    folder = Path(os.environ.get("DALLESERVER_ROOTS") or REPO / "build" / "roots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def have_root_tools() -> str | None:
    """Why the namespace checks cannot run here, or None when they can."""
    if os.geteuid() != 0:
        return "needs root (namespaces, chroot, mounts)"
    for tool in ("debootstrap", "unshare", "nsenter", "ip", "dpkg-deb", "apt-get"):
        if shutil.which(tool) is None:
            return f"needs {tool} (.ci/run installs it)"
    return None


def _made_once(name: str, make) -> Path:
    folder = roots_dir()
    target = folder / name
    with open(folder / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            partial = folder / f".{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            make(partial)
            (partial / ".complete").write_text("")
            shutil.rmtree(target, ignore_errors=True)
            partial.rename(target)
    return target


def debian_root(suite: str = OLD_SUITE, packages: tuple[str, ...] = OLD_PACKAGES) -> Path:
    """A debootstrap minbase root of ``suite`` with ``packages``, made on first use."""

    def make(partial: Path) -> None:
        result = subprocess.run(
            ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", suite,
             str(partial), MIRROR], capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            raise RuntimeError(f"debootstrap {suite} failed:\n{result.stdout[-3000:]}"
                               f"{result.stderr[-3000:]}")
        # apt in the copies must never reach for the network: the tests give it none
        shutil.rmtree(partial / "var/lib/apt/lists", ignore_errors=True)
        (partial / "var/lib/apt/lists/partial").mkdir(parents=True)

    return _made_once(f"{suite}-{'-'.join(sorted(packages))}", make)


def busybox_root() -> Path:
    """A root holding nothing but a static busybox (from Debian's busybox-static) and the
    folders a process expects: no libc, no loader, no passwd, no shell but busybox's."""

    def make(partial: Path) -> None:
        download = partial.with_name(partial.name + ".deb")
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir()
        got = subprocess.run(["apt-get", "download", "busybox-static"], cwd=download,
                             capture_output=True, text=True, timeout=300)
        if got.returncode != 0:  # the package lists may be missing on a fresh machine
            subprocess.run(["apt-get", "update", "-qq"], check=True, timeout=600)
            subprocess.run(["apt-get", "download", "busybox-static"], cwd=download,
                           check=True, timeout=300)
        deb = next(download.glob("busybox-static_*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(download / "x")], check=True)
        for sub in ("bin", "proc", "tmp", "dev", "sys", "root", "usr/local/bin"):
            (partial / sub).mkdir(parents=True, exist_ok=True)
        shutil.copy2(download / "x" / "bin" / "busybox", partial / "bin" / "busybox")
        for applet in ("sh", "ls", "cat", "kill", "sleep", "wget", "env"):
            (partial / "bin" / applet).symlink_to("busybox")
        os.chmod(partial / "tmp", 0o1777)
        shutil.rmtree(download)

    return _made_once("busybox", make)


def copy_root(base: Path, target: Path) -> Path:
    """A private copy of ``base`` that a test may change (hard links would share inodes
    with the cached root, so the copy is a real one; about 250 MB, a few seconds)."""
    subprocess.run(["cp", "-a", "--reflink=auto", str(base), str(target)], check=True,
                   timeout=600)
    (target / ".complete").unlink(missing_ok=True)
    return target
