"""What the paid provider calls (prompt enhancement, the image backend) share: their
collaborators, and billing a call the provider answered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dalleserver.config import Config
from dalleserver.costs.spending import PaidCall, Spending
from dalleserver.dress.model import DalleDress
from dalleserver.provider.guard import GuardedEndpoint
from dalleserver.provider.http import OpenAIClient


class BilledCaller:
    """Calls through ``endpoint`` with ``client``, billed to ``spending`` (None: not
    counted)."""

    def __init__(self, config: Config, client: OpenAIClient, endpoint: GuardedEndpoint,
                 spending: Spending | None = None) -> None:
        self.config = config
        self.client = client
        self.endpoint = endpoint
        self.spending = spending

    def _bill(self, dress: DalleDress, doc: dict[str, Any],
              price: Callable[[Spending, dict[str, Any]], PaidCall]) -> None:
        """The call was answered, so it is billed to the dress's run: ``price(spending,
        usage)`` says what it cost (``usage``: the answer's, {} when it has none)."""
        if self.spending is None:
            return
        usage = doc.get("usage")
        call = price(self.spending, usage if isinstance(usage, dict) else {})
        self.spending.paid((dress.series, dress.original), call)
