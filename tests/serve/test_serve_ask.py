"""`lakehouse ask`: the question set's accuracy (by view, printed after the run), and the filters parsed
from the text."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import ACCURACY

from lakehouse.serve import ask

QUESTIONS = yaml.safe_load((Path(__file__).parent / "questions.yaml").read_text(encoding="utf-8"))["questions"]
LATEST = dt.date(2026, 8, 1)


def _verdict(item: dict, got: dict) -> bool:
    want = f"client.{item['view']}" if item["view"] else None
    if got["view"] != want:
        return False
    if want is None:
        return got["rows"] == [] and got["sql"] is None and got["explanation"]
    return all(got["filters"].get(k) == v for k, v in (item.get("filters") or {}).items())


def test_question_set_accuracy(duck):
    assert len(QUESTIONS) >= 80
    total, right = Counter(), Counter()
    misses = []
    for item in QUESTIONS:
        got = ask.answer(item["q"], duck)
        label = item["view"] or "(out of scope)"
        total[label] += 1
        total["held out"] += bool(item.get("heldout"))
        if _verdict(item, got):
            right[label] += 1
            right["held out"] += bool(item.get("heldout"))
        else:
            misses.append(f"  miss: {item['q']!r} -> {got['view']} {got['filters']} ({got['explanation']})")
    ACCURACY.clear()
    ACCURACY.append(f"{'expected view':32} {'questions':>9} {'top-1 right':>11} {'accuracy':>8}")
    for label in sorted((v for v in total if v != "held out"), key=lambda v: (v == "(out of scope)", v)):
        ACCURACY.append(f"{label:32} {total[label]:>9} {right[label]:>11} {right[label] / total[label]:>8.1%}")
    in_scope = sum(v for k, v in total.items() if k not in ("(out of scope)", "held out"))
    in_right = sum(v for k, v in right.items() if k not in ("(out of scope)", "held out"))
    ACCURACY.append(f"{'all in-scope questions':32} {in_scope:>9} {in_right:>11} {in_right / in_scope:>8.1%}")
    ACCURACY.append(
        f"{'(of all: held out, not tuned on)':32} {total['held out']:>9} {right['held out']:>11} "
        f"{right['held out'] / max(total['held out'], 1):>8.1%}"
    )
    ACCURACY.extend(misses)
    assert in_right / in_scope >= 0.95, "\n".join(misses)
    assert right["(out of scope)"] == total["(out of scope)"], "\n".join(misses)


def test_answer_object_has_the_documented_keys(duck):
    got = ask.answer("churn rate at store_03_l07 in 2026-05", duck)
    assert set(got) == {"question", "view", "filters", "confidence", "candidates", "matched_terms", "explanation", "sql", "params", "rows"}
    assert got["view"] == "client.churn_retention"
    assert got["filters"] == {"location_id": "store_03_l07", "month": "2026-05-01", "limit": 100}
    assert 0 < got["confidence"] <= 1
    assert got["candidates"][0] == {"view": "client.churn_retention", "score": got["candidates"][0]["score"]}
    assert [(r["location_id"], r["month_start"]) for r in got["rows"]] == [("store_03_l07", "2026-05-01")]
    assert "store_03_l07" not in got["sql"] and got["params"]["location_id"] == "store_03_l07"


def test_out_of_scope_answers_carry_candidates_and_a_reason(duck):
    got = ask.answer("what is the capital of France", duck)
    assert (got["view"], got["rows"], got["sql"], got["confidence"]) == (None, [], None, 0.0)
    assert got["explanation"] == "the client views hold no data on anything but the client views; nothing here answers that"
    vague = ask.answer("tell me about the membership thing", duck)
    assert vague["view"] is None or vague["confidence"] >= ask.MIN_CONFIDENCE


def test_bottom_20_questions_go_to_the_bottom_20_view(duck):
    # the replaced system's matcher sent these to the billing-health view
    for question in ("bottom 20", "the bottom twenty sites", "bottom 20 this month", "show me the bottom 20 list"):
        assert ask.answer(question, duck)["view"] == "client.location_scorecard_bottom", question
    # naming a measure ranks that measure's view instead
    billing = ask.answer("bottom 20 locations by billing success", duck)
    assert (billing["view"], billing["filters"]["order_by"]) == ("client.billing_health", "billing_success_rate asc")


@pytest.mark.parametrize(
    "question",
    [
        "churn rate at x' UNION SELECT * FROM ops.run_log --",
        "revenue at '; SELECT 1; --",
        'washes at "store_01_l01" OR 1=1',
        "billing health /* comment */ for Bristol",
    ],
)
def test_sql_shaped_questions_are_only_text(duck, question):
    from lakehouse.serve import catalog

    got = ask.answer(question, duck)
    for fragment in ("UNION", "SELECT 1", "OR 1=1", "/*", "run_log", "store_01_l01"):
        assert fragment not in (got["sql"] or ""), fragment
    if got["view"]:
        columns = catalog.columns(catalog.view(got["view"]))
        assert all(list(r) == columns for r in got["rows"])


@pytest.mark.parametrize(
    ("text", "months"),
    [
        ("revenue in May 2025", [dt.date(2025, 5, 1)]),
        ("revenue in 2025-05", [dt.date(2025, 5, 1)]),
        ("revenue 05/2025", [dt.date(2025, 5, 1)]),
        ("revenue last month", [LATEST]),
        ("revenue this month", [LATEST]),
        ("the latest month", [LATEST]),
        ("the month before last", [dt.date(2026, 7, 1)]),
        ("over the last 3 months", [dt.date(2026, 6, 1), LATEST]),
        ("in March", [dt.date(2026, 3, 1)]),
        ("in December", [dt.date(2025, 12, 1)]),
        ("may I see the churn", []),
        ("between March 2026 and May 2026", [dt.date(2026, 3, 1), dt.date(2026, 5, 1)]),
        ("for 2025", [dt.date(2025, 1, 1), dt.date(2025, 12, 1)]),
        ("sept 2025", [dt.date(2025, 9, 1)]),
    ],
)
def test_months_in_the_text(text, months):
    assert sorted(ask.find_months(text, LATEST)[1]) == months


@pytest.mark.parametrize(
    ("text", "count", "word"),
    [("top 5 sites", 5, "top"), ("bottom twenty", 20, "bottom"), ("the 10 worst", 10, "worst"), ("last 3 months", None, None)],
)
def test_rankings_in_the_text(text, count, word):
    assert ask.find_count(text)[1:] == (count, word)


def test_locations_by_name_id_and_typo():
    from warehouse_fixture import LOCATIONS

    index = ask.LocationIndex([(i, n) for i, n, _r in LOCATIONS], ask.default_matcher())
    assert index.find("revenue at store_02_l05")[1] == ["store_02_l05"]
    assert index.find("churn at the montreal site")[1] == ["store_01_l01"]
    assert index.find("how is sparkle express oxford")[1] == ["store_02_l01"]
    assert index.find("how is oxford")[1] == ["store_01_l04", "store_02_l01"]  # two share the name
    assert index.find("revenue at lexingotn #2")[1] == ["store_02_l02"]
    assert index.find("what is our churn rate")[1] == []
