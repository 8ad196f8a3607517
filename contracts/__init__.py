"""Organisations, users, API keys, the outcome metric library and outcome contracts.

Invariants: co-commissioners' shares sum to exactly 100 %; a contract's agreed terms are
never overwritten (a variation adds a version with its reason); every status change is
recorded. Every other area may use this package; it uses none of them.
"""
