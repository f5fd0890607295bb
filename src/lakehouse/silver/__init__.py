"""Silver: bronze text typed, normalized and validated against the contract's rules (docs/silver.md).

The step is `silver.job.run_silver`; typing, expectations and data-quality metrics are its parts.
"""

from lakehouse.silver.job import run_silver

__all__ = ["run_silver"]
