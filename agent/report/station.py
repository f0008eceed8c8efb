"""The station's identity: an Ed25519 key created on first use, kept on the data partition.

Key rotation keeps three kinds of files side by side:
- `station.key`: the current key, the one that signs;
- `station.key.next`: a new key made for a rotation the hub has not confirmed yet (kept, so a
  rotation cut off after the hub's answer can be sent again with the same key);
- `station.key.retired-<key id>`: a key the hub replaced, kept while reports it signed still
  wait in the outbox (the hub accepts them), deleted once none does;
- `station.key.revoked-<key id>`: a key the hub revoked, set aside when the volunteer gave a new
  enrollment token (kept: it is what the reports it signed can be checked with);
- `station.key.damaged-<time>`: a key file that no longer reads as a key (a stick copied badly),
  set aside as it was found.

A station whose key is damaged, or missing after it had one (it enrolled, or signed reports),
has lost its identity: `identity-lost` records that until a fresh key is enrolled with a new
enrollment token, and nothing is erased meanwhile (docs/report.md, section 9).
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterable
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from agent.fsutil import sync_directory, write_durably
from agent.i18n import N_
from agent.report.dsse import key_id

KEY_NAME = "station.key"
NEXT_KEY_NAME = "station.key.next"
RETIRED_PREFIX = "station.key.retired-"
REVOKED_PREFIX = "station.key.revoked-"
DAMAGED_PREFIX = "station.key.damaged-"
REVOKED_MARK = "revoked"  # the hub revoked the current key; holds the token then configured
IDENTITY_LOST_MARK = "identity-lost"  # why; removed once a fresh key is enrolled
# What shows that this station had an identity before (the hub's mark, reports it signed).
IDENTITY_TRACES = ("enrolled", "outbox", "sent", f"{RETIRED_PREFIX}*", f"{REVOKED_PREFIX}*")

KEY_DAMAGED = "key_damaged"
KEY_MISSING = "key_missing"
IDENTITY_WORDS = {
    KEY_DAMAGED: N_("This stick's station key is damaged (its file no longer holds a key)."),
    KEY_MISSING: N_("This stick's station key is missing, although the station had one."),
}


def _load(path: Path) -> Ed25519PrivateKey:
    try:
        key = load_pem_private_key(path.read_bytes(), password=None)
    except (TypeError, UnsupportedAlgorithm) as error:  # encrypted, or not a key we know
        raise ValueError(f"{path}: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def _write(path: Path, key: Ed25519PrivateKey) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_durably(path, pem, mode=0o600)


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    path = data_dir / KEY_NAME
    if path.exists():
        return _load(path)
    key = Ed25519PrivateKey.generate()
    _write(path, key)
    return key


def pending_key(data_dir: Path) -> Ed25519PrivateKey:
    """The key a rotation proposes: the one already proposed, or a new one written first."""
    path = data_dir / NEXT_KEY_NAME
    if path.exists():
        return _load(path)
    key = Ed25519PrivateKey.generate()
    _write(path, key)
    return key


def promote_pending_key(data_dir: Path, old: Ed25519PrivateKey) -> Ed25519PrivateKey:
    """After the hub confirmed the rotation: the old key retired, the new one current.

    Each step is a rename followed by a directory sync; whatever a power cut interrupts, the
    new key is still on disk (`station.key.next` or `station.key`), never lost.
    """
    retired = data_dir / f"{RETIRED_PREFIX}{key_id(old.public_key())}"
    current, pending = data_dir / KEY_NAME, data_dir / NEXT_KEY_NAME
    new = _load(pending)
    os.replace(current, retired)
    sync_directory(data_dir)
    os.replace(pending, current)
    sync_directory(data_dir)
    return new


def retired_key_ids(data_dir: Path) -> list[str]:
    return sorted(path.name.removeprefix(RETIRED_PREFIX)
                  for path in data_dir.glob(f"{RETIRED_PREFIX}*"))


def forget_retired_keys(data_dir: Path, still_signing: Iterable[str]) -> list[str]:
    """Delete retired keys no waiting report was signed with; the ids deleted."""
    needed = set(still_signing)
    removed = []
    for identifier in retired_key_ids(data_dir):
        if identifier not in needed:
            (data_dir / f"{RETIRED_PREFIX}{identifier}").unlink()
            removed.append(identifier)
    if removed:
        sync_directory(data_dir)
    return removed


def remember_revoked(data_dir: Path, token: str) -> None:
    write_durably(data_dir / REVOKED_MARK, f"{token}\n".encode())


def set_aside_revoked_key(data_dir: Path, token: str) -> bool:
    """After a revocation, a new enrollment token in the configuration means: start again with a
    fresh key. True when the revoked key was set aside and a fresh one made."""
    mark = data_dir / REVOKED_MARK
    if not mark.exists() or not token or token == mark.read_text().strip():
        return False
    current = data_dir / KEY_NAME
    if current.exists():
        revoked = _load(current)
        os.replace(current, data_dir / f"{REVOKED_PREFIX}{key_id(revoked.public_key())}")
    # The fresh key at once: a station with traces of an identity and no key has lost it.
    _write(current, Ed25519PrivateKey.generate())
    mark.unlink()
    sync_directory(data_dir)
    return True


def identity_loss(state_dir: Path) -> str | None:
    """KEY_DAMAGED or KEY_MISSING when the station lost its identity (found now or earlier and
    not yet repaired), else None. A damaged key file is set aside as it was found; the loss is
    written down, so a fresh key made later does not hide it."""
    mark = state_dir / IDENTITY_LOST_MARK
    if mark.exists():
        recorded = mark.read_text(errors="replace").strip()
        return recorded if recorded in IDENTITY_WORDS else KEY_DAMAGED
    path, pending = state_dir / KEY_NAME, state_dir / NEXT_KEY_NAME
    if not path.exists() and pending.exists() and retired_key_ids(state_dir):
        # A rotation the hub confirmed, cut between its two renames: finish it.
        os.replace(pending, path)
        sync_directory(state_dir)
    if path.exists():
        try:
            _load(path)
            return None
        except ValueError:
            os.replace(path, state_dir / f"{DAMAGED_PREFIX}{_now_for_name()}")
            loss = KEY_DAMAGED
    elif any(any(state_dir.glob(trace)) for trace in IDENTITY_TRACES):
        loss = KEY_MISSING
    else:
        return None  # a new stick: its key is made on first use
    write_durably(mark, f"{loss}\n".encode())
    return loss


def identity_restored(state_dir: Path) -> None:
    """The fresh key is enrolled (or there is no hub to enroll with): the loss is over."""
    mark = state_dir / IDENTITY_LOST_MARK
    if mark.exists():
        mark.unlink()
        sync_directory(state_dir)


def _now_for_name() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")


def data_dir_from_env() -> Path:
    return Path(os.environ.get("REEEBOOT_DATA", "/srv/reeeboot"))


def state_dir_from_env(data_dir: Path) -> Path:
    """Where the station keeps its state: the stick's journaling state partition on the live
    system ($REEEBOOT_STATE), else the data folder itself (a developer's machine, the tests)."""
    configured = os.environ.get("REEEBOOT_STATE")
    return Path(configured) if configured else data_dir
