"""Organisations, users and API keys: who may do what.

Admins manage organisations and users. API keys belong to an organisation: an admin
creates them for any organisation; an organisation rotates its own (a new key of the same
role, the old one revoked). Revoked keys stay on record with their revocation time.
"""

from __future__ import annotations

import datetime as dt
from uuid import UUID

from contracts.errors import Conflict, Forbidden, Invalid, NotFound, Problem, Unauthenticated
from contracts.identity import (
    Principal,
    default_role,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
)
from contracts.schemas import (
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    OrganisationIn,
    OrganisationOut,
    UserIn,
    UserOut,
)
from contracts.tables import ApiKey, AppUser, Organisation
from core.clock import now
from core.database import is_unique_violation, write_transaction
from core.ids import new_id

# A key's last-used time is written at most this often, so reads stay reads.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def _require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden("only an administrator may do this", code="admin_only")


# Organisations -----------------------------------------------------------------------------


async def create_organisation(principal: Principal | None, data: OrganisationIn) -> OrganisationOut:
    """`principal` None is the command line, run by whoever runs the server."""
    if principal is not None:
        _require_admin(principal)
    row = Organisation(id=new_id(), name=data.name, kind=data.kind,
                       identifier=data.identifier, created_at=now())
    try:
        await row.save()
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict(f"an organisation with identifier {data.identifier} exists",
                           code="identifier_taken") from exc
        raise
    return _org_out(row.to_dict())


async def list_organisations() -> list[OrganisationOut]:
    rows = await Organisation.select().order_by(Organisation.name)
    return [_org_out(r) for r in rows]


async def get_organisation(org_id: UUID) -> OrganisationOut:
    row = await Organisation.select().where(Organisation.id == org_id).first()
    if row is None:
        raise NotFound("no such organisation", code="organisation_not_found")
    return _org_out(row)


async def find_organisation(ref: str) -> OrganisationOut:
    """By id or by identifier (DK-CVR-…), for the command line."""
    try:
        return await get_organisation(UUID(ref))
    except ValueError:
        row = await Organisation.select().where(Organisation.identifier == ref).first()
        if row is None:
            raise NotFound(f"no organisation {ref}", code="organisation_not_found") from None
        return _org_out(row)


async def existing_organisations(ids: set[UUID]) -> dict[UUID, str]:
    """id → kind for those of `ids` that exist."""
    if not ids:
        return {}
    rows = await Organisation.select(Organisation.id, Organisation.kind).where(
        Organisation.id.is_in(list(ids)))
    return {r["id"]: r["kind"] for r in rows}


def _org_out(row: dict) -> OrganisationOut:
    return OrganisationOut(id=row["id"], name=row["name"], kind=row["kind"],
                           identifier=row["identifier"], created_at=row["created_at"])


# Users -------------------------------------------------------------------------------------


async def create_user(principal: Principal | None, data: UserIn) -> UserOut:
    if principal is not None:
        _require_admin(principal)
    await get_organisation_or_invalid(data.organisation_id, "organisation_id")
    row = AppUser(id=new_id(), organisation=data.organisation_id, email=data.email.lower(),
                  display_name=data.display_name, role=data.role,
                  password_hash=hash_password(data.password), active=True, created_at=now())
    try:
        await row.save()
    except Exception as exc:
        if is_unique_violation(exc):
            raise Conflict("a user with this email exists", code="email_taken") from exc
        raise
    return _user_out(row.to_dict())


async def list_users(principal: Principal) -> list[UserOut]:
    query = AppUser.select().order_by(AppUser.email)
    if not principal.is_admin:
        query = query.where(AppUser.organisation == principal.organisation_id)
    return [_user_out(r) for r in await query]


async def set_user_active(principal: Principal, user_id: UUID, active: bool) -> UserOut:
    _require_admin(principal)
    async with write_transaction():
        row = await AppUser.select().where(AppUser.id == user_id).first()
        if row is None:
            raise NotFound("no such user", code="user_not_found")
        await AppUser.update({AppUser.active: active}).where(AppUser.id == user_id)
    row["active"] = active
    return _user_out(row)


async def login(email: str, password: str) -> Principal:
    row = await AppUser.select().where(AppUser.email == email.lower()).first()
    if row is None or not row["active"]:
        verify_password(None, password)
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    if not verify_password(row["password_hash"], password):
        raise Unauthenticated("wrong email or password", code="invalid_credentials")
    await AppUser.update({AppUser.last_login_at: now()}).where(AppUser.id == row["id"])
    return Principal(organisation_id=row["organisation"], role=row["role"],
                     user_id=row["id"], label=f"user:{row['email']}")


