"""Signed checkpoints: the head of every contract's chain (its last entry's sequence number
and hash), the journal's last entry, and the balance of every account (contract,
organisation, code, currency), all signed together with an Ed25519 key kept in a file
outside the database. An auditor keeps the checkpoint file and the public key; later,
`verify-ledger --checkpoint FILE --public-key KEY` shows the journal still leads to it.

A checkpoint is checked against a public key the auditor trusts (given, or configured),
never against the key written beside it: whoever controls the database can sign anything
with a key of their own.

Checkpoints are written after every paid payment run and at an interval (see
`write_after_change`), so that what follows the last one is short. Each new checkpoint
verifies only the entries after the previous one it can prove with the same key.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from core.clock import now
from core.ids import new_id
from ledger.journal import timestamp
from ledger.tables import Checkpoint, JournalEntry
from ledger.verify import (
    AccountBalance,
    ChainHead,
    JournalState,
    VerifyReport,
    engine_dsn,
    verify,
)

FORMAT = "virker-checkpoint-v3"
# Checkpoints signed before the journal had a chain per contract: the one chain's head.
LEGACY_FORMAT = "virker-checkpoint-v2"
DEFAULT_KEY_PATH = Path("var/ledger-signing.key")
log = logging.getLogger("virker.checkpoints")


class CheckpointDocument(msgspec.Struct, kw_only=True):
    format: str
    # The journal's last entry: its sequence number and hash.
    seq: int
    head_hash: str
    # Each contract's chain as [contract, seq, hash] of its last entry, sorted by contract
    # (format v3; empty in v2, whose one chain ended at `seq`).
    heads: list[ChainHead] = []
    # Every account as [contract, organisation, code, currency, balance], sorted.
    accounts: list[AccountBalance]
    # The same summed per currency and code, for a reader.
    totals: dict[str, dict[str, int]]
    created_at: str

    def state(self) -> JournalState:
        return JournalState(seq=self.seq, head_hash=self.head_hash, accounts=self.accounts,
                            heads=self.heads)


class SignedCheckpoint(msgspec.Struct, kw_only=True):
    document: str  # the exact bytes signed, as UTF-8 text
    signature: str  # hex
    public_key: str  # hex, raw 32 bytes; informative only, never trusted by `check`


class CheckpointResult(msgspec.Struct, kw_only=True):
    ok: bool
    problem: str | None = None
    seq: int = 0
    account: AccountBalance | None = None


class UntrustedKey(ValueError):
    """No public key to check a checkpoint against."""


def key_path() -> Path:
    """The signing key's file: VIRKER_CHECKPOINT_KEY, else var/ledger-signing.key."""
    return Path(os.environ.get("VIRKER_CHECKPOINT_KEY") or DEFAULT_KEY_PATH)


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


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(serialization.Encoding.Raw,
                                         serialization.PublicFormat.Raw).hex()


def trusted_key(given: str | None, signing_key: Path | None = None) -> str:
    """The public key (hex) to check checkpoints against: `given` (hex, or a file holding
    the hex or a PEM public key), else VIRKER_CHECKPOINT_PUBLIC_KEY, else the public half
    of the configured signing key. Never a key read from the database."""
    given = given or os.environ.get("VIRKER_CHECKPOINT_PUBLIC_KEY")
    if given:
        path = Path(given)
        if len(given) != 64 and path.exists():
            text = path.read_bytes()
            if text.startswith(b"-----BEGIN"):
                public = serialization.load_pem_public_key(text)
                if not isinstance(public, Ed25519PublicKey):
                    raise UntrustedKey(f"{given} does not hold an Ed25519 public key")
                return public.public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw).hex()
            given = text.decode().strip()
        try:
            Ed25519PublicKey.from_public_bytes(bytes.fromhex(given))
        except ValueError:
            raise UntrustedKey("the public key must be 64 hex digits or a file holding "
                               "them") from None
        return given.lower()
    path = signing_key or key_path()
    if path.exists():
        return public_hex(load_or_create_key(path))
    raise UntrustedKey("give the public key the checkpoint must be signed with "
                       "(--public-key, or VIRKER_CHECKPOINT_PUBLIC_KEY)")


