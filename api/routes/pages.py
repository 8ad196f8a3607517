"""The front page, sign-in, sign-out and the password, and the health check.

Signing in starts a server-side session under a new id (api.sessions); signing out ends it;
changing the password ends every session of the user and starts a new one for the browser
that changed it. Too many failed sign-ins answer 429 `too_many_attempts` with Retry-After.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import Body, JSONBody, QueryParameter
from litestar.response import Redirect, Template

from api.auth import SESSION_USER, principal_of
from api.errors import PROBLEM_JSON, ProblemDetails, problem
from api.sessions import start_session
from api.web import i18n, layout
from api.web.layout import WEB, page, safe_next
from contracts import directory
from contracts.directory import TooManyAttempts
from contracts.errors import Unauthenticated
from contracts.schemas import Input, LoginIn, Password, UserOut
from core.database import piccolo_conf_engine

PUBLIC = {"exclude_from_auth": True}


class PasswordChangeIn(Input, kw_only=True):
    current_password: Annotated[str, msgspec.Meta(max_length=200)]
    new_password: Password


def client_address(request: Request) -> str | None:
    """The client's address as the server sees it (behind a proxy, uvicorn takes it from
    X-Forwarded-For when the proxy is in FORWARDED_ALLOW_IPS)."""
    return request.client.host if request.client else None


def too_many_attempts(request: Request, exc: TooManyAttempts) -> Response:
    return problem(request, 429, exc.code, exc.message,
                   headers={"Retry-After": str(exc.retry_after)})


THROTTLED = {
    "exception_handlers": {TooManyAttempts: too_many_attempts},
    "responses": {429: ResponseSpec(data_container=ProblemDetails, media_type=PROBLEM_JSON,
                                    description="Too many failed attempts; see Retry-After")},
}


async def _session_user(request: Request) -> UserOut | None:
    user_id = request.session.get(SESSION_USER) if request.scope.get("session") else None
    if not user_id:
        return None
    principal = await directory.principal_for_user(_uuid(user_id))
    return await directory.get_user(principal.user_id) if principal else None


def _uuid(value: str) -> UUID:
    return UUID(value)


@get("/", opt={**PUBLIC, **WEB}, include_in_schema=False)
async def home(request: Request) -> Template:
    user = await _session_user(request)
    return await page(request, "home.html", me=await layout.me_of(user) if user else None)


@get("/login", opt={**PUBLIC, **WEB}, include_in_schema=False)
async def login_page(request: Request, next_path: Annotated[
        str | None, QueryParameter(name="next")] = None) -> Template:
    return await page(request, "login.html", next=safe_next(next_path))


@post("/login", opt={**PUBLIC, **WEB}, include_in_schema=False, status_code=303)
async def login_form(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response:
    email, password = str(data.get("email", "")), str(data.get("password", ""))
    after = safe_next(str(data.get("next", "/")))
    try:
        principal = await directory.login(email, password, client_address(request))
    except Unauthenticated:
        return await page(request, "login.html", status_code=401, me=None, email=email,
                          next=after, error=i18n._("Wrong email or password."))
    except TooManyAttempts as exc:
        response = await page(request, "login.html", status_code=429, me=None, email=email,
                              next=after,
                              error=i18n._("Too many failed sign-ins.") + " " + _try_again(exc))
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    start_session(request, principal.user_id)
    return Redirect(after, status_code=303)


def _try_again(exc: TooManyAttempts) -> str:
    minutes = max(1, -(-exc.retry_after // 60))
    return i18n.ngettext("Try again in %(num)s minute.", "Try again in %(num)s minutes.",
                         minutes)


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect("/", status_code=303)


@post("/auth/login", opt=PUBLIC, tags=["session"], summary="Sign in to the web UI (JSON)",
      **THROTTLED)
async def login_json(request: Request, data: JSONBody[LoginIn]) -> UserOut:
    principal = await directory.login(data.email, data.password, client_address(request))
    start_session(request, principal.user_id)
    return await directory.get_user(principal.user_id)


@post("/auth/logout", tags=["session"], status_code=204, summary="Sign out")
async def logout_json(request: Request) -> None:
    request.clear_session()


@post("/auth/password", tags=["session"], status_code=204, **THROTTLED,
      summary="Change your password; every session of yours ends, this browser gets a new one",
      description="422 `wrong_password` when the current password is not right, "
                  "`weak_password` (naming the field) when the new one is easy to guess.")
async def change_password(request: Request, data: JSONBody[PasswordChangeIn]) -> None:
    principal = principal_of(request)
    await directory.change_password(principal, data.current_password, data.new_password,
                                    client_address(request))
    start_session(request, principal.user_id)


@get("/auth/me", tags=["session"], summary="The signed-in user")
async def me(request: Request) -> UserOut:
    principal = principal_of(request)
    if principal.user_id is None:
        raise Unauthenticated("an API key is not a signed-in user", code="no_session")
    return await directory.get_user(principal.user_id)


@get("/health", opt=PUBLIC, tags=["operations"], summary="Liveness and database check")
async def health() -> dict[str, str]:
    engine = piccolo_conf_engine()
    await engine.run_ddl("SELECT 1")
    return {"status": "ok", "database": engine.engine_type}
