"""ENS names (``vitalik.eth``) through the user's own Ethereum node (TB_DALLE_RPC_URL).

``build_resolver(config)`` gives an :class:`EnsResolver` (or None when no node is set);
``looks_like_name(segment)`` tells a route whether a path segment is meant as a name.
"""

from dalleserver.ens.errors import (
    NAMES_NEED_A_NODE,
    AbiError,
    CallReverted,
    EnsError,
    InvalidName,
    NameNotFound,
    NodeError,
)
from dalleserver.ens.names import looks_like_name, namehash, normalize_name
from dalleserver.ens.resolver import REGISTRY, CachePolicy, EnsResolver, build_resolver
from dalleserver.ens.rpc import RpcClient, redact_url

__all__ = [
    "NAMES_NEED_A_NODE",
    "REGISTRY",
    "AbiError",
    "CachePolicy",
    "CallReverted",
    "EnsError",
    "EnsResolver",
    "InvalidName",
    "NameNotFound",
    "NodeError",
    "RpcClient",
    "build_resolver",
    "looks_like_name",
    "namehash",
    "normalize_name",
    "redact_url",
]
