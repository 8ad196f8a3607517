"""The front page, sign-in and sign-out, and the health check."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, JSONBody
from litestar.response import Redirect, Template

from api.auth import SESSION_USER, principal_of
from contracts import directory
from contracts.errors import Unauthenticated
from contracts.schemas import LoginIn, UserOut
from core.database import piccolo_conf_engine

PUBLIC = {"exclude_from_auth": True}


async def _session_user(request: Request) -> UserOut | None:
    user_id = request.session.get(SESSION_USER) if request.scope.get("session") else None
    if not user_id:
        return None
    principal = await directory.principal_for_user(_uuid(user_id))
    return await directory.get_user(principal.user_id) if principal else None


def _uuid(value: str) -> UUID:
    return UUID(value)


@get("/", opt=PUBLIC, include_in_schema=False)
async def home(request: Request) -> Template:
    return Template("home.html", context={"user": await _session_user(request)})


@get("/login", opt=PUBLIC, include_in_schema=False)
async def login_page(request: Request) -> Template:
    return Template("login.html", context={"user": None})


@post("/login", opt=PUBLIC, include_in_schema=False, status_code=303)
async def login_form(
    request: Request,
    data: Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)],
) -> Response:
    email, password = str(data.get("email", "")), str(data.get("password", ""))
    try:
        principal = await directory.login(email, password)
    except Unauthenticated:
        return Template("login.html", status_code=401,
                        context={"user": None, "error": "Wrong email or password.",
                                 "email": email})
    request.set_session({SESSION_USER: str(principal.user_id)})
    return Redirect("/", status_code=303)


@post("/logout", include_in_schema=False, status_code=303)
async def logout(request: Request) -> Redirect:
    request.clear_session()
    return Redirect("/", status_code=303)


@post("/auth/login", opt=PUBLIC, tags=["session"], summary="Sign in to the web UI (JSON)")
async def login_json(request: Request, data: JSONBody[LoginIn]) -> UserOut:
    principal = await directory.login(data.email, data.password)
    request.set_session({SESSION_USER: str(principal.user_id)})
    return await directory.get_user(principal.user_id)


@post("/auth/logout", tags=["session"], status_code=204, summary="Sign out")
async def logout_json(request: Request) -> None:
    request.clear_session()


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
