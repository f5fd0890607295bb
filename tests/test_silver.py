"""Silver: parsing of every accepted encoding, normalization, each rule with each action, quarantine
reasons, data-quality metrics and the conservation check, from inline bronze-shaped frames."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lakehouse import encodings as enc
from lakehouse.config import ConfigError, Expectation, load_tables
from lakehouse.contract import SILVER_TYPES, bronze_schema, silver_schema, silver_type
from lakehouse.silver import expectations
from lakehouse.silver import typing as ty
from lakehouse.silver.expectations import ExpectationFailed, flag_rows, quarantine_rows, silver_rows
from lakehouse.silver.quality import (
    ConservationError,
    RuleResult,
    check_conservation,
    count_columns,
    dq_results,
    measure,
    observed_quality,
)

ROOT = Path(__file__).resolve().parents[1]

SPECS = load_tables(ROOT / "conf")
RUN_ID = "20240305T070809Z-silver_clean-1a2b3c4d"
RUN_TIME = datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)


def parsed(spark, fn, values, *more):
    """Apply Column -> Column functions to text values; returns the results in order (one list per function)."""
    schema = T.StructType([T.StructField("i", T.IntegerType()), T.StructField("v", T.StringType())])
    df = spark.createDataFrame(list(enumerate(values)), schema)
    fns = (fn, *more)
    rows = df.select("i", *[f(F.col("v")).alias(f"out{n}") for n, f in enumerate(fns)]).orderBy("i").collect()
    outs = [[r[f"out{n}"] for r in rows] for n in range(len(fns))]
    return outs[0] if not more else outs


# ---------------------------------------------------------------- parsing: every encoding, every invalid form

TS = datetime(2024, 3, 1, 14, 5, 9)
PARSE_CASES = {
    "boolean": [
        ("true", True), ("false", False), ("TRUE", True), ("False", False), (" t ", True), ("F", False),
        ("1", True), ("0", False), ("y", True), ("N", False), ("yes", True), ("No", False),
        # invalid: other words and numbers, a bad one-byte binary kept by bronze as 0x.., blanks
        ("maybe", None), ("2", None), ("si", None), ("truee", None), ("-1", None), ("1.0", None),
        ("0x02", None), ("", None), ("   ", None), (None, None),
    ],
    "integer": [
        ("42", 42), ("-7", -7), ("0", 0), ("-0", 0), ("+3", 3), ("007", 7), ("12.0", 12), ("1.2E3", 1200),
        (" 5 ", 5), ("1,000", 1000), ("2147483647", 2147483647), ("-2147483648", -2147483648),
        # invalid: fractions, words, text around digits, beyond the int range, blanks
        ("12.5", None), ("3.5", None), ("ten", None), ("12abc", None), ("7 washes", None),
        ("2147483648", None), ("99999999999999999999", None), ("", None), (None, None),
    ],
    "decimal": [
        ("12.5", Decimal("12.50")), ("12.50", Decimal("12.50")), ("-3", Decimal("-3.00")),
        ("1234.05", Decimal("1234.05")), ("$1,234.50", Decimal("1234.50")), ("(12.50)", Decimal("-12.50")),
        ("-12.50", Decimal("-12.50")), ("$-3", Decimal("-3.00")), (".5", Decimal("0.50")),
        ("1.5e2", Decimal("150.00")), (" 7 ", Decimal("7.00")),
        # rounded half up to cents, both on the canonical fast path and the full parser
        ("12.345", Decimal("12.35")), ("12.344", Decimal("12.34")), ("-0.005", Decimal("-0.01")),
        ("$0.005", Decimal("0.01")), ("9999999999.99", Decimal("9999999999.99")),
        # invalid: too large for decimal(12,2), words, broken numbers, blanks
        ("10000000000", None), ("12,50 EUR", None), ("abc", None), ("1.2.3", None), ("$-", None),
        ("--5", None), ("twelve", None), ("(-5)", None), ("$", None), ("", None), (None, None),
    ],
    "timestamp": [
        ("2024-03-01T14:05:09.000000Z", TS), ("2024-03-01T14:05:09.123456Z", TS.replace(microsecond=123456)),
        ("2024-03-01T14:05:09Z", TS), ("2024-03-01T14:05:09z", TS), ("2024-03-01 14:05:09", TS),
        ("2024-03-01T16:05:09+02:00", TS), ("2024-03-01T16:05:09+0200", TS),
        ("2024-03-01T09:05-05:00", datetime(2024, 3, 1, 14, 5)), ("03/01/2024 14:05:09", TS),
        ("3/1/2024 14:05", datetime(2024, 3, 1, 14, 5)), ("1709301909000", TS), ("2024-03-01", datetime(2024, 3, 1)),
        # invalid: impossible dates and times, other orders, words, short numbers, non-padded canonical look-alikes
        ("2025-13-45 25:61:00", None), ("yesterday", None), ("31/12/2025 10:00", None),
        ("2025-02-30T10:00:00Z", None), ("12:30 PM", None), ("12", None), ("2024-3-1T14:05:09.000000Z", None),
        ("2024-03-01T14:05:09.000000Y", None), ("", None), (None, None),
    ],
    "date": [
        ("2024-03-01", date(2024, 3, 1)), ("03/01/2024", date(2024, 3, 1)), ("3/1/2024", date(2024, 3, 1)),
        ("2024-03-01T23:30:00-02:00", date(2024, 3, 2)), ("2024-03-01T14:05:09.000000Z", date(2024, 3, 1)),
        # invalid
        ("2025-02-30", None), ("13/45/2025", None), ("soon", None), ("2025/31/01", None), ("31.12.2025", None),
        ("2024-3-01", None), ("", None), (None, None),
    ],
    "enum": [
        ("basic", "basic"), ("Deluxe", "deluxe"), (" ULTIMATE ", "ultimate"),
        ("platinum", None), ("gold", None), ("basic plan", None), ("", None), (None, None),
    ],
    "string": [
        ("Club Basic", "Club Basic"), ("  a b  ", "a b"), ("\tx\n", "x"), ("é", "é"), ("", None), ("   ", None), (None, None),
    ],
}
PLANS = ("basic", "deluxe", "ultimate")


def _reference(logical: str):
    """What encodings.parse_value gives, brought to the silver type (the fast path must agree)."""
    if logical == "decimal":
        return lambda c: enc.parse_decimal(c, 12, 2)
    if logical == "integer":
        return lambda c: F.when(enc.parse_integer(c).between(-(2**31), 2**31 - 1), enc.parse_integer(c).cast("int"))
    return lambda c: enc.parse_value(c, logical, PLANS if logical == "enum" else ())


@pytest.mark.parametrize("logical", sorted(PARSE_CASES))
def test_parse_silver_accepts_every_encoding_and_rejects_every_invalid_form(spark, logical):
    texts = [t for t, _ in PARSE_CASES[logical]]
    values = PLANS if logical == "enum" else ()
    got, reference = parsed(spark, lambda c: ty.parse_silver(c, logical, values), texts, _reference(logical))
    assert list(zip(texts, got, strict=True)) == PARSE_CASES[logical]
    assert got == reference


def test_parse_silver_gives_the_silver_types(spark):
    df = spark.createDataFrame([("1",)], "v string")
    out = df.select(*[ty.parse_silver(F.col("v"), t, PLANS if t == "enum" else ()).alias(t) for t in SILVER_TYPES])
    assert [f.dataType for f in out.schema.fields] == list(SILVER_TYPES.values())
    assert silver_type("decimal") == T.DecimalType(12, 2)
    with pytest.raises(ValueError, match="unknown logical type 'money'"):
        ty.parse_silver(F.col("v"), "money")


EMAILS = [
    ("Bob.Smith@Example.com", "bob.smith@example.com"), ("  a_b@x.co ", "a_b@x.co"),
    ("O'Neil+wash@mail.example.org", "o'neil+wash@mail.example.org"), ("JOHN.DOE99@EXAMPLE.NET", "john.doe99@example.net"),
    ("bob@", None), ("bob.example.com", None), ("bob@@example.com", None), ("bob smith@example.com", None),
    ("bob@example", None), ("bob@.com", None), (".bob@example.com", None), ("bob..x@example.com", None),
    ("bob@exa_mple.com", None), ("bob@-example.com", None), ("bob@example.c0m", None), ("", None), (None, None),
]


def test_normalize_email_lower_cases_valid_addresses_and_nulls_the_rest(spark):
    texts = [t for t, _ in EMAILS]
    assert list(zip(texts, parsed(spark, ty.normalize_email, texts), strict=True)) == EMAILS


PHONES = {
    ("1", 10): [
        ("(201) 555-0123", "+12015550123"), ("+1 201 555 0123", "+12015550123"), ("201.555.0123", "+12015550123"),
        ("201-555-0123", "+12015550123"), ("2015550123", "+12015550123"), ("+1-201-555-0123", "+12015550123"),
        ("1-201-555-0123", "+12015550123"), ("1 (201) 555 0123", "+12015550123"),
        ("+44 20 7946 0958", "+442079460958"), ("0044 20 7946 0958", "+442079460958"),
        ("12345", None), ("n/a", None), ("555-WASH", None), ("0", None), ("call me", None), ("+1 555", None),
        ("201555012", None), ("+0 123 456 789", None), ("2015550123 ext 4", None), ("", None), (None, None),
    ],
    ("44", 10): [
        ("020 7946 0958", "+442079460958"), ("2079460958", "+442079460958"), ("44 20 7946 0958", "+442079460958"),
        ("+1 201 555 0123", "+12015550123"), ("1-201-555-0123", None), ("7946 0958", None),
    ],
    (None, 10): [
        ("(201) 555-0123", "2015550123"), ("+1 201 555 0123", "+12015550123"), ("12345", None), ("n/a", None),
    ],
}


@pytest.mark.parametrize(("country", "national"), list(PHONES))
def test_normalize_phone_keeps_digits_and_adds_the_country_code_when_known(spark, country, national):
    cases = PHONES[(country, national)]
    texts = [t for t, _ in cases]
    got = parsed(spark, lambda c: ty.normalize_phone(c, country, national), texts)
    assert list(zip(texts, got, strict=True)) == cases


def test_normalize_phone_rejects_bad_options():
    with pytest.raises(ValueError, match="country_code must be digits"):
        ty.normalize_phone(F.col("p"), "+1")
    with pytest.raises(ValueError, match="national_digits must be within 4..14"):
        ty.normalize_phone(F.col("p"), "1", 3)


def test_derived_key_uses_the_key_else_a_stable_case_insensitive_hash(spark):
    rows = [("A-1", "Fleet Co", "x@y.com"), (None, "Fleet Co", "x@y.com"), (None, " FLEET CO ", "X@Y.COM"),
            (None, "Fleet Co", None), (None, "Fleet Co", ""), (None, "Other", "x@y.com")]
    df = spark.createDataFrame(rows, "n string, name string, email string")
    keys = [r[0] for r in df.select(ty.derived_key(F.col("n"), [F.col("name"), F.col("email")])).collect()]
    assert keys[0] == "A-1"
    assert keys[1] == keys[2] and keys[1].startswith("~") and len(keys[1]) == 21
    assert keys[3] == keys[4]  # '' is null after trimming, as in bronze
    assert len({keys[1], keys[3], keys[5]}) == 3


# ---------------------------------------------------------------- the silver contract (DOMAIN.md §3)

S, D, TS_T, B, INT = T.StringType(), T.DateType(), T.TimestampType(), T.BooleanType(), T.IntegerType()
M = T.DecimalType(12, 2)
CONTRACT = {
    "locations": [("location_id", S), ("name", S), ("region", S), ("opened_on", D), ("closed_on", D)],
    "customers": [("customer_id", S), ("email", S), ("phone", S), ("created_at", TS_T), ("home_location_id", S)],
    "memberships": [("membership_id", S), ("customer_id", S), ("location_id", S), ("plan", S),
                    ("monthly_price", M), ("started_on", D), ("cancelled_on", D)],
    "tickets": [("ticket_id", S), ("location_id", S), ("customer_id", S), ("created_at", TS_T), ("wash_type", S),
                ("amount", M), ("is_member", B), ("payment_method", S)],
    "payments": [("payment_id", S), ("location_id", S), ("ticket_id", S), ("membership_id", S), ("amount", M),
                 ("paid_at", TS_T), ("method", S)],
    "billing_attempts": [("attempt_id", S), ("membership_id", S), ("location_id", S), ("attempted_at", TS_T),
                         ("amount", M), ("outcome", S)],
    "house_accounts": [("house_account_key", S), ("account_number", S), ("account_name", S), ("email", S),
                       ("location_id", S), ("balance", M), ("updated_at", TS_T)],
    "prepaid_books": [("book_id", S), ("customer_id", S), ("location_id", S), ("purchased_at", TS_T),
                      ("washes_total", INT), ("washes_used", INT), ("send_wash", B)],
}


@pytest.mark.parametrize("entity", sorted(CONTRACT))
def test_silver_schema_is_the_contract(entity):
    schema = silver_schema(SPECS[entity])
    assert [(f.name, f.dataType) for f in schema.fields] == CONTRACT[entity]


# ---------------------------------------------------------------- rules and actions

GOOD = {
    "tickets": dict(sTicketId="t1", sLocationId="A", sCustomerId="c1", dtCreated="2024-03-01T14:05:09.000000Z",
                    sWashType="Club Basic", nAmount="12.5", bIsMember="true", sPaymentMethod="card",
                    dtUpdated="2024-03-01T14:05:09.000000Z"),
    "customers": dict(sCustomerId="c1", sEmail="Bob@Example.com", sPhone="(201) 555-0123",
                      dtCreated="2024-03-01T14:05:09.000000Z", sHomeLocationId="A"),
    "house_accounts": dict(sAccountNumber="HA-1", sAccountName="Fleet Co", sEmail="ap@fleet.com", sLocationId="A",
                           nBalance="100", dtUpdated="2024-03-01T14:05:09.000000Z"),
}
LINEAGE = dict(_store_id="s1", _source_file="/landing/s1/x/e1.csv", _export_id="e1",
               _run_id="20240301T000000Z-bronze_merge-1", _ingested_at=datetime(2024, 3, 1, 1, 0), _rescued={})


def bronze(spark, entity, *rows):
    """A frame of `bronze.<entity>` (the real bronze schema): each row a dict of source column -> text over a good row."""
    schema = bronze_schema(SPECS[entity])
    data = [tuple({**LINEAGE, **GOOD.get(entity, {}), **row}.get(name) for name in schema.names) for row in rows]
    return spark.createDataFrame(data, schema)


def locations(spark, *ids):
    return spark.createDataFrame([(i,) for i in ids], "location_id string")


def with_actions(entity, expectations=None, **actions):
    """The entity's contract with other silver actions (and expectations)."""
    spec = SPECS[entity]
    update = {"silver": spec.silver.model_copy(update=actions)}
    if expectations is not None:
        update["expectations"] = tuple(expectations)
    return spec.model_copy(update=update)


