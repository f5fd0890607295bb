"""API keys of the query service: created once, stored only as salted hashes, scoped, expiring, revocable.

One JSON document holds every key, the same locally and in the cloud:

    {"keys": [{"name": ..., "hash": ..., "salt": ..., "views": [...] | null,
               "expires": "YYYY-MM-DD" | null, "revoked": false, "created_at": ...}]}

Locally it is kept with the warehouse it opens (`<ops layer root>/api_keys.json`, written
atomically through `lakehouse.fs`); in the cloud it is the Secret Manager payload mounted as a
file (`$LAKEHOUSE_API_KEYS_FILE`), pushed with `lakehouse keys export | gcloud secrets versions add
<secret> --data-file=-`.

The hash is HMAC-SHA256 of the key with a random 16-byte salt of its own. A key is 32 random bytes
(256 bits), not a password a person chose: nobody can guess it or search the space of keys, so a
deliberately slow password hash (scrypt, argon2) would only add its cost to every request without
making a stolen document any less useless. The salt makes equal keys hash differently and
precomputed tables worthless; comparisons are constant-time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
import threading
import time
from dataclasses import asdict, dataclass

from lakehouse.errors import UserError
from lakehouse.fs import FileSystem, file_system, join

KEYS_FILE_ENV = "LAKEHOUSE_API_KEYS_FILE"
KEYS_FILE_NAME = "api_keys.json"
TOKEN_PREFIX = "lh_"


@dataclass(frozen=True)
class ApiKey:
    """One stored key: never the key itself, only its salted hash."""

    name: str
    hash: str
    salt: str
    views: tuple[str, ...] | None  # None: every client view
    expires: str | None  # YYYY-MM-DD: valid through that day (UTC)
    revoked: bool
    created_at: str

    def to_dict(self) -> dict:
        data = asdict(self)
        data["views"] = list(self.views) if self.views is not None else None
        return data

    @staticmethod
    def from_dict(data: dict) -> ApiKey:
        views = data.get("views")
        return ApiKey(
            name=str(data["name"]),
            hash=str(data["hash"]),
            salt=str(data.get("salt") or ""),
            views=tuple(views) if views is not None else None,
            expires=data.get("expires"),
            revoked=bool(data.get("revoked", False)),
            created_at=str(data.get("created_at") or ""),
        )

    def matches(self, token: str) -> bool:
        """True when `token` is this key (constant-time comparison of the hashes)."""
        return hmac.compare_digest(hash_key(token, self.salt), self.hash)

    def expired(self, today: dt.date) -> bool:
        """True when the key's last valid day is before `today`."""
        return self.expires is not None and dt.date.fromisoformat(self.expires) < today

    def allows(self, view: str) -> bool:
        """True when the key may read client view `view` (bare name)."""
        return self.views is None or view in self.views


def hash_key(token: str, salt: str) -> str:
    """HMAC-SHA256 of the key under its salt (hex)."""
    return hmac.new(bytes.fromhex(salt), token.encode("utf-8"), hashlib.sha256).hexdigest()


