"""ENS forward and reverse resolution through the user's own Ethereum node, cached.

Forward: the registry's ``resolver(node)``, then ``addr(node)`` on that resolver. Reverse:
the same for ``<address>.addr.reverse`` with ``name(node)``, then the forward check wallets
do: a primary name counts only when it resolves back to the same address. Any doubt (no
resolver, a zero address, a revert, a name we cannot normalise) means "no answer", never a
guess, so a picture is never drawn for a wrong address.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dalleserver.address import AddressError, normalize_address
from dalleserver.ens.abi import ADDR, NAME, RESOLVER, decode_address, decode_string, encode_call
from dalleserver.ens.cache import TtlCache
from dalleserver.ens.errors import (
    AbiError,
    CallReverted,
    InvalidName,
    NameNotFound,
    NamesNeedANode,
    NodeError,
    ResolverBusy,
)
from dalleserver.ens.names import looks_like_name, namehash, normalize_name
from dalleserver.ens.rpc import DEFAULT_TIMEOUT, RpcClient, is_node_failure, redact_url
from dalleserver.resilience.breaker import HALF_OPEN, OPEN, CircuitBreaker

if TYPE_CHECKING:
    from dalleserver.config import Config

__all__ = ["DEFAULT_CACHE", "REGISTRY", "CachePolicy", "EnsResolver", "address_or_name",
           "build_resolver"]

# The ENS registry (the same address on mainnet and the public test networks).
REGISTRY = "0x00000000000c2e074ec69a0bfb2997ba6c7d2e1e"
ZERO_ADDRESS = "0x" + "0" * 40
# One resolution is up to two calls (reverse: four); together they get this long.
DEFAULT_RESOLUTION_TIMEOUT = 10.0

# "busy": refused at once because ``max_cold`` lookups were under way (ResolverBusy).
FORWARD_OUTCOMES = ("found", "not_found", "invalid", "error", "busy")
# "mismatch": a primary name is set but does not resolve back (or cannot be normalised).
REVERSE_OUTCOMES = ("found", "none", "mismatch", "invalid", "error")

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachePolicy:
    """Entries kept per direction, and how long answers live: an address or name found
    (positive) longer than a "none" (negative), which a new registration may soon change."""

    size: int = 4096
    positive_ttl: float = 300.0
    negative_ttl: float = 30.0

    def __post_init__(self) -> None:
        if self.size < 1 or self.positive_ttl < 0 or self.negative_ttl < 0:
            raise ValueError("cache size must be positive and TTLs not negative")


# Frozen, so one shared instance is a safe default argument.
DEFAULT_CACHE = CachePolicy()


# -- decoders for the three calls (they run inside the breaker: garbage is a node failure) ----


def _address_or_none(data: bytes) -> str | None:
    if not data:  # no contract at that address answers
        return None
    address = decode_address(data)
    return None if address == ZERO_ADDRESS else address


def _registry_answer(data: bytes) -> str | None:
    if not data:
        raise AbiError("its chain has no ENS registry; TB_DALLE_RPC_URL must point at an "
                       "Ethereum mainnet node")
    return _address_or_none(data)


def _string_or_none(data: bytes) -> str | None:
    if not data:
        return None
    return decode_string(data) or None  # an empty name is no name


class EnsResolver:
    """Names to addresses and addresses to verified primary names, through ``rpc``.

    Thread-safe. Answers (including "none") are cached per ``cache``; node failures are not
    cached, the breaker inside ``rpc`` keeps a dead node from being hammered instead.
    ``clock`` drives the cache only. With ``max_cold``, at most that many ``resolve`` calls
    ask the node at once; more raise :class:`ResolverBusy` instead of waiting, so callers
    holding scarce threads (the HTTP workers) never all wait on a slow node.
    """

    def __init__(self, rpc: RpcClient, *, cache: CachePolicy = DEFAULT_CACHE,
                 resolution_timeout: float = DEFAULT_RESOLUTION_TIMEOUT,
                 clock: Callable[[], float] = time.monotonic, registry: str = REGISTRY,
                 max_cold: int | None = None) -> None:
        if max_cold is not None and max_cold < 1:
            raise ValueError("max_cold must be at least 1")
        self.rpc = rpc
        self.max_cold = max_cold
        self._cold = threading.BoundedSemaphore(max_cold) if max_cold else None
        self.cache_policy = cache
        self.resolution_timeout = resolution_timeout
        self.registry = registry
        self._forward = TtlCache(cache.size, clock)
        self._reverse = TtlCache(cache.size, clock)
        self._lock = threading.Lock()
        self._resolutions = {"forward": dict.fromkeys(FORWARD_OUTCOMES, 0),
                             "reverse": dict.fromkeys(REVERSE_OUTCOMES, 0)}
        self._cache_hits = {"forward": 0, "reverse": 0}

    @property
    def node(self) -> str:
        """The node as logs may name it: ``scheme://host[:port]``."""
        return self.rpc.node

    # -- forward -------------------------------------------------------------------------------

    def resolve(self, name: str) -> str:
        """The lower-case ``0x`` address of ``name`` (normalised first: ``Vitalik.ETH`` works).

        Raises :class:`InvalidName` for a name we do not accept, :class:`NameNotFound` when
        it has no resolver or no (or the zero) address, :class:`NodeError` when the node
        cannot answer, :class:`ResolverBusy` when ``max_cold`` lookups are under way and the
        name is not cached.
        """
        try:
            normalized = normalize_name(name)
        except InvalidName:
            self._count("forward", "invalid")
            raise
        with self._cold_slot(normalized):
            address = self._forward_address(normalized, self._deadline())
        if address is None:
            raise NameNotFound(normalized)
        return address

    def is_cached(self, name: str) -> bool:
        """True when ``resolve(name)`` answers without the node: a cached answer (an
        address or "none"), or a name it refuses outright."""
        try:
            return self._forward.get(normalize_name(name))[0]
        except InvalidName:
            return True

    @contextmanager
    def _cold_slot(self, name: str) -> Iterator[None]:
        """One of the ``max_cold`` slots while ``name`` needs the node; none for a cached
        name (an entry expiring in between merely goes uncounted)."""
        if self._cold is None or self._forward.get(name)[0]:
            yield
            return
        if not self._cold.acquire(blocking=False):
            self._count("forward", "busy")
            raise ResolverBusy(self.max_cold or 0)
        try:
            yield
        finally:
            self._cold.release()

    def _forward_address(self, name: str, deadline: float) -> str | None:
        hit, address = self._forward.get(name)
        if hit:
            self._hit("forward")
        else:
            try:
                address = self._lookup_address(name, deadline)
            except NodeError:
                self._count("forward", "error")
                raise
            self._forward.put(name, address, self._ttl(address))
        self._count("forward", "found" if address else "not_found")
        return address

    def _lookup_address(self, name: str, deadline: float) -> str | None:
        node = namehash(name)
        resolver = self._call(self.registry, RESOLVER, node, deadline, _registry_answer)
        if resolver is None:
            return None
        return self._call(resolver, ADDR, node, deadline, _address_or_none)

    # -- reverse -------------------------------------------------------------------------------

    def reverse(self, address: str) -> str | None:
        """The primary name of ``address`` when it has one that resolves back to it, else None.

        Raises :class:`~dalleserver.address.AddressError` for a malformed address and
        :class:`NodeError` when the node cannot answer (callers showing a name for display
        can treat that as None).
        """
        try:
            normalized = normalize_address(address)
        except AddressError:
            self._count("reverse", "invalid")
            raise
        hit, cached = self._reverse.get(normalized)
        if hit:
            self._hit("reverse")
            name, outcome = cached
        else:
            try:
                name, outcome = self._lookup_name(normalized, self._deadline())
            except NodeError:
                self._count("reverse", "error")
                raise
            self._reverse.put(normalized, (name, outcome), self._ttl(name))
        self._count("reverse", outcome)
        return name

    def cached_reverse(self, address: str) -> tuple[bool, str | None]:
        """``(True, name or None)`` when the cache holds the answer for ``address`` (a
        lower-case address), else ``(False, None)``. Never calls the node: for pages that
        show names but must not wait for them."""
        hit, cached = self._reverse.get(address)
        if not hit:
            return False, None
        self._hit("reverse")
        return True, cached[0]

    def _lookup_name(self, address: str, deadline: float) -> tuple[str | None, str]:
        node = namehash(address[2:] + ".addr.reverse")
        resolver = self._call(self.registry, RESOLVER, node, deadline, _registry_answer)
        if resolver is None:
            return None, "none"
        claimed = self._call(resolver, NAME, node, deadline, _string_or_none)
        if claimed is None:
            return None, "none"
        return self._verified(claimed, address, deadline)

    def _verified(self, claimed: str, address: str, deadline: float) -> tuple[str | None, str]:
        try:
            name = normalize_name(claimed)
        except InvalidName:
            return None, "mismatch"
        # A record that is not in normal form is not what a wallet would show either.
        if name != claimed or self._forward_address(name, deadline) != address:
            return None, "mismatch"
        return name, "found"

    # -- shared --------------------------------------------------------------------------------

    def _call(self, to: str, selector: bytes, node: bytes, deadline: float,
              decode: Callable[[bytes], Any]) -> Any:
        try:
            return self.rpc.eth_call(to, encode_call(selector, node), deadline=deadline,
                                     decode=decode)
        except CallReverted:
            return None  # the contract cannot tell: the same as having no record

    def _deadline(self) -> float:
        # rpc.call measures deadlines on time.monotonic, whatever clock the cache uses.
        return time.monotonic() + self.resolution_timeout

    def _ttl(self, value: object) -> float:
        policy = self.cache_policy
        return policy.positive_ttl if value else policy.negative_ttl

    def _count(self, direction: str, outcome: str) -> None:
        with self._lock:
            self._resolutions[direction][outcome] += 1

    def _hit(self, direction: str) -> None:
        with self._lock:
            self._cache_hits[direction] += 1

    # -- observability -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        """Counters for the metrics layer: resolutions by direction and outcome, cache hits
        and sizes, calls to the node and node errors by kind, and the breaker's state."""
        rpc = self.rpc.stats()
        with self._lock:
            resolutions = {d: dict(counts) for d, counts in self._resolutions.items()}
            hits = dict(self._cache_hits)
        return {
            "resolutions": resolutions,
            "cache_hits": hits,
            "cache_entries": {"forward": len(self._forward), "reverse": len(self._reverse)},
            "node_calls": rpc["calls"],
            "node_errors": rpc["errors"],
            "breaker": self.rpc.breaker.state if self.rpc.breaker else "none",
        }

    def state(self) -> dict[str, Any]:
        """A /health component: ``healthy``, or ``degraded`` with the reason; never
        ``unhealthy``, since finished pictures and plain addresses work without the node.
        Makes no call to the node."""
        last_error = self.rpc.stats()["last_error"]
        reason = last_error or "recent failures"
        snapshot = self.rpc.breaker.snapshot() if self.rpc.breaker else {"state": "closed"}
        details: dict[str, Any] = {"node": self.node, "breaker": snapshot["state"]}
        if snapshot["state"] == OPEN:
            details["retry_after"] = round(snapshot["retry_after"], 1)
            message = f"Ethereum node unavailable, ENS names fail: {reason}"
        elif snapshot["state"] == HALF_OPEN:
            message = f"probing the Ethereum node after failures: {reason}"
        elif last_error:
            message = f"the last call to the Ethereum node failed: {reason}"
        else:
            return {"status": "healthy", "message": "Ethereum node answering", **details}
        return {"status": "degraded", "message": message, **details}


