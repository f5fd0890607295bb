"""The HTTP API of the query service (FastAPI): the client-view catalog, view rows, and `ask`, behind API keys.

    GET  /healthz                      no key: liveness, the engine and the table versions it reads
    GET  /v1/views                     the catalog: views, descriptions, columns and their meaning
    GET  /v1/views/{view}?location_id=&month_from=&month_to=&limit=&offset=
    POST /v1/ask {"question": ...}     the object `lakehouse ask --json` prints
    GET  /docs, /openapi.json          OpenAPI

Every /v1 request needs `X-API-Key`: 401 without one or with an unknown, revoked or expired key,
403 for a view outside the key's scope, 429 past the per-key rate limit. Filter values are bound
as query parameters, never written into SQL; an unknown view is 404, a bad value 422 naming the
field. Each request is logged (key name, view, status, latency), never its key or rows.
"""


import gc
import json
import logging
import threading
import time
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from lakehouse.serve import ask as ask_mod
from lakehouse.serve import catalog
from lakehouse.serve.keys import ApiKey, Authenticator, AuthError
from lakehouse.serve.ratelimit import RateLimiter

access_log = logging.getLogger("lakehouse.serve.access")
log = logging.getLogger("lakehouse.serve")

API_KEY_HEADER = "X-API-Key"


class AskRequest(BaseModel):
    """A question in the client's words."""

    question: str = Field(min_length=1, max_length=1000, examples=["Which locations need attention?"])


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(data, separators=(",", ":"), ensure_ascii=False, default=str),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


def _unprocessable(field: str, message: str, where: str = "query") -> Response:
    return _json({"detail": [{"loc": [where, field], "msg": message, "type": "value_error"}]}, 422)


class AccessLog:
    """ASGI middleware: one log line per request with the key's name, the view, the status and the latency."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}
        scope.setdefault("state", {})

        async def send_status(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            state = scope.get("state") or {}
            access_log.info(
                "key=%s method=%s path=%s view=%s status=%d ms=%.1f",
                state.get("key_name", "-"),
                scope["method"],
                scope["path"] if not scope["path"].startswith("/v1/views/") else "/v1/views/{view}",
                state.get("view", "-"),
                status["code"],
                (time.perf_counter() - started) * 1000,
            )


def create_app(
    engine: Any,
    auth: Authenticator,
    rate_limit_per_minute: int = 600,
    refresh_seconds: float = 30.0,
) -> FastAPI:
    """The API over `engine`, with keys checked by `auth`. With `refresh_seconds` > 0 a background
    thread picks up newly committed table versions and key changes that often."""
    limiter = RateLimiter(rate_limit_per_minute)
    stop = threading.Event()

    def refresh_loop() -> None:
        while not stop.wait(refresh_seconds):
            try:
                engine.refresh()
                auth.reload()
            except Exception:  # a failed refresh keeps serving the last good snapshot
                log.exception("refresh failed; still serving the previous snapshot")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        gc.freeze()  # the start-up objects (views, matcher, vocabulary) stay out of every collection
        thread = None
        if refresh_seconds > 0:
            thread = threading.Thread(target=refresh_loop, name="lakehouse-refresh", daemon=True)
            thread.start()
        yield
        stop.set()

    app = FastAPI(
        title="lakehouse client views",
        version="1",
        summary="The car-wash chain's client views (location scorecards, churn, billing health, churn risk) "
        "behind an API key.",
        lifespan=lifespan,
    )
    app.add_middleware(AccessLog)
    header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False, description="Your API key")

    async def client(request: Request, token: Annotated[str | None, Depends(header)]) -> ApiKey:
        try:
            key = auth.check(token)
        except AuthError as exc:
            raise HTTPException(401, str(exc), headers={"WWW-Authenticate": API_KEY_HEADER}) from None
        request.state.key_name = key.name
        allowed, retry = limiter.allow(key.name)
        if not allowed:
            raise HTTPException(
                429, f"rate limit of {limiter.per_minute} requests per minute reached", headers={"Retry-After": str(int(retry) + 1)}
            )
        return key

    Client = Annotated[ApiKey, Depends(client)]

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.get("/healthz", tags=["service"])
    async def healthz() -> Response:
        """Liveness (no key needed): the engine and the table versions the service reads."""
        return _json({"status": "ok", "engine": engine.name, "views": engine.views(), "versions": engine.versions()})

    @app.get("/v1/views", tags=["views"])
    async def list_views(key: Client) -> Response:
        """The client views this key may read: name, title, description, the filters each takes, and
        every column with its type, meaning and formula (from the views' documentation)."""
        available = set(engine.views())
        return _json(
            {"views": [catalog.describe(v) for n, v in catalog.views().items() if key.allows(n) and n in available]}
        )

    @app.get("/v1/views/{view}", tags=["views"])
    async def read_view(
        request: Request,
        key: Client,
        view: Annotated[str, Path(description="A view name from /v1/views, e.g. location_scorecard")],
        location_id: Annotated[str | None, Query(max_length=200, description="Only this location's rows.")] = None,
        month_from: Annotated[str | None, Query(max_length=20, description="First month (YYYY-MM).")] = None,
        month_to: Annotated[str | None, Query(max_length=20, description="Last month (YYYY-MM), included.")] = None,
        limit: Annotated[int, Query(ge=1, le=catalog.MAX_LIMIT, description="Rows per page.")] = catalog.DEFAULT_LIMIT,
        offset: Annotated[int, Query(ge=0, description="Rows to skip (pages are in a stable order).")] = 0,
    ) -> Response:
        """Rows of one client view, filtered and paged."""
        request.state.view = view[:80]
        try:
            req = catalog.request(view, location_id, month_from, month_to, limit, offset)
        except catalog.UnknownView as exc:
            return _json({"detail": exc.args[0]}, 404)
        except catalog.BadRequest as exc:
            return _unprocessable(exc.field, str(exc))
        if not key.allows(req.view.name):
            return _json({"detail": f"this API key may not read client.{req.view.name}"}, 403)
        if req.view.name not in engine.views():
            return _json({"detail": f"client.{req.view.name} has no data yet (its gold tables are not built)"}, 404)
        sql, params = catalog.view_query(engine, req)
        snapshot = engine.snapshot()
        # a kept result is answered on the event loop; a query runs in the thread pool (DuckDB
        # releases the GIL while it runs, BigQuery waits on the network)
        result = snapshot.cached(sql, params) or await run_in_threadpool(snapshot.query, sql, params)
        return _json(
            {
                "view": f"client.{req.view.name}",
                "filters": req.filters(),
                "columns": result.columns,
                "rows": result.records(),
                "row_count": len(result.rows),
            }
        )

    @app.post("/v1/ask", tags=["ask"])
    def ask(request: Request, key: Client, body: AskRequest) -> Response:
        """A question resolved to one view plus filters and answered from it (the object of
        `lakehouse ask --json`); `view` is null, with the best candidates and why, when no view
        answers it with confidence."""
        try:
            answer = ask_mod.answer(body.question, engine, allowed=key.allows)
        except PermissionError as exc:
            request.state.view = str(exc)
            return _json({"detail": f"this API key may not read {exc}"}, 403)
        request.state.view = answer["view"] or "-"
        return _json(answer)

    return app
