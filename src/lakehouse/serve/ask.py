"""`lakehouse ask`: a free-text question resolved to one client view plus filters, deterministically.

No language model: the question is split into words, corrected for typos against the known words
(rapidfuzz's optimal-string-alignment distance), mapped through the curated vocabulary of how
clients talk (`vocabulary.yaml`) and stemmed (Snowball); the views are ranked by BM25 (rank-bm25)
over their own documentation (`sql/views/columns.yaml`) plus the vocabulary's phrases. Filters
come from the question's text: a location by id or (part of) its name, a month ("May 2025",
"2025-05", "last month" = the latest complete month the bottom-20 view shows), "top/bottom N".

A question that asks to change data, names data the views do not hold, or that no view matches
well enough resolves to no view, with the best candidates and a one-line explanation: the answer
is then never made up.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import snowballstemmer
import yaml
from rank_bm25 import BM25Plus
from rapidfuzz import process
from rapidfuzz.distance import OSA

from lakehouse.serve import catalog
from lakehouse.views import CLIENT_DB, View

BOTTOM_VIEW = "location_scorecard_bottom"
SCORECARD_VIEW = "location_scorecard"
MIN_SCORE = 1.0  # BM25 score below which no view answers with confidence
MIN_CONFIDENCE = 0.35
PHRASE_WEIGHT = 2  # a curated phrase counts this many times in its view's text
LOCATION_ONLY_CONFIDENCE = 0.6  # a question naming a location and nothing else gets its scorecard
DEFAULT_TOP = 10  # rows of a ranking asked without a number
DEFAULT_BOTTOM = 20  # rows of the bottom-20 family (the bottom view holds at most gold.bottom_n = 20)
CONTEXT_TTL_S = 300.0  # how long locations and the latest month are reused for an engine without snapshots

_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ]
    )
    for m in names
}
_MONTH_NAME = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "fifty": 50,
}
_COUNT = r"(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"
_RANK_WORDS = r"(top|bottom|worst|best|lowest|highest|weakest|strongest|first)"
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_GENERIC_NAME_WORDS = {"inc", "st", "ave", "suite", "remodeled", "the", "and", "of"}


# ---------------------------------------------------------------- vocabulary


@dataclass(frozen=True)
class Vocabulary:
    """The curated vocabulary (see vocabulary.yaml)."""

    stop_words: frozenset[str]
    synonyms: dict[str, str]
    phrase_synonyms: dict[str, str]
    phrases: dict[str, list[str]]
    unanswerable: dict[str, str]
    refuse: frozenset[str]
    descending: frozenset[str]
    ascending: frozenset[str]
    higher_is_worse: frozenset[str]


@cache
def load_vocabulary() -> Vocabulary:
    """The vocabulary shipped with the package (`lakehouse/serve/vocabulary.yaml`)."""
    text = (resources.files("lakehouse.serve") / "vocabulary.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    synonyms = {str(k).lower(): str(v).lower() for k, v in data["synonyms"].items()}
    for key, value in list(synonyms.items()):  # plurals of the listed words mean the same
        if not key.endswith("s") and f"{key}s" not in synonyms:
            synonyms[f"{key}s"] = value
    ranking = data["ranking"]
    return Vocabulary(
        stop_words=frozenset(data["stop_words"].split()),
        synonyms=synonyms,
        phrase_synonyms={str(k).lower(): str(v).lower() for k, v in (data.get("phrase_synonyms") or {}).items()},
        phrases={k: list(v) for k, v in data["views"].items()},
        unanswerable={str(k).lower(): str(v) for k, v in data["unanswerable"].items()},
        refuse=frozenset(data["refuse"].split()),
        descending=frozenset(ranking["descending"].split()),
        ascending=frozenset(ranking["ascending"].split()),
        higher_is_worse=frozenset(ranking["higher_is_worse"].split()),
    )


def fold(text: str) -> str:
    """Lower-case text without accents (`Montréal` -> `montreal`)."""
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The words of `text`, folded."""
    return _WORD.findall(fold(text).replace("_", " "))


