"""The spending budget (``TB_DALLE_BUDGET``): so many paid generations, or so many dollars,
per calendar hour, day, week or month (UTC), kept in a ``SpendStore``.

A run is charged its estimate when it is admitted and settled to what it really spent when
it ends, so concurrent triggers can never overshoot: the check and the charge are one step
in the store. A run that never ends (a crash) keeps its estimate: the budget errs towards
spending less.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from dalleserver.costs.store import SpendStore

PERIODS = ("hour", "day", "week", "month")
GENERATIONS, DOLLARS = "generations", "dollars"
ACCEPTED_FORM = ("a budget such as 200/day, 20/hour or $50/month: a number of paid "
                 "generations or a $ amount, per hour, day, week or month")
_SPEC = re.compile(r"^(\$?)\s*(\d+(?:\.\d+)?)\s*/\s*([a-z]+)$")


@dataclass(frozen=True)
class Window:
    """One budget period: its store key and when it starts and ends (UTC)."""

    name: str
    starts: datetime
    ends: datetime

    def seconds_left(self, now: float) -> int:
        """Whole seconds until the window ends, at least 1 (a Retry-After value)."""
        return max(1, int(self.ends.timestamp() - now + 0.999))


@dataclass(frozen=True)
class BudgetSpec:
    """What may be spent per period: ``amount`` generations or dollars."""

    amount: float
    unit: str
    period: str

    def __str__(self) -> str:
        amount = f"${self.amount:g}" if self.unit == DOLLARS else f"{self.amount:g}"
        return f"{amount}/{self.period}"

    def describe(self) -> str:
        """``200 generations a day``, ``$50 a month``."""
        amount = f"${self.amount:,.2f}" if self.unit == DOLLARS else f"{self.amount:g} {self.unit}"
        return f"{amount} a{'n' if self.period == 'hour' else ''} {self.period}"

    def window(self, now: float) -> Window:
        """The calendar period (UTC) that ``now`` falls in."""
        at = datetime.fromtimestamp(now, timezone.utc)
        if self.period == "hour":
            starts = at.replace(minute=0, second=0, microsecond=0)
            ends = starts + timedelta(hours=1)
        elif self.period == "month":
            starts = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            ends = (starts + timedelta(days=32)).replace(day=1)
        else:
            starts = at.replace(hour=0, minute=0, second=0, microsecond=0)
            if self.period == "week":
                starts -= timedelta(days=starts.weekday())  # weeks start on Monday
            ends = starts + timedelta(days=7 if self.period == "week" else 1)
        return Window(f"{self.unit}/{self.period}/{starts:%Y-%m-%dT%H}", starts, ends)


def parse_budget(text: str) -> BudgetSpec | None:
    """``200/day`` (paid generations), ``$25.50/week`` (dollars); "" or ``off``: None.
    Raises ValueError for anything else."""
    value = text.strip().lower()
    if value in ("", "off", "none"):
        return None
    match = _SPEC.match(value)
    if not match or match.group(3) not in PERIODS:
        raise ValueError(text)
    dollars, number, period = match.groups()
    amount = float(number)
    if amount <= 0 or (not dollars and not amount.is_integer()):
        raise ValueError(text)
    return BudgetSpec(amount, DOLLARS if dollars else GENERATIONS, period)


@dataclass(frozen=True)
class Charge:
    """What one run was charged, and in which window (its settlement goes there too)."""

    window: str
    amount: float


class Exhausted(Exception):
    """No budget is left in this window; ``window.ends`` is when it comes back."""

    def __init__(self, window: Window, now: float) -> None:
        super().__init__(f"the spending budget is exhausted until {window.ends:%Y-%m-%d %H:%M} UTC")
        self.window = window
        self.retry_after = window.seconds_left(now)


class Budget:
    """A BudgetSpec over a SpendStore, on a clock that tests can set."""

    def __init__(self, spec: BudgetSpec, store: SpendStore, clock=time.time) -> None:
        self.spec = spec
        self.store = store
        self.clock = clock

    def current(self) -> Window:
        return self.spec.window(self.clock())

    def try_charge(self, amount: float) -> Charge:
        """Charge ``amount`` when it fits in what is left; else raise Exhausted."""
        now = self.clock()
        window = self.spec.window(now)
        if not self.store.charge(window.name, amount, self.spec.amount):
            raise Exhausted(window, now)
        return Charge(window.name, amount)

    def charge(self, amount: float) -> Charge:
        """Charge ``amount`` whatever is left (admin triggers, the generate command)."""
        window = self.current()
        self.store.charge(window.name, amount, None)
        return Charge(window.name, amount)

    def settle(self, charge: Charge, spent: float) -> None:
        """The run is over and really spent ``spent``: give back or add the difference."""
        if spent != charge.amount:
            self.store.charge(charge.window, spent - charge.amount, None)

    def spent(self) -> float:
        return self.store.spent(self.current().name)

    def remaining(self) -> float:
        """What is left in the current window (0 when overspent by admin triggers)."""
        return max(0.0, self.spec.amount - self.spent())