def _verified(row: dict, public_key: str) -> CheckpointDocument | None:
    """The checkpoint row's document, when it is signed by `public_key`."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key)).verify(
            bytes.fromhex(row["signature"]), row["document"].encode())
        doc = msgspec.json.decode(row["document"], type=CheckpointDocument)
    except (InvalidSignature, ValueError, msgspec.DecodeError):
        return None
    return doc if doc.format in (FORMAT, LEGACY_FORMAT) else None


async def latest_proven(public_key: str) -> CheckpointDocument | None:
    """The newest checkpoint in the database that `public_key` signed."""
    for row in await Checkpoint.select(Checkpoint.document, Checkpoint.signature).order_by(
            Checkpoint.seq, ascending=False).limit(20):
        doc = _verified(row, public_key)
        if doc is not None:
            return doc
    return None


async def create(key_path: Path, dsn: str | None, *, incremental: bool = False
                 ) -> tuple[SignedCheckpoint, VerifyReport]:
    """Verify the journal, then sign its head and every account's balance. Refuses to sign
    a journal that does not verify. `incremental`: verify only what follows the newest
    checkpoint signed with the same key."""
    key = load_or_create_key(key_path)
    since = await latest_proven(public_hex(key)) if incremental else None
    if since is not None and since.format != FORMAT:
        since = None  # signed before chains per contract: verified from the first entry
    report = await verify(dsn, since=None if since is None else since.state())
    if not report.ok:
        raise ValueError(f"the journal does not verify: {report.first_mismatch}")
    at: dt.datetime = now()
    doc = CheckpointDocument(format=FORMAT, seq=report.head_seq, head_hash=report.head_hash,
                             heads=report.heads, accounts=report.accounts, totals=report.totals,
                             created_at=timestamp(at))
    data = msgspec.json.encode(doc)
    signed = SignedCheckpoint(document=data.decode(), signature=key.sign(data).hex(),
                              public_key=public_hex(key))
    await Checkpoint.insert(Checkpoint(
        id=new_id(), seq=doc.seq, head_hash=doc.head_hash,
        totals=msgspec.json.encode(doc.totals).decode(), signature=signed.signature,
        public_key=signed.public_key, created_at=at, document=signed.document))
    return signed, report


async def check(signed: SignedCheckpoint, dsn: str | None, trusted_public_key: str
                ) -> CheckpointResult:
    """Does the whole journal verify, and does it still lead to this checkpoint, signed by
    the key the caller trusts?"""
    if not trusted_public_key:
        raise UntrustedKey("a checkpoint is checked against a public key you trust")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(trusted_public_key)).verify(
            bytes.fromhex(signed.signature), signed.document.encode())
    except (InvalidSignature, ValueError):
        return CheckpointResult(ok=False, problem="the checkpoint is not signed by the "
                                                  "trusted key")
    try:
        doc = msgspec.json.decode(signed.document, type=CheckpointDocument)
    except msgspec.DecodeError:
        return CheckpointResult(ok=False, problem="the checkpoint is not a "
                                                  f"{FORMAT} document")
    if doc.format == LEGACY_FORMAT:
        report = await verify(dsn, capture_at=doc.seq)
    else:
        report = await verify(dsn, capture=doc.state())
    if report.first_mismatch is not None and report.first_mismatch.seq <= doc.seq:
        m = report.first_mismatch
        return CheckpointResult(ok=False, seq=m.seq,
                                problem=f"entry {m.seq} ({m.entry_id}): {m.problem}")
    at = report.captured
    if at is None:
        return CheckpointResult(ok=False, seq=report.head_seq + 1,
                                problem=f"the journal ends at {report.head_seq}, before "
                                        f"the checkpoint's {doc.seq}")
    # A chain that no longer reaches its signed head: entries were cut off its end.
    found = {h.contract: h for h in at.heads}
    reached = {h.contract: h.seq for h in report.heads}
    for then in doc.heads:
        if then.contract not in found:
            end = reached.get(then.contract, 0)
            return CheckpointResult(ok=False, seq=then.seq, problem=(
                f"contract {then.contract}'s chain ends at {end}, before the checkpoint's "
                f"{then.seq}" if end < then.seq else
                f"contract {then.contract}'s chain: entry {then.seq} is gone"))
    # Balances first: a re-attribution is named by its account, not only by a hash.
    if at.accounts != doc.accounts:
        now_by = {(a.contract, a.organisation, a.code, a.currency): a for a in at.accounts}
        then_by = {(a.contract, a.organisation, a.code, a.currency): a for a in doc.accounts}
        for k in sorted(set(now_by) | set(then_by)):
            if now_by.get(k) != then_by.get(k):
                return CheckpointResult(
                    ok=False, seq=doc.seq, account=now_by.get(k) or then_by.get(k),
                    problem=f"account {'/'.join(k)} is "
                            f"{now_by[k].balance if k in now_by else 'absent'} at the "
                            f"checkpoint's entry, signed as "
                            f"{then_by[k].balance if k in then_by else 'absent'}")
    for then, now_head in zip(doc.heads, at.heads, strict=True):
        if now_head != then:
            return CheckpointResult(ok=False, seq=then.seq, problem=(
                f"contract {then.contract}'s chain: entry {then.seq}'s hash differs from "
                "the checkpoint"))
    if at.head_hash != doc.head_hash:
        return CheckpointResult(ok=False, seq=doc.seq,
                                problem=f"entry {doc.seq}'s hash differs from the checkpoint")
    if report.first_mismatch is not None:
        m = report.first_mismatch
        return CheckpointResult(ok=False, seq=m.seq, problem=(
            f"the checkpoint holds, but entry {m.seq} ({m.entry_id}) after it: {m.problem}"))
    return CheckpointResult(ok=True, seq=doc.seq)


async def write_after_change() -> SignedCheckpoint | None:
    """Sign the journal's head with the configured key if it moved since the newest
    checkpoint. Called after every paid payment run and by the app's timer; a journal that
    does not verify is logged, never signed."""
    head = await JournalEntry.select(JournalEntry.seq).order_by(
        JournalEntry.seq, ascending=False).first()
    last = await Checkpoint.select(Checkpoint.seq).order_by(
        Checkpoint.seq, ascending=False).first()
    if head is None or (last is not None and last["seq"] >= head["seq"]):
        return None
    try:
        signed, _ = await create(key_path(), engine_dsn(), incremental=True)
    except ValueError as exc:
        log.error("no checkpoint written: %s", exc)
        return None
    return signed
