"""Authentication: `Authorization: Bearer <API key>` for the API, a session cookie for the
web UI. Only the web UI's own routes take the session; /api/v1 takes API keys alone, so a
cookie can never be ridden by a cross-site request into the API (CSRF protects the rest).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from contracts import directory
from contracts.errors import Forbidden, Unauthenticated
from contracts.identity import Principal

SESSION_USER = "user_id"


class AuthenticationMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if header:
            scheme, _, key = header.partition(" ")
            if scheme.lower() != "bearer" or not key.strip():
                raise Unauthenticated("use Authorization: Bearer <API key>",
                                      code="invalid_authorization")
            principal = await directory.authenticate_api_key(key.strip())
            return AuthenticationResult(user=principal, auth="api_key")
        if not connection.url.path.startswith("/api/"):
            user_id = connection.scope.get("session", {}).get(SESSION_USER)
            if user_id:
                principal = await directory.principal_for_user(UUID(user_id))
                if principal is not None:
                    return AuthenticationResult(user=principal, auth="session")
        raise Unauthenticated("this needs an API key (Authorization: Bearer <key>)",
                              code="unauthenticated")


def principal_of(request: Request[Any, Any, Any]) -> Principal:
    return request.user


def auditors_read_only(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Auditors read; they never write, whatever the endpoint."""
    if connection.scope["method"] not in ("GET", "HEAD", "OPTIONS"):
        user = connection.scope.get("user")
        if isinstance(user, Principal) and user.role == "auditor":
            raise Forbidden("auditors have read-only access", code="read_only")
