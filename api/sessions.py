"""Server-side web sessions: the cookie holds a random id, the database holds the rest.

Litestar's server-side sessions, with their Store kept in the `web_session` table, so that
every replica on the same database sees a session, and ending one (signing out, a changed
password, a deactivated user: `directory.end_sessions`) ends it everywhere at once.

What the backend adds to Litestar's:
- a session is stored only under an id this server made: signing in (`start_session`)
  always makes a new one, and a cookie that names no stored session is never adopted, so
  nobody can plant a session id in a browser and wait for its owner to sign in;
- an empty session is neither stored nor sent (anonymous pages write nothing), and an
  unchanged one is not written again;
- each row records its user, so that all sessions of a user can be ended together.
Sessions last SESSION_HOURS from sign-in, however busy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie, MutableScopeHeaders
from litestar.middleware.session.server_side import (
    ServerSideSessionBackend,
    ServerSideSessionConfig,
)
from litestar.stores.base import Store
from litestar.types import Empty, Message, ScopeSession
from litestar.utils.dataclass import extract_dataclass_items

from api.auth import SESSION_USER, session_user_id
from contracts.tables import WebSession
from core.clock import now
from core.settings import Settings

SESSION_STORE = "sessions"
SESSION_COOKIE = "session"
SESSION_HOURS = 8
# Paths that never read a session: the API takes API keys alone, and neither the schema
# nor the load balancer's health check needs one, so they cost no database read.
NO_SESSION = ["^/api/", "^/schema", "^/health$"]
# Keys of the ASGI scope through which a request and the backend talk.
_LOADED = "virker.session_loaded"
_RENEW = "virker.session_renew"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _seconds(value: int | dt.timedelta) -> dt.timedelta:
    return value if isinstance(value, dt.timedelta) else dt.timedelta(seconds=value)


class DatabaseStore(Store):
    """Litestar's key/value Store on the `web_session` table (the bound database)."""

    async def set(self, key: str, value: str | bytes, expires_in: int | dt.timedelta | None = None,
                  *, user_id: UUID | None = None) -> None:
        data = value.encode() if isinstance(value, str) else value
        moment = now()
        expires_at = moment + _seconds(expires_in) if expires_in else None
        await self.delete_expired()
        key_hash = _key_hash(key)
        if await WebSession.exists().where(WebSession.key_hash == key_hash):
            await WebSession.update({WebSession.data: data, WebSession.app_user: user_id,
                                     WebSession.expires_at: expires_at}).where(
                WebSession.key_hash == key_hash)
            return
        await WebSession.insert(WebSession(key_hash=key_hash, data=data, app_user=user_id,
                                           created_at=moment, expires_at=expires_at))

    async def get(self, key: str, renew_for: int | dt.timedelta | None = None) -> bytes | None:
        key_hash = _key_hash(key)
        row = await WebSession.select(WebSession.data, WebSession.expires_at).where(
            WebSession.key_hash == key_hash).first()
        if row is None:
            return None
        moment = now()
        if row["expires_at"] is not None:
            if row["expires_at"] <= moment:
                await self.delete(key)
                return None
            if renew_for:
                await WebSession.update({WebSession.expires_at: moment + _seconds(renew_for)}
                                        ).where(WebSession.key_hash == key_hash)
        return bytes(row["data"])

    async def delete(self, key: str) -> None:
        await WebSession.delete().where(WebSession.key_hash == _key_hash(key))

    async def delete_all(self) -> None:
        await WebSession.delete(force=True)

    async def delete_expired(self) -> None:
        await WebSession.delete().where(WebSession.expires_at <= now())

    async def exists(self, key: str) -> bool:
        return await self.get(key) is not None

    async def expires_in(self, key: str) -> int | None:
        row = await WebSession.select(WebSession.expires_at).where(
            WebSession.key_hash == _key_hash(key)).first()
        if row is None or row["expires_at"] is None:
            return None
        seconds = int((row["expires_at"] - now()).total_seconds())
        return seconds if seconds > 0 else None


class DatabaseSessionBackend(ServerSideSessionBackend):
    async def load_from_connection(self, connection: ASGIConnection) -> dict[str, Any]:
        session_id = connection.cookies.get(self.config.key)
        raw = None
        if session_id and session_id != "null":
            raw = await self.get(session_id, self.config.get_store_from_app(
                connection.scope["app"]))
        connection.scope[_LOADED] = raw  # type: ignore[literal-required]
        return self.deserialize_data(raw) if raw else {}

    async def store_in_message(self, scope_session: ScopeSession, message: Message,
                               connection: ASGIConnection) -> None:
        scope: Any = connection.scope
        store = self.config.get_store_from_app(scope["app"])
        headers = MutableScopeHeaders.from_message(message)
        cookie_id = connection.cookies.get(self.config.key)
        loaded = scope.get(_LOADED)
        params = dict(extract_dataclass_items(self.config, exclude_none=True,
                                              include=Cookie.__dict__.keys()))
        if scope_session is Empty or not scope_session:
            if loaded is not None:
                await store.delete(cookie_id)
            if cookie_id:  # signed out, or a cookie for a session that has ended
                params.update(max_age=0, expires=0)
                headers.add("Set-Cookie", Cookie(value="null", key=self.config.key,
                                                 **params).to_header(header=""))
            return
        renew = bool(scope.get(_RENEW))
        if loaded is not None and not renew and self.deserialize_data(loaded) == scope_session:
            return
        if loaded is not None and not renew:
            session_id = cookie_id
        else:
            session_id = self.generate_session_id()
            if loaded is not None:
                await store.delete(cookie_id)
        await store.set(session_id, self.serialize_data(scope_session, scope),
                        expires_in=self.config.max_age,
                        user_id=session_user_id(scope_session))
        headers.add("Set-Cookie", Cookie(value=session_id, key=self.config.key,
                                         **params).to_header(header=""))


@dataclass
class DatabaseSessionConfig(ServerSideSessionConfig):
    _backend_class = DatabaseSessionBackend


def session_config(settings: Settings) -> DatabaseSessionConfig:
    return DatabaseSessionConfig(key=SESSION_COOKIE, max_age=SESSION_HOURS * 3600,
                                 httponly=True, samesite="lax",
                                 secure=settings.secure_cookies, store=SESSION_STORE,
                                 exclude=NO_SESSION)


def session_stores() -> dict[str, Store]:
    return {SESSION_STORE: DatabaseStore()}


def start_session(request: Request, user_id: UUID) -> None:
    """Sign the request's browser in as `user_id`, under a new session id."""
    session = request.scope.get("session")
    kept = {"lang": session["lang"]} if isinstance(session, dict) and "lang" in session else {}
    request.set_session({**kept, SESSION_USER: str(user_id)})
    request.scope[_RENEW] = True  # type: ignore[literal-required]
