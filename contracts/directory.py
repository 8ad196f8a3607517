"""Organisations, users and API keys: who may do what.

Admins manage organisations and users. API keys belong to an organisation: an admin
creates them for any organisation; an organisation rotates its own (a new key of the same
role, the old one revoked). Revoked keys stay on record with their revocation time.

Signing in is throttled per account and per client address (ACCOUNT_ATTEMPTS and
ADDRESS_ATTEMPTS within LOGIN_WINDOW), counted in the database so that every replica
agrees. A password must be hard to guess (identity.weak_password) when it is set; changing
it, or deactivating its user, ends every web session of that user.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from collections.abc import AsyncIterator
from uuid import UUID

from contracts.errors import (
    Conflict,
    DomainError,
    Forbidden,
    Invalid,
    NotFound,
    Problem,
    Unauthenticated,
)
from contracts.identity import (
    Principal,
    default_role,
    hash_api_key,
    hash_password,
    new_api_key,
    verify_password,
    weak_password,
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
from contracts.tables import ApiKey, AppUser, LoginAttempt, Organisation, WebSession
from core.clock import now
from core.database import is_unique_violation, write_transaction
from core.ids import new_id

# A key's last-used time is written at most this often, so reads stay reads.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
# Sign-in attempts not known to have succeeded, within the window, that an account and a
# client address may make before they wait. An address may be an office behind one NAT, so
# it gets more than one person's account does.
LOGIN_WINDOW = dt.timedelta(minutes=15)
ACCOUNT_ATTEMPTS = 5
ADDRESS_ATTEMPTS = 20


class TooManyAttempts(DomainError):
    """Too many failed sign-ins for an account or from an address; `retry_after` seconds
    until the next attempt is counted again."""

    code = "too_many_attempts"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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
    require_strong_password(data.password, "password", (data.email, data.display_name))
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
        if not active:
            await end_sessions(user_id)
    row["active"] = active
    return _user_out(row)


async def login(email: str, password: str, address: str | None = None) -> Principal:
    """The user whose email and password these are. `address` is the client's, for the
    throttle; the command line and the tests have none."""
    email = email.lower()
    async with _attempt(email, address):
        row = await AppUser.select().where(AppUser.email == email).first()
        if row is None or not row["active"]:
            verify_password(None, password)
            raise Unauthenticated("wrong email or password", code="invalid_credentials")
        if not verify_password(row["password_hash"], password):
            raise Unauthenticated("wrong email or password", code="invalid_credentials")
    await AppUser.update({AppUser.last_login_at: now()}).where(AppUser.id == row["id"])
    return Principal(organisation_id=row["organisation"], role=row["role"],
                     user_id=row["id"], label=f"user:{row['email']}")


async def change_password(principal: Principal, current: str, new: str,
                          address: str | None = None) -> None:
    """Set a signed-in user's password, the current one proven first (throttled like a
    sign-in), and end every session of the user: whoever held one must sign in again."""
    if principal.user_id is None:
        raise Unauthenticated("an API key is not a signed-in user", code="no_session")
    row = await AppUser.select().where(AppUser.id == principal.user_id).first()
    if row is None or not row["active"]:
        raise Unauthenticated("the user is unknown or deactivated", code="unauthenticated")
    async with _attempt(row["email"], address):
        if not verify_password(row["password_hash"], current):
            raise Invalid("the current password is wrong", code="wrong_password", problems=[
                Problem(code="wrong_password", field="current_password",
                        message="this is not your current password")])
    require_strong_password(new, "new_password", (row["email"], row["display_name"]))
    if verify_password(row["password_hash"], new):
        raise Invalid("the new password is the current one", code="password_unchanged",
                      problems=[Problem(code="password_unchanged", field="new_password",
                                        message="choose a password you have not used here")])
    async with write_transaction():
        await AppUser.update({AppUser.password_hash: hash_password(new)}).where(
            AppUser.id == principal.user_id)
        await end_sessions(principal.user_id)


def require_strong_password(password: str, field: str, user_inputs: tuple[str, ...]) -> None:
    reason = weak_password(password, user_inputs)
    if reason is not None:
        raise Invalid(f"the password is too easy to guess: {reason}", code="weak_password",
                      problems=[Problem(code="weak_password", field=field, message=reason)])


async def end_sessions(user_id: UUID) -> None:
    """End every web session of the user, on every replica."""
    await WebSession.delete().where(WebSession.app_user == user_id)


# The sign-in throttle ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def _attempt(email: str, address: str | None) -> AsyncIterator[None]:
    """Count an attempt to prove the password of `email` from `address`; the body proves it
    or raises. The attempt is recorded before it is judged, so that attempts made at the same
    moment see each other: of any number sent at once, at most the limit get through. One
    that succeeds clears its account's attempts; one refused by the throttle is not kept, so
    that waiting is enough to be let in again."""
    email = email[:254]
    address = address[:64] if address else None
    started = now()
    attempt = LoginAttempt(id=new_id(), email=email, address=address, attempted_at=started)
    await attempt.save()
    try:
        wait = await _wait_for(attempt.id, email, address, started)
    except BaseException:
        await LoginAttempt.delete().where(LoginAttempt.id == attempt.id)
        raise
    if wait is not None:
        await LoginAttempt.delete().where(LoginAttempt.id == attempt.id)
        minutes = max(1, -(-wait // 60))
        raise TooManyAttempts(f"too many failed sign-ins; try again in {minutes} minute"
                              f"{'s' if minutes != 1 else ''}", retry_after=wait)
    yield
    await LoginAttempt.delete().where(LoginAttempt.email == email)


async def _wait_for(own: UUID, email: str, address: str | None, at: dt.datetime
                    ) -> int | None:
    """Seconds until `email` and `address` are under their limits again, or None if they
    are now. Forgets the attempts that fell out of the window, for everyone."""
    since = at - LOGIN_WINDOW
    await LoginAttempt.delete().where(LoginAttempt.attempted_at < since)
    limits = [(LoginAttempt.email == email, ACCOUNT_ATTEMPTS)]
    if address is not None:
        limits.append((LoginAttempt.address == address, ADDRESS_ATTEMPTS))
    waits = []
    for where, limit in limits:
        rows = await LoginAttempt.select(LoginAttempt.attempted_at).where(
            where, LoginAttempt.attempted_at >= since, LoginAttempt.id != own,
        ).order_by(LoginAttempt.attempted_at)
        if len(rows) >= limit:
            # Under the limit again once all but limit - 1 of them have left the window.
            frees = rows[len(rows) - limit]["attempted_at"] + LOGIN_WINDOW
            waits.append(max(1, math.ceil((frees - at).total_seconds())))
    return max(waits) if waits else None


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


# Maker-checker -----------------------------------------------------------------------------


async def single_approver(org_id: UUID) -> bool:
    """Whether one person of the organisation may alone draft and approve a payment run."""
    row = await Organisation.select(Organisation.single_approver).where(
        Organisation.id == org_id).first()
    return bool(row and row["single_approver"])


async def set_single_approver(principal: Principal, org_id: UUID, allowed: bool) -> bool:
    """Allow (or forbid again) one person of the organisation to draft and approve a payment
    run alone; administrators only. Returns the setting as it now is."""
    _require_admin(principal)
    updated = await Organisation.update({Organisation.single_approver: allowed}).where(
        Organisation.id == org_id).returning(Organisation.id)
    if not updated:
        raise NotFound("no such organisation", code="organisation_not_found")
    return allowed
