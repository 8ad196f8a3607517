"""Organisations, users, API keys, the metric library and outcome contracts.

A contract's terms are kept as numbered versions: a variation adds a version and never
touches an earlier one (triggers refuse UPDATE and DELETE on `contract_version`).
`contract_party` is a lookup of who may see a contract, rebuilt from the current version.
A variation is first a `contract_proposal`; each party's consent to it, or to a draft's
version before activation, is a `contract_acceptance` (append-only, one per organisation).
"""

from piccolo.columns import (
    UUID,
    Boolean,
    Bytea,
    Date,
    ForeignKey,
    Integer,
    Text,
    Timestamptz,
    Varchar,
)
from piccolo.table import Table


class Organisation(Table):
    id = UUID(primary_key=True)
    name = Varchar(length=200)
    kind = Varchar(length=32)
    identifier = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    # Whether one person alone may draft and approve a payment run (recorded as such on the
    # run); by default the person who drafted a run cannot approve it.
    single_approver = Boolean(default=False)


class AppUser(Table, tablename="app_user"):
    id = UUID(primary_key=True)
    organisation = ForeignKey(references=Organisation, null=False)
    email = Varchar(length=254, unique=True)
    display_name = Varchar(length=200)
    role = Varchar(length=16)
    password_hash = Varchar(length=255)
    active = Boolean(default=True)
    created_at = Timestamptz()
    last_login_at = Timestamptz(null=True, default=None)
    # The language the user chose for the web UI (da, nb, en); None: the organisation's.
    language = Varchar(length=8, null=True, default=None)


class ApiKey(Table, tablename="api_key"):
    id = UUID(primary_key=True)
    organisation = ForeignKey(references=Organisation, null=False)
    role = Varchar(length=16)
    label = Varchar(length=100)
    prefix = Varchar(length=16)
    key_hash = Varchar(length=64, unique=True)
    created_at = Timestamptz()
    last_used_at = Timestamptz(null=True, default=None)
    revoked_at = Timestamptz(null=True, default=None)


class Metric(Table):
    id = UUID(primary_key=True)
    code = Varchar(length=64, unique=True)
    name = Varchar(length=200)
    definition = Text()
    unit = Varchar(length=64)
    kind = Varchar(length=16)
    evidence_required = Text()
    verification_source = Varchar(length=32)
    direction = Varchar(length=16)
    duration_days = Integer(null=True, default=None)
    created_at = Timestamptz()
    category = Varchar(length=64, null=True, default=None)


class Contract(Table):
    id = UUID(primary_key=True)
    reference = Varchar(length=64, unique=True)
    title = Varchar(length=300)
    intervention = Text()
    provider = ForeignKey(references=Organisation, null=False)
    currency = Varchar(length=3)
    status = Varchar(length=16)
    version = Integer()
    created_at = Timestamptz()


class ContractVersion(Table, tablename="contract_version"):
    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    version = Integer()
    reason = Text()
    effective_on = Date()
    # msgspec-encoded `contracts.schemas.ContractTerms`, canonical JSON.
    terms = Text()
    recorded_at = Timestamptz()
    recorded_by = Varchar(length=100)


class ContractParty(Table, tablename="contract_party"):
    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    organisation = ForeignKey(references=Organisation, null=False)
    role = Varchar(length=16)
    share_bp = Integer(null=True, default=None)


class ContractEvent(Table, tablename="contract_event"):
    """Status history: every transition with who, when and why."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    from_status = Varchar(length=16, null=True, default=None)
    to_status = Varchar(length=16)
    reason = Text()
    recorded_at = Timestamptz()
    recorded_by = Varchar(length=100)


class ContractProposal(Table, tablename="contract_proposal"):
    """A variation of the terms, applied once everyone it affects has accepted. Only
    `status` and the decided_* columns ever change, and only from pending (triggers)."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    base_version = Integer()
    # msgspec-encoded `contracts.schemas.ContractTerms`.
    terms = Text()
    reason = Text()
    effective_on = Date()
    status = Varchar(length=16)
    # JSON list of {"organisation_id", "role"}: whose acceptance the variation needs.
    required = Text()
    proposer = ForeignKey(references=Organisation, null=False)
    proposed_by = Varchar(length=100)
    proposed_at = Timestamptz()
    decided_at = Timestamptz(null=True, default=None)
    decided_by = Varchar(length=100, null=True, default=None)
    applied_version = Integer(null=True, default=None)


class ContractAcceptance(Table, tablename="contract_acceptance"):
    """A party's consent, with who gave it and when: to `version` of a draft (activation)
    or to `proposal`. Exactly one of the two is set."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    version = Integer(null=True, default=None)
    proposal = ForeignKey(references=ContractProposal, null=True, default=None)
    organisation = ForeignKey(references=Organisation, null=False)
    role = Varchar(length=16)
    accepted_by = Varchar(length=100)
    accepted_by_organisation = ForeignKey(references=Organisation, null=False)
    accepted_at = Timestamptz()


class WebSession(Table, tablename="web_session"):
    """A signed-in browser. Its cookie holds only a random id; this row holds what the id
    means, so every replica on the database sees it and ending it here ends it everywhere.
    Only the id's SHA-256 is kept: a copy of the table opens no session. `app_user` finds
    every session of a user (a changed password ends them all)."""

    key_hash = Varchar(length=64, primary_key=True)
    data = Bytea()
    app_user = ForeignKey(references=AppUser, null=True, default=None)
    created_at = Timestamptz()
    expires_at = Timestamptz(null=True, default=None)


class LoginAttempt(Table, tablename="login_attempt"):
    """A sign-in attempt not (yet) known to have succeeded, kept for the throttle's window:
    per account (email) and per client address, in the database so that every replica
    counts the same attempts. A successful sign-in deletes its account's rows."""

    id = UUID(primary_key=True)
    email = Varchar(length=254)
    address = Varchar(length=64, null=True, default=None)
    attempted_at = Timestamptz()


class AdviceDecision(Table, tablename="advice_decision"):
    """A commissioner's decision on allocation advice for one contract: `accepted` (with
    the variation Virker drafted for the commissioner to review, `draft_terms`) or
    `overridden` with a written justification. `advice` is the advice as it was shown:
    band, evidence, method and uncertainty. Append-only (triggers)."""

    id = UUID(primary_key=True)
    contract = ForeignKey(references=Contract, null=False)
    subject = Varchar(length=64)
    decision = Varchar(length=16)
    band = Varchar(length=32)
    advice = Text()
    justification = Text()
    draft_terms = Text(null=True, default=None)
    organisation = ForeignKey(references=Organisation, null=False)
    decided_by = Varchar(length=100)
    decided_at = Timestamptz()
