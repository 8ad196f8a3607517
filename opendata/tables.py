"""The reference library (read-only copies of the INDIGO dataset's projects), exchange
rates, and what each contract's commissioner has chosen to publish.

Reference rows are written by the importer alone (`opendata.indigo`); nothing in Virker
edits them. A project's every imported value, with its source, is kept in `data` (JSON), and
the columns hold what search and reuse need.
"""

from piccolo.columns import (
    UUID,
    BigInt,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table

from contracts.tables import Contract


class ReferenceProject(Table, tablename="reference_project"):
    id = UUID(primary_key=True)
    code = Varchar(length=64, unique=True)
    name = Text()
    stage = Varchar(length=100, null=True, default=None)
    country = Varchar(length=100, null=True, default=None)
    # Policy sectors, each as INDIGO names it, joined with "; ".
    policy_sectors = Text(default="")
    social_challenge = Text(default="")
    intervention = Text(default="")
    target_population = Text(default="")
    # Dates as the source gives them ("2018", "2018-12", "2019-03-01", "current") and, when
    # they name a day or can be read as the first day of one, that day.
    start_text = Varchar(length=32, null=True, default=None)
    start_on = Date(null=True, default=None)
    end_text = Varchar(length=32, null=True, default=None)
    end_on = Date(null=True, default=None)
    currency = Varchar(length=3, null=True, default=None)
    max_outcome_payment = BigInt(null=True, default=None)
    outcome_payments_made = BigInt(null=True, default=None)
    source = Varchar(length=200)
    data = Text()
    content_hash = Varchar(length=64)
    imported_at = Timestamptz()


class ReferenceMetric(Table, tablename="reference_metric"):
    id = UUID(primary_key=True)
    project = ForeignKey(references=ReferenceProject, null=False)
    metric_id = Varchar(length=64)
    definition = Text(default="")
    target_population = Text(default="")
    target = Text(default="")
    validation_method = Text(default="")
    data_source = Text(default="")
    policy_sector = Text(default="")


class ReferencePrice(Table, tablename="reference_price"):
    """A price per unit of outcome, in minor units of its own currency."""

    id = UUID(primary_key=True)
    project = ForeignKey(references=ReferenceProject, null=False)
    metric_id = Varchar(length=64)
    currency = Varchar(length=3)
    amount = BigInt()
    max_amount = BigInt(null=True, default=None)
    description = Text(default="")
    notes = Text(default="")


class ReferenceImport(Table, tablename="reference_import"):
    """One run of the importer: what it read, loaded, left unchanged and skipped (why)."""

    id = UUID(primary_key=True)
    source = Text()
    started_at = Timestamptz()
    finished_at = Timestamptz()
    projects = Integer()
    loaded = Integer()
    unchanged = Integer()
    skipped = Integer()
    report = Text()


class ExchangeRate(Table, tablename="exchange_rate"):
    """Units of `currency` per one EUR on `on_date` (the ECB's reference rates), as text to
    keep every digit the source gives."""

    id = UUID(primary_key=True)
    currency = Varchar(length=3)
    on_date = Date()
    per_eur = Varchar(length=32)
    source = Varchar(length=200)


class Publication(Table, tablename="publication"):
    """A commissioner's decision to publish a part of a contract, or to take it back.
    Append-only: the latest decision per contract and part stands, and a part without one is
    private. The decisions to publish are the public feed of newly published results."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    field = Varchar(length=64)
    status = Varchar(length=16)
    decided_by = Varchar(length=100)
    decided_at = Timestamptz()