def ticket(ticket_id, amount=Decimal("12.50"), location="A"):
    return (ticket_id, location, "c1", datetime(2024, 3, 1, 14, 5, 9), "Club Basic", amount, True, "card")


# rule -> (the spec's action option, entity, column, bad row, its key, its silver row when only warned, reason)
RULE_CASES = {
    "required": ("required_action", "tickets", "amount", dict(sTicketId="t2", nAmount=None), "A/t2",
                 ticket("t2", None), "required(amount): nAmount is missing"),
    "parse": ("parse_action", "tickets", "amount", dict(sTicketId="t3", nAmount="twelve"), "A/t3",
              ticket("t3", None), "parse(amount): nAmount 'twelve' is not a valid decimal (decimal(12,2))"),
    "enum": ("enum_action", "tickets", "payment_method", dict(sTicketId="t4", sPaymentMethod="Bitcoin"), "A/t4",
             ticket("t4")[:7] + (None,),
             "enum(payment_method): sPaymentMethod 'Bitcoin' is not one of cash, card, membership, prepaid, house_account"),
    "location_exists": ("location_action", "tickets", "location_id", dict(sTicketId="t5", sLocationId="Z"), "Z/t5",
                        ticket("t5", location="Z"), "location_exists(location_id): sLocationId 'Z' is not in silver.locations"),
    "plausible": ("plausible_action", "tickets", "created_at", dict(sTicketId="t7", dtCreated="1999-12-31T23:59:59Z"),
                  "A/t7", ticket("t7")[:3] + (datetime(1999, 12, 31, 23, 59, 59),) + ticket("t7")[4:],
                  "plausible(created_at): dtCreated '1999-12-31T23:59:59Z' is outside 2000-01-01 .. any"),
    "amount_not_negative": (None, "tickets", "amount", dict(sTicketId="t6", nAmount="(3.00)"), "A/t6",
                            ticket("t6", Decimal("-3.00")), "amount_not_negative(amount): amount=-3.00 breaks `amount >= 0`"),
    "normalize": ("normalize_action", "customers", "email", dict(sCustomerId="c2", sEmail="bob@@example.com"), "c2",
                  ("c2", None, "+12015550123", datetime(2024, 3, 1, 14, 5, 9), "A"),
                  "normalize(email): sEmail 'bob@@example.com' is not a valid email"),
}
GOOD_SILVER = {
    "tickets": ticket("t1"),
    "customers": ("c1", "bob@example.com", "+12015550123", datetime(2024, 3, 1, 14, 5, 9), "A"),
}


