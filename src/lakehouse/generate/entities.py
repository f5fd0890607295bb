"""One logical frame per entity, store and month, cut from the simulated `World`.

Each function returns clean logical frames (see `lakehouse.generate.schema`): what the store's database
holds and exports for that month, re-exports of changed rows included. Dirt is added later
(`lakehouse.generate.dirt`), encodings last (`lakehouse.generate.encode`).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from lakehouse.generate.schema import logical_table
from lakehouse.generate.world import OUTCOMES, PLANS, World, hash_u64

WASH_TYPES = ("Express", "Basic", "Deluxe", "Ultimate", 'Ultimate, w/ "Tire Shine"')
WASH_PRICES = np.array([800, 1000, 1500, 2200, 2500])
WASH_SHARE = np.array([0.2, 0.35, 0.25, 0.15, 0.05])
MEMBER_WASH_TYPES = ("Club Basic", "Club Deluxe", "Club Ultimate")
NONMEMBER_METHODS = ("cash", "card", "prepaid", "house_account")
NONMEMBER_METHOD_SHARE = np.array([0.22, 0.63, 0.08, 0.07])
BOOK_PRICES = {5: 4500, 10: 8500, 20: 16000}
HOUR_WEIGHTS = np.array(
    [0, 0, 0, 0, 0, 0, 1, 3, 6, 8, 10, 11, 12, 12, 11, 10, 9, 8, 6, 4, 2, 1, 0, 0], dtype=float
)
HOUR_P = HOUR_WEIGHTS / HOUR_WEIGHTS.sum()
WEEKDAY_WEIGHTS = np.array([0.9, 0.85, 0.9, 0.95, 1.1, 1.4, 1.2])  # Monday .. Sunday

# ASCII only: emails are checked by silver and an internationalized address is not the dirt we plant.
FIRST_NAMES = (
    "james",
    "mary",
    "john",
    "patricia",
    "robert",
    "jennifer",
    "michael",
    "linda",
    "william",
    "elizabeth",
    "david",
    "barbara",
    "richard",
    "susan",
    "joseph",
    "jessica",
    "thomas",
    "sarah",
    "charles",
    "karen",
    "chris",
    "nancy",
    "daniel",
    "lisa",
    "matthew",
    "betty",
    "anthony",
    "sandra",
    "mark",
    "ashley",
    "jose",
    "zoe",
    "li",
    "priya",
    "omar",
    "fatima",
    "lukas",
    "chloe",
    "mateo",
    "sofia",
)
LAST_NAMES = (
    "smith",
    "johnson",
    "williams",
    "brown",
    "jones",
    "garcia",
    "miller",
    "davis",
    "rodriguez",
    "martinez",
    "hernandez",
    "lopez",
    "gonzalez",
    "wilson",
    "anderson",
    "thomas",
    "taylor",
    "moore",
    "jackson",
    "martin",
    "lee",
    "perez",
    "thompson",
    "white",
    "harris",
    "sanchez",
    "clark",
    "ramirez",
    "lewis",
    "robinson",
    "o'brien",
    "nguyen",
    "kim",
    "patel",
    "mueller",
    "dubois",
    "rossi",
    "silva",
    "kowalski",
    "novak",
)
DOMAINS = (
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "icloud.com",
    "hotmail.com",
    "aol.com",
    "comcast.net",
    "proton.me",
)


# --------------------------------------------------------------------------------------------------
# small vectorized helpers


def ids(prefix: str, numbers: np.ndarray, width: int, mask: np.ndarray | None = None) -> pa.Array:
    """Text ids `prefix + zero-padded number`, null where `mask`."""
    text = pc.utf8_lpad(pa.array(numbers, type=pa.int64()).cast(pa.string()), width, "0")
    out = pc.binary_join_element_wise(prefix, text, "")
    if mask is not None and mask.any():
        out = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), out)
    return out


def pick(values: tuple[str, ...] | list, index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """`values[index]` as a string array, null where `mask`."""
    out = pa.array(list(values), type=pa.string()).take(pa.array(index, type=pa.int64()))
    if mask is not None and mask.any():
        out = pc.if_else(pa.array(mask), pa.scalar(None, pa.string()), out)
    return out


def _join(*parts) -> pa.Array:
    return pc.binary_join_element_wise(*parts, "")


def _masked(values: np.ndarray, mask: np.ndarray, type_: pa.DataType) -> pa.Array:
    return pa.array(values, type=type_, mask=mask)


def time_of_day(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight with a car wash's daily traffic curve."""
    return rng.choice(24, n, p=HOUR_P) * 3600 + rng.integers(0, 3600, n)


