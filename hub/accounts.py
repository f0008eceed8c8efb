"""People's accounts: argon2 password hashes, who may see what."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from hub.models import ROLE_ADMIN
from hub.store import PersonRow, Store

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


def workshop_scope(person: PersonRow) -> int | None:
    """None for an administrator (every workshop), else the person's own workshop.

    A workshop account without a workshop sees nothing: -1 matches no row.
    """
    if person.role == ROLE_ADMIN:
        return None
    return person.workshop_id if person.workshop_id is not None else -1