def _spec(entity, action):
    """The entity's contract with every built-in rule and the test expectation set to `action`."""
    options = {o: action for o, e, *_ in RULE_CASES.values() if o and e == entity}
    exp = [Expectation(name="amount_not_negative", rule="amount >= 0", columns=("amount",), action=action)]
    return with_actions(entity, expectations=exp if entity == "tickets" else None, **options)


@pytest.mark.parametrize("action", ["warn", "quarantine", "fail"])
@pytest.mark.parametrize("entity", ["customers", "tickets"])
def test_each_rule_with_each_action(spark, entity, action):
    """One good row and one row breaking each rule (and only it); every rule gets `action`."""
    cases = {rule: case for rule, case in RULE_CASES.items() if case[1] == entity}
    spec = _spec(entity, action)
    df = bronze(spark, entity, {}, *[case[3] for case in cases.values()])
    flagged, rules = flag_rows(df, spec, locations(spark, "A"))
    quality = measure(flagged, f"silver.{entity}", rules)
    failing = sorted((r.rule, r.column, r.action, r.rows_checked, r.rows_failing, r.failing_keys)
                     for r in quality.results if r.rows_failing)
    n = len(cases) + 1
    assert failing == sorted((rule, c[2], action, n, 1, (c[4],)) for rule, c in cases.items())

    if action == "fail":
        with pytest.raises(ExpectationFailed) as err:
            quality.raise_on_failure()
        broken = [f"rule {r.label} failed on 1 of {n} rows (keys: {r.failing_keys[0]})"
                  for r in quality.results if r.rows_failing]
        assert str(err.value) == f"silver.{entity}: " + "; ".join(broken) + " [action: fail]"
        assert err.value.quality is quality
        return
    quality.raise_on_failure()  # nothing to raise for warn / quarantine
    warned = [c[5] for c in cases.values()] if action == "warn" else []
    assert_df_equality(silver_rows(flagged, spec),
                       spark.createDataFrame([GOOD_SILVER[entity], *warned], silver_schema(spec)),
                       ignore_row_order=True, ignore_nullable=True)
    quarantined = quarantine_rows(flagged, df.columns, RUN_ID, RUN_TIME)
    id_column = spec.merge_key[-1]
    by_id = {r[id_column]: r for r in df.collect()}
    expected_q = [] if action == "warn" else [
        (*by_id[c[4].split("/")[-1]], c[6], [f"{rule}({c[2]})"], RUN_ID, RUN_TIME.replace(tzinfo=None))
        for rule, c in cases.items()
    ]
    assert_df_equality(quarantined.orderBy(id_column),
                       spark.createDataFrame(expected_q, quarantined.schema).orderBy(id_column), ignore_nullable=True)
    assert (quality.quarantined, quality.warned) == ((0, n - 1) if action == "warn" else (n - 1, 0))


