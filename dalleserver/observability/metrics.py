"""A small metrics registry (counters, gauges, histograms) and the Prometheus text format 0.0.4.

Families are written in registration order, each with ``# HELP`` and ``# TYPE``; label values
and help text are escaped as the exposition format requires. Gauges may be backed by a
callback so values such as queue depth are read at scrape time.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
DEFAULT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

LabelValues = tuple[str, ...]


def escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def format_value(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label(v)}"' for n, v in zip(names, values, strict=True)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Metric(ABC):
    kind = "untyped"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        self.name = name
        self.help = help_text
        self.label_names = tuple(labels)
        self._lock = threading.Lock()

    def _key(self, labels: dict[str, str] | None) -> LabelValues:
        labels = labels or {}
        if set(labels) != set(self.label_names):
            raise ValueError(f"{self.name} takes labels {self.label_names}, got {sorted(labels)}")
        return tuple(str(labels[n]) for n in self.label_names)

    @abstractmethod
    def samples(self) -> Iterable[tuple[str, str, float]]:
        """(name suffix, rendered labels, value) for every sample of the family."""

    @abstractmethod
    def to_json(self) -> Any:
        """The family's values as plain JSON data."""


class Counter(Metric):
    kind = "counter"

    def __init__(self, name: str, help_text: str, labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}
        if not self.label_names:
            self._values[()] = 0.0

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        with self._lock:
            return self._values.get(self._key(labels), 0.0)

    def samples(self) -> Iterable[tuple[str, str, float]]:
        with self._lock:
            items = sorted(self._values.items())
        for key, value in items:
            yield "", _labels(self.label_names, key), value

    def to_json(self) -> Any:
        with self._lock:
            items = sorted(self._values.items())
        if not self.label_names:
            return items[0][1] if items else 0
        return [{"labels": dict(zip(self.label_names, k, strict=True)), "value": v}
                for k, v in items]


Reading = float | dict[LabelValues, float] | None


def _read(callback: Callable[[], Reading]) -> list[tuple[LabelValues, float]]:
    """The samples a callback gives: one value, a value per label set, or None for none."""
    result = callback()
    if result is None:  # nothing to read (no /proc, no source yet): no sample at all
        return []
    if isinstance(result, dict):
        return sorted(result.items())
    return [((), float(result))]


def _values_json(metric: Metric, items: list[tuple[LabelValues, float]]) -> Any:
    if not metric.label_names:
        return items[0][1] if items else None  # unreadable, as in the text format
    return [{"labels": dict(zip(metric.label_names, k, strict=True)), "value": v}
            for k, v in items]


class CounterFunc(Metric):
    """A counter whose totals something else keeps (the kernel's CPU time, the ENS
    resolver's counts): read at scrape. The callback returns the value, or with ``labels``
    a dict from label values to value; None (nothing readable) gives no sample."""

    kind = "counter"

    def __init__(self, name: str, help_text: str, callback: Callable[[], Reading],
                 labels: Sequence[str] = ()) -> None:
        super().__init__(name, help_text, labels)
        self._callback = callback

    def samples(self) -> Iterable[tuple[str, str, float]]:
        for key, value in _read(self._callback):
            yield "", _labels(self.label_names, key), value

    def to_json(self) -> Any:
        return _values_json(self, _read(self._callback))


