"""Outcome intake: participants under pseudonyms, outcome claims and their lifecycle.

Invariants: a claim is never edited or deleted, only moved along its lifecycle with every
transition recorded; participants are pseudonyms, never names or national identifiers.
"""
