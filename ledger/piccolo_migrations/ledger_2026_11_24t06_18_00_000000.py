from piccolo.apps.migrations.auto.migration_manager import MigrationManager

from contracts.ddl import append_only, engine_type, index, run_all, unique_index

ID = "2026-11-24T06:18:00:000000"
VERSION = "1.38.0"
DESCRIPTION = "the journal is append-only and every entry balances"

# At commit, every entry that received postings in the transaction must balance per
# currency and have at least two postings.
BALANCE_FUNCTION = """
CREATE OR REPLACE FUNCTION virker_entry_balances() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    unbalanced record;
    n integer;
BEGIN
    SELECT count(*) INTO n FROM posting WHERE entry = NEW.entry;
    IF n < 2 THEN
        RAISE EXCEPTION 'journal entry % has % posting(s); it needs two or more', NEW.entry, n
            USING ERRCODE = '23514';
    END IF;
    SELECT currency, sum(amount) AS total INTO unbalanced FROM posting
        WHERE entry = NEW.entry GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'journal entry % does not balance: % % off', NEW.entry,
            unbalanced.total, unbalanced.currency USING ERRCODE = '23514';
    END IF;
    RETURN NULL;
END $$
"""


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name="ledger", description=DESCRIPTION)

    async def run():
        kind = engine_type()
        statements = [
            unique_index("account_key", "account", "contract", "organisation", "code",
                         "currency"),
            unique_index("journal_entry_seq", "journal_entry", "seq"),
            index("posting_by_seq", "posting", "entry_seq"),
            index("posting_by_entry", "posting", "entry"),
            index("posting_by_account", "posting", "account"),
            index("journal_entry_by_contract", "journal_entry", "contract", "effective_on"),
            *append_only("journal_entry", kind),
            *append_only("posting", kind),
            *append_only("account", kind),
            *append_only("checkpoint", kind),
        ]
        if kind == "postgres":
            statements += [
                BALANCE_FUNCTION,
                "DROP TRIGGER IF EXISTS posting_balanced ON posting",
                "CREATE CONSTRAINT TRIGGER posting_balanced AFTER INSERT ON posting "
                "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                "EXECUTE FUNCTION virker_entry_balances()",
            ]
        await run_all(statements)

    manager.add_raw(run)
    return manager
