from piccolo.apps.migrations.auto.migration_manager import MigrationManager
from piccolo.engine import engine_finder

ID = '2026-11-26T09:00:00:000000'
VERSION = '1.38.0'
DESCRIPTION = 'balances from indexes: postings by account, entries by effective day and kind'

# The SQL exactly as this migration runs it on each engine, written out in full so that no
# later change to shared code can change what an old migration does.
STATEMENTS = {'sqlite': ['CREATE INDEX IF NOT EXISTS posting_by_account_entry ON posting (account, entry, '
            'currency, amount)',
            'DROP INDEX IF EXISTS posting_by_account',
            'CREATE INDEX IF NOT EXISTS journal_entry_by_effective_on ON journal_entry '
            '(effective_on)',
            'CREATE INDEX IF NOT EXISTS journal_entry_by_kind ON journal_entry (kind, '
            'effective_on)'],
 'postgres': ['CREATE INDEX IF NOT EXISTS posting_by_account_entry ON posting (account, entry, '
              'currency, amount)',
              'DROP INDEX IF EXISTS posting_by_account',
              'CREATE INDEX IF NOT EXISTS journal_entry_by_effective_on ON journal_entry '
              '(effective_on)',
              'CREATE INDEX IF NOT EXISTS journal_entry_by_kind ON journal_entry (kind, '
              'effective_on)']}


async def forwards():
    manager = MigrationManager(migration_id=ID, app_name='ledger', description=DESCRIPTION)

    async def run():
        engine = engine_finder()
        for sql in STATEMENTS[engine.engine_type]:
            await engine.run_ddl(sql)

    manager.add_raw(run)
    return manager
