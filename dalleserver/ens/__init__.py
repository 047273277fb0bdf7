"""ENS names (``vitalik.eth``) through the user's own Ethereum node (TB_DALLE_RPC_URL).

``build_resolver(config)`` gives an :class:`EnsResolver` (or None when no node is set);
``address_or_name(text, resolver)`` reads what a user typed where an address goes;
``looks_like_name(segment)`` tells whether such text is meant as a name;
``DisplayNames`` shows addresses' primary names without ever waiting for the node.
"""

from dalleserver.ens.display import DisplayNames
from dalleserver.ens.errors import (
    NAMES_NEED_A_NODE,
    AbiError,
    CallReverted,
    EnsError,
    InvalidName,
    NameNotFound,
    NamesNeedANode,
    NodeError,
    ResolverBusy,
)
from dalleserver.ens.names import looks_like_name, namehash, normalize_name
from dalleserver.ens.resolver import (
    REGISTRY,
    CachePolicy,
    EnsResolver,
    address_or_name,
    build_resolver,
)
from dalleserver.ens.rpc import RpcClient, redact_url

__all__ = [
    "NAMES_NEED_A_NODE",
    "REGISTRY",
    "AbiError",
    "CachePolicy",
    "CallReverted",
    "DisplayNames",
    "EnsError",
    "EnsResolver",
    "InvalidName",
    "NameNotFound",
    "NamesNeedANode",
    "NodeError",
    "ResolverBusy",
    "address_or_name",
    "RpcClient",
    "build_resolver",
    "looks_like_name",
    "namehash",
    "normalize_name",
    "redact_url",
]
