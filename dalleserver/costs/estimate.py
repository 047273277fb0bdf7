"""``dalleserver estimate SERIES FILE``: how many addresses of a list already have pictures
and what the rest would cost at the configured settings. The file has one address a line;
``#`` starts a comment; blank lines are skipped; bad lines are reported by number."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from dalleserver.address import AddressError, normalize_address
from dalleserver.costs.budget import DOLLARS, BudgetSpec
from dalleserver.costs.spending import Spending

SHOWN_CHARS = 60  # of a bad line, in its report (an address has 42)


@dataclass
class AddressList:
    """The usable addresses of a file (lower-cased, first occurrence kept, in order), the
    duplicates skipped, and the bad lines as (line number, reason)."""

    addresses: list[str] = field(default_factory=list)
    duplicates: int = 0
    bad_lines: list[tuple[int, str]] = field(default_factory=list)


def read_addresses(lines: Iterable[str]) -> AddressList:
    found = AddressList()
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if len(text) > SHOWN_CHARS:  # far too long to be an address: not worth echoing
            found.bad_lines.append((number, f"{text[:SHOWN_CHARS]!r}… is not an Ethereum "
                                            "address"))
            continue
        try:
            address = normalize_address(text)
        except AddressError as exc:
            found.bad_lines.append((number, str(exc)))
            continue
        if address in seen:
            found.duplicates += 1
            continue
        seen.add(address)
        found.addresses.append(address)
    return found


@dataclass
class Estimate:
    """What generating the missing pictures of a list would cost (dollars; None where the
    price table lacks a price)."""

    addresses: int
    existing: int
    images: float | None = 0.0
    chat: float | None = 0.0
    enhancements: int = 0

    @property
    def missing(self) -> int:
        return self.addresses - self.existing

    @property
    def total(self) -> float | None:
        return None if self.images is None or self.chat is None else self.images + self.chat


def _add(total: float | None, price: float | None) -> float | None:
    return None if total is None or price is None else total + price


def estimate(addresses: list[str], exists: Callable[[str], bool],
             plan: Callable[[str], tuple[str, bool]], spending: Spending | None) -> Estimate:
    """``exists(address)``: it has a picture; ``plan(address)``: (orientation of its prompt,
    whether it is enhanced). Without ``spending`` (no paid backend) nothing costs anything."""
    result = Estimate(len(addresses), 0)
    for address in addresses:
        if exists(address):
            result.existing += 1
            continue
        if spending is None:
            continue
        shape, enhanced = plan(address)
        result.images = _add(result.images, spending.image_estimate(shape))
        if enhanced and spending.chat_model is not None:
            result.enhancements += 1
            result.chat = _add(result.chat, spending.chat_estimate())
    return result


def _dollars(amount: float | None) -> str:
    return "unknown (a price is missing from the price table)" if amount is None else (
        f"${amount:,.2f}")


def budget_periods(result: Estimate, budget: BudgetSpec) -> int | None:
    """How many budget periods the missing pictures take (None: cost unknown)."""
    if budget.unit == DOLLARS:
        total = result.total
        return None if total is None else math.ceil(total / budget.amount - 1e-9)
    return math.ceil(result.missing / budget.amount)


def report(result: Estimate, found: AddressList, settings: str, as_of: str,
           budget: BudgetSpec | None) -> dict[str, Any]:
    """The estimate as a JSON-ready document."""
    doc: dict[str, Any] = {
        "addresses": result.addresses, "duplicates": found.duplicates,
        "badLines": len(found.bad_lines), "existing": result.existing,
        "missing": result.missing, "settings": settings,
        "estimatedCost": {"images": result.images, "enhancement": result.chat,
                          "total": result.total},
        "pricesAsOf": as_of,
    }
    if budget is not None:
        doc["budget"] = {"budget": str(budget), "periods": budget_periods(result, budget),
                         "period": budget.period}
    return doc


def report_lines(doc: dict[str, Any]) -> list[str]:
    """The document as the lines the command prints."""
    cost = doc["estimatedCost"]
    lines = [
        f"addresses:       {doc['addresses']} ({doc['duplicates']} duplicates skipped, "
        f"{doc['badLines']} bad lines)",
        f"already made:    {doc['existing']}",
        f"to generate:     {doc['missing']}",
        f"settings:        {doc['settings']}",
        f"estimated cost:  {_dollars(cost['total'])} (pictures {_dollars(cost['images'])}, "
        f"prompt enhancement {_dollars(cost['enhancement'])}; prices as of "
        f"{doc['pricesAsOf']})",
    ]
    budget = doc.get("budget")
    if budget is not None:
        periods = budget["periods"]
        shown = "unknown" if periods is None else f"{periods} {budget['period']}(s)"
        lines.append(f"at the budget:   {budget['budget']}: {shown}")
    return lines
