"""Authentication: `Authorization: Bearer <API key>` for the API, a session cookie for the
web UI. Only the web UI's own routes take the session; /api/v1 takes API keys alone, so a
cookie can never be ridden by a cross-site request into the API (CSRF protects the rest).
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp, Receive, Scope, Send

from contracts import directory, personal
from contracts.errors import Forbidden, Invalid, Unauthenticated
from contracts.identity import Principal
from outcomes import intake

SESSION_USER = "user_id"
# What every Idempotency-Key must be: 1 to 200 visible ASCII characters. 200 is the width of
# the columns that keep it (intake_batch, payment_run).
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")
# A route that takes a batch for the contract in its path names the kind of batch in its
# `opt` under this key. Its API key is then checked in the same query that reads the
# caller's standing on the contract and any batch already sent under the Idempotency-Key
# (`outcomes.intake.admit`); the answer waits in the scope for the route.
ADMIT_BATCH = "admit_batch"
_ADMISSION = "virker.admission"


def session_user_id(session: Any) -> UUID | None:
    """The user a session names, or None when it names none by a UUID. The session cookie is
    sealed with the secret key, but a session that says something else (forged with a leaked
    key, or left by another version) is no session at all, never an error."""
    value = session.get(SESSION_USER) if isinstance(session, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return UUID(value)
    except ValueError:
        return None


def session_guard(app: ASGIApp) -> ASGIApp:
    """Put right after the session middleware: a session whose user is not a UUID is
    dropped before any route reads it, and the response clears its cookie."""

    async def guard(scope: Scope, receive: Receive, send: Send) -> None:
        session = scope.get("session")
        if (isinstance(session, dict) and SESSION_USER in session
                and session_user_id(session) is None):
            scope["session"] = {}
        await app(scope, receive, send)

    return guard


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if header:
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthenticated("use Authorization: Bearer <API key>",
                                      code="invalid_authorization")
            kind = connection.route_handler.opt.get(ADMIT_BATCH)
            contract_id = connection.path_params.get("contract_id") if kind else None
            if isinstance(contract_id, UUID):
                wanted = connection.headers.get("idempotency-key")
                admission = await intake.admit(
                    key.strip(), contract_id, kind,
                    wanted if wanted and IDEMPOTENCY_KEY.fullmatch(wanted) else None)
                connection.scope[_ADMISSION] = admission  # type: ignore[literal-required]
                return AuthenticationResult(user=admission.principal, auth="api_key")
            principal = await directory.authenticate_api_key(key.strip())
            return AuthenticationResult(user=principal, auth="api_key")
        if not connection.url.path.startswith("/api/"):
            user_id = session_user_id(connection.scope.get("session"))
            if user_id is not None:
                principal = await directory.principal_for_user(user_id)
                if principal is not None:
                    return AuthenticationResult(user=principal, auth="session")
        raise Unauthenticated("this needs an API key (Authorization: Bearer <key>)",
                              code="unauthenticated")


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    return request.user


def admission_of(request: Request[Any, Any, Any]) -> intake.Admission | None:
    """What authentication read of the request's batch (routes marked ADMIT_BATCH)."""
    return request.scope.get(_ADMISSION)  # type: ignore[return-value]


def idempotency_key(request: Request[Any, Any, Any]) -> str | None:
    """The request's Idempotency-Key, or None when it has none. Every route that takes one
    reads it here, so a key the database could not keep is refused with 422 up front."""
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise Invalid("the Idempotency-Key is 1 to 200 visible ASCII characters",
                      code="invalid_idempotency_key")
    personal.refuse("Idempotency-Key", key)  # it is kept, and shown in batch lists
    return key


# The one write an auditor makes: acknowledging a proposed variation that takes it off a
# contract. Set in a route's `opt`; no other route may set it.
AUDITOR_MAY_WRITE = "auditor_acknowledges"


def auditors_read_only(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """Auditors read; they never write, whatever the endpoint, except to acknowledge their
    own removal from a contract (the route marked with AUDITOR_MAY_WRITE)."""
    if connection.scope["method"] not in ("GET", "HEAD", "OPTIONS"):
        user = connection.scope.get("user")
        if (isinstance(user, Principal) and user.role == "auditor"
                and not handler.opt.get(AUDITOR_MAY_WRITE)):
            raise Forbidden("auditors have read-only access", code="read_only")