def new_token() -> str:
    """A new key: `lh_` and 32 random bytes, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_document(text: str, where: str) -> list[ApiKey]:
    """The keys of a key document; UserError naming `where` when it is not one."""
    try:
        data = json.loads(text) if text.strip() else {"keys": []}
        return [ApiKey.from_dict(k) for k in data["keys"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise UserError(f"{where}: not an API key document ({exc}); expected {{\"keys\": [...]}}") from None


def render_document(keys: list[ApiKey]) -> str:
    """The key document (what the file and the Secret Manager payload hold)."""
    return json.dumps({"keys": [k.to_dict() for k in keys]}, indent=1, sort_keys=True) + "\n"


class KeyStore:
    """The key document at `path`, read and written through `lakehouse.fs`."""

    def __init__(self, path: str, fs: FileSystem | None = None):
        self.path = path
        self.fs = fs or file_system(path)

    @staticmethod
    def for_settings(settings) -> KeyStore:
        """$LAKEHOUSE_API_KEYS_FILE, else `api_keys.json` in the ops layer of the settings' warehouse."""
        path = os.environ.get(KEYS_FILE_ENV) or join(settings.layer_root("ops"), KEYS_FILE_NAME)
        return KeyStore(path)

    def load(self) -> list[ApiKey]:
        """Every stored key (none when the document does not exist yet)."""
        try:
            text = self.fs.read_text(self.path)
        except FileNotFoundError:
            return []
        return parse_document(text, self.path)

    def save(self, keys: list[ApiKey]) -> None:
        """Replace the document (atomically on a local disk)."""
        try:
            self.fs.write_text(self.path, render_document(keys))
        except OSError as exc:
            raise UserError(f"{self.path}: cannot write the API keys ({exc.strerror or exc})") from None

    def create(
        self, name: str, views: list[str] | None = None, expires: dt.date | None = None, today: dt.date | None = None
    ) -> tuple[ApiKey, str]:
        """Store a new key named `name`; returns it and the key itself (shown once, never stored)."""
        from lakehouse.serve.catalog import views as known_views

        today = today or dt.datetime.now(dt.UTC).date()
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 64:
            raise UserError(f"--name {name!r}: use 1 to 64 letters, digits, '-', '_' or '.'")
        keys = self.load()
        if any(k.name == name for k in keys):
            raise UserError(f"a key named {name!r} exists already in {self.path}; choose another --name")
        if views is not None:
            bare = [v.removeprefix("client.") for v in views]
            unknown = [v for v in bare if v not in known_views()]
            if unknown or not bare:
                raise UserError(f"--views {','.join(views)!r}: unknown view(s) {unknown}; choose from {', '.join(known_views())}")
            views = bare
        if expires is not None and expires < today:
            raise UserError(f"--expires {expires.isoformat()} is in the past; give a date from {today.isoformat()} on")
        token, salt = new_token(), secrets.token_hex(16)
        key = ApiKey(
            name=name,
            hash=hash_key(token, salt),
            salt=salt,
            views=tuple(views) if views is not None else None,
            expires=expires.isoformat() if expires else None,
            revoked=False,
            created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        )
        self.save([*keys, key])
        return key, token

    def revoke(self, name: str) -> ApiKey:
        """Mark the key named `name` revoked (it stays listed); UserError when there is none."""
        keys = self.load()
        if not any(k.name == name for k in keys):
            raise UserError(f"no key named {name!r} in {self.path}; see `lakehouse keys list`")
        updated = [ApiKey(**{**k.__dict__, "revoked": True}) if k.name == name else k for k in keys]
        self.save(updated)
        return next(k for k in updated if k.name == name)


class AuthError(Exception):
    """The request's key is missing, unknown, revoked or expired (HTTP 401); the message says which."""


class Authenticator:
    """Checks request keys against the store, re-reading it at most every `reload_seconds`."""

    def __init__(self, store: KeyStore, reload_seconds: float = 30.0):
        self.store = store
        self.reload_seconds = reload_seconds
        self._keys = store.load()
        self._loaded = time.monotonic()
        self._lock = threading.Lock()

    def reload(self) -> None:
        """Read the store again (a key created or revoked meanwhile counts from now on)."""
        keys = self.store.load()
        with self._lock:
            self._keys, self._loaded = keys, time.monotonic()

    def check(self, token: str | None, today: dt.date | None = None) -> ApiKey:
        """The key `token` is; AuthError when there is none, it is unknown, revoked or expired."""
        if not token:
            raise AuthError("missing API key: send it in the X-API-Key header")
        if time.monotonic() - self._loaded > self.reload_seconds:
            self.reload()
        for key in self._keys:
            if key.matches(token):
                if key.revoked:
                    raise AuthError("this API key was revoked")
                if key.expired(today or dt.datetime.now(dt.UTC).date()):
                    raise AuthError(f"this API key expired on {key.expires}")
                return key
        raise AuthError("unknown API key")