@pytest.mark.parametrize("lookup", ["ids in the plan", "broadcast join"])
def test_a_row_breaking_several_rules_is_quarantined_once_with_every_reason(spark, lookup, monkeypatch):
    if lookup == "broadcast join":
        monkeypatch.setattr(expectations, "INLINE_LOCATIONS", 0)  # more locations than fit in the plan
    spec = SPECS["tickets"]
    df = bronze(spark, "tickets", {}, dict(sTicketId="t2", sLocationId="Z", nAmount="-1", bIsMember="maybe",
                                          dtCreated=None))
    flagged, rules = flag_rows(df, spec, locations(spark, "A"))
    q = quarantine_rows(flagged, df.columns, RUN_ID, RUN_TIME).select("sTicketId", "_reason", "_rules").collect()
    assert [tuple(r) for r in q] == [(
        "t2",
        "required(created_at): dtCreated is missing; parse(is_member): bIsMember 'maybe' is not a valid boolean "
        "(boolean); location_exists(location_id): sLocationId 'Z' is not in silver.locations; "
        "amount_not_negative(amount): amount=-1.00 breaks `amount >= 0`",
        ["required(created_at)", "parse(is_member)", "location_exists(location_id)", "amount_not_negative(amount)"],
    )]
    failing = {r.label: r.rows_failing for r in measure(flagged, "silver.tickets", rules).results if r.rows_failing}
    assert failing == {"required(created_at)": 1, "parse(is_member)": 1, "location_exists(location_id)": 1,
                       "amount_not_negative(amount)": 1}


