"""The client query service: the client views over HTTP behind API keys, and `lakehouse ask` (docs/serving.md)."""

from lakehouse.serve.engine import Engine, open_engine

__all__ = ["Engine", "open_engine"]
