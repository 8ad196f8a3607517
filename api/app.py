"""The one place that builds the application."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from litestar import Litestar, Request, Router
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.htmx import HTMXPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig
from piccolo.engine.base import Engine
from piccolo.engine.postgres import PostgresEngine

from api.auth import AuthenticationMiddleware, auditors_read_only, session_guard
from api.errors import EXCEPTION_HANDLERS
from api.headers import allow_every_method, web_defaults
from api.openapi import render_plugins
from api.routes import pages
from api.routes.contracts import ContractController, MetricController
from api.routes.directory import ApiKeyController, OrganisationController, UserController
from api.routes.effect import EffectController
from api.routes.exports import ExportController, OpenDataController
from api.routes.ledger import LedgerController
from api.routes.outcomes import IntakeController, VerificationController
from api.routes.publication import PublicationController, WhatWorksController
from api.routes.reference import ReferenceController
from api.routes.reports import ReportController
from api.routes.voice import AnswerController, VoiceController, hide_tokens_in_access_log
from api.sessions import session_config, session_stores
from api.web import i18n
from api.web import pages as web_pages
from api.web.layout import language_middleware
from core.database import bind, make_engine, prepare
from core.settings import Settings, get_settings
from ledger.checkpoints import write_after_change
from reports import pool as report_pool
from voice import service as voice_service


def create_app(settings: Settings | None = None, engine: Engine | None = None,
               *, manage_pool: bool = True) -> Litestar:
    """The application. `manage_pool=False` leaves PostgreSQL's connection pool to the
    caller (the tests run the app and the pool on their own event loop)."""
    settings = settings or get_settings()
    engine = engine or make_engine(settings.database_url, settings.read_database_url)
    bind(engine)
    prepare(engine)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        pooled = manage_pool and isinstance(engine, PostgresEngine)
        if pooled:
            await engine.start_connection_pool(min_size=1, max_size=10,
                                               reset=keep_session)
        if manage_pool:
            await _voice_retention()
        timer = None
        if manage_pool and settings.checkpoint_interval > 0:
            timer = asyncio.create_task(_checkpoints_every(settings.checkpoint_interval))
        if manage_pool:
            # What is alive now (modules, the app, its routes: some 250,000 objects) lives
            # as long as the server; keep the collector from walking it on every full
            # collection, which otherwise costs a busy server about a sixth of its time.
            gc.freeze()
        try:
            yield
        finally:
            if timer is not None:
                timer.cancel()
                await asyncio.gather(timer, return_exceptions=True)
            # Report workers (about 180 MB each) stop with the app, not after it.
            await report_pool.stop()
            if pooled:
                await engine.close_connection_pool()

    session = session_config(settings)
    hide_tokens_in_access_log()
    api = Router(
        path="/",
        route_handlers=[OrganisationController, UserController, ApiKeyController,
                        MetricController, ContractController, IntakeController,
                        VerificationController, LedgerController, ReportController,
                        EffectController, VoiceController, ExportController, ReferenceController,
                        PublicationController],
        guards=[auditors_read_only],
        security=[{"apiKey": []}],
    )
    return Litestar(
        route_handlers=[
            api, AnswerController, OpenDataController, pages.home, pages.login_page,
            pages.login_form, pages.logout,
            pages.login_json, pages.logout_json, pages.change_password, pages.me,
            pages.health, WhatWorksController, *web_pages.route_handlers(),
            create_static_files_router(path="/static", directories=[WEB / "static"],
                                       opt={"exclude_from_auth": True},
                                       include_in_schema=False),
        ],
        plugins=[HTMXPlugin()],
        lifespan=[lifespan],
        middleware=[session.middleware, session_guard, language_middleware,
                    DefineMiddleware(AuthenticationMiddleware,
                                     exclude=["^/schema", "^/static/", "^/voice/"])],
        csrf_config=CSRFConfig(secret=settings.secret_key, exclude=["^/api/", "^/voice/"],
                               cookie_secure=settings.secure_cookies, cookie_httponly=False),
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=require_json_body,
        before_send=[web_defaults, allow_every_method],
        stores=session_stores(),
        template_config=TemplateConfig(
            directory=[Path(__file__).parent / "templates", WEB / "templates"],
            engine=JinjaTemplateEngine,
            engine_callback=lambda engine: i18n.install(engine.engine)),
        openapi_config=OpenAPIConfig(
            title="Virker",
            version="1",
            description="Outcome-based funding and commissioning ledger. Every error is "
                        "application/problem+json (RFC 9457) with a stable `code`.",
            path="/schema",
            render_plugins=render_plugins(),
            components=Components(security_schemes={
                "apiKey": SecurityScheme(type="http", scheme="bearer",
                                         description="An organisation's API key")}),
        ),
        request_max_body_size=settings.max_body_bytes,
        debug=False,
    )


WEB = Path(__file__).parent / "web"
JSON_TYPES = ("application/json",)


async def keep_session(connection) -> None:
    """What a pooled connection needs before its next use: nothing more than asyncpg's own
    clean-up (an open transaction rolled back, listeners removed). Virker keeps no session
    state on pooled connections (its locks are transaction-level, its settings SET LOCAL),
    so the reset query asyncpg would send on every release, one round trip per query, is
    not sent."""


async def require_json_body(request: Request) -> None:
    """Writes to /api carry JSON (or what the route declares in opt['accepts'])."""
    if request.method in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return
    if not request.url.path.startswith("/api/"):
        return
    accepts = request.route_handler.opt.get("accepts", JSON_TYPES)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and content_type not in accepts:
        raise HTTPException(status_code=415,
                            detail=f"send {' or '.join(accepts)}, not {content_type}")


async def _voice_retention() -> None:
    """Delete the comments whose wave's retention has run out, once as the app starts (and
    with `virker voice-retention` from a daily job); a failure is logged, the app starts."""
    try:
        removed = await voice_service.apply_retention()
    except Exception:
        logging.getLogger("virker.voice").exception("voice retention failed at start-up")
        return
    if removed:
        logging.getLogger("virker.voice").info("retention: %d comments deleted", removed)


async def _checkpoints_every(seconds: int) -> None:
    """Sign the journal's head every `seconds` when it has grown, so that what follows the
    last checkpoint stays short (docs/ledger.md)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await write_after_change()
        except Exception:  # a failed round is logged; the next one tries again
            logging.getLogger("virker.checkpoints").exception("checkpoint round failed")