# ---------------------------------------------------------------- the view matcher


@dataclass(frozen=True)
class Ranking:
    """BM25 scores of the views for one question, best first, and the stems that matched."""

    scores: list[tuple[str, float]]
    stems: list[str]
    matched: dict[str, list[str]]  # view -> matched stems (as the client wrote them)


class Matcher:
    """Ranks the client views for a question: BM25 over each view's documentation and curated phrases."""

    def __init__(self, views: list[View] | None = None, vocabulary: Vocabulary | None = None):
        self.vocabulary = vocabulary or load_vocabulary()
        self.views = views or list(catalog.views().values())
        self._stemmer = snowballstemmer.stemmer("english")
        self._stems: dict[str, str] = {}
        self._stem_lock = threading.Lock()
        voc = self.vocabulary
        documents = []
        known: set[str] = set(voc.stop_words) | set(voc.synonyms) | set(voc.synonyms.values())
        known |= set(voc.unanswerable) | set(voc.refuse) | voc.descending | voc.ascending | set(_MONTHS)
        for view in self.views:
            text = [view.name, view.title, view.description]
            for col in view.columns:
                # a column documented as another view's (`client.churn_retention.churn_rate`) lends
                # this view its name only: its meaning is that other view's vocabulary
                borrowed = re.match(rf"^{CLIENT_DB}\.(\w+)\.", col.formula)
                text += [col.name] if borrowed and borrowed[1] != view.name else [col.name, col.meaning]
            doc = [s for w in words(" ".join(text)) if w not in voc.stop_words for s in [self._stem(w)]]
            known |= set(words(" ".join(text)))
            for phrase in voc.phrases.get(view.name, []):
                known |= set(words(phrase))
                doc += self.stems(phrase, correct=False) * PHRASE_WEIGHT
            documents.append(doc)
        self.known = sorted(known)
        self._known_set = set(known)
        self.bm25 = BM25Plus(documents)
        self.document_stems = [set(d) for d in documents]

    def _stem(self, word: str) -> str:
        stem = self._stems.get(word)
        if stem is None:
            with self._stem_lock:  # a Snowball stemmer is not safe to share between threads
                stem = self._stems[word] = self._stemmer.stemWord(word)
        return stem

    def correct(self, word: str) -> str:
        """`word`, or the known word it is a typo of: one edit for words of 4-6 letters, two for longer
        ones, the first letter kept (optimal string alignment: a swap of two letters is one edit)."""
        if len(word) < 4 or word.isdigit() or word in self._known_set:
            return word
        limit = 1 if len(word) <= 6 else 2
        best = process.extractOne(
            word, [k for k in self.known if k[0] == word[0]], scorer=OSA.distance, score_cutoff=limit
        )
        return best[0] if best else word

    def rephrase(self, text: str) -> str:
        """`text` folded, with the vocabulary's several-word synonyms replaced ("car wash" -> "location")."""
        folded = fold(text)
        for phrase, meaning in self.vocabulary.phrase_synonyms.items():
            folded = re.sub(rf"\b{re.escape(phrase)}\b", meaning, folded)
        return folded

    def canonical(self, text: str, correct: bool = True) -> list[tuple[str, str]]:
        """(word as written, canonical word) pairs: typos corrected, synonyms applied, stop words dropped."""
        out = []
        for word in words(self.rephrase(text)):
            fixed = self.correct(word) if correct else word
            if fixed in self.vocabulary.stop_words:
                continue
            out.append((word, self.vocabulary.synonyms.get(fixed, fixed)))
        return out

    def stems(self, text: str, correct: bool = True) -> list[str]:
        """The stems of the question's meaningful words (canonical, then stemmed, stop words out)."""
        return [self._stem(c) for _w, c in self.canonical(text, correct) if c not in self.vocabulary.stop_words]

    def rank(self, text: str) -> Ranking:
        """Every view's BM25 score for `text`, best first."""
        pairs = [(w, self._stem(c)) for w, c in self.canonical(text) if c not in self.vocabulary.stop_words]
        stems = [s for _w, s in pairs]
        scores = self.bm25.get_scores(stems) if stems else [0.0] * len(self.views)
        ranked = sorted(
            ((v.name, float(s)) for v, s in zip(self.views, scores, strict=True)), key=lambda x: (-x[1], x[0])
        )
        matched = {
            v.name: sorted({w for w, s in pairs if s in self.document_stems[i]})
            for i, v in enumerate(self.views)
        }
        return Ranking(ranked, stems, matched)


