"""The application, assembled in exactly one place: routes, middleware, handlers, lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from bidding.routes import routes as bidding_routes
from collusion import subscribers as collusion_subscribers
from collusion.routes import routes as collusion_routes
from ebid import jobs
from ebid.config import tortoise_config
from ebid.openapi import routes as openapi_routes
from kernel import db
from kernel.accounts.routes import routes as account_routes
from kernel.audit.chain import AuditLog
from kernel.calendar import load_calendar
from kernel.clock import Clock, SystemClock
from kernel.context import Context
from kernel.events import EventBus
from kernel.http import error_response, locale_of, wants_json
from kernel.middleware import SecurityMiddleware
from kernel.settings import Settings
from kernel.storage import BlobStore
from kernel.templating import make_templates
from kernel.threads import SWITCH_INTERVAL_S, switch_interval
from signing.api import api_routes as signing_api_routes
from signing.routes import routes as signing_routes

ROOT = Path(__file__).resolve().parent.parent

def build_context(
    settings: Settings, clock: Clock | None = None, *, analyse_now: bool | None = None
) -> Context:
    """The services' collaborators, with the event subscribers wired in. ``analyse_now``: the
    process that opens a tender analyses it at once (default: with the in-process job backend;
    a web process under procrastinate only queues the analysis for the workers)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ctx = Context(
        settings=settings,
        clock=clock or SystemClock(),
        audit=AuditLog.from_settings(settings),
        blobs=BlobStore(settings.blob_dir),
        calendar=load_calendar(settings.holidays_file),
        events=EventBus(),
    )
    if analyse_now is None:
        analyse_now = settings.job_backend == "inprocess"
    collusion_subscribers.register(ctx.events, ctx, run_now=analyse_now)
    return ctx


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request):
        return JSONResponse({"error": "http_error", "message": exc.detail}, exc.status_code)
    templates = request.app.state.templates
    message = exc.detail
    if exc.status_code == 404:
        message = "页面不存在" if locale_of(request) != "en" else "Page not found"
    return templates.TemplateResponse(
        request, "error.html", {"message": message}, status_code=exc.status_code
    )


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    run_jobs: bool = True,
    init_db: bool = True,
) -> Starlette:
    """Build the app. ``run_jobs`` starts the in-process scheduler (off in most tests)."""
    ctx = build_context(settings, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        with switch_interval(SWITCH_INTERVAL_S):
            if init_db:
                await db.init(tortoise_config(settings, serving=True))
            runner = jobs.start_inprocess(ctx) if run_jobs else None
            try:
                yield
            finally:
                if runner is not None:
                    await runner.stop()
                if init_db:
                    await db.close()

    app = Starlette(
        routes=[
            *account_routes,
            *bidding_routes,
            *signing_routes,
            *signing_api_routes,
            *collusion_routes,
            *openapi_routes,
            Mount("/static", StaticFiles(directory=ROOT / "static"), name="static"),
        ],
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )
    app.add_middleware(SecurityMiddleware, secure_cookies=settings.secure_cookies)
    app.state.settings = settings
    app.state.ctx = ctx
    app.state.clock = ctx.clock
    app.state.templates = make_templates(ROOT / "templates", settings.timezone)
    # DomainErrors raised outside a route wrapper (should not happen) still get a clean answer.
    app.state.error_response = error_response
    return app


def app_from_env() -> Starlette:
    """The app with its settings from the environment: the factory each of ``ebid serve
    --workers N``'s server processes calls (uvicorn starts them by import string)."""
    from kernel.settings import from_env

    return create_app(from_env())