def test_timestamps_and_dates_past_the_run_are_quarantined_not_reported(spark):
    """9999-12-31 (or a clock years ahead) is not a month to report: later than the run's day + 1 is quarantined."""
    df = bronze(spark, "tickets", {}, dict(sTicketId="t2", dtCreated="9999-12-31T00:00:00Z"),
                dict(sTicketId="t3", dtCreated="2024-03-06T23:59:59Z"), dict(sTicketId="t4", dtCreated="2024-03-07T00:00:00Z"))
    flagged, _ = flag_rows(df, SPECS["tickets"], locations(spark, "A"), RUN_TIME)
    got = sorted((r["sTicketId"], r["_reason"]) for r in quarantine_rows(flagged, df.columns, RUN_ID, RUN_TIME).collect())
    assert got == [
        ("t2", "plausible(created_at): dtCreated '9999-12-31T00:00:00Z' is outside 2000-01-01 .. 2024-03-06"),
        ("t4", "plausible(created_at): dtCreated '2024-03-07T00:00:00Z' is outside 2000-01-01 .. 2024-03-06"),
    ]
    members = bronze(spark, "memberships", dict(sMembershipId="m1", sCustomerId="c1", sLocationId="A", sPlan="basic",
                                                nMonthlyPrice="19.99", dStarted="0001-01-01"))
    flagged, _ = flag_rows(members, SPECS["memberships"], locations(spark, "A"), RUN_TIME)
    assert [r["_rules"] for r in quarantine_rows(flagged, members.columns, RUN_ID, RUN_TIME).collect()] == [
        ["plausible(started_on)"]]


