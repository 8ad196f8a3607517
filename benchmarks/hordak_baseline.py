"""django-hordak's batched rate on the same PostgreSQL, for `benchmarks.ledger`.

Runs in its own virtual environment (`make benchmark-deps` makes `.venv-hordak` with Django
and django-hordak from PyPI; nothing of Virker is imported), against a fresh, empty
database that `benchmarks.ledger` creates and drops:

    .venv-hordak/bin/python benchmarks/hordak_baseline.py --url postgresql://… [--transfers N]

It migrates hordak's tables (with hordak's own checks in the database: a constraint trigger
that every transaction's legs sum to zero per currency, legs positive and in their
account's currency), opens two accounts (the provider's payable, a liability, and the
commissioner's bank, an asset), then pays N transfers from the bank to the payable, each a
hordak `Transaction` with a debit and a credit `Leg`, two ways, each timed alone:

- `transfer_to`: `Account.transfer_to`, hordak's documented shortcut, in atomic blocks of
  `--batch` transfers;
- `bulk_create`: `Transaction.objects.bulk_create` and `Leg.objects.bulk_create` of a batch
  in one atomic block, as hordak's own `create_benchmark_transactions` command loads data:
  the fastest way hordak writes.

Prints one JSON object: per way, transfers, seconds and transfers/s, and `batched`, the
faster way's rate, which is hordak's figure in BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import time
from decimal import Decimal
from urllib.parse import unquote, urlsplit


def configure(url: str) -> None:
    import django
    from django.conf import settings

    parts = urlsplit(url)
    settings.configure(
        DEBUG=False,
        USE_TZ=True,
        INSTALLED_APPS=["django.contrib.contenttypes", "mptt", "djmoney", "hordak"],
        DATABASES={"default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": parts.path.lstrip("/"), "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""), "HOST": parts.hostname or "",
            "PORT": str(parts.port or 5432)}},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        DEFAULT_CURRENCY="DKK", HORDAK_INTERNAL_CURRENCY="DKK", CURRENCIES=["DKK"],
        HORDAK_DECIMAL_PLACES=2, HORDAK_MAX_DIGITS=13,
    )
    django.setup()


def accounts():
    from hordak.models import Account, AccountType

    payable = Account.objects.create(name="Payable to providers", code="1",
                                     type=AccountType.liability, currencies=["DKK"])
    bank = Account.objects.create(name="Bank", code="2", type=AccountType.asset,
                                  currencies=["DKK"], is_bank_account=True)
    return payable, bank


def by_transfer_to(payable, bank, n: int, batch: int) -> float:
    from django.db import transaction as db_transaction
    from moneyed import Money

    amount = Money(Decimal("35000.00"), "DKK")
    started = time.perf_counter()
    for start in range(0, n, batch):
        with db_transaction.atomic():
            for i in range(start, min(n, start + batch)):
                bank.transfer_to(payable, amount, description=f"payment {i}")
    return time.perf_counter() - started


def by_bulk_create(payable, bank, n: int, batch: int) -> float:
    from django.db import transaction as db_transaction
    from hordak.models import Leg, Transaction
    from moneyed import Money

    amount = Money(Decimal("35000.00"), "DKK")
    started = time.perf_counter()
    for start in range(0, n, batch):
        transactions, legs = [], []
        for i in range(start, min(n, start + batch)):
            tx = Transaction(description=f"payment {i}")
            transactions.append(tx)
            legs += [Leg(transaction=tx, account=payable, debit=amount),
                     Leg(transaction=tx, account=bank, credit=amount)]
        with db_transaction.atomic():
            Transaction.objects.bulk_create(transactions)
            Leg.objects.bulk_create(legs)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="an empty PostgreSQL database")
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    args = parser.parse_args()

    configure(args.url)
    from django.core.management import call_command
    from hordak.models import Leg, Transaction

    with contextlib.redirect_stdout(io.StringIO()):
        call_command("migrate", verbosity=0, interactive=False)
    payable, bank = accounts()
    out: dict[str, object] = {"django": __import__("django").get_version(),
                              "hordak": _version("django-hordak")}
    ways = {"transfer_to": by_transfer_to, "bulk_create": by_bulk_create}
    for name, way in ways.items():
        before = Transaction.objects.count()
        took = way(payable, bank, args.transfers, args.batch)
        made = Transaction.objects.count() - before
        if made != args.transfers or Leg.objects.filter(
                transaction__id__gt=0).count() != 2 * Transaction.objects.count():
            sys.exit(f"{name}: made {made} transfers, not {args.transfers}")
        out[name] = {"transfers": made, "seconds": round(took, 3),
                     "per_second": round(made / took, 1)}
    bank.refresh_from_db()
    balance = bank.get_balance().monies()[0].amount
    expected = -2 * args.transfers * Decimal("35000.00")
    if balance != expected:
        sys.exit(f"the bank's balance is {balance}, not {expected}")
    out["batched"] = max(out[name]["per_second"] for name in ways)
    print(json.dumps(out))


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)


if __name__ == "__main__":
    main()
