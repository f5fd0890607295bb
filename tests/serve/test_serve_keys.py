"""API keys: stored hashed, scoped, expiring, revocable; the per-key rate limit."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from lakehouse.errors import UserError
from lakehouse.serve.keys import Authenticator, AuthError, KeyStore, hash_key
from lakehouse.serve.ratelimit import RateLimiter

TODAY = dt.date(2026, 10, 1)


@pytest.fixture
def store(tmp_path):
    return KeyStore(str(tmp_path / "ops" / "api_keys.json"))


def test_a_key_is_shown_once_and_stored_only_as_a_salted_hash(store, tmp_path):
    key, token = store.create("acme", today=TODAY)
    text = (tmp_path / "ops" / "api_keys.json").read_text()
    assert token.startswith("lh_") and len(token) > 40
    assert token not in text and token[3:] not in text
    [stored] = json.loads(text)["keys"]
    assert stored == {
        "name": "acme", "hash": hash_key(token, stored["salt"]), "salt": stored["salt"], "views": None,
        "expires": None, "revoked": False, "created_at": stored["created_at"],
    }
    _other, token2 = store.create("beta", today=TODAY)
    salts = [k.salt for k in store.load()]
    assert len(set(salts)) == 2 and token2 != token
    assert Authenticator(store).check(token, TODAY).name == "acme"


def test_unknown_revoked_and_expired_keys_are_refused(store):
    _key, token = store.create("acme", expires=dt.date(2026, 10, 31), today=TODAY)
    auth = Authenticator(store, reload_seconds=0)
    assert auth.check(token, dt.date(2026, 10, 31)).name == "acme"  # valid through its last day
    with pytest.raises(AuthError, match="expired on 2026-10-31"):
        auth.check(token, dt.date(2026, 11, 1))
    with pytest.raises(AuthError, match="missing API key"):
        auth.check(None)
    with pytest.raises(AuthError, match="unknown API key"):
        auth.check(token[:-1] + ("A" if token[-1] != "A" else "B"), TODAY)
    store.revoke("acme")
    with pytest.raises(AuthError, match="revoked"):
        auth.check(token, TODAY)  # reload_seconds=0: the revocation counts at once
    assert [k.revoked for k in store.load()] == [True]


def test_scopes_and_user_errors(store):
    key, _token = store.create("partner", views=["client.billing_health", "churn_risk"], today=TODAY)
    assert key.views == ("billing_health", "churn_risk")
    assert key.allows("churn_risk") and not key.allows("location_scorecard")
    with pytest.raises(UserError, match="exists already"):
        store.create("partner", today=TODAY)
    with pytest.raises(UserError, match=r"unknown view\(s\) \['gold_stuff'\]"):
        store.create("x", views=["gold_stuff"], today=TODAY)
    with pytest.raises(UserError, match="in the past"):
        store.create("y", expires=dt.date(2026, 9, 30), today=TODAY)
    with pytest.raises(UserError, match="--name 'a b'"):
        store.create("a b", today=TODAY)
    with pytest.raises(UserError, match="no key named 'nobody'"):
        store.revoke("nobody")


def test_a_broken_key_document_is_one_line(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text("[1, 2]")
    with pytest.raises(UserError, match="not an API key document"):
        KeyStore(str(path)).load()


def test_rate_limit_refills_over_time():
    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0])
    assert [limiter.allow("a")[0] for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b")[0]  # per key
    allowed, retry = limiter.allow("a")
    assert not allowed and retry == pytest.approx(20.0)
    now[0] = 20.0
    assert limiter.allow("a")[0] and not limiter.allow("a")[0]
    assert all(RateLimiter(0).allow("a")[0] for _ in range(1000))
    with pytest.raises(ValueError, match="-1"):
        RateLimiter(-1)
