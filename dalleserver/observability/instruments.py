"""Every metric family the server exports (CONTRACT §4.3), on one registry."""

from __future__ import annotations

import platform
from collections.abc import Callable
from typing import Any

from dalleserver import __version__
from dalleserver.observability import process
from dalleserver.observability.metrics import Registry

GENERATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
BREAKER_STATES = ("closed", "half_open", "open")
# the provider endpoints and call outcomes (provider.http's error kinds, "rejected" by an open
# breaker, "error" for anything else): their counters start at 0, so that rate() and
# increase() see the first failure instead of a series appearing out of nowhere
OPENAI_ENDPOINTS = ("chat", "images")
WEBHOOK_DELIVERY_OUTCOMES = ("delivered", "gone", "expired", "dropped", "abandoned")
WEBHOOK_ATTEMPT_OUTCOMES = ("success", "http_error", "timeout", "connection", "rejected")
OPENAI_OUTCOMES = ("success", "rejected", "error", "timeout", "connection", "rate_limited",
                   "insufficient_quota", "content_policy", "invalid_key", "server_error",
                   "client_error", "bad_response")


def _zero() -> float:
    return 0.0


def _unknown() -> None:
    return None


def _optional(source: Callable[[], Any]) -> float | None:
    value = source()
    return None if value is None else float(value)


def _by_label(counts: dict[str, Any]) -> dict[tuple[str, ...], float]:
    """``{"a": 1, "b": {"c": 2}}`` -> ``{("a",): 1, ("b", "c"): 2}``: label values of a
    nested dict of counts, outermost first."""
    out: dict[tuple[str, ...], float] = {}
    for key, value in counts.items():
        if isinstance(value, dict):
            out.update({(key, *inner): v for inner, v in _by_label(value).items()})
        else:
            out[(key,)] = float(value)
    return out


def _ens_reading(source: Callable[[], Any], part: str) -> Callable[[], Any]:
    """A scrape-time reader of one part of the ENS resolver's stats (None: no node, no
    sample)."""
    def read() -> Any:
        stats = source()
        if stats is None:
            return None
        value = stats[part]
        return _by_label(value) if isinstance(value, dict) else float(value)

    return read