def test_domain_rules_ship_as_defaults(spark):
    """cancelled_on < started_on and washes_used > washes_total are quarantined out of the box."""
    members = bronze(spark, "memberships", dict(sMembershipId="m1", sCustomerId="c1", sLocationId="A", sPlan="Basic",
                                                nMonthlyPrice="$19.99", dStarted="2024-02-01", dCancelled="01/15/2024"))
    books = bronze(spark, "prepaid_books", dict(sBookId="b1", sCustomerId="c1", sLocationId="A",
                                                dtPurchased="2024-03-01 10:00", nWashesTotal="10", nWashesUsed="11",
                                                bSendWash="yes"))
    got = []
    for entity, df in (("memberships", members), ("prepaid_books", books)):
        flagged, _ = flag_rows(df, SPECS[entity], locations(spark, "A"))
        got += [r["_reason"] for r in quarantine_rows(flagged, df.columns, RUN_ID, RUN_TIME).collect()]
    assert got == [
        "cancelled_not_before_started(cancelled_on,started_on): cancelled_on=2024-01-15, started_on=2024-02-01 "
        "breaks `cancelled_on IS NULL OR cancelled_on >= started_on`",
        "washes_used_within_total(washes_used,washes_total): washes_used=11, washes_total=10 "
        "breaks `washes_used <= washes_total`",
    ]