# ---------------------------------------------------------------- filters from the text


@dataclass(frozen=True)
class Context:
    """What the data says that resolving a question needs: the locations and the latest complete month."""

    locations: list[tuple[str, str]]  # (location_id, name)
    latest_month: dt.date | None
    _indexes: dict[int, LocationIndex] = field(default_factory=dict, compare=False, repr=False)

    def location_index(self, matcher: Matcher) -> LocationIndex:
        """The index of these locations' names for `matcher` (built once)."""
        index = self._indexes.get(id(matcher))
        if index is None:
            index = self._indexes[id(matcher)] = LocationIndex(self.locations, matcher)
        return index


def _add_months(month: dt.date, n: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + n
    return dt.date(index // 12, index % 12 + 1, 1)


def _latest_with_month(number: int, latest: dt.date | None) -> dt.date | None:
    """The latest month numbered `number` at or before the latest complete month."""
    if latest is None:
        return None
    year = latest.year if number <= latest.month else latest.year - 1
    return dt.date(year, number, 1)


def _mask(text: str, span: tuple[int, int]) -> str:
    return text[: span[0]] + " " * (span[1] - span[0]) + text[span[1] :]


def find_months(text: str, latest: dt.date | None) -> tuple[str, list[dt.date], list[str]]:
    """Months named in `text` (masked out of it), and notes; relative months count from `latest`."""
    text = text.lower()  # the same length: spans found here mask the caller's text
    months: list[dt.date] = []
    notes: list[str] = []
    patterns: list[tuple[re.Pattern[str], Any]] = [
        (re.compile(r"\b(20\d{2})-(\d{1,2})(?:-\d{1,2})?\b", re.I), lambda m: (int(m[1]), int(m[2]))),
        (re.compile(r"\b(\d{1,2})/(20\d{2})\b"), lambda m: (int(m[2]), int(m[1]))),
        (
            re.compile(rf"\b({_MONTH_NAME})\.?,?\s+(?:of\s+)?'?(20\d{{2}}|\d{{2}})\b"),
            lambda m: (int(m[2]) + (2000 if len(m[2]) == 2 else 0), _MONTHS[m[1]]),
        ),
        (re.compile(r"\b(20\d{2})\s+(" + _MONTH_NAME + r")\b"), lambda m: (int(m[1]), _MONTHS[m[2]])),
    ]
    for pattern, parse in patterns:
        for match in pattern.finditer(text):
            year, number = parse(match)
            if 1 <= number <= 12 and 2000 <= year <= 2100:
                months.append(dt.date(year, number, 1))
                text = _mask(text, match.span())
    relative = re.compile(
        r"\b(?:(?:the\s+)?(last|past|previous|this|current|latest|most\s+recent|recent)\s+(?:complete\s+|full\s+)?month"
        r"|(?:the\s+)?month\s+before\s+last|(two|2)\s+months\s+ago"
        r"|(?:the\s+)?(?:last|past|previous)\s+" + _COUNT + r"\s+months)\b"
    )
    for match in relative.finditer(text):
        if latest is None:
            notes.append("no month is complete in the data yet")
        elif match[3]:
            n = _NUMBER_WORDS.get(match[3]) or int(match[3])
            months += [_add_months(latest, -(n - 1)), latest]
        elif match[2] or "before last" in match[0]:
            months.append(_add_months(latest, -1))
        else:
            months.append(latest)
        text = _mask(text, match.span())
    # a month name alone: the latest such month (`may` only after a preposition: it is also a verb)
    alone = re.compile(rf"\b(?:(in|for|during|since|from|of|to|until|through|last|and)\s+)?({_MONTH_NAME})\b")
    for match in alone.finditer(text):
        if match[2] == "may" and not match[1]:
            continue
        month = _latest_with_month(_MONTHS[match[2]], latest)
        if month is not None:
            months.append(month)
            text = _mask(text, (match.start(2), match.end(2)))
    year = re.compile(r"\b(?:in|for|during|of|over)\s+(20\d{2})\b")
    for match in year.finditer(text):
        if not months:
            y = int(match[1])
            months += [dt.date(y, 1, 1), dt.date(y, 12, 1)]
        text = _mask(text, match.span())
    return text, months, notes


def find_count(text: str) -> tuple[str, int | None, str | None]:
    """A ranking asked for ("top 5", "bottom 20", "10 worst", "best"), masked out: (text, N, word)."""
    text = text.lower()
    for pattern, count_group, word_group in (
        (re.compile(rf"\b{_RANK_WORDS}\s+{_COUNT}\b(?!\s*(?:months|%))"), 2, 1),
        (re.compile(rf"\b{_COUNT}\s+{_RANK_WORDS}\b"), 1, 2),
    ):
        match = pattern.search(text)
        if match:
            raw = match[count_group]
            count = _NUMBER_WORDS.get(raw) or int(raw)
            return _mask(text, (match.start(count_group), match.end(count_group))), count, match[word_group]
    return text, None, None


class LocationIndex:
    """Finds locations in a question: by id, or by the distinctive words of their names (typos allowed)."""

    def __init__(self, locations: list[tuple[str, str]], matcher: Matcher):
        self.locations = locations
        self.ids = {loc_id.lower(): loc_id for loc_id, _ in locations}
        self.name_words = {
            loc_id: {w for w in words(name or "") if w not in _GENERIC_NAME_WORDS} for loc_id, name in locations
        }
        frequency: dict[str, int] = {}
        for ws in self.name_words.values():
            for w in ws:
                frequency[w] = frequency.get(w, 0) + 1
        n = max(len(locations), 1)
        self.weight = {w: math.log((n + 1) / f) for w, f in frequency.items()}
        self.min_weight = math.log((n + 1) / 3)  # a word in at most 3 names identifies a few locations
        self.vocabulary = {w for w in frequency if not w.isdigit()}
        self._meaningful = set(matcher.known)
        self._matcher = matcher

    def find(self, text: str) -> tuple[str, list[str], list[str]]:
        """(text with the location words masked, matching location ids, the words that matched)."""
        for match in re.finditer(r"\b[a-z0-9]+(?:_[a-z0-9]+)+\b", text):
            if match[0] in self.ids:
                return _mask(text, match.span()), [self.ids[match[0]]], [match[0]]
        tokens = [(m, m[0]) for m in _WORD.finditer(text)]
        hits: dict[str, str] = {}  # question word -> name word
        for _match, word in tokens:
            if word.isdigit() or len(word) < 3 or word in self._matcher.vocabulary.stop_words:
                continue
            if word in self._meaningful and word not in self.vocabulary:
                continue  # a word of the views' vocabulary, not a name
            if word in self.vocabulary:
                hits[word] = word
                continue
            if len(word) >= 5:
                limit = 1 if len(word) <= 6 else 2
                candidates = [w for w in self.vocabulary if w[0] == word[0]]
                best = process.extractOne(word, candidates, scorer=OSA.distance, score_cutoff=limit)
                if best:
                    hits[word] = best[0]
        if not hits:
            return text, [], []
        numbers = {m[0] for m, _w in tokens if m[0].isdigit()}
        scores: dict[str, float] = {}
        for loc_id, name_words in self.name_words.items():
            matched = {hits[w] for w in hits if hits[w] in name_words}
            if not matched:
                continue
            score = sum(self.weight[w] for w in matched)
            score += sum(0.5 for w in name_words if w.isdigit() and w in numbers)
            scores[loc_id] = score
        if not scores:
            return text, [], []
        best = max(scores.values())
        if best < self.min_weight:
            return text, [], []
        chosen = sorted(loc_id for loc_id, s in scores.items() if s == best)
        used = {w for w in hits if any(hits[w] in self.name_words[c] for c in chosen)}
        for match, word in tokens:
            if word in used or (word.isdigit() and any(word in self.name_words[c] for c in chosen)):
                text = _mask(text, match.span())
        text = re.sub(r"#\s", "  ", text)
        return text, chosen, sorted(used)


# ---------------------------------------------------------------- resolving and answering


@dataclass
class Resolution:
    """How a question was resolved: the view (None when none answers), its request, and why."""

    question: str
    view: str | None
    request: catalog.ViewRequest | None
    confidence: float
    candidates: list[dict[str, Any]]
    matched_terms: list[str]
    explanation: str
    location_ids: list[str] = field(default_factory=list)


def _confidence(scores: list[tuple[str, float]]) -> float:
    """0 to 1: how strongly the best view beats the others (share of the top two) and how much of the
    documentation matched (saturating in the BM25 score)."""
    top = scores[0][1]
    second = scores[1][1] if len(scores) > 1 else 0.0
    if top <= 0:
        return 0.0
    separation = top / (top + max(second, 0.0))
    strength = 1 - math.exp(-top / 3.0)
    return round(min(1.0, separation * strength * 1.6), 3)


def _candidates(scores: list[tuple[str, float]]) -> list[dict[str, Any]]:
    return [{"view": f"{CLIENT_DB}.{name}", "score": round(score, 3)} for name, score in scores[:3] if score > 0]


def _order_column(view: View, stems: list[str], matcher: Matcher) -> str | None:
    """The numeric column a ranking question is about: the one whose name shares most stems with it
    (the view's usual ranking column on a tie); None when no column name is named."""
    hits = {}
    for col in view.columns:
        if col.type in ("INT64", "FLOAT64", "NUMERIC") and col.name != "bottom_rank":
            col_stems = {matcher._stem(w) for w in words(col.name)}
            hits[col.name] = sum(1 for s in stems if s in col_stems)
    best = max(hits.values(), default=0)
    if best == 0:
        return None
    default = _DEFAULT_ORDER.get(view.name)
    if hits.get(default) == best:
        return default
    return next(c for c, h in hits.items() if h == best)


_DEFAULT_ORDER = {
    SCORECARD_VIEW: "score",
    "churn_retention": "churn_rate",
    "billing_health": "billing_success_rate",
    "churn_risk": "churn_probability",
}


_WORSE_BETTER = {"worst": "asc", "weakest": "asc", "best": "desc", "strongest": "desc"}


def _direction(word: str | None, voc: Vocabulary) -> str | None:
    """`asc`/`desc` for a ranking word (worst/best: for a measure where higher is better)."""
    if word is None:
        return None
    if word in _WORSE_BETTER:
        return _WORSE_BETTER[word]
    return "asc" if word in voc.ascending else "desc" if word in voc.descending else None


def _without(text: str, drop: set[str]) -> str:
    """`text` without the words in `drop`."""
    return " ".join(w for w in words(text) if w not in drop)


def resolve(question: str, matcher: Matcher, context: Context) -> Resolution:
    """Resolve `question` to one view and a checked request (no query is run).

    A ranking word (top, worst, lowest ...) does not choose the view by itself: the view is the
    one the rest of the question names, ordered by the measure it names ("the worst billing" =
    billing health by success rate, ascending). Only when nothing else is named, or the measure is
    the composite score of the latest complete month, is it the bottom-20 view.
    """
    voc = matcher.vocabulary
    text = fold(question)[:1000]
    raw_words = words(text)
    text = matcher.rephrase(text)
    fixed_words = [matcher.correct(w) for w in raw_words]

    def none(explanation: str, scores: list[tuple[str, float]] | None = None) -> Resolution:
        return Resolution(question, None, None, 0.0, _candidates(scores or []), [], explanation)

    refused = [w for w in raw_words if w in voc.refuse]
    if refused:
        return none(f"this service only reads the client views; it does not {refused[0]} anything")
    unheld = [voc.unanswerable[w] for w in fixed_words if w in voc.unanswerable]
    if unheld:
        return none(f"the client views hold no data on {unheld[0]}; nothing here answers that")

    text, location_ids, location_terms = context.location_index(matcher).find(text)
    text, months, notes = find_months(text, context.latest_month)
    text, count, rank_word = find_count(text)
    month_from = min(months) if months else None
    month_to = max(months) if months else None
    rank_words = voc.descending | voc.ascending | set(_WORSE_BETTER)
    rank_word = rank_word or next((w for w in words(text) if w in rank_words), None)

    ranking = matcher.rank(text)
    view_name, order_column = ranking.scores[0][0], None
    if rank_word:
        plain = matcher.rank(_without(text, rank_words))
        name, score = plain.scores[0]
        if score >= MIN_SCORE and _confidence(plain.scores) >= MIN_CONFIDENCE and name != BOTTOM_VIEW:
            ranking, view_name = plain, name
            order_column = _order_column(catalog.view(name), plain.stems, matcher) or _DEFAULT_ORDER.get(name)
    scores = ranking.scores
    top_score, confidence = scores[0][1], _confidence(scores)
    if location_ids and not ranking.stems:  # "how is Oxford doing?": a location and no measure
        scores = [(SCORECARD_VIEW, MIN_SCORE), *[(n, 0.0) for n, _s in scores if n != SCORECARD_VIEW]]
        view_name, top_score, confidence = SCORECARD_VIEW, MIN_SCORE, LOCATION_ONLY_CONFIDENCE
        notes.append("no measure named: the location's scorecard")
    if top_score < MIN_SCORE or confidence < MIN_CONFIDENCE:
        return none("no client view answers this with confidence; try naming a measure (revenue, churn, billing ...)", scores)
    matched = ranking.matched[view_name]

    direction = _direction(rank_word, voc)
    latest_only = month_from is None or month_from == month_to == context.latest_month
    if view_name == SCORECARD_VIEW and order_column == "score" and direction == "asc" and latest_only:
        view_name, order_column = BOTTOM_VIEW, None  # the lowest scores of the latest month: the bottom 20
    if view_name == BOTTOM_VIEW and not latest_only:
        notes.append(
            f"the bottom-{DEFAULT_BOTTOM} view holds the latest complete month only; ranked the scorecard of the month asked for"
        )
        view_name, order_column, direction = SCORECARD_VIEW, "score", "asc"
        count = count or DEFAULT_BOTTOM
    view = catalog.view(view_name)

    order: tuple[tuple[str, bool], ...] = ()
    time_col = catalog.time_column(view)
    if direction and order_column:
        descending = direction == "desc"
        if rank_word in _WORSE_BETTER and order_column in voc.higher_is_worse:
            descending = not descending
        order = ((order_column, descending),)
    if time_col == "month_start" and month_from is None and context.latest_month is not None:
        if order or view.name == BOTTOM_VIEW or not location_ids:
            # a ranking, or a question about every location: the latest complete month
            month_from = month_to = context.latest_month

    if location_ids and not catalog.has_location(view):
        notes.append(f"client.{view.name} is not by location; the location was left out")
        location_ids = []
    if months and time_col is None:
        notes.append(f"client.{view.name} is not by month; the month was left out")
    if time_col != "month_start":
        month_from = month_to = None  # churn risk holds the current scores only; model metrics are not monthly

    limit = count or (DEFAULT_TOP if order else catalog.DEFAULT_LIMIT)
    if view.name == BOTTOM_VIEW:
        limit = count or DEFAULT_BOTTOM
    req = catalog.request(
        view.name,
        location_id=location_ids[0] if len(location_ids) == 1 else None,
        location_ids=tuple(location_ids) if len(location_ids) > 1 else (),
        month_from=month_from,
        month_to=month_to,
        limit=min(limit, catalog.MAX_LIMIT),
        order_by=order,
    )
    explanation = f"matched {', '.join(matched) or 'nothing'}"
    if order:
        explanation += f"; ranked by {order[0][0]} {'descending' if order[0][1] else 'ascending'}"
    if location_terms:
        explanation += f"; location {', '.join(location_ids) or 'none'} from {', '.join(location_terms)!r}"
    if notes:
        explanation += "; " + "; ".join(notes)
    return Resolution(
        question,
        f"{CLIENT_DB}.{view.name}",
        req,
        confidence,
        _candidates(scores),
        matched,
        explanation,
        location_ids,
    )



def context_of(snapshot: Any, engine: Any) -> Context:
    """The locations and the latest complete month, read once per snapshot (or per CONTEXT_TTL_S)."""
    cached = getattr(snapshot, "_ask_context", None)
    if cached and (engine.name == "duckdb" or time.monotonic() - cached[0] < CONTEXT_TTL_S):
        return cached[1]
    names = engine.views()
    locations: list[tuple[str, str]] = []
    latest = None
    if SCORECARD_VIEW in names:
        rel = engine.relation(SCORECARD_VIEW)
        rows = snapshot.query(f"SELECT DISTINCT location_id, location_name FROM {rel} ORDER BY location_id").rows
        locations = [(r[0], r[1]) for r in rows if r[0]]
        latest = snapshot.query(f"SELECT MAX(month_start) FROM {rel}").rows[0][0]
    if BOTTOM_VIEW in names:
        bottom = snapshot.query(f"SELECT MAX(month_start) FROM {engine.relation(BOTTOM_VIEW)}").rows[0][0]
        latest = bottom or latest
    if isinstance(latest, dt.datetime):
        latest = latest.date()
    context = Context(locations, latest)
    try:
        snapshot._ask_context = (time.monotonic(), context)
    except AttributeError:
        pass
    return context


@cache
def default_matcher() -> Matcher:
    """The matcher over the packaged views and vocabulary (built once per process)."""
    return Matcher()


def answer(question: str, engine: Any, matcher: Matcher | None = None, allowed=lambda view: True) -> dict[str, Any]:
    """Resolve `question` on `engine`'s current snapshot, run the view request and return the answer
    object of `lakehouse ask --json` and `POST /v1/ask`. `allowed(view)` False raises PermissionError."""
    matcher = matcher or default_matcher()
    snapshot = engine.snapshot()
    resolution = resolve(question, matcher, context_of(snapshot, engine))
    out: dict[str, Any] = {
        "question": question,
        "view": resolution.view,
        "filters": {},
        "confidence": resolution.confidence,
        "candidates": resolution.candidates,
        "matched_terms": resolution.matched_terms,
        "explanation": resolution.explanation,
        "sql": None,
        "params": {},
        "rows": [],
    }
    req = resolution.request
    if req is None:
        return out
    if not allowed(req.view.name):
        raise PermissionError(resolution.view)
    if req.view.name not in engine.views():
        out["explanation"] += f"; {resolution.view} has no data yet (its gold tables are not built)"
        out["filters"] = req.filters()
        return out
    sql, params, result = catalog.run(engine, req, snapshot)
    out.update(
        filters=req.filters(),
        sql=sql,
        params={k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in params.items()},
        rows=result.records(),
    )
    return out

