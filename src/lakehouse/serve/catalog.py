"""The client-view catalog the service offers, and the one parameterized SELECT every view request runs.

The catalog comes from the views' own documentation (`sql/views/columns.yaml`). A request names
a view from the catalog (anything else is refused before SQL is written), optional filters and a
page; `view_query` turns it into SQL whose every value is a bound parameter.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Any

from lakehouse.views import CLIENT_DB, View, load_views

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
# the column a view's month filters apply to: its month, or the date its rows hold
_TIME_COLUMNS = ("month_start", "scored_on")
_MONTH = re.compile(r"^(\d{4})-(\d{2})(?:-(\d{2}))?$")


class BadRequest(ValueError):
    """A request value the caller can fix; `field` names it (HTTP 422)."""

    def __init__(self, field_name: str, message: str):
        super().__init__(message)
        self.field = field_name


class UnknownView(KeyError):
    """A view name that is not in the catalog (HTTP 404)."""


@cache
def views() -> dict[str, View]:
    """The client views by bare name, in the documentation's order."""
    return {v.name: v for v in load_views()}


def view(name: str) -> View:
    """The view named `name` (`location_scorecard` or `client.location_scorecard`); UnknownView otherwise."""
    bare = name.removeprefix(f"{CLIENT_DB}.")
    if bare not in views():
        raise UnknownView(f"no client view {name!r}; the views are {', '.join(views())}")
    return views()[bare]


def columns(v: View) -> list[str]:
    """The view's column names, in order."""
    return [c.name for c in v.columns]


def time_column(v: View) -> str | None:
    """The date column month filters apply to (`month_start`, or `scored_on` for churn risk); None when none."""
    names = columns(v)
    return next((c for c in _TIME_COLUMNS if c in names), None)


def has_location(v: View) -> bool:
    """True when the view's rows belong to a location (a `location_id` column)."""
    return "location_id" in columns(v)


def describe(v: View) -> dict[str, Any]:
    """The catalog entry of a view: name, title, description, filters it takes, columns and their meaning."""
    return {
        "view": f"{CLIENT_DB}.{v.name}",
        "title": v.title,
        "description": v.description,
        "filters": [f for f, ok in (("location_id", has_location(v)), ("month", time_column(v) is not None)) if ok],
        "columns": [{"name": c.name, "type": c.type, "meaning": c.meaning, "formula": c.formula} for c in v.columns],
    }


