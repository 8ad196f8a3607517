"""Citizen voice: instruments, survey waves, invitations and responses (docs/citizen-voice.md)."""
