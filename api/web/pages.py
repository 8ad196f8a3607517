"""Every route of the web UI, for `api.app.create_app`."""

from __future__ import annotations

from litestar.handlers import BaseRouteHandler

from api.web import account


def route_handlers() -> list[BaseRouteHandler]:
    return [account.choose_language]
