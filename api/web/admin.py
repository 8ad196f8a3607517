"""Administration, for administrators: organisations (and whether one person alone may draft
and approve a payment run), users and their roles, API keys. The same doors as
/api/v1/organisations, /users and /api-keys (`contracts.directory`), which check the role
again. A key is shown once, on the page that answers its creation, and never again.

`form_struct` turns a submitted form into the Struct a service takes, refusing it as the API
would (422 with the field named), for every form of the web UI that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, TypeVar
from uuid import UUID

import msgspec
from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, QueryParameter
from litestar.response import Redirect, Response, Template

from api.auth import principal_of
from api.errors import DOMAIN_STATUS
from api.web import i18n
from api.web.layout import WEB, page
from contracts import directory
from contracts.errors import Conflict, DomainError, Forbidden, Invalid, Problem
from contracts.identity import Principal
from contracts.schemas import ApiKeyIn, OrganisationIn, OrgKind, Role, UserIn, validation_problem

T = TypeVar("T")
Form = Annotated[dict[str, Any], Body(media_type=RequestEncodingType.URL_ENCODED)]
PAGE = 50
ROLES: tuple[str, ...] = Role.__args__
ORG_KINDS: tuple[str, ...] = OrgKind.__args__
_AT = re.compile(r" - at `\$\.?([^`]*)`")
_MISSING = re.compile(r"missing required field `([^`]+)`")
# Refusals without a field of their own, placed beside the field they concern.
FIELD_OF_CODE = {"email_taken": "email", "identifier_taken": "identifier"}


def form_struct(data: dict[str, Any], struct: type[T]) -> T:
    """The fields of `struct` from a submitted form (empty fields left out, so that a
    default applies), converted as the API decodes a body; Invalid naming the field when a
    value is refused."""
    fields = getattr(struct, "__struct_fields__", ())
    values = {k: v for k in fields if (v := data.get(k)) is not None and v != ""}
    try:
        return msgspec.convert(values, struct, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        match = _AT.search(message)
        at = match.group(1) if match else ""
        missing = _MISSING.search(message)
        if missing:  # the field that is missing, not the object that misses it
            at = f"{at}.{missing.group(1)}" if at else missing.group(1)
            message = i18n._("This is needed.")
        problem = validation_problem(_AT.sub("", message), at, "form")
        raise Invalid(problem.message, code=problem.code, problems=[problem]) from None


def problems_of(exc: DomainError) -> list[Problem]:
    """The problems to show beside the fields, a refusal of one field without its own
    problem (an e-mail address taken) placed beside that field."""
    if exc.problems:
        return exc.problems
    field = FIELD_OF_CODE.get(exc.code)
    return [Problem(code=exc.code, field=field, message=exc.message)] if field else []


def status_of(exc: DomainError) -> int:
    """The HTTP status the API answers `exc` with."""
    return next((s for cls, s in DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an administrator may do this", code="admin_only")


def window(items: Sequence[T], cursor: str | None, key: Callable[[T], str],
           limit: int = PAGE) -> tuple[list[T], str | None]:
    """A page of `items` (in the service's order) after the one whose key is `cursor`, and
    the cursor of the next page. The directory's lists are short; the page keeps them so."""
    start = 0
    if cursor:
        keys = [key(i) for i in items]
        start = keys.index(cursor) + 1 if cursor in keys else 0
    page_items = list(items[start:start + limit])
    more = start + limit < len(items)
    return page_items, key(page_items[-1]) if more and page_items else None


DONE = {
    "organisation": "The organisation is registered.",
    "user": "The user is created and can sign in now.",
    "activated": "The user is active again.",
    "deactivated": "The user is deactivated and signed out everywhere.",
    "revoked": "The API key is revoked: requests made with it are refused.",
    "single_approver": "The payment run setting is saved.",
}


def flash(done: str | None) -> str | None:
    return i18n._(DONE[done]) if done in DONE else None


Done = Annotated[str | None, QueryParameter()]
Cursor = Annotated[str | None, QueryParameter()]


# Organisations -----------------------------------------------------------------------------


async def _organisations_page(request: Request, *, cursor: str | None = None,
                              status_code: int = 200, **extra: Any) -> Template:
    require_admin(principal_of(request))
    organisations = await directory.list_organisations()
    shown, next_cursor = window(organisations, cursor, lambda o: str(o.id))
    alone = {o.id: await directory.single_approver(o.id) for o in shown}
    return await page(request, "web/admin.html", status_code=status_code, tab="organisations",
                      organisations=shown, total=len(organisations), next_cursor=next_cursor,
                      alone=alone,
                      kinds=ORG_KINDS, errors=extra.pop("errors", []),
                      message=extra.pop("message", None), values=extra.pop("values", {}),
                      **extra)


@get("/admin", opt=WEB, include_in_schema=False)
async def organisations(request: Request, cursor: Cursor = None, done: Done = None
                        ) -> Template:
    return await _organisations_page(request, cursor=cursor, flash=flash(done))


@post("/admin/organisations", opt=WEB, include_in_schema=False)
async def create_organisation(request: Request, data: Form) -> Response:
    principal = principal_of(request)
    require_admin(principal)
    try:
        await directory.create_organisation(principal, form_struct(data, OrganisationIn))
    except (Invalid, Conflict) as exc:
        return await _organisations_page(request, status_code=status_of(exc),
                                         errors=problems_of(exc), message=exc.message,
                                         values=data)
    return Redirect("/admin?done=organisation", status_code=303)


@post("/admin/organisations/{org_id:uuid}/single-approver", opt=WEB, include_in_schema=False)
async def single_approver(request: Request, org_id: FromPath[UUID], data: Form) -> Redirect:
    """Whether one person alone may draft and approve the organisation's payment runs."""
    principal = principal_of(request)
    require_admin(principal)
    allowed = str(data.get("allowed", "")) in ("on", "true", "1", "yes")
    await directory.set_single_approver(principal, org_id, allowed)
    return Redirect("/admin?done=single_approver", status_code=303)


# Users -------------------------------------------------------------------------------------


async def _users_page(request: Request, *, organisation: str | None = None,
                      cursor: str | None = None, status_code: int = 200, **extra: Any
                      ) -> Template:
    principal = principal_of(request)
    require_admin(principal)
    orgs = await directory.list_organisations()
    users = await directory.list_users(principal)
    if organisation:
        users = [u for u in users if str(u.organisation_id) == organisation]
    shown, next_cursor = window(users, cursor, lambda u: str(u.id))
    return await page(request, "web/admin_users.html", status_code=status_code, tab="users",
                      users=shown, total=len(users), next_cursor=next_cursor,
                      organisations=orgs, names={o.id: o.name for o in orgs},
                      organisation=organisation, roles=ROLES,
                      errors=extra.pop("errors", []), message=extra.pop("message", None),
                      values=extra.pop("values", {}), **extra)


@get("/admin/users", opt=WEB, include_in_schema=False)
async def users(request: Request, organisation: Annotated[str | None, QueryParameter()] = None,
                cursor: Cursor = None, done: Done = None) -> Template:
    return await _users_page(request, organisation=organisation, cursor=cursor,
                             flash=flash(done))


@post("/admin/users", opt=WEB, include_in_schema=False)
async def create_user(request: Request, data: Form) -> Response:
    principal = principal_of(request)
    require_admin(principal)
    try:
        await directory.create_user(principal, form_struct(data, UserIn))
    except (Invalid, Conflict) as exc:
        values = {k: v for k, v in data.items() if k != "password"}
        return await _users_page(request, status_code=status_of(exc), errors=problems_of(exc),
                                 message=exc.message, values=values)
    return Redirect("/admin/users?done=user", status_code=303)


@post("/admin/users/{user_id:uuid}/{action:str}", opt=WEB, include_in_schema=False)
async def user_active(request: Request, user_id: FromPath[UUID], action: FromPath[str]) -> Redirect:
    if action not in ("activate", "deactivate"):
        raise Invalid("activate or deactivate", code="invalid_field")
    await directory.set_user_active(principal_of(request), user_id, action == "activate")
    return Redirect(f"/admin/users?done={action}d", status_code=303)


# API keys ----------------------------------------------------------------------------------


async def _keys_page(request: Request, *, organisation: str | None = None,
                     cursor: str | None = None, status_code: int = 200, **extra: Any
                     ) -> Template:
    principal = principal_of(request)
    require_admin(principal)
    orgs = await directory.list_organisations()
    org_id = None
    if organisation:
        try:
            org_id = UUID(organisation)
        except ValueError:
            organisation = None
    keys = await directory.list_api_keys(principal, org_id)
    shown, next_cursor = window(keys, cursor, lambda k: str(k.id))
    return await page(request, "web/admin_keys.html", status_code=status_code, tab="keys",
                      keys=shown, total=len(keys), next_cursor=next_cursor,
                      organisations=orgs, names={o.id: o.name for o in orgs},
                      organisation=organisation, roles=ROLES,
                      errors=extra.pop("errors", []), message=extra.pop("message", None),
                      values=extra.pop("values", {}), **extra)


@get("/admin/keys", opt=WEB, include_in_schema=False)
async def keys(request: Request, organisation: Annotated[str | None, QueryParameter()] = None,
               cursor: Cursor = None, done: Done = None) -> Template:
    return await _keys_page(request, organisation=organisation, cursor=cursor,
                            flash=flash(done))


@post("/admin/keys", opt=WEB, include_in_schema=False)
async def create_key(request: Request, data: Form) -> Template:
    principal = principal_of(request)
    require_admin(principal)
    try:
        created = await directory.create_api_key(principal, form_struct(data, ApiKeyIn))
    except (Invalid, Conflict, Forbidden) as exc:
        if isinstance(exc, Forbidden):
            raise
        return await _keys_page(request, status_code=status_of(exc), errors=problems_of(exc),
                                message=exc.message, values=data)
    org = await directory.get_organisation(created.organisation_id)
    return await page(request, "web/admin_key_created.html", status_code=201, tab="keys",
                      created=created, organisation_name=org.name, back="/admin/keys")


@post("/admin/keys/{key_id:uuid}/revoke", opt=WEB, include_in_schema=False)
async def revoke_key(request: Request, key_id: FromPath[UUID]) -> Redirect:
    principal = principal_of(request)
    require_admin(principal)
    await directory.revoke_api_key(principal, key_id)
    return Redirect("/admin/keys?done=revoked", status_code=303)


# Roles -------------------------------------------------------------------------------------


@get("/admin/roles", opt=WEB, include_in_schema=False)
async def roles(request: Request) -> Template:
    principal = principal_of(request)
    require_admin(principal)
    counts: dict[str, int] = {}
    for u in await directory.list_users(principal):
        if u.active:
            counts[u.role] = counts.get(u.role, 0) + 1
    return await page(request, "web/admin_roles.html", tab="roles", roles=ROLES, counts=counts)


ROUTES = [organisations, create_organisation, single_approver, users, create_user,
          user_active, keys, create_key, revoke_key, roles]
