"""What runs may spend and what they spent: the one object the trigger (admission), the
provider (paid calls) and the pipeline (fallback, metadata, settlement) share.

* ``admit(key, admin)`` when a trigger queues a run: charges the run's estimate to the
  budget, or refuses (``Exhausted``), or marks the run to be drawn locally (fallback).
* ``paid(key, call)`` when the provider's call succeeded: recorded for the run's metadata
  and counted in the metrics.
* ``fallback(key)``, ``record(key)`` and ``settle(key)`` from the pipeline: which backend,
  what goes into the selector JSON, and the budget corrected to what the run really spent.

One run per key at a time (the job manager's rule) makes the key a run's identity here.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dalleserver.costs.budget import DOLLARS, Budget, Charge, Exhausted
from dalleserver.costs.catalog import ORIENTATIONS, ImageOptions
from dalleserver.costs.prices import PriceTable
from dalleserver.storage import Key, StorageError

if TYPE_CHECKING:
    from dalleserver.observability.instruments import Instruments

log = logging.getLogger("dalleserver.costs")


@dataclass(frozen=True)
class PaidCall:
    """One successful (so billed) call: what was asked for and what the API reported."""

    endpoint: str  # "chat" or "images"
    model: str
    quality: str = ""
    size: str = ""
    output_format: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    cost: float | None = None  # estimated dollars; None when the price table lacks it

    def tokens(self) -> tuple[float, float]:
        return usage_tokens(self.usage)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"endpoint": self.endpoint, "model": self.model}
        for name, value in (("quality", self.quality), ("size", self.size),
                            ("outputFormat", self.output_format)):
            if value:
                doc[name] = value
        doc["usage"] = self.usage
        doc["estimatedCost"] = None if self.cost is None else round(self.cost, 6)
        return doc


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def usage_tokens(usage: dict[str, Any]) -> tuple[float, float]:
    """(input, output) tokens from either API's usage shape (images: input_tokens and
    output_tokens; chat: prompt_tokens and completion_tokens)."""
    return (_number(usage.get("input_tokens", usage.get("prompt_tokens"))),
            _number(usage.get("output_tokens", usage.get("completion_tokens"))))


@dataclass(frozen=True)
class Fallback:
    """Draw this run with ``backend`` instead of the paid provider; ``note`` says why."""

    backend: Any
    note: str


@dataclass
class _Run:
    charge: Charge | None = None
    fallback_note: str = ""
    calls: list[PaidCall] = field(default_factory=list)


class Spending:
    def __init__(self, prices: PriceTable, image: ImageOptions | None,
                 chat_model: str | None, budget: Budget | None = None,
                 fallback_backend: Any = None,
                 instruments: Instruments | None = None) -> None:
        self.prices = prices
        self.image = image
        self.chat_model = chat_model
        self.budget = budget
        self.fallback_backend = fallback_backend
        self.instruments = instruments
        self._runs: dict[Key, _Run] = {}
        self._lock = threading.Lock()
        self._prime_metrics()

    # -- estimates ----------------------------------------------------------------------
    def image_estimate(self, orientation: str | None = None) -> float | None:
        """One picture at the configured settings (the dearest orientation when None)."""
        image = self.image
        if image is None:
            return 0.0
        shapes = [orientation] if orientation else list(ORIENTATIONS)
        prices = [self.prices.image(image.model, image.quality, image.size_for(shape))
                  for shape in shapes]
        known = [price for price in prices if price is not None]
        return max(known) if len(known) == len(prices) else None

    def chat_estimate(self) -> float | None:
        return 0.0 if self.chat_model is None else self.prices.chat_estimate(self.chat_model)

    def run_estimate(self) -> float:
        """What admitting one run charges: 1 generation, or its dollar estimate."""
        if self.budget is None or self.budget.spec.unit != DOLLARS:
            return 1.0
        return (self.image_estimate() or 0.0) + (self.chat_estimate() or 0.0)

    # -- admission (the trigger) --------------------------------------------------------
    def admit(self, key: Key, admin: bool) -> None:
        """Charge a new run's estimate. Over budget: mark it for the local renderer when a
        fallback is configured, else raise Exhausted. Admin runs are always charged."""
        if self.budget is None:
            return
        estimate = self.run_estimate()
        run = _Run()
        if admin:
            run.charge = self.budget.charge(estimate)
        else:
            try:
                run.charge = self.budget.try_charge(estimate)
            except Exhausted as exc:
                self._count_exhausted("fallback" if self.fallback_backend else "refused")
                if self.fallback_backend is None:
                    raise
                run.fallback_note = (f"{exc}; drawn with the local renderer instead of "
                                     "the paid provider")
        with self._lock:
            self._runs[key] = run

    # -- the provider -------------------------------------------------------------------
    def paid(self, key: Key, call: PaidCall) -> None:
        """A billed call of the run of ``key``: kept for its metadata, counted in metrics."""
        with self._lock:
            self._runs.setdefault(key, _Run()).calls.append(call)
        ins = self.instruments
        if ins is None:
            return
        ins.paid_calls.inc(endpoint=call.endpoint, model=call.model, quality=call.quality,
                           size=call.size)
        ins.estimated_spend.inc(call.cost or 0.0, endpoint=call.endpoint, model=call.model)
        for kind, count in zip(("input", "output"), call.tokens(), strict=True):
            ins.usage_tokens.inc(count, endpoint=call.endpoint, model=call.model, kind=kind)

    def image_call(self, quality: str, size: str, output_format: str,
                   usage: dict[str, Any]) -> PaidCall:
        """The PaidCall of an image answer, priced at the quality and size it reports."""
        model = self.image.model if self.image else ""
        return PaidCall("images", model, quality, size, output_format, usage,
                        self.prices.image(model, quality, size))

    def chat_call(self, model: str, usage: dict[str, Any]) -> PaidCall:
        """The PaidCall of a chat answer, priced by its usage (the estimate without one)."""
        cost = (self.prices.chat_call(model, *usage_tokens(usage)) if usage
                else self.prices.chat_estimate(model))
        return PaidCall("chat", model, usage=usage, cost=cost)

    # -- the pipeline -------------------------------------------------------------------
    def fallback(self, key: Key) -> Fallback | None:
        """Called when the run starts: the local backend when it was admitted over budget.
        A run nobody admitted (the generate command) is charged here, never refused."""
        with self._lock:
            run = self._runs.get(key)
            if run is None:
                run = self._runs[key] = _Run()
        if run.charge is None and not run.fallback_note and self.budget is not None:
            run.charge = self.budget.charge(self.run_estimate())
        if run.fallback_note:
            return Fallback(self.fallback_backend, run.fallback_note)
        return None

    def record(self, key: Key) -> dict[str, Any]:
        """The run's ``generation`` entry of the selector JSON."""
        with self._lock:
            run = self._runs.get(key) or _Run()
            calls = list(run.calls)
        doc: dict[str, Any] = {"paidCalls": [call.to_json() for call in calls],
                               "estimatedCost": round(sum(c.cost or 0.0 for c in calls), 6),
                               "pricesAsOf": self.prices.as_of}
        if run.fallback_note:
            doc["fallback"] = {"backend": "local", "note": run.fallback_note}
        return doc

    def settle(self, key: Key) -> None:
        """The run is over: correct its charge to what it spent (in generations: 1 when it
        made any paid call, else 0)."""
        with self._lock:
            run = self._runs.pop(key, None)
        if run is None or run.charge is None or self.budget is None:
            return
        if self.budget.spec.unit == DOLLARS:
            spent = sum(call.cost or 0.0 for call in run.calls)
        else:
            spent = 1.0 if run.calls else 0.0
        try:
            self.budget.settle(run.charge, spent)
        except StorageError as exc:  # bookkeeping: the picture is made, the run stands
            log.error("could not settle the spending of %s/%s: %s", *key, exc)

    # -- metrics ------------------------------------------------------------------------
    def budget_reading(self) -> tuple[str, float, float] | None:
        """(unit, limit, remaining) for the budget gauges; None without a budget."""
        if self.budget is None:
            return None
        try:
            remaining = self.budget.remaining()
        except Exception:  # an unreadable ledger: no sample rather than a failed scrape
            log.exception("cannot read the spending ledger")
            return None
        return self.budget.spec.unit, self.budget.spec.amount, remaining

    def _count_exhausted(self, outcome: str) -> None:
        if self.instruments is not None:
            self.instruments.budget_exhausted.inc(outcome=outcome)

    def _prime_metrics(self) -> None:
        """The configured label sets start at 0, so rate() sees the first paid call."""
        ins = self.instruments
        if ins is None:
            return
        calls = []
        if self.image is not None:
            sizes = {self.image.size_for(shape) for shape in ORIENTATIONS}
            calls += [PaidCall("images", self.image.model, self.image.quality, size)
                      for size in sorted(sizes)]
        if self.chat_model is not None:
            calls.append(PaidCall("chat", self.chat_model))
        for call in calls:
            ins.paid_calls.inc(0, endpoint=call.endpoint, model=call.model,
                               quality=call.quality, size=call.size)
            ins.estimated_spend.inc(0, endpoint=call.endpoint, model=call.model)
            for kind in ("input", "output"):
                ins.usage_tokens.inc(0, endpoint=call.endpoint, model=call.model, kind=kind)
