"""What a hub account's password must be (OWASP ASVS 2.1): long, and neither common nor obvious.

A length of 12 is ASVS level 2's minimum; no rule on character classes (they make passwords
harder to remember, not to guess). Refused: the words and keyboard walks everybody tries first
(with digits or signs around them), a single character or a short pattern repeated, and the
account's own e-mail address or its name part."""

from __future__ import annotations

import re

from agent.i18n import N_

MIN_LENGTH = 12
# Lower case, without the digits and signs people put around them. English and French: the
# workshops' accounts are made by French speakers.
COMMON_WORDS = frozenset((
    "password", "passw0rd", "motdepasse", "motdepass", "mdp", "secret", "secrets", "admin",
    "administrator", "administrateur", "root", "toor", "welcome", "bienvenue", "letmein",
    "changeme", "changezmoi", "default", "defaut", "qwerty", "qwertyuiop", "azerty",
    "azertyuiop", "azertyuiopqsdfghjklm", "qsdfghjklm", "wxcvbn", "asdfghjkl", "zxcvbnm",
    "iloveyou", "jetaime", "monkey", "dragon", "football", "soleil", "chocolat", "doudou",
    "loulou", "marseille", "paris", "france", "bonjour", "trustno1", "sunshine", "princess",
    "superman", "batman", "starwars", "master", "shadow", "abc", "abcdef", "abcdefgh",
    "abcdefghijkl", "reeeboot", "hub", "station", "atelier", "workshop", "ordi", "ordinateur",
    "computer", "reconditionnement",
))


def password_problem(password: str, email: str) -> str | None:
    """Why this password is refused (a message id), or None."""
    if len(password) < MIN_LENGTH:
        return N_("The password must have at least 12 characters.")
    lowered = password.lower()
    core = re.sub(r"^[\W\d_]+|[\W\d_]+$", "", lowered)
    if lowered in COMMON_WORDS or core in COMMON_WORDS or lowered.isdigit():
        return N_("This password is among the first ones anybody tries: choose another.")
    if _repeats(lowered):
        return N_("This password repeats a few characters: choose another.")
    address = email.strip().lower()
    name = address.split("@", 1)[0]
    if address and (address in lowered or (len(name) >= 4 and name in lowered)):
        return N_("The password must not contain the e-mail address.")
    return None


def _repeats(text: str) -> bool:
    """Made of a pattern of at most 3 characters said again and again ("aaaa", "abcabc")."""
    for size in (1, 2, 3):
        pattern = text[:size]
        if pattern * (len(text) // size) + pattern[:len(text) % size] == text:
            return True
    return len(set(text)) < 4