def parse_month(value: str | dt.date | None, field_name: str) -> dt.date | None:
    """`YYYY-MM` or `YYYY-MM-DD` (any day: its month is meant) as the month's first day; BadRequest otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value.replace(day=1)
    match = _MONTH.match(str(value).strip())
    try:
        if not match:
            raise ValueError
        day = dt.date(int(match.group(1)), int(match.group(2)), int(match.group(3) or 1))
    except ValueError:
        raise BadRequest(field_name, f"{field_name} {str(value)[:40]!r} is not a month: write YYYY-MM, e.g. 2025-05") from None
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    """The first day of the month after `month`."""
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


@dataclass(frozen=True)
class ViewRequest:
    """What a caller asks of one view: filters, an order and a page. Build it with `request()`."""

    view: View
    location_id: str | None = None
    month_from: dt.date | None = None
    month_to: dt.date | None = None
    order_by: tuple[tuple[str, bool], ...] = ()  # (column, descending); empty: the view's documented order
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    location_ids: tuple[str, ...] = ()  # several locations (a name they share): used instead of location_id

    def filters(self) -> dict[str, Any]:
        """The filters as JSON shows them."""
        out: dict[str, Any] = {}
        if self.location_id is not None:
            out["location_id"] = self.location_id
        elif self.location_ids:
            out["location_id"] = list(self.location_ids)
        if self.month_from is not None and self.month_from == self.month_to:
            out["month"] = self.month_from.isoformat()
        else:
            if self.month_from is not None:
                out["month_from"] = self.month_from.isoformat()
            if self.month_to is not None:
                out["month_to"] = self.month_to.isoformat()
        if self.order_by:
            out["order_by"] = ", ".join(f"{c} {'desc' if d else 'asc'}" for c, d in self.order_by)
        out["limit"] = self.limit
        if self.offset:
            out["offset"] = self.offset
        return out


def request(
    name: str,
    location_id: str | None = None,
    month_from: str | dt.date | None = None,
    month_to: str | dt.date | None = None,
    limit: int | None = None,
    offset: int | None = None,
    order_by: tuple[tuple[str, bool], ...] = (),
    location_ids: tuple[str, ...] = (),
) -> ViewRequest:
    """A checked request of view `name`: UnknownView for a name outside the catalog, BadRequest naming
    the field for a value the view cannot take (a filter it has no column for, a month that is not one,
    a page out of range)."""
    v = view(name)
    if (location_id is not None or location_ids) and not has_location(v):
        raise BadRequest("location_id", f"client.{v.name} has no location_id column; leave location_id out")
    if location_id is not None and (not str(location_id).strip() or len(str(location_id)) > 200):
        raise BadRequest("location_id", "location_id must be 1 to 200 characters")
    first, last = parse_month(month_from, "month_from"), parse_month(month_to, "month_to")
    if (first or last) and time_column(v) is None:
        raise BadRequest("month_from" if first else "month_to", f"client.{v.name} has no month column; leave the months out")
    if first and last and last < first:
        raise BadRequest("month_to", f"month_to {last:%Y-%m} is before month_from {first:%Y-%m}")
    limit = DEFAULT_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest("limit", f"limit {limit} is out of range: 1 to {MAX_LIMIT}")
    offset = 0 if offset is None else offset
    if offset < 0:
        raise BadRequest("offset", f"offset {offset} is negative")
    for column, _desc in order_by:
        if column not in columns(v):
            raise BadRequest("order_by", f"client.{v.name} has no column {column!r}")
    return ViewRequest(v, location_id, first, last, tuple(order_by), limit, offset, tuple(location_ids))


def _order_clause(req: ViewRequest) -> str:
    """ORDER BY text from column names checked against the catalog, or the view's documented order,
    always ending with every column so pages are stable."""
    if req.order_by:
        terms = [f"{c} {'DESC' if d else 'ASC'}" for c, d in req.order_by]
    else:
        terms = [t.strip() for t in req.view.example_order.split(",")]
    named = {t.split()[0] for t in terms}
    return ", ".join([*terms, *(c for c in columns(req.view) if c not in named)])


def view_query(engine: Any, req: ViewRequest) -> tuple[str, dict[str, Any]]:
    """The SELECT that answers `req` on `engine`, and its parameters. Only the view name (from the
    catalog) and column names (checked against it) are written into the SQL; every value is a parameter."""
    where, params = [], {}
    if req.location_id is not None:
        where.append(f"location_id = {engine.param('location_id')}")
        params["location_id"] = req.location_id
    elif req.location_ids:
        names = [f"location_id_{i}" for i in range(len(req.location_ids))]
        where.append(f"location_id IN ({', '.join(engine.param(n) for n in names)})")
        params.update(zip(names, req.location_ids, strict=True))
    time = time_column(req.view)
    if req.month_from is not None:
        where.append(f"{time} >= {engine.param('month_from')}")
        params["month_from"] = req.month_from
    if req.month_to is not None:
        where.append(f"{time} < {engine.param('month_end')}")
        params["month_end"] = next_month(req.month_to)
    sql = f"SELECT * FROM {engine.relation(req.view.name)}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY {_order_clause(req)} LIMIT {engine.param('limit')} OFFSET {engine.param('offset')}"
    params["limit"], params["offset"] = req.limit, req.offset
    return sql, params


def run(engine: Any, req: ViewRequest, snapshot: Any = None) -> tuple[str, dict[str, Any], Any]:
    """Run `req` on `snapshot` (default: the engine's current one); returns the SQL, its parameters and the Result."""
    sql, params = view_query(engine, req)
    return sql, params, (snapshot or engine.snapshot()).query(sql, params)