def month_bounds(w: World, k: int) -> tuple[int, int]:
    """(first second, first second after) month k."""
    return int(w.cal.month_start[k]) * 86400, int(w.cal.month_start[k + 1]) * 86400


def customer_ids(w: World, idx: np.ndarray, store: int) -> pa.Array:
    """sCustomerId of global customer rows (null where idx < 0)."""
    mask = idx < 0
    return ids(f"{w.store_ids[store]}_c", np.where(mask, 0, w.cust_no[np.maximum(idx, 0)]), 7, mask)


def membership_ids(w: World, idx: np.ndarray, store: int) -> pa.Array:
    """sMembershipId of global membership rows."""
    return ids(f"{w.store_ids[store]}_m", w.mem_no[idx], 6)


def location_ids(w: World, loc: np.ndarray) -> pa.Array:
    """sLocationId of global location rows."""
    return pick(w.loc_ids, loc)


# --------------------------------------------------------------------------------------------------
# locations


def locations_frame(w: World, s: int, k: int) -> pa.Table:
    """Locations exported in month k: new ones when they open, renames mid-window, a full snapshot last."""
    locs = np.flatnonzero(w.loc_store == s)
    ms, me = month_bounds(w, k)
    mid = w.cal.months // 2
    opened_sec = w.loc_open_day[locs] * 86400 + 6 * 3600
    rename_sec = int(w.cal.month_start[mid]) * 86400 + 86400 + 7 * 3600
    renamed = np.array([w.loc_new_names[i] is not None for i in locs], dtype=bool) & (opened_sec < rename_sec)
    rows, names, updated = [], [], []
    for j, loc in enumerate(locs):
        new_now = ms <= opened_sec[j] < me or (k == 0 and opened_sec[j] < me)
        is_rename = k == mid and renamed[j]
        final = k == w.cal.months - 1 and k != 0
        if not (new_now or is_rename or final):
            continue
        current_renamed = renamed[j] and (k > mid or is_rename)
        rows.append(loc)
        names.append(w.loc_new_names[loc] if current_renamed else w.loc_names[loc])
        updated.append(rename_sec if current_renamed else opened_sec[j])
    rows_a = np.array(rows, dtype=np.int64)
    return logical_table(
        "locations",
        {
            "sLocationId": location_ids(w, rows_a),
            "sName": pa.array(names, type=pa.string()),
            "sRegion": pa.array([w.loc_regions[i] for i in rows], type=pa.string()),
            "dOpened": w.loc_open_day[rows_a].astype(np.int32),
            "dtUpdated": np.array(updated, dtype=np.int64),
        },
        n=len(rows),
    )


# --------------------------------------------------------------------------------------------------
# customers