class Gauge(Metric):
    kind = "gauge"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        callback: Callable[[], float | dict[LabelValues, float]] | None = None,
    ) -> None:
        super().__init__(name, help_text, labels)
        self._values: dict[LabelValues, float] = {}
        self._callback = callback
        if not self.label_names and callback is None:
            self._values[()] = 0.0

    def set(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            self._values[key] = self._values.get(key, 0.0) + amount

    def dec(self, amount: float = 1.0, **labels: str) -> None:
        self.inc(-amount, **labels)

    def _current(self) -> list[tuple[LabelValues, float]]:
        if self._callback is not None:
            return _read(self._callback)
        with self._lock:
            return sorted(self._values.items())

    def value(self, **labels: str) -> float:
        return dict(self._current()).get(self._key(labels), 0.0)

    def samples(self) -> Iterable[tuple[str, str, float]]:
        for key, value in self._current():
            yield "", _labels(self.label_names, key), value

    def to_json(self) -> Any:
        return _values_json(self, self._current())


class Histogram(Metric):
    kind = "histogram"

    def __init__(
        self,
        name: str,
        help_text: str,
        labels: Sequence[str] = (),
        buckets: Sequence[float] = DEFAULT_BUCKETS,
    ) -> None:
        super().__init__(name, help_text, labels)
        self.buckets = tuple(sorted(buckets))
        # per label set: [bucket counts..., sum, count]
        self._values: dict[LabelValues, list[float]] = {}
        if not self.label_names:
            self._values[()] = [0.0] * (len(self.buckets) + 2)

    def observe(self, value: float, **labels: str) -> None:
        key = self._key(labels)
        with self._lock:
            slot = self._values.get(key)
            if slot is None:
                slot = self._values[key] = [0.0] * (len(self.buckets) + 2)
            for i, bound in enumerate(self.buckets):
                if value <= bound:
                    slot[i] += 1
                    break
            slot[-2] += value
            slot[-1] += 1

    def count(self, **labels: str) -> float:
        with self._lock:
            slot = self._values.get(self._key(labels))
            return slot[-1] if slot else 0.0

    def samples(self) -> Iterable[tuple[str, str, float]]:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._values.items())
        for key, slot in items:
            running = 0.0
            for i, bound in enumerate(self.buckets):
                running += slot[i]
                yield "_bucket", _labels(self.label_names, key,
                                         f'le="{format_value(bound)}"'), running
            yield "_bucket", _labels(self.label_names, key, 'le="+Inf"'), slot[-1]
            yield "_sum", _labels(self.label_names, key), slot[-2]
            yield "_count", _labels(self.label_names, key), slot[-1]

    def to_json(self) -> Any:
        with self._lock:
            items = sorted((k, list(v)) for k, v in self._values.items())
        out = []
        for key, slot in items:
            out.append({
                "labels": dict(zip(self.label_names, key, strict=True)),
                "count": slot[-1],
                "sum": slot[-2],
                "buckets": {format_value(b): sum(slot[: i + 1])
                            for i, b in enumerate(self.buckets)},
            })
        return out


class Registry:
    def __init__(self) -> None:
        self._metrics: dict[str, Metric] = {}
        self._lock = threading.Lock()
        self.const_labels: dict[str, str] = {}  # on every sample of the text format

    def register(self, metric: Metric) -> Metric:
        with self._lock:
            if metric.name in self._metrics:
                raise ValueError(f"metric {metric.name} registered twice")
            self._metrics[metric.name] = metric
        return metric

    def counter(self, name: str, help_text: str, labels: Sequence[str] = ()) -> Counter:
        return self.register(Counter(name, help_text, labels))  # type: ignore[return-value]

    def counter_func(self, name: str, help_text: str, callback: Callable[[], Reading],
                     labels: Sequence[str] = ()) -> CounterFunc:
        return self.register(CounterFunc(name, help_text, callback, labels))  # type: ignore[return-value]

    def gauge(self, name: str, help_text: str, labels: Sequence[str] = (),
              callback: Callable[[], Any] | None = None) -> Gauge:
        return self.register(Gauge(name, help_text, labels, callback))  # type: ignore[return-value]

    def histogram(self, name: str, help_text: str, labels: Sequence[str] = (),
                  buckets: Sequence[float] = DEFAULT_BUCKETS) -> Histogram:
        return self.register(Histogram(name, help_text, labels, buckets))  # type: ignore[return-value]

    def get(self, name: str) -> Metric:
        return self._metrics[name]

    def names(self) -> list[str]:
        return list(self._metrics)

    def render_text(self) -> str:
        """Prometheus text 0.0.4. Counters are named with their ``_total`` suffix in HELP,
        TYPE and samples alike, as the reference client library writes them."""
        lines: list[str] = []
        with self._lock:
            metrics = list(self._metrics.values())
        const = ",".join(f'{n}="{escape_label(v)}"' for n, v in self.const_labels.items())
        for metric in metrics:
            lines.append(f"# HELP {metric.name} {escape_help(metric.help)}")
            lines.append(f"# TYPE {metric.name} {metric.kind}")
            for suffix, labels, value in metric.samples():
                if const:
                    labels = "{" + const + ("," + labels[1:] if labels else "}")
                lines.append(f"{metric.name}{suffix}{labels} {format_value(value)}")
        return "\n".join(lines) + "\n"

    def render_json(self) -> dict[str, Any]:
        with self._lock:
            metrics = list(self._metrics.values())
        return {m.name: {"type": m.kind, "help": m.help, "value": m.to_json()} for m in metrics}
