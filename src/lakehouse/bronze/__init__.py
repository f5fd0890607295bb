"""Bronze: every landing export merged into one lossless text table per entity (docs/bronze.md).

The step is `bronze.job.run_bronze`; discovery, reading, casting, dedup and the manifest are its parts.
"""

from lakehouse.bronze.job import run_bronze

__all__ = ["run_bronze"]
