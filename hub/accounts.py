"""People's accounts: argon2 password hashes (who may see what: hub/deps.py)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.store import Store

_hasher = PasswordHasher()
# Spent on an unknown e-mail too, so that timing does not tell which addresses have accounts.
_DUMMY_HASH = _hasher.hash("reeeboot: no such account")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_login(store: Store, email: str, password: str) -> int | None:
    """The person's id when the password is right (rehashing if the parameters changed)."""
    found = store.person_for_login(email.strip().lower())
    person_id, stored = found if found else (None, _DUMMY_HASH)
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if person_id is not None and _hasher.check_needs_rehash(stored):
        store.set_password_hash(person_id, _hasher.hash(password))
    return person_id