def test_customers_keep_invalid_contacts_as_null_with_a_warning_and_skip_the_location_check(spark):
    df = bronze(spark, "customers", {}, dict(sCustomerId="c2", sEmail="n/a", sPhone="555-WASH", sHomeLocationId="Z"))
    flagged, rules = flag_rows(df, SPECS["customers"], None)
    assert_df_equality(
        silver_rows(flagged, SPECS["customers"]),
        spark.createDataFrame([GOOD_SILVER["customers"], ("c2", None, None, datetime(2024, 3, 1, 14, 5, 9), "Z")],
                              silver_schema(SPECS["customers"])),
        ignore_row_order=True, ignore_nullable=True,
    )
    quality = measure(flagged, "silver.customers", rules)
    assert [(r.label, r.action, r.rows_failing, r.failing_keys) for r in quality.results if r.rule == "normalize"] == [
        ("normalize(email)", "warn", 1, ("c2",)), ("normalize(phone)", "warn", 1, ("c2",))]
    assert (quality.rows, quality.quarantined, quality.warned) == (2, 0, 1)


def test_house_accounts_get_a_key_from_the_number_or_from_name_and_email(spark):
    df = bronze(spark, "house_accounts", {}, dict(sAccountNumber=None, sAccountName="Fleet Co", sEmail="AP@Fleet.com"))
    flagged, _ = flag_rows(df, SPECS["house_accounts"], locations(spark, "A"))
    rows = silver_rows(flagged, SPECS["house_accounts"]).orderBy("account_number").collect()
    expected_key = spark.range(1).select(
        ty.derived_key(F.lit(None).cast("string"), [F.lit("fleet co"), F.lit("ap@fleet.com")])).first()[0]
    assert [tuple(r) for r in rows] == [
        (expected_key, None, "Fleet Co", "ap@fleet.com", "A", Decimal("100.00"), datetime(2024, 3, 1, 14, 5, 9)),
        ("HA-1", "HA-1", "Fleet Co", "ap@fleet.com", "A", Decimal("100.00"), datetime(2024, 3, 1, 14, 5, 9)),
    ]


def test_missing_bronze_columns_read_as_null(spark):
    spec = SPECS["tickets"]
    df = bronze(spark, "tickets", {}).drop("sCustomerId")
    flagged, _ = flag_rows(df, spec, locations(spark, "A"))
    assert [tuple(r) for r in silver_rows(flagged, spec).collect()] == [ticket("t1")[:2] + (None,) + ticket("t1")[3:]]


def test_an_invalid_expectation_is_a_config_error_naming_file_and_rule(spark):
    df = bronze(spark, "tickets", {})
    bad = with_actions("tickets", expectations=[Expectation(name="nonsense", rule="amount >> ", action="warn")])
    with pytest.raises(ConfigError, match=r"conf/tables/tickets.yaml: expectation 'nonsense' rule `amount >> `"):
        flag_rows(df, bad, locations(spark, "A"))
    unknown = with_actions("tickets", expectations=[Expectation(name="x", rule="price > 0", action="warn")])
    with pytest.raises(ConfigError, match="expectation 'x'.*silver columns"):
        flag_rows(df, unknown, locations(spark, "A"))
    clash = with_actions("tickets", expectations=[Expectation(name="parse", rule="amount > 0")])
    with pytest.raises(ConfigError, match="'parse' is a built-in rule's"):
        flag_rows(df, clash, locations(spark, "A"))
    columns = with_actions("tickets", expectations=[Expectation(name="y", rule="amount > 0", columns=("price",))])
    with pytest.raises(ConfigError, match=r"lists columns \['price'\]"):
        flag_rows(df, columns, locations(spark, "A"))


