"""Signed checkpoints: the journal's head (sequence number and hash) and its totals, signed
with an Ed25519 key kept in a file outside the database. An auditor keeps the checkpoint
file; later, `verify-ledger --checkpoint FILE` shows the journal still leads to it.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from contracts.identity import now
from contracts.ids import new_id
from ledger.journal import timestamp
from ledger.tables import Checkpoint
from ledger.verify import VerifyReport, verify

FORMAT = "virker-checkpoint-v1"


class CheckpointDocument(msgspec.Struct, kw_only=True):
    format: str
    seq: int
    head_hash: str
    totals: dict[str, dict[str, int]]
    created_at: str


class SignedCheckpoint(msgspec.Struct, kw_only=True):
    document: str  # the exact bytes signed, as UTF-8 text
    signature: str  # hex
    public_key: str  # hex, raw 32 bytes


class CheckpointResult(msgspec.Struct, kw_only=True):
    ok: bool
    problem: str | None = None
    seq: int = 0


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    return key


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


async def create(key_path: Path, dsn: str | None) -> tuple[SignedCheckpoint, VerifyReport]:
    """Verify the journal, then sign its head. Refuses to sign a journal that does not verify."""
    report = await verify(dsn)
    if not report.ok:
        raise ValueError(f"the journal does not verify: {report.first_mismatch}")
    key = load_or_create_key(key_path)
    at: dt.datetime = now()
    doc = CheckpointDocument(format=FORMAT, seq=report.head_seq, head_hash=report.head_hash,
                             totals=report.totals, created_at=timestamp(at))
    data = msgspec.json.encode(doc)
    signed = SignedCheckpoint(document=data.decode(), signature=key.sign(data).hex(),
                              public_key=_raw(key.public_key()).hex())
    await Checkpoint.insert(Checkpoint(
        id=new_id(), seq=doc.seq, head_hash=doc.head_hash,
        totals=msgspec.json.encode(doc.totals).decode(), signature=signed.signature,
        public_key=signed.public_key, created_at=at, document=signed.document))
    return signed, report


async def check(signed: SignedCheckpoint, dsn: str | None,
                trusted_public_key: str | None = None) -> CheckpointResult:
    """Does the journal still lead to this checkpoint?"""
    if trusted_public_key and trusted_public_key != signed.public_key:
        return CheckpointResult(ok=False, problem="signed with another key than the one trusted")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(signed.public_key)).verify(
            bytes.fromhex(signed.signature), signed.document.encode())
    except (InvalidSignature, ValueError):
        return CheckpointResult(ok=False, problem="the checkpoint's signature is not valid")
    doc = msgspec.json.decode(signed.document, type=CheckpointDocument)
    at = await verify(dsn, upto=doc.seq)
    if at.first_mismatch is not None:
        return CheckpointResult(ok=False, seq=at.first_mismatch.seq,
                                problem=f"entry {at.first_mismatch.seq} "
                                        f"({at.first_mismatch.entry_id}): "
                                        f"{at.first_mismatch.problem}")
    if at.head_seq != doc.seq:
        return CheckpointResult(ok=False, seq=at.head_seq + 1,
                                problem=f"the journal ends at {at.head_seq}, before the "
                                        f"checkpoint's {doc.seq}")
    if at.head_hash != doc.head_hash:
        return CheckpointResult(ok=False, seq=doc.seq,
                                problem=f"entry {doc.seq}'s hash differs from the checkpoint")
    if at.totals != doc.totals:
        return CheckpointResult(ok=False, seq=doc.seq,
                                problem="the totals at the checkpoint differ")
    return CheckpointResult(ok=True, seq=doc.seq)