def contact_details(w: World, idx: np.ndarray, version: np.ndarray) -> tuple[pa.Array, pa.Array, int, int]:
    """(emails, phones, invalid emails, invalid phones) of customers `idx` at contact-details `version`.

    Emails come in mixed case, some with surrounding spaces; phones in several formats. About 1% of
    each is invalid (kept by silver as null and counted as a warning).
    """
    key = idx.astype(np.uint64) * np.uint64(64) + version.astype(np.uint64)
    h = hash_u64(w.seed, 101, key)
    first = pick(FIRST_NAMES, (h % np.uint64(len(FIRST_NAMES))).astype(np.int64))
    last = pick(LAST_NAMES, ((h >> np.uint64(8)) % np.uint64(len(LAST_NAMES))).astype(np.int64))
    last = pc.replace_substring(last, "'", "")
    domain = pick(DOMAINS, ((h >> np.uint64(16)) % np.uint64(len(DOMAINS))).astype(np.int64))
    number = pa.array(((h >> np.uint64(24)) % np.uint64(1000)).astype(np.int64)).cast(pa.string())
    pattern = ((h >> np.uint64(34)) % np.uint64(4)).astype(np.int8)
    local = pc.choose(
        pa.array(pattern),
        _join(first, ".", last),
        _join(first, last, number),
        _join(pc.utf8_slice_codeunits(first, 0, 1), ".", last, number),
        _join(last, "_", first),
    )
    email = _join(local, "@", domain)
    case = ((h >> np.uint64(36)) % np.uint64(100)).astype(np.int64)
    email = pc.if_else(pa.array((case >= 70) & (case < 85)), pc.utf8_title(email), email)
    email = pc.if_else(pa.array(case >= 92), pc.utf8_upper(email), email)
    spaces = ((h >> np.uint64(44)) % np.uint64(100)).astype(np.int64) < 6
    email = pc.if_else(pa.array(spaces), _join("  ", email, " "), email)
    invalid_kind = ((h >> np.uint64(52)) % np.uint64(1000)).astype(np.int64)
    bad_email = invalid_kind < 12
    broken = pc.choose(
        pa.array((invalid_kind % 4).astype(np.int8)),
        _join(local, "@"),
        _join(local, ".", domain),
        _join(local, "@@", domain),
        _join(first, " ", last, "@", domain),
    )
    email = pc.if_else(pa.array(bad_email), broken, email)
    no_email = ((h >> np.uint64(58)) % np.uint64(100)).astype(np.int64) < 8
    email = pc.if_else(pa.array(no_email), pa.scalar(None, pa.string()), email)

    g = hash_u64(w.seed, 202, key)
    area = pa.array((201 + g % np.uint64(789)).astype(np.int64)).cast(pa.string())
    exch = pa.array((201 + (g >> np.uint64(10)) % np.uint64(799)).astype(np.int64)).cast(pa.string())
    line = pc.utf8_lpad(
        pa.array(((g >> np.uint64(20)) % np.uint64(10000)).astype(np.int64)).cast(pa.string()), 4, "0"
    )
    fmt = ((g >> np.uint64(34)) % np.uint64(6)).astype(np.int8)
    phone = pc.choose(
        pa.array(fmt),
        _join("(", area, ") ", exch, "-", line),
        _join("+1 ", area, " ", exch, " ", line),
        _join(area, ".", exch, ".", line),
        _join(area, "-", exch, "-", line),
        _join(area, exch, line),
        _join("+1-", area, "-", exch, "-", line),
    )
    bad_kind = ((g >> np.uint64(40)) % np.uint64(1000)).astype(np.int64)
    bad_phone = bad_kind < 12
    junk = pick(("12345", "n/a", "555-WASH", "0", "call me"), bad_kind % 5)
    phone = pc.if_else(pa.array(bad_phone), junk, phone)
    no_phone = ((g >> np.uint64(52)) % np.uint64(100)).astype(np.int64) < 12
    phone = pc.if_else(pa.array(no_phone), pa.scalar(None, pa.string()), phone)
    return email, phone, int((bad_email & ~no_email).sum()), int((bad_phone & ~no_phone).sum())


