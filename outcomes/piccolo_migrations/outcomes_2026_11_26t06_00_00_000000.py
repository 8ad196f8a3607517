from enum import Enum

from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.columns.column_types import Varchar
from piccolo.engine import engine_finder

ID = '2026-11-26T06:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = "a claim's status is one of its lifecycle's, on the claim and in its history"

# The statuses as they were when this migration was written (outcomes.rules.ClaimStatus),
# spelt out so that a later change there cannot change what this migration does.
ClaimStatus = Enum('ClaimStatus', {'ACCEPTED': 'accepted', 'SAMPLED': 'sampled',
                                   'VERIFIED': 'verified', 'DISPUTED': 'disputed',
                                   'APPROVED': 'approved', 'PAID': 'paid',
                                   'REVERSED': 'reversed'})

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does. SQLite cannot add a
# CHECK constraint to a table that exists: triggers refuse what the constraint would.
STATEMENTS = {'sqlite': ['DROP TRIGGER IF EXISTS claim_status_known_on_insert',
            'CREATE TRIGGER claim_status_known_on_insert BEFORE INSERT ON claim WHEN '
            "NEW.status IS NULL OR NEW.status NOT IN ('accepted', 'sampled', 'verified', "
            "'disputed', 'approved', 'paid', 'reversed') BEGIN SELECT RAISE(ABORT, 'a "
            "claim''s status is one of accepted, sampled, verified, disputed, approved, paid, "
            "reversed'); END",
            'DROP TRIGGER IF EXISTS claim_status_known_on_update',
            'CREATE TRIGGER claim_status_known_on_update BEFORE UPDATE OF status ON claim WHEN '
            "NEW.status IS NULL OR NEW.status NOT IN ('accepted', 'sampled', 'verified', "
            "'disputed', 'approved', 'paid', 'reversed') BEGIN SELECT RAISE(ABORT, 'a "
            "claim''s status is one of accepted, sampled, verified, disputed, approved, paid, "
            "reversed'); END",
            'DROP TRIGGER IF EXISTS claim_event_status_known',
            'CREATE TRIGGER claim_event_status_known BEFORE INSERT ON claim_event WHEN '
            "NEW.to_status IS NULL OR NEW.to_status NOT IN ('accepted', 'sampled', 'verified', "
            "'disputed', 'approved', 'paid', 'reversed') OR (NEW.from_status IS NOT NULL AND "
            "NEW.from_status NOT IN ('accepted', 'sampled', 'verified', 'disputed', "
            "'approved', 'paid', 'reversed')) BEGIN SELECT RAISE(ABORT, 'a claim''s status is "
            "one of accepted, sampled, verified, disputed, approved, paid, reversed'); END"],
 'postgres': ['ALTER TABLE claim DROP CONSTRAINT IF EXISTS claim_status_known',
              "ALTER TABLE claim ADD CONSTRAINT claim_status_known CHECK (status IN "
              "('accepted', 'sampled', 'verified', 'disputed', 'approved', 'paid', "
              "'reversed'))",
              'ALTER TABLE claim_event DROP CONSTRAINT IF EXISTS claim_event_status_known',
              "ALTER TABLE claim_event ADD CONSTRAINT claim_event_status_known CHECK "
              "(to_status IN ('accepted', 'sampled', 'verified', 'disputed', 'approved', "
              "'paid', 'reversed') AND (from_status IS NULL OR from_status IN ('accepted', "
              "'sampled', 'verified', 'disputed', 'approved', 'paid', 'reversed')))"]}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='outcomes', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    # The columns' choices, so that Piccolo's record of the schema matches the tables (the
    # choices themselves change no SQL; the statements above hold them in the database).
    for table_class_name, tablename, column_name in (('Claim', 'claim', 'status'),
                                                     ('ClaimEvent', 'claim_event', 'from_status'),
                                                     ('ClaimEvent', 'claim_event', 'to_status')):
        manager.alter_column(table_class_name=table_class_name, tablename=tablename,
                             column_name=column_name, db_column_name=column_name,
                             params={'choices': ClaimStatus}, old_params={'choices': None},
                             column_class=Varchar, old_column_class=Varchar, schema=None)
    return manager