async def principal_for_user(user_id: UUID) -> Principal | None:
    row = await AppUser.select().where(AppUser.id == user_id).first()
    if row is None or not row["active"]:
        return None
    return Principal(organisation_id=row["organisation"], role=row["role"],
                     user_id=row["id"], label=f"user:{row['email']}")


async def get_user(user_id: UUID) -> UserOut:
    row = await AppUser.select().where(AppUser.id == user_id).first()
    if row is None:
        raise NotFound("no such user", code="user_not_found")
    return _user_out(row)


def _user_out(row: dict) -> UserOut:
    return UserOut(id=row["id"], organisation_id=row["organisation"], email=row["email"],
                   display_name=row["display_name"], role=row["role"], active=row["active"],
                   created_at=row["created_at"], last_login_at=row.get("last_login_at"))


async def get_organisation_or_invalid(org_id: UUID, field: str) -> dict:
    row = await Organisation.select().where(Organisation.id == org_id).first()
    if row is None:
        raise Invalid("no such organisation", code="unknown_organisation",
                      problems=[Problem(code="unknown_organisation", field=field,
                                        message=f"organisation {org_id} does not exist")])
    return row


# API keys ----------------------------------------------------------------------------------


async def create_api_key(principal: Principal | None, data: ApiKeyIn,
                         *, fixed_key: str | None = None) -> ApiKeyCreated:
    """A new key; the response is the only time the key itself is shown.

    `fixed_key` is for the demo data only, whose keys are printed in the README.
    """
    org_id = data.organisation_id
    if principal is not None and not principal.is_admin:
        if org_id is not None and org_id != principal.organisation_id:
            raise Forbidden("keys are created for your own organisation",
                            code="other_organisation")
        if data.role is not None and data.role != principal.role:
            raise Forbidden("a key can only be created with your own role",
                            code="role_escalation")
        org_id = principal.organisation_id
    if org_id is None:
        raise Invalid("organisation_id is required", code="organisation_required",
                      problems=[Problem(code="organisation_required", field="organisation_id",
                                        message="name the organisation the key belongs to")])
    org = await get_organisation_or_invalid(org_id, "organisation_id")
    role = data.role or (principal.role if principal and not principal.is_admin
                         else default_role(org["kind"]))
    if fixed_key is not None:
        key, prefix, key_hash = fixed_key, fixed_key[:11], hash_api_key(fixed_key)
    else:
        key, prefix, key_hash = new_api_key()
    row = ApiKey(id=new_id(), organisation=org_id, role=role, label=data.label, prefix=prefix,
                 key_hash=key_hash, created_at=now())
    await row.save()
    out = _key_out(row.to_dict())
    return ApiKeyCreated(**{f: getattr(out, f) for f in out.__struct_fields__}, key=key)


async def list_api_keys(principal: Principal, organisation_id: UUID | None = None
                        ) -> list[ApiKeyOut]:
    query = ApiKey.select().order_by(ApiKey.created_at)
    if not principal.is_admin:
        query = query.where(ApiKey.organisation == principal.organisation_id)
    elif organisation_id is not None:
        query = query.where(ApiKey.organisation == organisation_id)
    return [_key_out(r) for r in await query]


async def revoke_api_key(principal: Principal, key_id: UUID) -> ApiKeyOut:
    async with write_transaction():
        row = await ApiKey.select().where(ApiKey.id == key_id).first()
        if row is None or (not principal.is_admin
                           and row["organisation"] != principal.organisation_id):
            raise NotFound("no such API key", code="api_key_not_found")
        if row["revoked_at"] is None:
            row["revoked_at"] = now()
            await ApiKey.update({ApiKey.revoked_at: row["revoked_at"]}).where(
                ApiKey.id == key_id)
    return _key_out(row)


async def authenticate_api_key(key: str) -> Principal:
    row = await ApiKey.select().where(ApiKey.key_hash == hash_api_key(key)).first()
    if row is None or row["revoked_at"] is not None:
        raise Unauthenticated("the API key is unknown or revoked", code="invalid_api_key")
    used = now()
    last = row["last_used_at"]
    if last is None or used - last > LAST_USED_RESOLUTION:
        await ApiKey.update({ApiKey.last_used_at: used}).where(ApiKey.id == row["id"])
    return Principal(organisation_id=row["organisation"], role=row["role"],
                     api_key_id=row["id"], label=f"key:{row['prefix']}")


def _key_out(row: dict) -> ApiKeyOut:
    return ApiKeyOut(id=row["id"], organisation_id=row["organisation"], role=row["role"],
                     label=row["label"], prefix=row["prefix"], created_at=row["created_at"],
                     last_used_at=row.get("last_used_at"), revoked_at=row.get("revoked_at"))