class Instruments:
    """The server's metrics. Gauges read live values at scrape time from sources that the
    owners of those values attach with ``watch`` once they exist."""

    SOURCES = ("queue_depth", "in_flight", "breaker_states", "http_in_flight",
               "http_connections", "queue_capacity", "ens", "budget", "progress",
               "webhooks_pending", "variants", "cluster")

    def __init__(self) -> None:
        self.sources: dict[str, Callable[[], Any]] = dict.fromkeys(self.SOURCES, _zero)
        self.sources["breaker_states"] = dict
        # a capacity of 0 would make the saturation ratio infinite: no sample until it is known
        self.sources["queue_capacity"] = _unknown
        self.sources["ens"] = _unknown  # the ENS resolver's stats(), with a node configured
        self.sources["budget"] = _unknown  # (unit, limit, remaining) with TB_DALLE_BUDGET
        self.sources["progress"] = dict  # the progress board's memory(): runs kept, bytes
        self.sources["variants"] = dict  # the variant cache's stats(): made, evicted, bytes
        self.sources["cluster"] = _unknown  # cluster mode: {"up", "reclaimed"}
        sources = self.sources
        r = self.registry = Registry()
        r.gauge("dalleserver_up", "1 while the server is running", callback=lambda: 1.0)
        r.gauge("dalleserver_build_info", "Build information; the value is always 1",
                ("version", "python"),
                callback=lambda: {(__version__, platform.python_version()): 1.0})
        self.http_requests = r.counter("dalleserver_http_requests_total",
                                       "HTTP requests answered", ("route", "method", "status"))
        self.http_duration = r.histogram("dalleserver_http_request_duration_seconds",
                                         "Time to answer an HTTP request", ("route",))
        self.http_in_flight = r.gauge("dalleserver_http_requests_in_flight",
                                      "HTTP requests being answered now",
                                      callback=lambda: float(sources["http_in_flight"]()))
        self.http_connections = r.gauge("dalleserver_http_connections",
                                        "Client connections open now",
                                        callback=lambda: float(sources["http_connections"]()))
        self.http_worker_stalls = r.counter(
            "dalleserver_http_worker_stalls_total",
            "Times the running HTTP worker was blocked and another one was woken")
        self.connections_rejected = r.counter(
            "dalleserver_connections_rejected_total",
            "Connections refused because the connection cap was reached")
        self.errors = r.counter("dalleserver_errors_total", "Error responses (status >= 400)")
        self.error_codes = r.counter("dalleserver_error_code_total",
                                     "Error responses by error code", ("code",))
        self.error_endpoints = r.counter("dalleserver_error_endpoint_total",
                                         "Error responses by route", ("endpoint",))
        self.generations = r.counter("dalleserver_generations_total",
                                     "Generations finished, by outcome", ("outcome",))
        for outcome in ("success", "failure", "cache_hit"):
            self.generations.inc(0, outcome=outcome)
        self.generation_duration = r.histogram("dalleserver_generation_duration_seconds",
                                               "Time from a worker taking a generation to its "
                                               "end", buckets=GENERATION_BUCKETS)
        r.gauge("dalleserver_generations_in_flight", "Generations running now",
                callback=lambda: float(sources["in_flight"]()))
        r.gauge("dalleserver_queue_depth", "Generations waiting in the queue",
                callback=lambda: float(sources["queue_depth"]()))
        r.gauge("dalleserver_queue_capacity",
                "Generations the queue holds before refusing more (TB_DALLE_QUEUE_SIZE)",
                callback=lambda: _optional(sources["queue_capacity"]))
        self.openai_requests = r.counter("dalleserver_openai_requests_total",
                                         "Calls to the OpenAI API", ("endpoint", "outcome"))
        self.openai_errors = r.counter("dalleserver_openai_errors_total",
                                       "Failed calls to the OpenAI API")
        self.openai_timeouts = r.counter("dalleserver_openai_timeouts_total",
                                         "Calls to the OpenAI API that timed out")
        self.retries = r.counter("dalleserver_retries_total", "Retried calls, by operation",
                                 ("operation",))
        for endpoint in OPENAI_ENDPOINTS:
            self.retries.inc(0, operation=endpoint)
            for outcome in OPENAI_OUTCOMES:
                self.openai_requests.inc(0, endpoint=endpoint, outcome=outcome)

        def breaker_gauge() -> dict[tuple[str, ...], float]:
            out = {}
            for name, state in sources["breaker_states"]().items():
                for candidate in BREAKER_STATES:
                    out[(name, candidate)] = 1.0 if candidate == state else 0.0
            return out

        r.gauge("dalleserver_circuit_breaker_state",
                "Circuit breaker state, one-hot per breaker", ("breaker", "state"),
                callback=breaker_gauge)
        self.rate_limited = r.counter("dalleserver_rate_limited_total",
                                      "Generation triggers refused by the rate limit")
        self._ens_families(r)
        self._cost_families(r)
        self._webhook_families(r)
        self._variant_families(r)
        self._cluster_families(r)
        r.gauge("process_resident_memory_bytes", "Resident memory size in bytes",
                callback=process.resident_memory_bytes)
        r.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes",
                callback=process.virtual_memory_bytes)
        r.counter_func("process_cpu_seconds_total", "User and system CPU time in seconds",
                       process.cpu_seconds)
        r.gauge("process_open_fds", "Open file descriptors", callback=process.open_fds)
        r.gauge("process_max_fds", "Maximum open file descriptors", callback=process.max_fds)
        r.gauge("process_start_time_seconds", "Start time since the epoch in seconds",
                callback=process.start_time_seconds)

    def _ens_families(self, r: Registry) -> None:
        """ENS resolution through the Ethereum node, read from the resolver at scrape time;
        every label set is there from the start (at 0) once a node is configured."""
        sources = self.sources  # read at scrape: watch() replaces the source later

        def part(name: str) -> Callable[[], Any]:
            return _ens_reading(lambda: sources["ens"](), name)

        r.counter_func("dalleserver_ens_resolutions_total",
                       "ENS resolutions by direction (forward: name to address, reverse: "
                       "address to primary name) and outcome", part("resolutions"),
                       ("direction", "outcome"))
        r.counter_func("dalleserver_ens_cache_hits_total",
                       "ENS answers served from the cache, by direction", part("cache_hits"),
                       ("direction",))
        r.gauge("dalleserver_ens_cache_entries", "ENS answers cached now, by direction",
                ("direction",), callback=part("cache_entries"))
        r.counter_func("dalleserver_ens_node_calls_total",
                       "JSON-RPC calls made to the Ethereum node", part("node_calls"))
        r.counter_func("dalleserver_ens_node_errors_total",
                       "Failed or refused calls to the Ethereum node, by kind",
                       part("node_errors"), ("kind",))

    def _cost_families(self, r: Registry) -> None:
        """Paid OpenAI calls, what they are estimated to cost, and the spending budget. The
        call counters' label sets for the configured models are primed by costs.spending."""
        sources = self.sources
        self.paid_calls = r.counter("dalleserver_openai_paid_calls_total",
                                    "Successful (billed) OpenAI calls",
                                    ("endpoint", "model", "quality", "size"))
        self.estimated_spend = r.counter("dalleserver_openai_estimated_spend_dollars_total",
                                         "What the paid calls cost at the price table's "
                                         "prices, in US dollars", ("endpoint", "model"))
        self.usage_tokens = r.counter("dalleserver_openai_usage_tokens_total",
                                      "Tokens the OpenAI API reported in its answers' usage",
                                      ("endpoint", "model", "kind"))
        self.budget_exhausted = r.counter("dalleserver_budget_exhausted_total",
                                          "Generation triggers over the spending budget, "
                                          "refused or drawn locally", ("outcome",))
        for outcome in ("refused", "fallback"):
            self.budget_exhausted.inc(0, outcome=outcome)

        def budget(part: int) -> Callable[[], Any]:
            def read() -> Any:
                reading = sources["budget"]()
                return None if reading is None else {(reading[0],): float(reading[part])}
            return read

        r.gauge("dalleserver_budget_limit", "The spending budget of each period "
                "(TB_DALLE_BUDGET), in its unit", ("unit",), callback=budget(1))
        r.gauge("dalleserver_budget_remaining", "What is left of the spending budget in "
                "the current period, in its unit", ("unit",), callback=budget(2))

        self._progress_families(r)

    def _progress_families(self, r: Registry) -> None:
        sources = self.sources

        def part(name: str) -> Callable[[], float | None]:
            def read() -> float | None:
                value = sources["progress"]().get(name)
                return None if value is None else float(value)
            return read

        r.gauge("dalleserver_progress_runs_kept", "Finished runs whose progress is kept",
                callback=part("finished"))
        r.gauge("dalleserver_progress_bytes", "Memory the kept finished runs take (within "
                "TB_DALLE_PROGRESS_MEMORY_MB)", callback=part("bytes"))
        r.counter_func("dalleserver_progress_evicted_total", "Finished runs dropped before "
                       "their retention time to stay within the memory budget",
                       part("evicted_early"))

    def _webhook_families(self, r: Registry) -> None:
        """Webhooks (TB_DALLE_WEBHOOK_HOSTS): how deliveries ended and how attempts went."""
        sources = self.sources
        self.webhook_deliveries = r.counter(
            "dalleserver_webhook_deliveries_total", "Webhooks by how they ended: delivered, "
            "gone (410), expired (deadline passed), dropped (too many waiting), abandoned "
            "(server stopped)", ("outcome",))
        for outcome in WEBHOOK_DELIVERY_OUTCOMES:
            self.webhook_deliveries.inc(0, outcome=outcome)
        self.webhook_attempts = r.counter(
            "dalleserver_webhook_attempts_total", "Webhook POSTs by outcome (rejected: the "
            "host's breaker was open)", ("outcome",))
        for outcome in WEBHOOK_ATTEMPT_OUTCOMES:
            self.webhook_attempts.inc(0, outcome=outcome)
        r.gauge("dalleserver_webhooks_pending", "Webhooks waiting for their next attempt or "
                "being sent", callback=lambda: float(sources["webhooks_pending"]()))

    def _variant_families(self, r: Registry) -> None:
        """The image variant cache (sizes and formats of pictures, thumbnails)."""
        sources = self.sources

        def made() -> dict[tuple[str, ...], float]:
            return {(fmt,): float(n) for fmt, n in sources["variants"]().get("made", {}).items()}

        def part(name: str) -> Callable[[], float]:
            return lambda: float(sources["variants"]().get(name, 0))

        r.counter_func("dalleserver_image_variants_made_total", "Image variants encoded "
                       "(each is made once, then served from the cache), by format", made,
                       ("format",))
        r.counter_func("dalleserver_image_variants_evicted_total", "Image variants evicted "
                       "to keep the cache within TB_DALLE_VARIANT_CACHE_MB", part("evicted"))
        r.gauge("dalleserver_image_variant_cache_bytes", "Bytes in the image variant cache "
                "at its last sweep", callback=part("bytes"))

    def _cluster_families(self, r: Registry) -> None:
        """Cluster mode (TB_DALLE_REDIS_URL); no sample on a single host."""
        sources = self.sources

        def part(name: str) -> Callable[[], float | None]:
            def read() -> float | None:
                stats = sources["cluster"]()
                return None if stats is None else float(stats[name])
            return read

        r.gauge("dalleserver_cluster_store_up", "1 while the Redis the instances share "
                "answers, 0 while it does not (new runs are refused meanwhile)",
                callback=part("up"))
        r.counter_func("dalleserver_cluster_jobs_reclaimed_total", "Jobs this instance took "
                       "over from an instance that stopped", part("reclaimed"))

    def label_instance(self, instance: str) -> None:
        """Cluster mode: every sample carries ``instance`` (this instance's name)."""
        self.registry.const_labels = {"instance": instance}

    def watch(self, **sources: Callable[[], Any]) -> None:
        """Attach the live sources gauges read (names in ``SOURCES``)."""
        unknown = set(sources) - set(self.SOURCES)
        if unknown:
            raise ValueError(f"unknown metric sources: {sorted(unknown)}")
        self.sources.update(sources)

    def text(self) -> str:
        return self.registry.render_text()

    def json(self) -> dict[str, Any]:
        return self.registry.render_json()