def customers_frame(w: World, s: int, k: int) -> tuple[pa.Table, dict[str, int]]:
    """Customers created in month k plus ~2% of earlier ones re-exported with new contact details."""
    sl = w.store_slice(w.cust_store, s)
    ms, me = month_bounds(w, k)
    created = w.cust_created[sl]
    new = np.flatnonzero((created >= ms) & (created < me)) + sl.start
    older = np.flatnonzero(created < ms) + sl.start
    chosen = (hash_u64(w.seed, 300 + k, older) % np.uint64(1000)).astype(np.int64) < 20
    updated = older[chosen]
    idx = np.concatenate([new, updated])
    version = np.concatenate([np.zeros(len(new), np.int64), np.full(len(updated), k + 1, np.int64)])
    upd_sec = ms + (hash_u64(w.seed, 400 + k, updated) % np.uint64(me - ms)).astype(np.int64)
    email, phone, bad_email, bad_phone = contact_details(w, idx, version)

    h = hash_u64(w.seed, 500, idx)
    home_kind = (h % np.uint64(10)).astype(np.int64)
    locs = np.flatnonzero(w.loc_store == s)
    other = locs[((h >> np.uint64(8)) % np.uint64(len(locs))).astype(np.int64)]
    home = np.where(home_kind == 1, other, w.cust_loc[idx])
    frame = logical_table(
        "customers",
        {
            "sCustomerId": customer_ids(w, idx, s),
            "sEmail": email,
            "sPhone": phone,
            "dtCreated": w.cust_created[idx],
            "sHomeLocationId": pick(w.loc_ids, home, home_kind == 0),
            "dtUpdated": np.concatenate([w.cust_created[new], upd_sec]),
        },
        n=len(idx),
    )
    return frame, {
        "invalid_email": bad_email,
        "invalid_phone": bad_phone,
        "reexport_changed_values": len(updated),
    }


# --------------------------------------------------------------------------------------------------
# memberships and billing


def memberships_frame(w: World, s: int, k: int) -> tuple[pa.Table, int]:
    """Memberships started in month k and earlier ones cancelled in month k (a re-export with dCancelled)."""
    sl = w.store_slice(w.mem_store, s)
    ms, me = month_bounds(w, k)
    start = w.mem_start_sec[sl]
    cancel = w.mem_cancel_sec[sl]
    new = np.flatnonzero((start >= ms) & (start < me)) + sl.start
    cancelled = np.flatnonzero((cancel >= ms) & (cancel < me) & (start < ms)) + sl.start
    idx = np.concatenate([new, cancelled])
    cancel_sec = w.mem_cancel_sec[idx]
    shows_cancel = (cancel_sec >= 0) & (cancel_sec < me)
    frame = logical_table(
        "memberships",
        {
            "sMembershipId": membership_ids(w, idx, s),
            "sCustomerId": customer_ids(w, w.mem_cust[idx], s),
            "sLocationId": location_ids(w, w.mem_loc[idx]),
            "sPlan": pick(PLANS, w.mem_plan[idx].astype(np.int64)),
            "nMonthlyPrice": w.mem_price[idx],
            "dStarted": w.mem_start_day[idx].astype(np.int32),
            "dCancelled": _masked(
                w.mem_cancel_day[idx].clip(0, 2**31 - 1).astype(np.int32), ~shows_cancel, pa.int32()
            ),
            "dtUpdated": np.where(shows_cancel, cancel_sec, w.mem_start_sec[idx]),
        },
        n=len(idx),
    )
    return frame, len(cancelled)