def test_location_check_needs_the_locations_frame(spark):
    with pytest.raises(ValueError, match="needs the silver.locations frame"):
        flag_rows(bronze(spark, "tickets", {}), SPECS["tickets"], None)


# ---------------------------------------------------------------- metrics and conservation


def test_dq_results_rows_have_the_documented_columns(spark):
    df = bronze(spark, "tickets", {}, *[dict(sTicketId=f"t{i}", nAmount="-1") for i in range(2, 7)])
    flagged, rules = flag_rows(df, SPECS["tickets"], locations(spark, "A"))
    quality = measure(flagged, "silver.tickets", rules)
    out = dq_results(spark, [quality], RUN_ID, RUN_TIME)
    assert out.schema.names == ["run_id", "checked_at", "table", "rule", "column", "action", "rows_checked",
                                "rows_failing", "failing_keys"]
    checked = datetime(2024, 3, 5, 7, 8, 9)
    rules_columns = [("required", "ticket_id"), ("required", "location_id"), ("required", "created_at"),
                     ("parse", "created_at"), ("plausible", "created_at"), ("required", "wash_type"), ("required", "amount"), ("parse", "amount"),
                     ("required", "is_member"), ("parse", "is_member"), ("required", "payment_method"),
                     ("enum", "payment_method"), ("location_exists", "location_id")]
    expected = [(RUN_ID, checked, "silver.tickets", r, c, "quarantine", 6, 0, []) for r, c in rules_columns]
    expected.append((RUN_ID, checked, "silver.tickets", "amount_not_negative", "amount", "quarantine", 6, 5, None))
    assert_df_equality(out.withColumn("failing_keys", F.when(F.col("rows_failing") == 0, F.col("failing_keys"))),
                       spark.createDataFrame(expected, out.schema.fromJson(
                           {**out.schema.jsonValue(), "fields": [
                               {**f, "nullable": True} for f in out.schema.jsonValue()["fields"]]})),
                       ignore_row_order=True, ignore_nullable=True)
    # a few failing keys: the smallest, the largest and one picked by hash, sorted
    keys = out.where("rule = 'amount_not_negative'").first()["failing_keys"]
    assert keys == sorted(keys) and {"A/t2", "A/t6"} <= set(keys) <= {f"A/t{i}" for i in range(2, 7)}


def test_counts_observed_while_writing_plus_sampled_keys_equal_one_pass_measure(spark):
    df = bronze(spark, "tickets", {}, *[dict(sTicketId=f"t{i}", nAmount="-1") for i in range(2, 7)],
                dict(sTicketId="t9", sPaymentMethod="barter"), dict(sTicketId="t10", dtCreated="yesterday"))
    flagged, rules = flag_rows(df, SPECS["tickets"], locations(spark, "A"))
    counts = flagged.agg(*count_columns(rules)).first().asDict()
    assert observed_quality(flagged, "silver.tickets", rules, counts) == measure(flagged, "silver.tickets", rules)
    assert sum(r.rows_failing for r in measure(flagged, "silver.tickets", rules).results) >= 7


def test_conservation_check():
    check_conservation("silver.tickets", 10, 7, 3)
    with pytest.raises(ConservationError, match="bronze has 10 rows but silver has 7 and quarantine 2"):
        check_conservation("silver.tickets", 10, 7, 2)


def test_rule_result_label():
    assert RuleResult("parse", "amount", "warn", 1, 0).label == "parse(amount)"
    assert RuleResult("custom", None, "warn", 1, 0).label == "custom"
