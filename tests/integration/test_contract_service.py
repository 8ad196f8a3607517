"""Contracts through the services, on both engines: creation, variation, lifecycle."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from contracts import consent, directory, service
from contracts.errors import Conflict, Forbidden, Invalid, NotFound, Unauthenticated
from contracts.schemas import ApiKeyIn, ContractTerms, UserIn, VariationIn
from contracts.tables import ApiKey
from ledger import commitments
from tests.helpers import principal, terms, world


def variation(w, reason="price rise agreed", **over) -> VariationIn:
    t = terms([(w.ids["commissioner"], 6000), (w.ids["co_commissioner"], 4000)],
              [w.ids["auditor"]], **over)
    return msgspec.convert(dict(reason=reason, terms=t), VariationIn)


async def activate_own(w):
    """The world's co-commissioned draft, accepted by both commissioners and active."""
    cid = w.contracts["own"]
    await consent.accept_version(principal(w.ids["co_commissioner"], "commissioner"), cid, 1)
    await commitments.activate(principal(w.ids["commissioner"], "commissioner"), cid, "signed")
    return cid


async def test_a_variation_adds_a_version_and_keeps_what_was_agreed(db):
    w = await world()
    boss = principal(w.ids["commissioner"], "commissioner")
    cid = await activate_own(w)
    proposed = await commitments.vary(
        boss, cid, variation(w, cap={"amount": 120_000_000, "currency": "DKK"}))
    # A bigger cap commits both commissioners' money: the co-commissioner accepts too.
    assert proposed.status == "pending" and proposed.contract.version == 1
    varied = await commitments.accept(principal(w.ids["co_commissioner"], "commissioner"),
                                      cid, proposed.id)
    assert varied.status == "applied" and varied.contract.version == 2
    assert varied.contract.terms.cap.amount == 120_000_000
    versions = await service.list_versions(boss, cid)
    assert [v.version for v in versions] == [1, 2]
    assert versions[0].terms.cap.amount == 100_000_000
    assert versions[1].reason == "price rise agreed"
    assert versions[1].recorded_by == "test:commissioner"


async def test_an_active_contract_cannot_be_varied_into_invalid_terms(db):
    w = await world()
    boss = principal(w.ids["commissioner"], "commissioner")
    cid = await activate_own(w)
    with pytest.raises(Invalid) as err:
        await commitments.vary(boss, cid, variation(w, rate_card=[]))
    assert [p.code for p in err.value.problems] == ["rate_card_empty"]
    assert (await service.get_contract(boss, cid)).version == 1


async def test_lifecycle_is_recorded_and_closed_is_final(db):
    w = await world()
    boss = principal(w.ids["commissioner"], "commissioner")
    cid = await activate_own(w)
    for action in ("suspend", "resume", "close"):
        await service.transition(boss, cid, action, f"{action} because")
    with pytest.raises(Conflict) as err:
        await commitments.activate(boss, cid, "")
    assert err.value.code == "invalid_transition"
    with pytest.raises(Conflict) as err:
        await commitments.vary(boss, cid, variation(w))
    assert err.value.code == "contract_closed"
    events = await service.list_events(boss, cid)
    assert [e.to_status for e in events] == ["draft", "active", "suspended", "active", "closed"]
    assert events[1].reason == "signed" and events[-1].reason == "close because"


async def test_activation_has_one_door_that_commits_the_cap(db):
    w = await world()
    with pytest.raises(ValueError, match=r"commitments\.activate"):
        await service.transition(principal(w.ids["commissioner"], "commissioner"),
                                 w.contracts["own"], "activate", "")
    assert not hasattr(service, "vary_contract")


async def test_simultaneous_variations_make_exactly_one_new_version(db):
    w = await world()
    boss = principal(w.ids["commissioner"], "commissioner")
    cid = w.contracts["own"]
    results = await asyncio.gather(
        *[commitments.vary(boss, cid, variation(w, reason=f"variation {i}"))
          for i in range(5)], return_exceptions=True)
    ok = [r for r in results if not isinstance(r, Exception)]
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception))
    versions = await service.list_versions(boss, cid)
    assert len(versions) == 1 + len(ok)
    assert [v.version for v in versions] == list(range(1, len(versions) + 1))


async def test_providers_see_but_do_not_change_and_strangers_do_not_see(db):
    w = await world()
    cid = w.contracts["own"]
    provider = principal(w.ids["provider"], "provider")
    assert (await service.get_contract(provider, cid)).id == cid
    with pytest.raises(Forbidden):
        await commitments.activate(provider, cid, "")
    with pytest.raises(NotFound):
        await service.get_contract(principal(w.ids["other_provider"], "provider"), cid)
    # The role decides: a municipality's provider-role key does not see its commissioned work.
    with pytest.raises(NotFound):
        await service.get_contract(principal(w.ids["commissioner"], "provider"), cid)


async def test_terms_survive_the_round_trip_through_storage(db):
    w = await world()
    boss = principal(w.ids["commissioner"], "commissioner")
    got = await service.get_contract(boss, w.contracts["own"])
    expected = msgspec.convert(terms([(w.ids["commissioner"], 6000),
                                      (w.ids["co_commissioner"], 4000)], [w.ids["auditor"]]),
                               ContractTerms)
    assert got.terms == expected


async def test_passwords_are_hashed_and_checked(db):
    w = await world()
    user = await directory.create_user(None, msgspec.convert(dict(
        organisation_id=str(w.ids["commissioner"]), email="Mette@Roskilde.example",
        display_name="Mette", role="commissioner", password="correct horse battery"), UserIn))
    p = await directory.login("mette@roskilde.example", "correct horse battery")
    assert p.user_id == user.id and p.role == "commissioner"
    with pytest.raises(Unauthenticated):
        await directory.login("mette@roskilde.example", "wrong horse battery")
    with pytest.raises(Unauthenticated):
        await directory.login("nobody@roskilde.example", "correct horse battery")
    with pytest.raises(Conflict):
        await directory.create_user(None, msgspec.convert(dict(
            organisation_id=str(w.ids["commissioner"]), email="mette@roskilde.example",
            display_name="Mette 2", role="commissioner", password="another long password"),
            UserIn))


async def test_api_keys_are_stored_hashed_and_revocation_is_final(db):
    w = await world()
    created = await directory.create_api_key(
        None, ApiKeyIn(label="case system", organisation_id=w.ids["provider"]))
    stored = await ApiKey.select().where(ApiKey.id == created.id).first()
    assert created.key not in str(stored)
    assert created.key.startswith(stored["prefix"])
    assert (await directory.authenticate_api_key(created.key)).role == "provider"
    await directory.revoke_api_key(principal(w.ids["provider"], "provider"), created.id)
    with pytest.raises(Unauthenticated):
        await directory.authenticate_api_key(created.key)
