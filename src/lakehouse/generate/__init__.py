"""Sample landing-data generator: dirty, realistic exports of a car-wash chain (DOMAIN.md §1).

`generate(out, stores, tickets, seed)` simulates stores, locations, customers, memberships with a
learnable churn signal, billing, tickets, payments, house accounts and prepaid books over a fixed
calendar window, and writes them as the per-store exports bronze reads, with every accepted encoding
and the dirt real point-of-sale systems produce. Same arguments, same bytes. No Spark: numpy and
pyarrow, one store and month at a time, so memory stays bounded by the number of memberships.

Modules: `world` (the simulation), `entities` (one frame per entity, store and month), `dirt` (one
function per kind of dirt and the plan of where it goes), `encode` (dialects and serialization),
`core` (orchestration and stats).
"""

from lakehouse.generate.core import DEFAULT_END_DATE, DEFAULT_MONTHS, GenerateStats, generate

__all__ = ["DEFAULT_END_DATE", "DEFAULT_MONTHS", "GenerateStats", "generate"]
