from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T04:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "variation proposals and every party's acceptance"

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE TABLE IF NOT EXISTS "contract_proposal" ("id" UUID PRIMARY KEY NOT NULL, '
            '"contract" UUID NOT NULL REFERENCES "contract" ("id"), "base_version" INTEGER NOT '
            'NULL, "terms" TEXT NOT NULL, "reason" TEXT NOT NULL, "effective_on" DATE NOT NULL, '
            '"status" VARCHAR(16) NOT NULL, "required" TEXT NOT NULL, "proposer" UUID NOT NULL '
            'REFERENCES "organisation" ("id"), "proposed_by" VARCHAR(100) NOT NULL, "proposed_at" '
            'TIMESTAMPTZ NOT NULL, "decided_at" TIMESTAMPTZ NULL, "decided_by" VARCHAR(100) NULL, '
            '"applied_version" INTEGER NULL, CHECK ("status" IN (\'pending\', \'applied\', '
            "'withdrawn', 'superseded')))",
            'CREATE TABLE IF NOT EXISTS "contract_acceptance" ("id" UUID PRIMARY KEY NOT NULL, '
            '"contract" UUID NOT NULL REFERENCES "contract" ("id"), "version" INTEGER NULL, '
            '"proposal" UUID NULL REFERENCES "contract_proposal" ("id"), "organisation" UUID NOT '
            'NULL REFERENCES "organisation" ("id"), "role" VARCHAR(16) NOT NULL, "accepted_by" '
            'VARCHAR(100) NOT NULL, "accepted_by_organisation" UUID NOT NULL REFERENCES '
            '"organisation" ("id"), "accepted_at" TIMESTAMPTZ NOT NULL, CHECK ("role" IN '
            '(\'commissioner\', \'auditor\', \'admin\')), CHECK (("version" IS NULL) <> '
            '("proposal" IS NULL)))',
            'CREATE TRIGGER IF NOT EXISTS contract_proposal_decided_final BEFORE UPDATE ON '
            "contract_proposal WHEN OLD.status <> 'pending' BEGIN SELECT RAISE(ABORT, 'a decided "
            "proposal is final'); END",
            'CREATE UNIQUE INDEX IF NOT EXISTS contract_acceptance_of_version ON '
            'contract_acceptance (contract, version, organisation) WHERE proposal IS NULL',
            'CREATE UNIQUE INDEX IF NOT EXISTS contract_acceptance_of_proposal ON '
            'contract_acceptance (proposal, organisation, role) WHERE proposal IS NOT NULL',
            'CREATE INDEX IF NOT EXISTS contract_acceptance_by_contract ON contract_acceptance '
            '(contract)',
            'CREATE INDEX IF NOT EXISTS contract_proposal_by_contract ON contract_proposal '
            '(contract, status)',
            'CREATE TRIGGER IF NOT EXISTS contract_acceptance_no_update BEFORE UPDATE ON '
            "contract_acceptance BEGIN SELECT RAISE(ABORT, 'contract_acceptance is append-only'); "
            'END',
            'CREATE TRIGGER IF NOT EXISTS contract_acceptance_no_delete BEFORE DELETE ON '
            "contract_acceptance BEGIN SELECT RAISE(ABORT, 'contract_acceptance is append-only'); "
            'END',
            'CREATE TRIGGER IF NOT EXISTS contract_proposal_content_fixed BEFORE UPDATE OF id, '
            'contract, base_version, terms, reason, effective_on, required, proposer, proposed_by, '
            "proposed_at ON contract_proposal BEGIN SELECT RAISE(ABORT, 'contract_proposal rows "
            'are never edited or deleted; only status, decided_at, decided_by, applied_version '
            "move on'); END",
            'CREATE TRIGGER IF NOT EXISTS contract_proposal_no_delete BEFORE DELETE ON '
            "contract_proposal BEGIN SELECT RAISE(ABORT, 'contract_proposal rows are never edited "
            "or deleted; only status, decided_at, decided_by, applied_version move on'); END"],
 'postgres': ['CREATE TABLE IF NOT EXISTS contract_proposal (id uuid PRIMARY KEY, contract uuid '
              'NOT NULL REFERENCES contract (id), base_version integer NOT NULL, terms text NOT '
              'NULL, reason text NOT NULL, effective_on date NOT NULL, status varchar(16) NOT '
              'NULL, required text NOT NULL, proposer uuid NOT NULL REFERENCES organisation (id), '
              'proposed_by varchar(100) NOT NULL, proposed_at timestamptz NOT NULL, decided_at '
              'timestamptz NULL, decided_by varchar(100) NULL, applied_version integer NULL, CHECK '
              "(status IN ('pending', 'applied', 'withdrawn', 'superseded')))",
              'CREATE TABLE IF NOT EXISTS contract_acceptance (id uuid PRIMARY KEY, contract uuid '
              'NOT NULL REFERENCES contract (id), version integer NULL, proposal uuid NULL '
              'REFERENCES contract_proposal (id), organisation uuid NOT NULL REFERENCES '
              'organisation (id), role varchar(16) NOT NULL, accepted_by varchar(100) NOT NULL, '
              'accepted_by_organisation uuid NOT NULL REFERENCES organisation (id), accepted_at '
              "timestamptz NOT NULL, CHECK (role IN ('commissioner', 'auditor', 'admin')), CHECK "
              '((version IS NULL) <> (proposal IS NULL)))',
              'CREATE OR REPLACE FUNCTION contract_proposal_decided_final() RETURNS trigger '
              "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'a decided proposal is final' USING "
              "ERRCODE = '55000'; END $$",
              'DROP TRIGGER IF EXISTS contract_proposal_decided_final ON contract_proposal',
              'CREATE TRIGGER contract_proposal_decided_final BEFORE UPDATE ON contract_proposal '
              "FOR EACH ROW WHEN (OLD.status <> 'pending') EXECUTE FUNCTION "
              'contract_proposal_decided_final()',
              'CREATE UNIQUE INDEX IF NOT EXISTS contract_acceptance_of_version ON '
              'contract_acceptance (contract, version, organisation) WHERE proposal IS NULL',
              'CREATE UNIQUE INDEX IF NOT EXISTS contract_acceptance_of_proposal ON '
              'contract_acceptance (proposal, organisation, role) WHERE proposal IS NOT NULL',
              'CREATE INDEX IF NOT EXISTS contract_acceptance_by_contract ON contract_acceptance '
              '(contract)',
              'CREATE INDEX IF NOT EXISTS contract_proposal_by_contract ON contract_proposal '
              '(contract, status)',
              'CREATE OR REPLACE FUNCTION virker_refuse_change() RETURNS trigger LANGUAGE plpgsql '
              "AS $$ BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = "
              "'55000'; END $$",
              'DROP TRIGGER IF EXISTS contract_acceptance_append_only ON contract_acceptance',
              'CREATE TRIGGER contract_acceptance_append_only BEFORE UPDATE OR DELETE ON '
              'contract_acceptance FOR EACH ROW EXECUTE FUNCTION virker_refuse_change()',
              'DROP TRIGGER IF EXISTS contract_acceptance_no_truncate ON contract_acceptance',
              'CREATE TRIGGER contract_acceptance_no_truncate BEFORE TRUNCATE ON '
              'contract_acceptance FOR EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()',
              'CREATE OR REPLACE FUNCTION contract_proposal_content_fixed() RETURNS trigger '
              "LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' OR NEW.id IS DISTINCT FROM OLD.id "
              'OR NEW.contract IS DISTINCT FROM OLD.contract OR NEW.base_version IS DISTINCT FROM '
              'OLD.base_version OR NEW.terms IS DISTINCT FROM OLD.terms OR NEW.reason IS DISTINCT '
              'FROM OLD.reason OR NEW.effective_on IS DISTINCT FROM OLD.effective_on OR '
              'NEW.required IS DISTINCT FROM OLD.required OR NEW.proposer IS DISTINCT FROM '
              'OLD.proposer OR NEW.proposed_by IS DISTINCT FROM OLD.proposed_by OR NEW.proposed_at '
              "IS DISTINCT FROM OLD.proposed_at THEN RAISE EXCEPTION 'contract_proposal rows are "
              'never edited or deleted; only status, decided_at, decided_by, applied_version move '
              "on' USING ERRCODE = '55000'; END IF; RETURN NEW; END $$",
              'DROP TRIGGER IF EXISTS contract_proposal_content_fixed ON contract_proposal',
              'CREATE TRIGGER contract_proposal_content_fixed BEFORE UPDATE OR DELETE ON '
              'contract_proposal FOR EACH ROW EXECUTE FUNCTION contract_proposal_content_fixed()',
              'DROP TRIGGER IF EXISTS contract_proposal_no_truncate ON contract_proposal',
              'CREATE TRIGGER contract_proposal_no_truncate BEFORE TRUNCATE ON contract_proposal '
              'FOR EACH STATEMENT EXECUTE FUNCTION virker_refuse_change()']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='contracts', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
