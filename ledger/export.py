"""The journal in Beancount syntax, so that an independent tool (bean-check) confirms that
the books balance. Accounts are named by type, contract and organisation; amounts in major
units with the currency's decimals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from decimal import Decimal

from contracts.money import MINOR_UNITS
from contracts.tables import Contract, Organisation
from ledger.tables import Account, JournalEntry, Posting

TYPES = {
    "budget": "Equity:Budget",
    "committed": "Assets:Committed",
    "accrued": "Expenses:Outcomes",
    "payable": "Liabilities:Payable",
    "paid": "Assets:Bank",
    "receivable": "Assets:Receivable",
}


def _component(text: str) -> str:
    """A Beancount account component: starts with a capital letter or digit."""
    cleaned = re.sub(r"[^A-Za-z0-9-]", "-", text).strip("-") or "X"
    return cleaned[0].upper() + cleaned[1:]


def amount(minor: int, currency: str) -> str:
    digits = MINOR_UNITS.get(currency, 2)
    return f"{Decimal(minor).scaleb(-digits):.{digits}f} {currency}"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'


async def beancount() -> AsyncIterator[str]:
    contracts = {r["id"]: r["reference"] for r in await Contract.select(
        Contract.id, Contract.reference)}
    orgs = {r["id"]: r["identifier"] for r in await Organisation.select(
        Organisation.id, Organisation.identifier)}
    names: dict = {}
    opened_on = {}
    first = await JournalEntry.select(JournalEntry.effective_on).order_by(
        JournalEntry.effective_on).first()
    start = first["effective_on"] if first else None
    yield 'option "title" "Virker journal"\n'
    for a in await Account.select().order_by(Account.code):
        name = ":".join([TYPES[a["code"]], _component(contracts.get(a["contract"], "None")),
                         _component(orgs.get(a["organisation"], "None"))])
        names[a["id"]] = name
        opened_on[a["id"]] = start
    for account_id, name in sorted(names.items(), key=lambda kv: kv[1]):
        yield f"{opened_on[account_id]} open {name}\n"
    yield "\n"
    postings: dict = {}
    for p in await Posting.select(Posting.entry, Posting.account, Posting.amount,
                                  Posting.currency):
        postings.setdefault(p["entry"], []).append(p)
    for e in await JournalEntry.select().order_by(JournalEntry.seq):
        yield (f"{e['effective_on']} * {_quote(e['kind'])} {_quote(e['memo'])}\n"
               f"  seq: {e['seq']}\n  hash: {_quote(e['hash'])}\n")
        for p in postings.get(e["id"], []):
            yield f"  {names[p['account']]}  {amount(p['amount'], p['currency'])}\n"
        yield "\n"