def address_or_name(text: str, resolver: EnsResolver | None) -> tuple[str, str]:
    """(lower-case address, normalised ENS name or "") for ``text``, an address or a name.

    Raises :class:`~dalleserver.address.AddressError` for a bad address; for a name,
    :class:`NamesNeedANode` without ``resolver`` and otherwise what :meth:`EnsResolver.resolve`
    raises. The first two and :class:`InvalidName` are ``ValueError``: bad input.
    """
    if not looks_like_name(text):
        return normalize_address(text), ""
    if resolver is None:
        raise NamesNeedANode()
    address = resolver.resolve(text)
    return address, normalize_name(text)  # resolve() accepted the name: this cannot fail


def build_resolver(config: Config, *, cache: CachePolicy = DEFAULT_CACHE,
                   timeout: float = DEFAULT_TIMEOUT,
                   clock: Callable[[], float] = time.monotonic,
                   max_cold: int | None = None) -> EnsResolver | None:
    """The resolver for ``config.rpc_url`` (TB_DALLE_RPC_URL), or None when it is not set.

    The node gets its own breaker, tuned by the same TB_DALLE_BREAKER_* settings as the
    OpenAI endpoints; each call ends within ``timeout`` seconds; ``max_cold`` bounds the
    lookups under way at once (see :class:`EnsResolver`).
    """
    if not config.rpc_url:
        return None
    node = redact_url(config.rpc_url)

    def on_state_change(name: str, old: str, new: str) -> None:
        log.warning("Ethereum node %s: circuit breaker %s -> %s", node, old, new)

    breaker = CircuitBreaker("ens", failure_threshold=config.breaker_failures,
                             reset_timeout=config.breaker_reset,
                             success_threshold=config.breaker_successes,
                             is_failure=is_node_failure, on_state_change=on_state_change)
    rpc = RpcClient(config.rpc_url, timeout=timeout, breaker=breaker)
    return EnsResolver(rpc, cache=cache, clock=clock, max_cold=max_cold)