def billing_frames(w: World, s: int, k: int, rng: np.random.Generator) -> tuple[pa.Table, pa.Table]:
    """(billing attempts of month k, payments of the successful ones)."""
    sl = w.store_slice(w.mem_store, s)
    sel = np.flatnonzero(w.att_n[sl, k] > 0) + sl.start
    bill = w.bill_day(sel, k)
    n_att = w.att_n[sel, k].astype(np.int64)
    out = w.att_out[sel, k].astype(np.int64)
    gap = w.att_gap[sel, k].astype(np.int64)
    g1, g2 = gap & 7, gap >> 3
    parts = []
    for a in range(3):
        has = n_att > a
        day = bill[has] + (g1[has] if a >= 1 else 0) + (g2[has] if a >= 2 else 0)
        parts.append((sel[has], day, (out[has] >> (2 * a)) & 3, np.full(has.sum(), a + 1)))
    midx = np.concatenate([p[0] for p in parts])
    day = np.concatenate([p[1] for p in parts])
    outcome = np.concatenate([p[2] for p in parts])
    attempt = np.concatenate([p[3] for p in parts])
    order = np.lexsort((attempt, midx))
    midx, day, outcome, attempt = midx[order], day[order], outcome[order], attempt[order]
    n = len(midx)
    attempted = day * 86400 + rng.integers(1 * 3600, 6 * 3600, n)
    mem_id = membership_ids(w, midx, s)
    month_text = pc.utf8_lpad(pa.array(np.full(n, k + 1)).cast(pa.string()), 2, "0")
    attempt_id = _join(
        ids(f"{w.store_ids[s]}_ba", w.mem_no[midx], 6),
        "-",
        month_text,
        "-",
        pa.array(attempt).cast(pa.string()),
    )
    loc = location_ids(w, w.mem_loc[midx])
    price = w.mem_price[midx]
    attempts = logical_table(
        "billing_attempts",
        {
            "sAttemptId": attempt_id,
            "sMembershipId": mem_id,
            "sLocationId": loc,
            "dtAttempted": attempted,
            "nAmount": price,
            "sOutcome": pick(OUTCOMES, outcome),
            "dtUpdated": attempted + rng.integers(0, 300, n),
        },
        n=n,
    )
    ok = outcome == 0
    paid = np.minimum(attempted[ok] + 30, w.cal.end_sec - 1)
    payments = logical_table(
        "payments",
        {
            "sPaymentId": _join(attempt_id.filter(pa.array(ok)), "-pay"),
            "sLocationId": loc.filter(pa.array(ok)),
            "sMembershipId": mem_id.filter(pa.array(ok)),
            "nAmount": price[ok],
            "dtPaid": paid,
            "sMethod": pa.array(np.full(ok.sum(), "card"), type=pa.string()),
            "dtUpdated": paid,
        },
        n=int(ok.sum()),
    )
    return attempts, payments


# --------------------------------------------------------------------------------------------------
# tickets and payments


class StoreIndex:
    """Per-store lookups the ticket generator needs: customers and prepaid books by location and time."""

    def __init__(self, w: World, s: int):
        self.locs = np.flatnonzero(w.loc_store == s)
        self.cust_by_loc = {}
        self.books_by_loc = {}
        for loc in self.locs:
            c = np.flatnonzero(w.cust_loc == loc)
            c = c[np.argsort(w.cust_created[c], kind="stable")]
            self.cust_by_loc[loc] = (c, w.cust_created[c])
            b = np.flatnonzero(w.book_loc == loc)
            b = b[np.argsort(w.book_purchased[b], kind="stable")]
            self.books_by_loc[loc] = (w.book_cust[b], w.book_purchased[b])
        self.ticket_style = s % 3


def _random_before(pool: tuple[np.ndarray, np.ndarray], before: int, n: int, rng) -> np.ndarray:
    """n random picks among pool entries whose time is before `before` (-1 when there are none)."""
    values, times = pool
    count = int(np.searchsorted(times, before))
    if count == 0:
        return np.full(n, -1, dtype=np.int64)
    return values[rng.integers(0, count, n)].astype(np.int64)


def ticket_ids(style: int, loc_ids: pa.Array, numbers: np.ndarray) -> pa.Array:
    """sTicketId in the store's own style: plain numbers, `T-` prefixed, or with a lane code."""
    text = pa.array(numbers, type=pa.int64()).cast(pa.string())
    if style == 0:
        return text
    if style == 1:
        return _join("T-", pc.utf8_lpad(text, 9, "0"))
    lane = pa.array((numbers % 3 + 1).astype(np.int64)).cast(pa.string())
    return _join("L", lane, "-", text)


