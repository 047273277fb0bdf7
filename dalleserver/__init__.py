"""dalleserver: deterministic, annotated AI art for Ethereum addresses."""

__version__ = "0.1.0"
