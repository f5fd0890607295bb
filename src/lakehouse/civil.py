"""Proleptic Gregorian calendar arithmetic on numpy arrays (H. Hinnant's civil-date algorithms, vectorized).

The bronze text parsers and the sample generator turn (year, month, day) into epoch days and back
without a Python loop per value.
"""

from __future__ import annotations

import numpy as np

_MONTH_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of (year, month, day)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468


def civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + np.where(mp < 10, 3, -9)
    return yoe + era * 400 + (month <= 2), month, day


def valid_date(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Whether (year, month, day) exists (no February 30, no month 13)."""
    leap = (y % 4 == 0) & ((y % 100 != 0) | (y % 400 == 0))
    last = _MONTH_DAYS[np.clip(m, 0, 12)] + ((m == 2) & leap)
    return (m >= 1) & (m <= 12) & (d >= 1) & (d <= last)
