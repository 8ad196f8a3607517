"""The journal: accounts, entries, postings and signed checkpoints.

Invariants: every entry balances per currency; journal rows are never updated or deleted
(a correction is a reversing entry); sequence numbers are gap-free and each entry's hash
chains to the one before it.
"""
