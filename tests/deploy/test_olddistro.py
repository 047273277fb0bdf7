"""One x86-64 binary for every Linux: Debian 11 (glibc 2.31, as Ubuntu 20.04) and a root that
holds nothing but busybox, each without network (tests/deploy/isolated.py drives it).

Ubuntu's own archive is not among the package registries CI reaches, so Ubuntu 20.04 is
covered by Debian 11, which has the same glibc; the busybox root shows that nothing at all is
taken from the host. Marker ``olddistro`` (root); .ci/run runs it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import REPO
from tests.deploy.roots import busybox_root, copy_root, debian_root

pytestmark = pytest.mark.olddistro


def _drive(base, binary, tmp_path) -> dict:
    root = copy_root(base, tmp_path / "root")
    try:
        result = subprocess.run(
            ["unshare", "--fork", "--pid", "--mount", "--net", "--propagation", "private",
             sys.executable, "-m", "tests.deploy.isolated", str(root), str(binary)],
            cwd=REPO, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout + result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(root)], check=False)


def _assert_works(report: dict) -> None:
    assert report["version"]["code"] == 0, report["version"]
    assert report["version"]["stdout"].startswith("dalleserver "), report["version"]
    assert report["check"]["code"] == 0, report["check"]
    assert "everything is usable" in report["check"]["stdout"]
    assert report["generate"]["code"] == 0 and report["generate"]["png"], report["generate"]
    serve = report["serve"]
    assert "error" not in serve, serve
    assert serve["trigger"] == 202 and serve["png"], serve
    assert serve["exit"] == 0, serve
    assert report["left_in_tmp"] == [], report["left_in_tmp"]
    print(f"\nstart to /readyz 200: {serve['ready_seconds']:.2f} s")


@pytest.mark.parametrize("make_root", [debian_root, busybox_root],
                         ids=["debian11", "busybox"])
def test_binary_runs_without_host_libraries(binary, root_tools, make_root, tmp_path):
    report = _drive(make_root(), binary, tmp_path)
    _assert_works(report)


def test_no_home_and_no_passwd_entry_asks_for_a_data_dir(binary, root_tools, tmp_path):
    """The busybox root has no /etc/passwd: with HOME unset there is no default data dir."""
    report = _drive(busybox_root(), binary, tmp_path)
    no_home = report["no_home"]
    assert no_home["code"] == 2, no_home
    lines = no_home["stderr"].strip().splitlines()
    assert len(lines) == 1 and "--data-dir" in lines[0], no_home["stderr"]
    assert "Traceback" not in no_home["stderr"]
