"""What every page of the web UI shares: who is signed in, the navigation their role gets,
the language, and how a page (or an HTMX fragment of it) is rendered.

Pages are served to signed-in users (the session cookie); a request without a session is
sent to the sign-in page and back. A page's controller calls the same services as the JSON
API and renders `web/<page>.html`; for an HTMX request it may render one block of it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote
from uuid import UUID

import msgspec
from litestar import Request
from litestar.response import Template
from litestar.types import ASGIApp, Receive, Scope, Send

from api.auth import SESSION_USER, session_user_id
from api.web import i18n
from contracts.identity import Principal
from contracts.tables import AppUser, Organisation

WEB = {"web": True}
SESSION_LANGUAGE = "lang"


class Me(msgspec.Struct, frozen=True, kw_only=True):
    """The signed-in user as the pages show them."""

    user_id: UUID | None
    display_name: str
    email: str
    role: str
    organisation_id: UUID
    organisation_name: str
    organisation_identifier: str
    language: str | None


class NavItem(msgspec.Struct, frozen=True):
    href: str
    label: str


def navigation(role: str) -> list[NavItem]:
    """The sections a role works in, most used first, in the reader's language."""
    _ = i18n._
    items = {
        "commissioner": [NavItem("/queue", _("Work queue")), NavItem("/contracts", _("Contracts")),
                         NavItem("/payments", _("Payment runs")),
                         NavItem("/compare", _("Compare and advise")),
                         NavItem("/contracts/new", _("New contract"))],
        "provider": [NavItem("/provider", _("My contracts")),
                     NavItem("/provider/keys", _("API keys"))],
        "auditor": [NavItem("/audit", _("Audit"))],
        "admin": [NavItem("/admin", _("Administration")), NavItem("/contracts", _("Contracts")),
                  NavItem("/compare", _("Compare and advise"))],
    }
    return items.get(role, [])


async def me(request: Request) -> Me | None:
    """The signed-in user, or None (an API key is nobody in the web UI)."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal) or principal.user_id is None:
        return None
    user = await AppUser.select(AppUser.display_name, AppUser.email, AppUser.language).where(
        AppUser.id == principal.user_id).first()
    org = await Organisation.select(Organisation.name, Organisation.identifier).where(
        Organisation.id == principal.organisation_id).first()
    if user is None or org is None:
        return None
    return Me(user_id=principal.user_id, display_name=user["display_name"], email=user["email"],
              role=principal.role, organisation_id=principal.organisation_id,
              organisation_name=org["name"], organisation_identifier=org["identifier"],
              language=user["language"])


async def me_of(user: Any) -> Me | None:
    """`Me` for a user read elsewhere (a `UserOut`), on pages open to everyone."""
    org = await Organisation.select(Organisation.name, Organisation.identifier).where(
        Organisation.id == user.organisation_id).first()
    if org is None:
        return None
    row = await AppUser.select(AppUser.language).where(AppUser.id == user.id).first()
    return Me(user_id=user.id, display_name=user.display_name, email=user.email,
              role=user.role, organisation_id=user.organisation_id,
              organisation_name=org["name"], organisation_identifier=org["identifier"],
              language=row["language"] if row else None)


async def page(request: Request, template: str, status_code: int = 200,
               **context: Any) -> Template:
    """Render `template` with what every page needs: `me`, `nav`, `path`, the language."""
    user = context.pop("me") if "me" in context else await me(request)
    return Template(template, status_code=status_code, context={
        "me": user, "nav": navigation(user.role) if user else [], "path": request.url.path,
        "full_path": _full_path(request), "lang": i18n.current.get(),
        "htmx": bool(request.headers.get("hx-request")), **context})


def _full_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def login_redirect(request: Request) -> str:
    return "/login?next=" + quote(_full_path(request), safe="")


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a path on this site only (never //host or a URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def language_middleware(app: ASGIApp) -> ASGIApp:
    """Set the request's language (see api.web.i18n) for every page; after the session and
    authentication middleware. The API answers in codes, not words: it is left alone."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/api/"):
            await app(scope, receive, send)
            return
        token = i18n.current.set(await _language(scope))
        try:
            await app(scope, receive, send)
        finally:
            i18n.current.reset(token)

    return middleware


async def _language(scope: Scope) -> str:
    session = scope.get("session")
    if isinstance(session, dict):
        chosen = session.get(SESSION_LANGUAGE)
        if chosen in i18n.LANGUAGES:
            return chosen
        user_id = session_user_id(session) if SESSION_USER in session else None
        if user_id is not None:
            row = await AppUser.select(AppUser.language,
                                       AppUser.organisation.identifier.as_alias("identifier")
                                       ).where(AppUser.id == user_id).first()
            if row is not None:
                lang = row["language"] if row["language"] in i18n.LANGUAGES else \
                    i18n.language_of_organisation(row["identifier"])
                session[SESSION_LANGUAGE] = lang
                return lang
    headers = dict(scope.get("headers") or [])
    accept = headers.get(b"accept-language", b"").decode("latin-1")
    return i18n.from_accept_language(accept)
