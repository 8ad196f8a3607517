"""Plumbing every area may use and which uses none of them: settings, database engines and
transactions, bulk writes, ids and the clock. Nothing here knows contracts, outcomes or the
ledger; import-linter (pyproject.toml) holds that."""
