"""Cost per operation as the work grows: N and 10 x N kept runs, queued jobs, pictures and
user series, measured in one run; prints each cost and the growth ratio (target <= 1.5).

Usage: python bench/scale.py [--divide K]   (K divides every size, for a quick look)

The application is driven in-process through its real handler (routing, views, jobs,
progress board, picture index, files on disk in a temp dir), so the ratios show the app's
own work without the noise of a load generator. Defaults: 1k/10k kept runs, 1k/10k queued
jobs, 3k/30k pictures, 3k/30k image records, 30/300 user series.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dalleserver.config import load_config  # noqa: E402
from dalleserver.httpd.messages import Headers, Request  # noqa: E402
from dalleserver.records.index import RecordIndex, RecordQuery, encode_cursor  # noqa: E402
from dalleserver.service import create_server  # noqa: E402
from dalleserver.web.app import App  # noqa: E402

TARGET_GROWTH = 1.5
TARGET_DRAIN = 0.8
TARGET_RUN_BYTES = 4096


def address(i: int) -> str:
    return "0x" + f"{i:040x}"


def make_app(root: Path, **flags: str) -> App:
    settings = {"data_dir": str(root), "image_backend": "none", "queue_size": "100000",
                "log_level": "warning", "port": "0"}
    settings.update(flags)
    environ = {"HOME": str(root), "TB_DALLE_RATE_LIMIT": "0"}  # one client triggers them all
    config = load_config(settings, environ, cwd=root)
    service = create_server(config)  # listens, but the benchmark calls the app directly
    service.server.server_close()
    return service.app


def call(app: App, target: str, method: str = "GET") -> bytes:
    path, _, query = target.partition("?")
    request = Request(method, target, path, path, Request.parse_query(query) if query else {},
                      Headers([]), "127.0.0.1", "bench")
    response = app.handle(request)
    assert response.status < 500, (target, response.status, response.body[:200])
    return response.body


def per_call_us(app: App, targets: list[str], repeat: int = 1) -> float:
    """Median of a few rounds of the mean CPU microseconds per call."""
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(repeat):
            for target in targets:
                call(app, target)
        rounds.append((time.process_time() - started) / (len(targets) * repeat) * 1e6)
    rounds.sort()
    return rounds[len(rounds) // 2]


def growth_line(what: str, small: float, large: float, unit: str) -> str:
    ratio = large / small if small else float("inf")
    verdict = "PASS" if ratio <= TARGET_GROWTH else "MISS"
    return (f"{what:<44} {small:9.1f} -> {large:9.1f} {unit:<8} growth {ratio:5.2f} "
            f"(target <= {TARGET_GROWTH}) {verdict}")


def rss_kb() -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# -- kept runs -------------------------------------------------------------------------
def kept_runs(root: Path, count: int) -> tuple[float, float]:
    """(CPU us per poll of one finished key, bytes of RSS per kept run) with ``count``
    other finished runs kept: half generated (full snapshots), half cache hits."""
    app = make_app(root / f"kept{count}")
    board = app.board
    before = rss_kb()
    for i in range(count):
        key = ("empty", address(i + 1))
        if i % 2:
            board.record_cache_hit(key)
        else:
            board.start(key, app.runtime.pipeline.dress(key))
            board.begin(key)
            board.complete(key)
    grown = (rss_kb() - before) * 1024 / count
    probe = ("empty", address(1))
    cost = per_call_us(app, [f"/dalle/{probe[0]}/{probe[1]}"], repeat=200)
    return cost, grown


# -- queued jobs -----------------------------------------------------------------------
def queued_jobs(root: Path, count: int) -> tuple[float, float, float]:
    """(CPU us per trigger while the queue fills, CPU us per poll of a queued key at the
    back, jobs drained per second) for ``count`` jobs."""
    app = make_app(root / f"queue{count}", workers="1")
    targets = [f"/dalle/empty/{address(i + 1)}?generate=1" for i in range(count)]
    started = time.process_time()
    for target in targets:
        call(app, target)
    trigger = (time.process_time() - started) / count * 1e6
    poll = per_call_us(app, [f"/dalle/empty/{address(count)}"], repeat=100)
    jobs = app.jobs
    begun = time.monotonic()
    jobs.start()
    deadline = begun + 600
    while jobs.queue_depth or jobs.in_flight:
        if time.monotonic() > deadline:
            raise RuntimeError("the queue did not drain in 10 minutes")
        time.sleep(0.05)
    rate = count / (time.monotonic() - begun)
    jobs.stop(5)
    return trigger, poll, rate


# -- pictures --------------------------------------------------------------------------
def pictures(root: Path, count: int) -> tuple[float, float]:
    """(CPU us of the first /preview after start, CPU us per later /preview) with
    ``count`` pictures in one series, newest page and a middle page."""
    folder = root / f"pics{count}"
    annotated = folder / "output" / "empty" / "annotated"
    annotated.mkdir(parents=True)
    for i in range(count):
        (annotated / f"{address(i + 1)}.png").write_bytes(b"\x89PNG")
    app = make_app(folder)
    started = time.process_time()
    call(app, "/preview")
    first = (time.process_time() - started) * 1e6
    middle = count // 48 // 2
    return first, per_call_us(app, ["/preview", f"/preview?page={middle}"], repeat=5)


# -- user series -----------------------------------------------------------------------
def user_series(root: Path, count: int) -> float:
    """CPU us per progress poll, cycling through ``count`` user series."""
    folder = root / f"series{count}"
    (folder / "series").mkdir(parents=True)
    for i in range(count):
        doc = {"suffix": f"user{i:04d}", "adverbs": ["quickly", "slowly"]}
        (folder / "series" / f"user{i:04d}.json").write_text(json.dumps(doc))
    app = make_app(folder)
    targets = [f"/dalle/user{i:04d}/{address(i + 1)}" for i in range(count)]
    for target in targets:  # first use builds each series' view
        call(app, target)
    return per_call_us(app, targets, repeat=max(1, 3000 // count))


# -- /metrics --------------------------------------------------------------------------
WARM_UP = 20  # made-up requests before counting: the first ones start their counters


def metrics_growth(root: Path, count: int) -> tuple[int, int, int]:
    """/metrics after ``WARM_UP`` and after ``count`` requests with made-up methods and
    paths: (bytes, series, series). The series (sample lines, values aside) must not grow
    with what clients send; the bytes grow a little as the counts gain digits."""
    app = make_app(root / "metrics")
    rng = random.Random(7)

    def made_up(first: int, last: int) -> None:
        for i in range(first, last):
            method = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(8))
            call(app, f"/made-up/{i}/{rng.random()}", method=method)
            record_exchange(app, method, f"/made-up/{i}")

    made_up(0, WARM_UP)
    warm = call(app, "/metrics")
    made_up(WARM_UP, max(count, WARM_UP))
    return len(warm), _series(warm), _series(call(app, "/metrics"))


def _series(text: bytes) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith(b"#"))


def record_exchange(app: App, method: str, target: str) -> None:
    """What the engine does after each answer: the access log and metrics."""
    from dalleserver.httpd.messages import Exchange

    path = target
    request = Request(method, target, path, path, {}, Headers([]), "127.0.0.1", "bench")
    response = app.handle(request)
    app.record(Exchange(request, response, time.perf_counter(), "bench", method, target,
                        "127.0.0.1"), 0.001)


# -- image records (/v1/images) ---------------------------------------------------------
def post(app: App, target: str, doc: dict) -> bytes:
    request = Request("POST", target, target, target, {},
                      Headers([("Content-Type", "application/json")]), "127.0.0.1", "bench",
                      body=json.dumps(doc).encode())
    response = app.handle(request)
    assert response.status < 300, (target, response.status, response.body[:200])
    return response.body


def records(root: Path, count: int) -> tuple[float, float, float, dict[str, float]]:
    """(CPU ms of the first /v1/images after start: the one scan that reads every record,
    bytes of RSS per indexed record, CPU us per new record, CPU us per call of each
    listing and lookup) with ``count`` records in two series, written as generations
    write them (one JSON file per picture)."""
    folder = root / f"records{count}"
    app = make_app(folder)
    template = json.loads(post(app, "/v1/images/generate", {"input": "template"}))["data"]
    (folder / template["metadataPath"]).unlink()
    record = template["metadata"]
    for series in ("empty", "nocturne"):
        (folder / "output" / series / "metadata").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        series, seed = ("empty", "nocturne")[i % 2], f"{i:064x}"
        doc = {**record, "input": f"input {i:06d}", "seed": seed, "imageId": f"sha256:{seed}",
               "series": {**record["series"], "name": series}}
        path = folder / "output" / series / "metadata" / f"{seed}.json"
        path.write_text(json.dumps(doc, indent=2))
    app = make_app(folder)  # a fresh start: the index is built by the first listing
    before = rss_kb()
    started = time.process_time()
    call(app, "/v1/images")
    first = (time.process_time() - started) * 1000
    per_record = (rss_kb() - before) * 1024 / count
    middle = count // 2
    cursor = encode_cursor((f"input {middle:06d}", ("empty", "nocturne")[middle % 2],
                            f"{middle:064x}", 0))
    started = time.process_time()
    for i in range(50):
        post(app, "/v1/images/generate", {"input": f"new {i}"})
    write = (time.process_time() - started) / 50 * 1e6
    targets = {
        "first page, input order (100 records)": "/v1/images",
        "a middle page by its cursor": f"/v1/images?cursor={cursor}",
        "newest page": "/v1/images?sort=newest",
        "one series, newest": "/v1/images?series=nocturne&sort=newest",
        "selective input prefix, newest": f"/v1/images?inputPrefix=input%20{middle // 10:05d}"
                                          "&sort=newest",
        "broad input prefix, newest": "/v1/images?inputPrefix=input&sort=newest",
        "one record by imageId": f"/v1/images/sha256:{middle:064x}",
    }
    costs = {name: per_call_us(app, [target]) for name, target in targets.items()}
    # the index alone, without reading the records of the page from their files
    index = app.runtime.records.index
    for name, query in (("index only: newest page", RecordQuery(sort="newest")),
                        ("index only: one series by input", RecordQuery(series="nocturne")),
                        ("index only: broad prefix, newest",
                         RecordQuery(sort="newest", prefix="input"))):
        costs[name] = index_us(index, query)
    return first, per_record, write, costs


def index_us(index: RecordIndex, query: RecordQuery) -> float:
    """Median CPU microseconds of one page from the record index."""
    rounds = []
    for _ in range(5):
        started = time.process_time()
        for _ in range(200):
            index.page(query)
        rounds.append((time.process_time() - started) / 200 * 1e6)
    return sorted(rounds)[2]


def print_records(scale: int, root: Path) -> None:
    sizes = (3000 // scale, 30000 // scale)
    (first_s, _, write_s, small), (first_l, per_record, write_l, large) = (
        records(root, n) for n in sizes)
    print(f"image records {sizes[0]:,} -> {sizes[1]:,} (two series)")
    print(f"  first /v1/images after start (one scan): {first_s:.1f} -> {first_l:.1f} ms; "
          f"RSS per indexed record at {sizes[1]:,}: {per_record:,.0f} bytes")
    print("  " + growth_line("a new record (prompts-only generate)", write_s, write_l, "us"))
    for name in small:
        print("  " + growth_line(name, small[name], large[name], "us"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--divide", type=int, default=1, help="divide every size by this")
    args = parser.parse_args()
    scale = max(1, args.divide)
    with tempfile.TemporaryDirectory(prefix="dalle-scale-") as tmp:
        root = Path(tmp)
        runs = (1000 // scale, 10000 // scale)
        (poll_s, rss_s), (poll_l, rss_l) = (kept_runs(root, n) for n in runs)
        print(f"kept runs {runs[0]:,} -> {runs[1]:,}")
        print("  " + growth_line("poll of a finished key", poll_s, poll_l, "us"))
        per_run = max(rss_l, 0.0)
        print(f"  RSS per kept run at {runs[1]:,}: {per_run:,.0f} bytes (target <= "
              f"{TARGET_RUN_BYTES}) {'PASS' if per_run <= TARGET_RUN_BYTES else 'MISS'}")

        jobs = (1000 // scale, 10000 // scale)
        (trig_s, qpoll_s, rate_s), (trig_l, qpoll_l, rate_l) = (queued_jobs(root, n)
                                                                for n in jobs)
        print(f"queued jobs {jobs[0]:,} -> {jobs[1]:,}")
        print("  " + growth_line("trigger while the queue fills", trig_s, trig_l, "us"))
        print("  " + growth_line("poll of the last queued key", qpoll_s, qpoll_l, "us"))
        drain = rate_l / rate_s
        print(f"  drain {rate_s:,.0f} -> {rate_l:,.0f} jobs/s, ratio {drain:.2f} (target >= "
              f"{TARGET_DRAIN}) {'PASS' if drain >= TARGET_DRAIN else 'MISS'}")

        pics = (3000 // scale, 30000 // scale)
        (first_s, page_s), (first_l, page_l) = (pictures(root, n) for n in pics)
        print(f"pictures {pics[0]:,} -> {pics[1]:,} (one series)")
        print(f"  first /preview after start (one scan): {first_s / 1000:.1f} -> "
              f"{first_l / 1000:.1f} ms")
        print("  " + growth_line("/preview (newest page and a middle page)", page_s, page_l,
                                 "us"))

        print_records(scale, root)

        series = (max(30 // scale, 3), max(300 // scale, 30))
        cost_s, cost_l = (user_series(root, n) for n in series)
        print(f"user series {series[0]} -> {series[1]}")
        print("  " + growth_line("poll cycling through every series", cost_s, cost_l, "us"))

        size, before, after = metrics_growth(root, 2000 // scale)
        verdict = "PASS" if after == before else "MISS"
        print(f"/metrics: {size:,} bytes, {before:,} series after {WARM_UP} made-up methods "
              f"and paths, {after:,} after {max(2000 // scale, WARM_UP):,} {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
