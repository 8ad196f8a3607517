"""Organisations, users and API keys."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Request, delete, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from api.auth import principal_of
from contracts import directory
from contracts.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    OrganisationIn,
    OrganisationOut,
    UserIn,
    UserOut,
)


class OrganisationController(Controller):
    path = "/api/v1/organisations"
    tags = ["organisations"]

    @get("/", summary="List organisations")
    async def index(self) -> list[OrganisationOut]:
        return await directory.list_organisations()

    @get("/{org_id:uuid}", summary="One organisation")
    async def show(self, org_id: FromPath[UUID]) -> OrganisationOut:
        return await directory.get_organisation(org_id)

    @post("/", summary="Register an organisation (administrators)")
    async def create(self, request: Request, data: JSONBody[OrganisationIn]
                     ) -> OrganisationOut:
        return await directory.create_organisation(principal_of(request), data)


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/", summary="Users: all for administrators, your organisation's for others")
    async def index(self, request: Request) -> list[UserOut]:
        return await directory.list_users(principal_of(request))

    @post("/", summary="Create a user (administrators)")
    async def create(self, request: Request, data: JSONBody[UserIn]) -> UserOut:
        return await directory.create_user(principal_of(request), data)

    @post("/{user_id:uuid}/deactivate", status_code=200, summary="Deactivate a user")
    async def deactivate(self, request: Request, user_id: FromPath[UUID]) -> UserOut:
        return await directory.set_user_active(principal_of(request), user_id, False)

    @post("/{user_id:uuid}/activate", status_code=200, summary="Reactivate a user")
    async def activate(self, request: Request, user_id: FromPath[UUID]) -> UserOut:
        return await directory.set_user_active(principal_of(request), user_id, True)


class ApiKeyController(Controller):
    path = "/api/v1/api-keys"
    tags = ["api keys"]

    @get("/", summary="API keys (never the keys themselves)")
    async def index(self, request: Request, organisation_id: FromQuery[UUID | None] = None
                   ) -> list[ApiKeyOut]:
        return await directory.list_api_keys(principal_of(request), organisation_id)

    @post("/", summary="Create an API key; the key is shown in this response only")
    async def create(self, request: Request, data: JSONBody[ApiKeyIn]) -> ApiKeyCreated:
        return await directory.create_api_key(principal_of(request), data)

    @delete("/{key_id:uuid}", status_code=200, summary="Revoke an API key")
    async def revoke(self, request: Request, key_id: FromPath[UUID]) -> ApiKeyOut:
        return await directory.revoke_api_key(principal_of(request), key_id)
