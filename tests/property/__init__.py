"""Property tests of the money flow: a Hypothesis state machine over one contract's books
(`books`, with the PostgreSQL races in `races`), the invariants it checks after every step
(`invariants`), what it asks for (`plans`) and how it runs its steps and which refusals it
lets through (`running`). tests/integration/test_ledger_stateful.py runs it on SQLite and
PostgreSQL and says how to reproduce a failing run."""
