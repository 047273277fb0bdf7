"""The local renderer: deterministic, varied, every technique reachable, annotated output."""

import hashlib
import subprocess
import sys
import textwrap

import pytest

from dalleserver.dress import Catalog
from dalleserver.imaging.backends import LocalBackend, encode_png
from dalleserver.imaging.local import TECHNIQUES, render_local, technique_for
from tests.conftest import REPO

ADDRESSES = ["0x" + f"{i:040x}" for i in (1, 2, 3)] + [
    "0xd8da6bf26964af9d7eed9e03e53415d37aa96045", "0x" + "ab" * 20]


@pytest.fixture(scope="module")
def catalog():
    return Catalog(None)


def _digest_in_subprocess(series: str, address: str) -> str:
    script = textwrap.dedent(f"""
        import hashlib, sys
        sys.path.insert(0, {str(REPO)!r})
        from dalleserver.dress import Catalog
        from dalleserver.imaging.backends import encode_png
        from dalleserver.imaging.local import render_local
        dress = Catalog(None).dress({series!r}, {address!r})
        print(hashlib.sha256(encode_png(render_local(dress))).hexdigest())
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"PYTHONHASHSEED": "random", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_same_inputs_same_bytes_across_processes(catalog):
    address = ADDRESSES[3]
    here = hashlib.sha256(encode_png(render_local(catalog.dress("nocturne", address))))
    assert _digest_in_subprocess("nocturne", address) == here.hexdigest()
    assert _digest_in_subprocess("nocturne", address) == here.hexdigest()


def test_different_addresses_differ(catalog):
    images = [render_local(catalog.dress("empty", a)).tobytes() for a in ADDRESSES]
    assert len({hashlib.sha256(i).hexdigest() for i in images}) == len(ADDRESSES)


def test_size_and_mode(catalog):
    image = render_local(catalog.dress("empty", ADDRESSES[0]))
    assert image.size == (1024, 1024) and image.mode == "RGB"
    colors = image.resize((64, 64)).getcolors(64 * 64)
    assert colors is None or len(colors) > 8  # a picture, not a flat fill


def test_every_technique_is_reachable_with_bundled_data(catalog):
    assert len(TECHNIQUES) >= 8
    seen = set()
    for series in catalog.series.names():
        for i in range(120):
            address = "0x" + hashlib.sha256(f"{series}{i}".encode()).hexdigest()[:40]
            seen.add(technique_for(catalog.dress(series, address)))
        if seen >= set(TECHNIQUES):
            break
    assert seen >= set(TECHNIQUES), set(TECHNIQUES) - seen


def test_backend_reports_its_phase(catalog):
    phases = []
    image = LocalBackend().render(catalog.dress("empty", ADDRESSES[1]), phases.append)
    assert phases == ["image_wait"] and image.size == (1024, 1024)
