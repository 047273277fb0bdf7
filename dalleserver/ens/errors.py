"""The errors of ENS resolution. Every message is safe to show to a client and to log: none
names the node's URL (which may hold an API key), a file path, or a stack trace."""

from __future__ import annotations

# kinds of node failure, for messages, metrics and the health report
TIMEOUT = "timeout"
CONNECTION = "connection"
HTTP = "http_error"
RPC = "rpc_error"
BAD_RESPONSE = "bad_response"
UNAVAILABLE = "breaker_open"
NODE_ERROR_KINDS = (TIMEOUT, CONNECTION, HTTP, RPC, BAD_RESPONSE, UNAVAILABLE)

# What a client is told when it sends a name and no node is configured (400 INVALID_ADDRESS).
NAMES_NEED_A_NODE = ("ENS names such as vitalik.eth need an Ethereum node: set "
                     "TB_DALLE_RPC_URL (or --rpc-url) to the JSON-RPC URL of an Ethereum "
                     "mainnet node, or use the 0x address")


class EnsError(Exception):
    """Base class: ``str(error)`` is the client-safe message."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidName(EnsError, ValueError):
    """The text is not an ENS name this server accepts (see :mod:`dalleserver.ens.names`).

    A ``ValueError`` too, so code that already turns ``ValueError`` into a 400 does so here.
    """


class NamesNeedANode(InvalidName):
    """A name was given while no Ethereum node is configured (TB_DALLE_RPC_URL)."""

    def __init__(self) -> None:
        super().__init__(NAMES_NEED_A_NODE)


class NameNotFound(EnsError):
    """The name has no resolver or no address: answer 404, never a picture of a wrong one."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the ENS name {name!r} does not resolve to an address")
        self.name = name


class AbiError(EnsError):
    """Return data that is not the ABI encoding the call promises (short, garbage, bad UTF-8)."""


class CallReverted(EnsError):
    """The contract reverted the call: an answer ("I cannot tell"), not a sick node."""


class ResolverBusy(EnsError):
    """Too many names are being looked up on the node at once: retry in ``retry_after``
    seconds. Keeps a slow node from holding every thread that asks it."""

    def __init__(self, limit: int, retry_after: float = 1.0) -> None:
        super().__init__(f"{limit} ENS name(s) are being looked up on the Ethereum node "
                         "already; retry shortly")
        self.retry_after = retry_after


class NodeError(EnsError):
    """The Ethereum node could not give an answer: unreachable, too slow, an HTTP or
    JSON-RPC error, an answer that makes no sense, or its breaker is open.

    ``kind`` is one of :data:`NODE_ERROR_KINDS`; ``retry_after`` (seconds) is set when the
    breaker knows how long it will keep failing fast.
    """

    def __init__(self, kind: str, message: str, *, status: int = 0, code: int | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.code = code
        self.retry_after = retry_after
