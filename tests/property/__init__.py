"""Property tests of the money flow: a Hypothesis state machine over one contract's books
(`books.py`) and the invariants it checks after every step (`invariants.py`). They are run,
on SQLite and PostgreSQL, by tests/integration/test_ledger_stateful.py."""
