"""Publication control: every part of a contract is private until a commissioner publishes
it; decisions are append-only and the latest stands."""

import pytest

from contracts.errors import Forbidden, Invalid, NotFound
from opendata import publication
from opendata.publication import PublicationIn
from opendata.tables import Publication
from tests.helpers import principal, world


async def test_parts_are_private_until_a_commissioner_publishes_them(db):
    w = await world()
    cid = w.contracts["own"]
    boss = principal(w.ids["commissioner"], "commissioner")
    out = await publication.publication(boss, cid)
    assert {p.part: p.status for p in out.parts} == dict.fromkeys(publication.PARTS,
                                                                   "private")
    assert await publication.public_parts(cid) == set()

    # A public rate card shows nothing while the contract itself is private.
    await publication.decide(boss, cid, PublicationIn(parts={"rate_card": "public"}))
    assert await publication.public_parts(cid) == set()
    await publication.decide(boss, cid, PublicationIn(parts={"contract": "public"}))
    assert await publication.public_parts(cid) == {"contract", "rate_card"}
    assert [r["field"] for r in await publication.feed()] == ["contract", "rate_card"]

    await publication.decide(boss, cid, PublicationIn(parts={"rate_card": "private"}))
    assert await publication.public_parts(cid) == {"contract"}
    assert [r["field"] for r in await publication.feed()] == ["contract"]
    # Deciding what already stands records nothing new; the history stays.
    await publication.decide(boss, cid, PublicationIn(parts={"contract": "public"}))
    assert await Publication.count() == 3
    with pytest.raises(Exception, match="append-only"):
        await Publication.delete(force=True)


async def test_only_the_contracts_commissioners_decide(db):
    w = await world()
    cid = w.contracts["own"]
    with pytest.raises(Forbidden):
        await publication.decide(principal(w.ids["provider"], "provider"), cid,
                                 PublicationIn(parts={"contract": "public"}))
    with pytest.raises(NotFound):
        await publication.decide(principal(w.ids["other_commissioner"], "commissioner"),
                                 cid, PublicationIn(parts={"contract": "public"}))
    with pytest.raises(Invalid) as bad:
        await publication.decide(principal(w.ids["commissioner"], "commissioner"), cid,
                                 PublicationIn(parts={"participants": "public"}))
    assert bad.value.code == "unknown_part"
