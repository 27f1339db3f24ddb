"""The FastAPI application: ``create_app(settings)`` wires services, routes and errors.

No module-level app or settings: tests start several servers, each on its own data dir.
Every error leaves as ``{"error": {"type", "message"}}`` — ``CoincastError`` with the
status ``error_status`` gives its class, request validation as 422 with the offending
field named, Starlette's HTTP errors (404/405, malformed multipart) with their status,
and anything unexpected as a 500 that reveals nothing but a request to report it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route, compile_path
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from coincast.errors import AuthError, CoincastError
from coincast.server.deps import path_error
from coincast.server.error_status import status_for, wire_type
from coincast.server.job_runner import JobManager
from coincast.server.limits import BodySizeLimit
from coincast.server.messages import describe_validation, first_field, page_message
from coincast.server.scheduler import start_daily, stop_daily
from coincast.server.services import Services, is_loopback
from coincast.server.users import UserStore
from coincast.settings import Settings
from coincast.store.registry import ModelRegistry
from coincast.version import __version__

__all__ = ["create_app", "error_response", "WEB_DIR"]

log = logging.getLogger("coincast.server")
WEB_DIR = Path(__file__).resolve().parents[1] / "web"
API_PREFIX = "/api/v1"
# Multipart framing (boundaries, part headers) on top of the two files.
_MULTIPART_OVERHEAD = 64 * 1024

_HTTP_TYPES = {
    400: "InvalidRequestError",
    401: "AuthError",
    403: "ForbiddenError",
    404: "NotFound",
    405: "MethodNotAllowed",
    413: "PayloadTooLargeError",
}


def error_response(status: int, type_: str, message: str, field: str | None = None) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body: dict[str, str] = {"type": type_, "message": message}
    if field is not None:
        body["field"] = field
    return JSONResponse({"error": body}, status_code=status, headers=headers)


def create_app(
    settings: Settings, *, loopback: bool | None = None, registry: ModelRegistry | None = None
) -> FastAPI:
    """The app for ``settings``. ``loopback``: whether the server binds to this machine
    only (enables local single-user mode); default from ``settings.host``. ``registry``:
    the model store to serve (tests pass one over fault-injecting stores); by default the
    one ``settings`` selects."""
    registry = registry or ModelRegistry(settings)
    services = Services(
        settings=settings,
        registry=registry,
        users=UserStore(settings),
        jobs=JobManager(settings, registry),
        loopback=is_loopback(settings.host) if loopback is None else loopback,
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        orphans = registry.collect_garbage()
        if orphans:
            log.info(
                "removed %d unreferenced model files left by an interrupted save", len(orphans)
            )
        daily = _app.state.daily = start_daily(settings)  # the ledger's job, if DAILY_AT
        try:
            yield
        finally:
            stop_daily(daily)
            services.jobs.shutdown()

    app = FastAPI(
        title="coincast",
        version=__version__,
        summary="Cryptocurrency price forecasts with LSTMs; a TF.js-compatible model store.",
        description=(
            'Routes live under /api/v1. Errors are JSON {"error": {"type", "message"}}. '
            "Forecasts are decision support, not financial advice. Data provided by CoinGecko."
        ),
        lifespan=lifespan,
    )
    app.state.services = services
    _install_error_handlers(app)

    from coincast.server.routes import coins, forecasts, jobs, meta, models, presets
    from coincast.server.routes import ledger as ledger_routes

    routers = [m.router for m in (meta, presets, coins, models, forecasts, jobs)]
    routers.append(ledger_routes.router)
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)

    # Every method, so no API request falls through to the static site: unknown paths are
    # 404, known paths asked with a method they lack are 405 with the whole Allow list.
    # (An ASGI callable, not a function: Starlette would limit a function route to GET.)
    app.router.routes.append(
        Route("/api/{rest:path}", _ApiFallback(routers), include_in_schema=False)
    )

    limit = settings.max_model_json_bytes + settings.max_weights_bytes + _MULTIPART_OVERHEAD
    app.add_middleware(BodySizeLimit, max_bytes=limit)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "If-None-Match"],
            expose_headers=["ETag"],
        )
    if WEB_DIR.is_dir():
        # Last: API routes match first; everything else is the page's static files.
        app.mount("/", StaticFiles(directory=WEB_DIR, html=True), name="web")
    return app


class _ApiFallback:
    """Requests no API route fully matched: 405 (with Allow) if the path exists, else 404.

    Starlette alone would answer 405 naming only the first route of that path (there is
    one route per method here), or let the static site answer; either misleads a client.
    """

    def __init__(self, routers: list[APIRouter]) -> None:
        self._routes = [
            (compile_path(API_PREFIX + route.path)[0], route.methods or set())
            for router in routers
            for route in router.routes
            if isinstance(route, APIRoute)
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        allowed = {m for regex, methods in self._routes if regex.match(path) for m in methods}
        if not allowed:
            raise StarletteHTTPException(404)
        raise StarletteHTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CoincastError)
    async def coincast_error(_request: Request, exc: CoincastError) -> JSONResponse:
        status = status_for(type(exc))
        if status >= 500 and not isinstance(exc, AuthError):
            log.warning("%s: %s", type(exc).__name__, exc.message)
        return error_response(status, wire_type(type(exc)), page_message(exc))

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        bad_paths = [_bad_path_segment(err) for err in errors]
        if errors and all(bad_paths):
            # A malformed name or id in the URL: the same 400 the store gives for it.
            messages = dict.fromkeys(str(m) for m in bad_paths)  # a segment may be read twice
            return error_response(400, "InvalidRequestError", " ".join(messages))
        field = first_field(errors)
        if field is not None:  # a training job's field: in the training form's words
            return error_response(422, "ValidationError", describe_validation(errors), field)
        return error_response(422, "ValidationError", _describe(errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        status = exc.status_code
        message = str(exc.detail)
        if status == 404:
            message = "No such route or file. The API lives under /api/v1 (see /docs)."
        elif status == 405:
            allow = (exc.headers or {}).get("Allow")
            message = "This route does not accept that method; see /docs for the allowed ones."
            if allow:
                message = f"This route accepts only {allow}; see /docs for what each one does."
        elif status == 400 and not message.endswith("."):
            message = f"Malformed request: {message}. Send the body the route documents in /docs."
        response = error_response(status, _HTTP_TYPES.get(status, "HttpError"), message)
        if exc.headers:
            response.headers.update(exc.headers)
        return response

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(
            500,
            "InternalError",
            "The server hit an unexpected error; nothing was changed. Please report it with "
            "the time of the request (the server log has the details).",
        )


def _bad_path_segment(err: Any) -> str | None:
    """The message for a path segment breaking its declared pattern, else None."""
    loc = err.get("loc", ())
    if err.get("type") != "string_pattern_mismatch" or len(loc) != 2 or loc[0] != "path":
        return None
    return path_error(str(loc[1]), err.get("input"))


def _describe(errors: Any) -> str:
    """'body.days: Input should be less than or equal to 60; …' — field first, then why."""
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "body"
        parts.append(f"{loc}: {err.get('msg', 'invalid')}")
    return "Invalid request — " + "; ".join(parts) + ". See /docs for the expected shape."
