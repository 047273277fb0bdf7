import time

from dalleserver.config import load_config
from dalleserver.runtime import build_runtime
from tests.support.backends import GatedBackend

A = "0x" + "ab" * 20

def test_resubmit_after_failed_done_starts_a_new_run(tmp_path):
    config = load_config({"data_dir": str(tmp_path / "data"), "image_backend": "local"},
                         {"HOME": str(tmp_path)}, cwd=tmp_path)
    rt = build_runtime(config, backend=GatedBackend(fail="boom"))
    rt.jobs.start()
    key = ("empty", A)
    states = []
    for _ in range(20):
        rt.jobs.submit_key(key)
        deadline = time.monotonic() + 10
        while True:
            snap = rt.board.snapshot(key)
            if snap and snap["done"]:
                break
            assert time.monotonic() < deadline
        states.append(rt.jobs.submit_key(key).state)
        rt.jobs.wait_idle(10)
    rt.jobs.stop()
    assert states == ["queued"] * 20