def tickets_frames(w: World, s: int, k: int, idx: StoreIndex, rng: np.random.Generator):
    """(tickets, payments, corrections) of month k at store s.

    Member washes come from the membership simulation (they stop at cancellation); non-member washes
    are spread over the open days with a weekly and daily traffic curve. `corrections` is a small
    sample of this month's tickets with a later dtUpdated (half of the non-member ones with a changed
    wash type and amount), exported again next month.
    """
    ms, me = month_bounds(w, k)
    end = w.cal.end_sec
    msd, med = int(w.cal.month_start[k]), int(w.cal.month_start[k + 1])

    # member washes
    sl = w.store_slice(w.mem_store, s)
    counts = w.washes[sl, k].astype(np.int64)
    sel = np.flatnonzero(counts > 0)
    midx = np.repeat(sel + sl.start, counts[sel])
    a = np.maximum(msd, w.mem_start_day[midx])
    b = np.minimum(med, w.mem_cancel_day[midx])
    day = a + np.floor(rng.random(len(midx)) * np.maximum(b - a, 1)).astype(np.int64)
    m_created = np.maximum(day * 86400 + time_of_day(rng, len(midx)), w.mem_start_sec[midx] + 60)
    m_loc = w.mem_loc[midx].astype(np.int64)

    # non-member washes
    n_loc, n_created = [], []
    for loc in idx.locs:
        n = int(w.nonmember_counts[loc, k])
        if n == 0:
            continue
        first = max(msd, int(w.loc_open_day[loc]))
        days = np.arange(first, med)
        weights = WEEKDAY_WEIGHTS[(days + 3) % 7]  # 1970-01-01 was a Thursday
        d = rng.choice(days, n, p=weights / weights.sum())
        n_loc.append(np.full(n, loc))
        n_created.append(d * 86400 + time_of_day(rng, n))
    nm_loc = np.concatenate(n_loc) if n_loc else np.zeros(0, np.int64)
    nm_created = np.concatenate(n_created) if n_created else np.zeros(0, np.int64)
    n_nm = len(nm_loc)
    wash = rng.choice(len(WASH_TYPES), n_nm, p=WASH_SHARE)
    price = WASH_PRICES[wash] + (w.loc_price_offset[nm_loc] // 300) * 100
    price = np.where(rng.random(n_nm) < 0.05, price - 300, price)
    method = rng.choice(len(NONMEMBER_METHODS), n_nm, p=NONMEMBER_METHOD_SHARE)
    nm_cust = np.full(n_nm, -1, dtype=np.int64)
    for loc in idx.locs:
        at = np.flatnonzero(nm_loc == loc)
        if len(at) == 0:
            continue
        loyal = at[(rng.random(len(at)) < 0.35) & (method[at] <= 1)]
        nm_cust[loyal] = _random_before(idx.cust_by_loc[loc], ms, len(loyal), rng)
        prepaid = at[method[at] == 2]
        owners = _random_before(idx.books_by_loc[loc], ms, len(prepaid), rng)
        nm_cust[prepaid] = owners
        method[prepaid[owners < 0]] = 1
    price = np.where(method == 2, 0, price)

    # all tickets, numbered per location in time order
    n_m = len(midx)
    loc = np.concatenate([m_loc, nm_loc])
    created = np.concatenate([m_created, nm_created])
    order = np.lexsort((created, loc))
    loc, created = loc[order], created[order]
    is_member = order < n_m
    member_row = np.where(is_member, order, 0)
    nm_row = np.where(is_member, 0, order - n_m)
    first_of_loc = np.searchsorted(loc, loc, side="left")
    number = w.ticket_offset[loc, k] + (np.arange(len(loc)) - first_of_loc)
    cust = np.where(is_member, w.mem_cust[midx[member_row]] if n_m else -1, nm_cust[nm_row] if n_nm else -1)
    plan = w.mem_plan[midx[member_row]].astype(np.int64) if n_m else np.zeros(len(loc), np.int64)
    wash_nm = wash[nm_row] if n_nm else np.zeros(len(loc), np.int64)
    amount = np.where(is_member, 0, price[nm_row] if n_nm else 0)
    method_all = np.where(is_member, 2, np.take(np.array([0, 1, 3, 4]), method[nm_row] if n_nm else 0))
    methods = ("cash", "card", "membership", "prepaid", "house_account")
    wash_text = pc.if_else(
        pa.array(is_member),
        pick(MEMBER_WASH_TYPES, plan),
        pick(WASH_TYPES, wash_nm),
    )
    n = len(loc)
    loc_text = location_ids(w, loc)
    ticket_id = ticket_ids(idx.ticket_style, loc_text, number)
    updated = np.minimum(created + rng.integers(0, 600, n), end - 1)
    tickets = logical_table(
        "tickets",
        {
            "sTicketId": ticket_id,
            "sLocationId": loc_text,
            "sCustomerId": customer_ids(w, cust, s),
            "dtCreated": created,
            "sWashType": wash_text,
            "nAmount": amount,
            "bIsMember": is_member,
            "sPaymentMethod": pick(methods, method_all),
            "dtUpdated": updated,
        },
        n=n,
    )

    # payments for tickets paid at the till (cash, card, house account)
    paid_mask = (method_all == 0) | (method_all == 1) | (method_all == 4)
    pm = pa.array(paid_mask)
    paid_at = np.minimum(created[paid_mask] + rng.integers(5, 180, int(paid_mask.sum())), end - 1)
    payments = logical_table(
        "payments",
        {
            "sPaymentId": _join(loc_text.filter(pm), "-P", pa.array(number[paid_mask]).cast(pa.string())),
            "sLocationId": loc_text.filter(pm),
            "sTicketId": ticket_id.filter(pm),
            "nAmount": amount[paid_mask],
            "dtPaid": paid_at,
            "sMethod": pick(methods, method_all[paid_mask]),
            "dtUpdated": paid_at,
        },
        n=int(paid_mask.sum()),
    )

    # corrections: re-exported next month with a later dtUpdated, half of the non-member ones changed
    fix = np.flatnonzero(rng.random(n) < 0.006)
    later = np.minimum(created[fix] + 86400 + rng.integers(0, 20 * 86400, len(fix)), end - 1)
    changed = (
        ~is_member[fix]
        & (method_all[fix] <= 1)
        & (rng.random(len(fix)) < 0.5)
        & (wash_nm[fix] < len(WASH_TYPES) - 1)
    )
    corr = tickets.take(pa.array(fix, type=pa.int64()))
    new_wash = np.where(changed, wash_nm[fix] + 1, wash_nm[fix])
    new_amount = np.where(changed, amount[fix] + 500, amount[fix])
    corr = corr.set_column(corr.schema.get_field_index("dtUpdated"), "dtUpdated", pa.array(later, pa.int64()))
    corr = corr.set_column(
        corr.schema.get_field_index("sWashType"),
        "sWashType",
        pc.if_else(pa.array(changed), pick(WASH_TYPES, new_wash), corr.column("sWashType").combine_chunks()),
    )
    corr = corr.set_column(
        corr.schema.get_field_index("nAmount"), "nAmount", pa.array(new_amount, pa.int64())
    )
    return tickets, payments, corr, int(changed.sum())


# --------------------------------------------------------------------------------------------------
# prepaid books and house accounts


def prepaid_books_frames(
    w: World, s: int, k: int, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table, int]:
    """(books sold or updated in month k, payments for the books sold, number of updated re-exports)."""
    sl = w.store_slice(w.book_store, s)
    ms, me = month_bounds(w, k)
    rows = np.arange(sl.start, sl.stop)
    sold = rows[(w.book_purchased[sl] >= ms) & (w.book_purchased[sl] < me)]
    upd1 = rows[w.book_update_month[sl, 0] == k]
    upd2 = rows[w.book_update_month[sl, 1] == k]
    idx = np.concatenate([sold, upd1, upd2])
    version = np.concatenate(
        [np.zeros(len(sold), np.int64), np.ones(len(upd1), np.int64), np.full(len(upd2), 2)]
    )
    upd_sec = ms + np.floor(rng.random(len(upd1) + len(upd2)) * (me - ms)).astype(np.int64)
    updated = np.concatenate([w.book_purchased[sold] + 30, upd_sec])
    book_id = ids(f"{w.store_ids[s]}_bk", w.book_no[idx], 6)
    books = logical_table(
        "prepaid_books",
        {
            "sBookId": book_id,
            "sCustomerId": customer_ids(w, w.book_cust[idx], s),
            "sLocationId": location_ids(w, w.book_loc[idx]),
            "dtPurchased": w.book_purchased[idx],
            "nWashesTotal": w.book_total[idx],
            "nWashesUsed": w.book_used[idx, version],
            "bSendWash": w.book_send[idx],
            "dtUpdated": updated,
        },
        n=len(idx),
    )
    n_sold = len(sold)
    price = np.array([BOOK_PRICES[int(t)] for t in w.book_total[sold]], dtype=np.int64)
    paid = np.minimum(w.book_purchased[sold] + 20, w.cal.end_sec - 1)
    payments = logical_table(
        "payments",
        {
            "sPaymentId": _join(book_id.slice(0, n_sold), "-pay"),
            "sLocationId": location_ids(w, w.book_loc[sold]),
            "nAmount": price,
            "dtPaid": paid,
            "sMethod": pick(("cash", "card"), (rng.random(n_sold) < 0.7).astype(np.int64)),
            "dtUpdated": paid,
        },
        n=n_sold,
    )
    return books, payments, len(upd1) + len(upd2)


def house_accounts_frame(
    w: World, s: int, k: int, rng: np.random.Generator
) -> tuple[pa.Table, dict[str, int]]:
    """A full snapshot of the store's house accounts with this quarter's balances.

    Accounts without an account number vary the case of their name and email between snapshots, and a
    few appear twice in one snapshot (a stale duplicate with an earlier dtUpdated).
    """
    ms, me = month_bounds(w, k)
    rows = np.flatnonzero((w.ha_store == s) & (w.loc_open_day[w.ha_loc] * 86400 < me))
    n = len(rows)
    balance = np.round(w.ha_base_cents[rows] * rng.lognormal(0, 0.35, n)).astype(np.int64)
    credit = rng.random(n) < 0.06
    balance = np.where(credit, -rng.integers(100, 20_000, n), balance)
    updated = ms + np.floor(rng.random(n) * (me - ms)).astype(np.int64)
    number = [w.ha_number[i] for i in rows]
    no_number = np.array([x is None for x in number], dtype=bool)
    name = pa.array([w.ha_name[i] for i in rows], type=pa.string())
    email = pa.array([w.ha_email[i] for i in rows], type=pa.string())
    recase = rng.integers(0, 4, n)
    name = pc.if_else(pa.array(no_number & (recase == 1)), pc.utf8_upper(name), name)
    email = pc.if_else(pa.array(no_number & (recase >= 2)), pc.utf8_upper(email), email)
    frame = logical_table(
        "house_accounts",
        {
            "sAccountNumber": pa.array(number, type=pa.string()),
            "sAccountName": name,
            "sEmail": email,
            "sLocationId": location_ids(w, w.ha_loc[rows]),
            "nBalance": balance,
            "dtUpdated": updated,
        },
        n=n,
    )
    dup = np.flatnonzero(no_number & (rng.random(n) < 0.15))
    if len(dup):
        stale = frame.take(pa.array(dup, type=pa.int64()))
        stale = stale.set_column(
            stale.schema.get_field_index("sAccountName"),
            "sAccountName",
            pc.utf8_lower(stale.column("sAccountName").combine_chunks()),
        )
        earlier = np.maximum(updated[dup] - rng.integers(86400, 10 * 86400, len(dup)), w.cal.start_sec)
        stale = stale.set_column(
            stale.schema.get_field_index("dtUpdated"), "dtUpdated", pa.array(earlier, pa.int64())
        )
        stale = stale.set_column(
            stale.schema.get_field_index("nBalance"),
            "nBalance",
            pa.array(np.round(balance[dup] * 0.9).astype(np.int64)),
        )
        frame = pa.concat_tables([frame, stale])
    counts = {
        "house_account_without_number": int(no_number.sum()) + len(dup),
        "house_account_duplicate": len(dup),
    }
    return frame, counts
