"""The simulated business behind the sample exports: calendar, stores, locations, customers, memberships.

Everything here is the *truth* the exports are cut from, built once per run with vectorized numpy and
bounded by the number of memberships (about tickets / 25), never by the number of tickets: tickets are
counted here (per membership-month and per location-month) and only materialized per store and month
when they are written.

The membership simulation plants the churn signal the scoring model has to find. Each month a member
may *disengage* (more likely on the basic plan, above the plan's list price and at high-churn
locations); a disengaged member washes about a fifth as often and cancels within one to three months.
Cards with a high decline propensity fail billing; an unrecovered month raises the chance of cancelling
that month and the next. So before a cancellation the data shows falling wash frequency, recent
declines, the plan, the price and the location's churn.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np

EPOCH = date(1970, 1, 1)
NO_CANCEL = np.iinfo(np.int32).max

PLANS = ("basic", "deluxe", "ultimate")
PLAN_PRICE_CENTS = np.array([1999, 2999, 3999])
PLAN_SHARE = np.array([0.5, 0.32, 0.18])
PLAN_WASH_RATE = np.array([2.4, 3.0, 3.6])  # relative monthly washes of an engaged member
PLAN_CHURN = np.array([1.3, 1.0, 0.75])

OUTCOME_SUCCESS, OUTCOME_DECLINED, OUTCOME_ERROR = 0, 1, 2
OUTCOMES = ("success", "declined", "error")

MEMBER_WASH_SHARE = 0.62  # target share of tickets that are member washes
DISENGAGED_WASH_FACTOR = 0.12
DISENGAGED_HAZARD = np.array([0.0, 0.04, 0.4, 0.55, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6])

BRANDS = (
    "Sparkle Express",
    "Suds & Shine",
    'Mister "Clean" Car',
    "Bubbles, Inc.",
    "Lavage Élite",
    "Blue Wave",
    "Splash Zone",
    "Tidal Wash",
    "Glo Auto Spa",
    "Foam Factory",
    "Shine Time",
    "Rinse & Repeat",
)
CITIES = (
    "Springfield",
    "Riverside",
    "Fairview",
    "Madison",
    "Georgetown",
    "Clinton",
    "Franklin",
    "Greenville",
    "Bristol",
    "Salem",
    "Ashland",
    "Dover",
    "Oxford",
    "Jackson",
    "Burlington",
    "Milton",
    "Newport",
    "Auburn",
    "Dayton",
    "Lexington",
    "Montréal St",
    "São Paulo Ave",
    "Main St, Suite 4",
    "Old Mill Rd",
)
REGIONS = ("north", "south", "east", "west", "central")
COMPANIES = (
    "Acme Plumbing",
    'Joe\'s "Fast" Delivery',
    "City Fleet Services",
    "Green Lawn Care",
    "Metro Taxi",
    "Sunrise Realty",
    "Bright Electric, LLC",
    "Müller Logistik",
    "Café Rapide",
    "Ace Hardware #12",
    "Northside Dental",
    "Blue Sky Rentals",
    "Peak Roofing",
    "Swift Couriers",
    "Harbor Auto Sales",
    "Pine Valley Church",
    "Summit Pest Control",
    "Redline Towing",
    "Oak & Ash Builders",
    "Lucky Limo",
)


def to_day(d: date) -> int:
    """Epoch day number of a date."""
    return (d - EPOCH).days


def from_day(day: int) -> date:
    """Date of an epoch day number."""
    return EPOCH + timedelta(days=int(day))


def hash_u64(seed: int, stream: int, idx: np.ndarray) -> np.ndarray:
    """A deterministic 64-bit hash (splitmix64) of (seed, stream, idx): random attributes without order."""
    with np.errstate(over="ignore"):
        x = idx.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x += np.uint64((seed * 1_000_003 + stream * 7_919 + 1) % (1 << 63))
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


@dataclass(frozen=True)
class Calendar:
    """The fixed calendar window: `months` whole months ending with the month of `end_date`."""

    month_start: np.ndarray  # epoch days, months + 1 entries; the last is the exclusive window end

    @classmethod
    def build(cls, end_date: date, months: int) -> Calendar:
        """The window of `months` months whose last month contains `end_date` (end_date inclusive)."""
        first = date(end_date.year, end_date.month, 1)
        starts = []
        y, m = first.year, first.month
        for _ in range(months):
            starts.append(date(y, m, 1))
            y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        days = [to_day(d) for d in reversed(starts)] + [to_day(end_date) + 1]
        return cls(np.array(days, dtype=np.int64))

    @property
    def months(self) -> int:
        """Number of months in the window."""
        return len(self.month_start) - 1

    @property
    def start_day(self) -> int:
        """First day of the window (epoch days)."""
        return int(self.month_start[0])

    @property
    def end_day(self) -> int:
        """First day after the window (epoch days)."""
        return int(self.month_start[-1])

    @property
    def start_sec(self) -> int:
        """First second of the window (epoch seconds)."""
        return self.start_day * 86400

    @property
    def end_sec(self) -> int:
        """First second after the window (epoch seconds)."""
        return self.end_day * 86400

    def month_len(self, k: int) -> int:
        """Number of days of month k inside the window."""
        return int(self.month_start[k + 1] - self.month_start[k])

    def month_of_day(self, days: np.ndarray) -> np.ndarray:
        """Month index of epoch days (clipped to the window)."""
        return np.clip(np.searchsorted(self.month_start, days, side="right") - 1, 0, self.months - 1)

    def season(self) -> np.ndarray:
        """Relative wash demand per month (more in spring, less in autumn)."""
        month_numbers = np.array([from_day(d).month for d in self.month_start[:-1]])
        return 1.0 + 0.15 * np.cos(2 * np.pi * (month_numbers - 4) / 12)

    def export_id(self, k: int, seq: int) -> str:
        """Sortable export id of the seq-th export at the end of month k (`YYYYMMDDT235900_NNNN`)."""
        last = from_day(int(self.month_start[k + 1]) - 1)
        return f"{last:%Y%m%d}T235900_{seq:04d}"


@dataclass
class World:
    """The simulated business: every array is indexed by a global row number of its kind."""

    seed: int
    cal: Calendar
    store_ids: list[str]
    # locations
    loc_store: np.ndarray
    loc_ids: list[str]
    loc_names: list[str]
    loc_new_names: list[str | None]
    loc_regions: list[str | None]
    loc_open_day: np.ndarray
    loc_weight: np.ndarray
    loc_churn: np.ndarray
    loc_price_offset: np.ndarray
    # customers (sorted by store, then location)
    cust_loc: np.ndarray
    cust_store: np.ndarray
    cust_created: np.ndarray
    cust_no: np.ndarray
    # memberships (sorted by store, then location)
    mem_loc: np.ndarray
    mem_store: np.ndarray
    mem_cust: np.ndarray
    mem_no: np.ndarray
    mem_plan: np.ndarray
    mem_price: np.ndarray
    mem_start_sec: np.ndarray
    mem_start_day: np.ndarray
    mem_start_month: np.ndarray
    mem_cancel_day: np.ndarray
    mem_cancel_sec: np.ndarray
    # per membership-month: washes and billing attempts (count, packed outcomes, packed retry gaps)
    washes: np.ndarray
    att_n: np.ndarray
    att_out: np.ndarray
    att_gap: np.ndarray
    # non-member tickets per location-month and the first ticket number per location-month
    nonmember_counts: np.ndarray
    ticket_offset: np.ndarray
    # prepaid books
    book_loc: np.ndarray
    book_store: np.ndarray
    book_cust: np.ndarray
    book_no: np.ndarray
    book_purchased: np.ndarray
    book_total: np.ndarray
    book_used: np.ndarray  # (books, 3): used at purchase, first and second update
    book_update_month: np.ndarray  # (books, 2): month of each update, -1 when none
    book_send: np.ndarray
    # house accounts
    ha_loc: np.ndarray
    ha_store: np.ndarray
    ha_number: list[str | None]
    ha_name: list[str]
    ha_email: list[str | None]
    ha_base_cents: np.ndarray

    @property
    def locations(self) -> int:
        """Number of locations."""
        return len(self.loc_ids)

    @property
    def memberships(self) -> int:
        """Number of memberships."""
        return len(self.mem_loc)

    def store_slice(self, store_of: np.ndarray, s: int) -> slice:
        """The contiguous index range of store s in an array sorted by store."""
        lo, hi = np.searchsorted(store_of, [s, s + 1])
        return slice(int(lo), int(hi))

    def bill_day(self, idx: np.ndarray, k: int) -> np.ndarray:
        """Day of the first billing attempt of memberships `idx` in month k."""
        ms = int(self.cal.month_start[k])
        dom = self.mem_start_day[idx] - self.cal.month_start[self.mem_start_month[idx]]
        regular = ms + np.minimum(dom, self.cal.month_len(k) - 1)
        return np.where(self.mem_start_month[idx] == k, self.mem_start_day[idx], regular)


def _location_counts(stores: int, rng: np.random.Generator) -> np.ndarray:
    counts = rng.integers(2, 9, size=stores)
    target = min(30, 8 * stores) if stores >= 6 else 0
    while counts.sum() < target:
        small = np.flatnonzero(counts < 8)
        counts[small[rng.integers(0, len(small))]] += 1
    return counts


def build_world(seed: int, stores: int, tickets: int, cal: Calendar) -> World:
    """Simulate the business for `stores` stores and about `tickets` tickets in the calendar window."""
    rng = np.random.default_rng([seed, 1])
    width = max(2, len(str(stores)))
    store_ids = [f"store_{i + 1:0{width}d}" for i in range(stores)]
    K, start, end = cal.months, cal.start_day, cal.end_day
    span = end - start

    # ---- locations
    per_store = _location_counts(stores, rng)
    loc_store = np.repeat(np.arange(stores), per_store).astype(np.int32)
    L = len(loc_store)
    local = np.concatenate([np.arange(n) for n in per_store])
    late = (local > 0) & (rng.random(L) < 0.2)
    loc_open = np.where(late, start + 30 + rng.integers(0, max(1, int(span * 0.6)), L), start).astype(
        np.int64
    )
    brand_of_store = rng.permutation(len(BRANDS))[np.arange(stores) % len(BRANDS)]
    region_of_store = rng.integers(0, len(REGIONS), stores)
    cities = rng.permutation(len(CITIES))
    loc_ids, loc_names, loc_new, loc_regions = [], [], [], []
    for i in range(L):
        s, j = int(loc_store[i]), int(local[i])
        brand = BRANDS[brand_of_store[s]]
        city = CITIES[cities[(s * 3 + j) % len(CITIES)]]
        loc_ids.append(f"{store_ids[s]}_l{j + 1:02d}")
        loc_names.append(f"{brand} - {city} #{j + 1}" if j % 3 else f"{brand}, {city}")
        loc_new.append(f"{brand} {city} (Remodeled)" if rng.random() < 0.25 else None)
        region = REGIONS[(region_of_store[s] + (j % 4 == 3)) % len(REGIONS)]
        loc_regions.append(None if rng.random() < 0.1 else region)
    loc_weight = rng.lognormal(0.0, 0.45, L)
    loc_churn = rng.lognormal(0.0, 0.45, L)
    loc_price_offset = rng.choice(np.array([-300, 0, 0, 500]), L)

    season = cal.season()
    open_days = np.clip(
        cal.month_start[1:][None, :] - np.maximum(cal.month_start[:-1][None, :], loc_open[:, None]), 0, None
    )
    month_lens = np.diff(cal.month_start)
    open_frac = open_days.sum(axis=1) / span
    loc_p = loc_weight * open_frac
    loc_p = loc_p / loc_p.sum()

    # ---- memberships and customers (every member is a distinct customer)
    M = max(1, round(tickets / 25))
    C = max(M + 1, round(tickets / 10))
    mem_per_loc = rng.multinomial(M, loc_p)
    cust_per_loc = mem_per_loc + rng.multinomial(C - M, loc_p)
    cust_loc = np.repeat(np.arange(L), cust_per_loc).astype(np.int32)
    cust_first = np.concatenate([[0], np.cumsum(cust_per_loc)[:-1]])
    mem_loc = np.repeat(np.arange(L), mem_per_loc).astype(np.int32)
    mem_cust = cust_first[mem_loc] + (
        np.arange(M) - np.repeat(np.cumsum(mem_per_loc) - mem_per_loc, mem_per_loc)
    )
    mem_cust = mem_cust.astype(np.int64)

    open_m = loc_open[mem_loc]
    mem_start_day = open_m + np.floor(rng.random(M) * (end - open_m)).astype(np.int64)
    mem_start_sec = mem_start_day * 86400 + rng.integers(8 * 3600, 20 * 3600, M)
    mem_start_month = cal.month_of_day(mem_start_day)

    open_c = loc_open[cust_loc] * 86400
    cust_created = open_c + np.floor(rng.random(len(cust_loc)) * (end * 86400 - open_c)).astype(np.int64)
    member_created = mem_start_sec - rng.integers(0, 60 * 86400, M)
    cust_created[mem_cust] = np.maximum(member_created, loc_open[mem_loc] * 86400 + 3600)
    cust_created[mem_cust] = np.minimum(cust_created[mem_cust], mem_start_sec)
    cust_store = loc_store[cust_loc]
    mem_store = loc_store[mem_loc]
    cust_no = _rank_within(cust_store, cust_created)
    mem_no = _rank_within(mem_store, mem_start_sec)

    plan = rng.choice(3, M, p=PLAN_SHARE).astype(np.int8)
    base_price = PLAN_PRICE_CENTS[plan]
    price = base_price + loc_price_offset[mem_loc]
    promo = rng.random(M) < 0.1
    price = np.where(promo, price - 500, price).astype(np.int64)

    sim = _simulate_memberships(
        rng, cal, plan, price, base_price, mem_loc, loc_churn, mem_start_day, mem_start_month
    )
    cancel_day, lam, att_n, att_out, att_gap = sim
    cancel_sec = np.where(
        cancel_day == NO_CANCEL,
        -1,
        cancel_day.astype(np.int64) * 86400 + rng.integers(9 * 3600, 21 * 3600, M),
    )
    # a cancellation recorded the same day as the start must not precede it
    cancel_sec = np.where((cancel_sec >= 0) & (cancel_sec < mem_start_sec), mem_start_sec + 600, cancel_sec)

    # ---- ticket counts: member washes per membership-month, the rest per location-month
    target = MEMBER_WASH_SHARE * tickets
    total_lam = float(lam.sum())
    washes = rng.poisson(lam * (target / total_lam if total_lam > 0 else 0.0)).astype(np.int16)
    if int(washes.sum()) > tickets:
        washes = rng.binomial(washes, tickets / washes.sum()).astype(np.int16)
    member_lk = np.zeros((L, K), dtype=np.int64)
    np.add.at(member_lk, mem_loc, washes.astype(np.int64))
    nonmember_total = tickets - int(washes.sum())
    cell_p = (loc_weight[:, None] * open_days / month_lens[None, :] * season[None, :]).ravel()
    nonmember_counts = rng.multinomial(nonmember_total, cell_p / cell_p.sum()).reshape(L, K)
    totals = member_lk + nonmember_counts
    ticket_offset = 100_001 + rng.integers(0, 50_000, L)[:, None] + np.cumsum(totals, axis=1) - totals

    # ---- prepaid books
    B = max(stores, round(tickets / 150))
    book_per_loc = rng.multinomial(B, loc_p)
    book_loc = np.repeat(np.arange(L), book_per_loc).astype(np.int32)
    book_cust = cust_first[book_loc] + np.floor(rng.random(B) * cust_per_loc[book_loc]).astype(np.int64)
    created = cust_created[book_cust]
    book_purchased = created + np.floor(rng.random(B) * np.maximum(0, end * 86400 - 3600 - created)).astype(
        np.int64
    )
    book_total = rng.choice(np.array([5, 10, 20]), B, p=[0.5, 0.35, 0.15])
    elapsed = (end * 86400 - book_purchased) / (120 * 86400)
    final_used = np.minimum(
        book_total, np.floor(book_total * rng.beta(2, 1.5, B) * np.minimum(1, elapsed + 0.2))
    )
    book_used = np.stack(
        [np.minimum(final_used, rng.integers(0, 2, B)), np.floor(final_used * 0.5), final_used], axis=1
    ).astype(np.int64)
    book_used[:, 1] = np.maximum(book_used[:, 1], book_used[:, 0])
    pm = cal.month_of_day(book_purchased // 86400)
    u1 = pm + rng.integers(1, 4, B)
    u2 = u1 + rng.integers(1, 6, B)
    book_update_month = np.stack([np.where(u1 < K, u1, -1), np.where(u2 < K, u2, -1)], axis=1)
    book_store = loc_store[book_loc]

    # ---- house accounts
    ha_per_loc = rng.integers(2, 8, L)
    ha_loc = np.repeat(np.arange(L), ha_per_loc).astype(np.int32)
    ha_number, ha_name, ha_email = [], [], []
    used_names: set[str] = set()
    for i, loc in enumerate(ha_loc):
        s = int(loc_store[loc])
        company = COMPANIES[int(rng.integers(0, len(COMPANIES)))]
        name = f"{company} ({CITIES[int(loc) % len(CITIES)].split(',')[0]})"
        while name in used_names:
            name = f"{name} {int(rng.integers(2, 99))}"
        used_names.add(name)
        slug = "".join(ch for ch in company.lower() if ch.isascii() and ch.isalnum())[:12] or "fleet"
        ha_name.append(name)
        ha_email.append(None if rng.random() < 0.12 else f"ap.{slug}{i}@{slug}-billing.com")
        ha_number.append(None if rng.random() < 0.35 else f"HA-{s + 1:03d}-{i:05d}")
    ha_base = np.round(rng.lognormal(np.log(40_000), 0.9, len(ha_loc))).astype(np.int64)

    return World(
        seed=seed,
        cal=cal,
        store_ids=store_ids,
        loc_store=loc_store,
        loc_ids=loc_ids,
        loc_names=loc_names,
        loc_new_names=loc_new,
        loc_regions=loc_regions,
        loc_open_day=loc_open,
        loc_weight=loc_weight,
        loc_churn=loc_churn,
        loc_price_offset=loc_price_offset,
        cust_loc=cust_loc,
        cust_store=cust_store,
        cust_created=cust_created,
        cust_no=cust_no,
        mem_loc=mem_loc,
        mem_store=mem_store,
        mem_cust=mem_cust,
        mem_no=mem_no,
        mem_plan=plan,
        mem_price=price,
        mem_start_sec=mem_start_sec,
        mem_start_day=mem_start_day,
        mem_start_month=mem_start_month,
        mem_cancel_day=cancel_day,
        mem_cancel_sec=cancel_sec,
        washes=washes,
        att_n=att_n,
        att_out=att_out,
        att_gap=att_gap,
        nonmember_counts=nonmember_counts,
        ticket_offset=ticket_offset,
        book_loc=book_loc,
        book_store=book_store,
        book_cust=book_cust,
        book_no=_rank_within(book_store, book_purchased),
        book_purchased=book_purchased,
        book_total=book_total,
        book_used=book_used,
        book_update_month=book_update_month,
        book_send=rng.random(B) < 0.15,
        ha_loc=ha_loc,
        ha_store=loc_store[ha_loc],
        ha_number=ha_number,
        ha_name=ha_name,
        ha_email=ha_email,
        ha_base_cents=ha_base,
    )


def _rank_within(groups: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """1-based rank of each row by `keys` within its group (groups sorted ascending)."""
    order = np.lexsort((keys, groups))
    rank = np.empty(len(keys), dtype=np.int64)
    first = np.searchsorted(groups[order], groups[order], side="left")
    rank[order] = np.arange(len(keys)) - first + 1
    return rank


def _simulate_memberships(rng, cal, plan, price, base_price, mem_loc, loc_churn, start_day, start_month):
    """Month-by-month membership lives: disengagement, billing attempts, cancellations, wash intensity.

    Returns (cancel_day, wash_intensity[M, K], attempts[M, K], packed outcomes[M, K], packed gaps[M, K]).
    """
    M, K, end = len(plan), cal.months, cal.end_day
    risk = PLAN_CHURN[plan] * loc_churn[mem_loc] * (price / base_price) ** 1.5
    base_hazard = 0.004 * risk
    disengage = np.clip(0.035 * risk, 0, 0.4)
    wash_rate = rng.lognormal(np.log(PLAN_WASH_RATE[plan]), 0.25)
    decline_p = rng.choice(np.array([0.02, 0.12, 0.4]), M, p=[0.82, 0.13, 0.05])
    season = cal.season()

    cancel = np.full(M, NO_CANCEL, dtype=np.int64)
    dis_age = np.zeros(M, dtype=np.int64)
    failed_prev = np.zeros(M, dtype=bool)
    lam = np.zeros((M, K), dtype=np.float32)
    att_n = np.zeros((M, K), dtype=np.int8)
    att_out = np.zeros((M, K), dtype=np.int8)
    att_gap = np.zeros((M, K), dtype=np.int8)
    dom = start_day - cal.month_start[start_month]

    for k in range(K):
        ms, me = int(cal.month_start[k]), int(cal.month_start[k + 1])
        mlen = me - ms
        live = (start_day < me) & (cancel == NO_CANCEL)
        first = live & (start_month == k)
        a = np.maximum(ms, start_day)

        # voluntary cancellation: remorse in the start month, disengagement, last month's failed billing
        hazard = base_hazard + 0.03 * first + DISENGAGED_HAZARD[np.minimum(dis_age, 9)] + 0.4 * failed_prev
        vol = live & (rng.random(M) < hazard)
        in_month = a + np.floor(rng.random(M) * (me - a)).astype(np.int64)
        vol_day = np.where(first, start_day + rng.integers(0, 7, M), in_month)
        vol_day = np.minimum(vol_day, np.minimum(me, end) - 1)

        # billing: first attempt on the billing day, up to two retries a few days apart within the month
        bill = np.where(first, start_day, ms + np.minimum(dom, mlen - 1))
        limit = np.where(vol, vol_day, me)
        billed = live & (bill < limit)
        fail1 = rng.random(M) < decline_p
        kind = np.where(rng.random((3, M)) < 0.85, OUTCOME_DECLINED, OUTCOME_ERROR)
        gap1, gap2 = rng.integers(3, 7, M), rng.integers(3, 7, M)
        retry1 = billed & fail1 & (rng.random(M) < 0.8) & (bill + gap1 < limit)
        ok2 = rng.random(M) < 0.55
        retry2 = retry1 & ~ok2 & (rng.random(M) < 0.5) & (bill + gap1 + gap2 < limit)
        ok3 = rng.random(M) < 0.4
        out1 = np.where(fail1, kind[0], OUTCOME_SUCCESS)
        out2 = np.where(ok2, OUTCOME_SUCCESS, kind[1])
        out3 = np.where(ok3, OUTCOME_SUCCESS, kind[2])
        success = billed & (~fail1 | (retry1 & ok2) | (retry2 & ok3))
        failed = billed & ~success
        att_n[:, k] = billed * (1 + retry1.astype(np.int8) + retry2.astype(np.int8))
        att_out[:, k] = (out1 | (out2 << 2) | (out3 << 4)) * billed
        att_gap[:, k] = (gap1 | (gap2 << 3)) * billed

        # involuntary cancellation a few days after the last failed attempt
        last_attempt = bill + retry1 * gap1 + retry2 * gap2
        inv = failed & ~vol & (rng.random(M) < 0.12)
        inv_day = np.minimum(last_attempt + rng.integers(1, 6, M), end - 1)
        cancel = np.where(vol, vol_day, np.where(inv, inv_day, cancel))
        failed_prev = failed

        # wash intensity over the active days of the month (tickets stop the day of cancellation)
        active = np.clip(np.minimum(me, cancel) - a, 0, None) * (start_day < me)
        engaged = np.where(dis_age > 0, DISENGAGED_WASH_FACTOR, 1.0)
        lam[:, k] = wash_rate * active / mlen * engaged * season[k]

        # next month's engagement
        still = live & (cancel == NO_CANCEL)
        enter = still & (dis_age == 0) & (rng.random(M) < disengage * (1 + failed))
        leave = still & (dis_age > 0) & (rng.random(M) < 0.08)
        dis_age = np.where(
            enter, 1, np.where(leave, 0, np.where(still & (dis_age > 0), dis_age + 1, dis_age))
        )

    return cancel, lam, att_n, att_out, att_gap
