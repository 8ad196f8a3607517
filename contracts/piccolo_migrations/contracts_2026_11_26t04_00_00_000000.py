from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import append_only, engine_type, index, only_columns_change, run_all

ID = "2026-11-26T04:00:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "variation proposals and every party's acceptance"

# Written by hand for both engines: the column types are the names Piccolo gives them, so
# that its SQLite converters (UUID, TIMESTAMPTZ, DATE) read the values back.
TABLES = {
    "sqlite": [
        'CREATE TABLE IF NOT EXISTS "contract_proposal" ('
        '"id" UUID PRIMARY KEY NOT NULL, '
        '"contract" UUID NOT NULL REFERENCES "contract" ("id"), '
        '"base_version" INTEGER NOT NULL, "terms" TEXT NOT NULL, "reason" TEXT NOT NULL, '
        '"effective_on" DATE NOT NULL, "status" VARCHAR(16) NOT NULL, '
        '"required" TEXT NOT NULL, '
        '"proposer" UUID NOT NULL REFERENCES "organisation" ("id"), '
        '"proposed_by" VARCHAR(100) NOT NULL, "proposed_at" TIMESTAMPTZ NOT NULL, '
        '"decided_at" TIMESTAMPTZ NULL, "decided_by" VARCHAR(100) NULL, '
        '"applied_version" INTEGER NULL, '
        "CHECK (\"status\" IN ('pending', 'applied', 'withdrawn', 'superseded')))",
        'CREATE TABLE IF NOT EXISTS "contract_acceptance" ('
        '"id" UUID PRIMARY KEY NOT NULL, '
        '"contract" UUID NOT NULL REFERENCES "contract" ("id"), '
        '"version" INTEGER NULL, '
        '"proposal" UUID NULL REFERENCES "contract_proposal" ("id"), '
        '"organisation" UUID NOT NULL REFERENCES "organisation" ("id"), '
        '"role" VARCHAR(16) NOT NULL, "accepted_by" VARCHAR(100) NOT NULL, '
        '"accepted_by_organisation" UUID NOT NULL REFERENCES "organisation" ("id"), '
        '"accepted_at" TIMESTAMPTZ NOT NULL, '
        "CHECK (\"role\" IN ('commissioner', 'auditor', 'admin')), "
        'CHECK (("version" IS NULL) <> ("proposal" IS NULL)))',
        "CREATE TRIGGER IF NOT EXISTS contract_proposal_decided_final BEFORE UPDATE ON "
        "contract_proposal WHEN OLD.status <> 'pending' "
        "BEGIN SELECT RAISE(ABORT, 'a decided proposal is final'); END",
    ],
    "postgres": [
        "CREATE TABLE IF NOT EXISTS contract_proposal ("
        "id uuid PRIMARY KEY, contract uuid NOT NULL REFERENCES contract (id), "
        "base_version integer NOT NULL, terms text NOT NULL, reason text NOT NULL, "
        "effective_on date NOT NULL, status varchar(16) NOT NULL, required text NOT NULL, "
        "proposer uuid NOT NULL REFERENCES organisation (id), "
        "proposed_by varchar(100) NOT NULL, proposed_at timestamptz NOT NULL, "
        "decided_at timestamptz NULL, decided_by varchar(100) NULL, "
        "applied_version integer NULL, "
        "CHECK (status IN ('pending', 'applied', 'withdrawn', 'superseded')))",
        "CREATE TABLE IF NOT EXISTS contract_acceptance ("
        "id uuid PRIMARY KEY, contract uuid NOT NULL REFERENCES contract (id), "
        "version integer NULL, proposal uuid NULL REFERENCES contract_proposal (id), "
        "organisation uuid NOT NULL REFERENCES organisation (id), "
        "role varchar(16) NOT NULL, accepted_by varchar(100) NOT NULL, "
        "accepted_by_organisation uuid NOT NULL REFERENCES organisation (id), "
        "accepted_at timestamptz NOT NULL, "
        "CHECK (role IN ('commissioner', 'auditor', 'admin')), "
        "CHECK ((version IS NULL) <> (proposal IS NULL)))",
        "CREATE OR REPLACE FUNCTION contract_proposal_decided_final() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION 'a decided proposal is final' USING ERRCODE = '55000'; END $$",
        "DROP TRIGGER IF EXISTS contract_proposal_decided_final ON contract_proposal",
        "CREATE TRIGGER contract_proposal_decided_final BEFORE UPDATE ON contract_proposal "
        "FOR EACH ROW WHEN (OLD.status <> 'pending') "
        "EXECUTE FUNCTION contract_proposal_decided_final()",
    ],
}

PROPOSAL_FIXED = ("id", "contract", "base_version", "terms", "reason", "effective_on",
                  "required", "proposer", "proposed_by", "proposed_at")
PROPOSAL_MOVES = ("status", "decided_at", "decided_by", "applied_version")


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="contracts", description=DESCRIPTION)

    async def run():
        kind = engine_type()
        await run_all(
            [
                *TABLES[kind],
                # One organisation accepts a draft's version, or a proposal, once.
                "CREATE UNIQUE INDEX IF NOT EXISTS contract_acceptance_of_version ON "
                "contract_acceptance (contract, version, organisation) "
                "WHERE proposal IS NULL",
                "CREATE UNIQUE INDEX IF NOT EXISTS contract_acceptance_of_proposal ON "
                "contract_acceptance (proposal, organisation, role) "
                "WHERE proposal IS NOT NULL",
                index("contract_acceptance_by_contract", "contract_acceptance", "contract"),
                index("contract_proposal_by_contract", "contract_proposal", "contract",
                      "status"),
                *append_only("contract_acceptance", kind),
                *only_columns_change("contract_proposal", PROPOSAL_MOVES, PROPOSAL_FIXED,
                                     kind),
            ]
        )

    manager.add_raw(run)
    return manager
