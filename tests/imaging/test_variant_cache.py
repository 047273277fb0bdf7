"""The variant cache on real files: one encode however many ask at once, least recently used
variants evicted to fit the bound, a picture's variants removed with it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from dalleserver.imaging.variant_cache import VariantCache, VariantError
from dalleserver.imaging.variants import VariantSpec, encode_variant
from tests.support.clock import ManualClock

KEY = ("empty", "0x" + "ab" * 20)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "picture.png"
    Image.effect_mandelbrot((512, 512), (-2, -1.5, 1, 1.5), 60).convert("RGB").save(path)
    return path


def test_concurrent_first_requests_wait_for_one_encode(tmp_path, source):
    gate = threading.Event()

    def gated_encode(path: Path, spec: VariantSpec) -> bytes:
        assert gate.wait(20)
        return encode_variant(path, spec)

    cache = VariantCache(tmp_path / "cache", 1 << 30, encode=gated_encode)
    spec = VariantSpec("webp", 128)
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(cache.get(KEY, source, spec)))
               for _ in range(6)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 20
    while cache.waiting() < 5:  # the five others wait for the first one's encode
        assert time.monotonic() < deadline, "the requests never queued behind one encode"
        time.sleep(0.005)
    gate.set()
    for thread in threads:
        thread.join(20)
    assert results == [cache.path(KEY, spec)] * 6
    assert Image.open(results[0]).size == (128, 128)
    assert cache.stats()["made"]["webp"] == 1


def test_a_failed_encode_fails_every_waiter_without_a_path(tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture")
    cache = VariantCache(tmp_path / "cache", 1 << 30)
    with pytest.raises(VariantError) as failure:
        cache.get(KEY, broken, VariantSpec("jpg", 64))
    assert str(tmp_path) not in str(failure.value)
    with pytest.raises(FileNotFoundError):
        cache.get(KEY, tmp_path / "missing.png", VariantSpec("jpg", 64))


def test_a_newer_picture_makes_its_variants_again(tmp_path, source):
    cache = VariantCache(tmp_path / "cache", 1 << 30)
    spec = VariantSpec("png", 64)
    first = cache.get(KEY, source, spec).read_bytes()
    Image.new("RGB", (512, 512), "red").save(source)
    assert cache.get(KEY, source, spec).read_bytes() != first
    assert cache.stats()["made"]["png"] == 2


def test_the_least_recently_used_variants_are_evicted(tmp_path, source):
    clock = ManualClock()
    cache = VariantCache(tmp_path / "cache", 1 << 30, clock=clock)
    specs = [VariantSpec("webp", 64), VariantSpec("webp", 128), VariantSpec("webp", 256)]
    for spec in specs:
        clock.now += 1
        cache.get(KEY, source, spec)
    clock.now += 1
    cache.get(KEY, source, specs[0])  # used again: now the most recent
    sizes = {spec: cache.path(KEY, spec).stat().st_size for spec in specs}
    cache.max_bytes = sizes[specs[0]] + sizes[specs[2]]
    assert cache.sweep() == 1
    assert not cache.path(KEY, specs[1]).exists()
    assert cache.path(KEY, specs[0]).exists() and cache.path(KEY, specs[2]).exists()
    assert cache.stats()["evicted"] == 1 and cache.stats()["bytes"] == cache.max_bytes
    assert cache.sweep() == 0
    cache.get(KEY, source, specs[1])  # made again on the next request
    assert cache.stats()["made"]["webp"] == 4


def test_removing_a_picture_removes_its_variants(tmp_path, source):
    cache = VariantCache(tmp_path / "cache", 1 << 30)
    other = ("empty", "0x" + "cd" * 20)
    for key in (KEY, other):
        cache.get(key, source, VariantSpec("jpg", 32))
    cache.remove(KEY)
    assert not cache.folder(KEY).exists() and cache.folder(other).is_dir()
