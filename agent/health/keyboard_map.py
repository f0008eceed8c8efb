"""The keyboard's physical keys for the guided keyboard check: where each one is, what is
printed on it in the layout in use, and which key a typed character came from.

Keys are Linux input key codes (linux/input-event-codes.h), laid out as an ISO 105-key main
block (Esc and F-keys; number row; three letter rows; the bottom row) with the arrows and the
Insert/Delete/Home/End/Page keys, no numeric keypad. Positions are in screen columns: one
standard key is 4 columns (3 for its label, 1 of gap), so the main block is 60 columns wide and
the whole map 74, within the 78 a framed panel leaves at 80 columns.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

# linux/input-event-codes.h, the keys of the map.
KEY_ESC = 1
KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, KEY_6, KEY_7, KEY_8, KEY_9, KEY_0 = range(2, 12)
KEY_MINUS, KEY_EQUAL, KEY_BACKSPACE, KEY_TAB = 12, 13, 14, 15
KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P = range(16, 26)
KEY_LEFTBRACE, KEY_RIGHTBRACE, KEY_ENTER, KEY_LEFTCTRL = 26, 27, 28, 29
KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L = range(30, 39)
KEY_SEMICOLON, KEY_APOSTROPHE, KEY_GRAVE, KEY_LEFTSHIFT, KEY_BACKSLASH = 39, 40, 41, 42, 43
KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N, KEY_M = range(44, 51)
KEY_COMMA, KEY_DOT, KEY_SLASH, KEY_RIGHTSHIFT = 51, 52, 53, 54
KEY_LEFTALT, KEY_SPACE, KEY_CAPSLOCK = 56, 57, 58
KEY_F1, KEY_F2, KEY_F3, KEY_F4, KEY_F5, KEY_F6, KEY_F7, KEY_F8, KEY_F9, KEY_F10 = range(59, 69)
KEY_102ND, KEY_F11, KEY_F12 = 86, 87, 88
KEY_RIGHTCTRL, KEY_RIGHTALT = 97, 100
KEY_HOME, KEY_UP, KEY_PAGEUP, KEY_LEFT, KEY_RIGHT = 102, 103, 104, 105, 106
KEY_END, KEY_DOWN, KEY_PAGEDOWN, KEY_INSERT, KEY_DELETE = 107, 108, 109, 110, 111
KEY_LEFTMETA, KEY_COMPOSE = 125, 127

DEFAULT_LAYOUT = "fr"
FALLBACK_LAYOUT = "us"
KEYBOARD_DEFAULTS = Path("/etc/default/keyboard")
MAP_WIDTH = 74
MAP_ROWS = 6

# A terminal never reports these pressed alone: they only change what other keys type (the
# Menu key types nothing on the Linux console).
TERMINAL_SILENT = frozenset({KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTSHIFT, KEY_RIGHTSHIFT,
                             KEY_LEFTALT, KEY_RIGHTALT, KEY_LEFTMETA, KEY_COMPOSE,
                             KEY_CAPSLOCK})


@dataclass(frozen=True)
class KeyPlace:
    """Where a key is drawn: its row of the map, first column and width (its gap included).
    The ISO Enter key spans two rows: it has a place on each."""

    code: int
    row: int
    column: int
    width: int
    labelled: bool = True  # False on the lower half of Enter


def _row(row: int, start: int, keys: list[tuple[int, int]]) -> list[KeyPlace]:
    places, column = [], start
    for code, width in keys:
        places.append(KeyPlace(code, row, column, width))
        column += width
    return places


def _physical_places() -> tuple[KeyPlace, ...]:
    standard = 4
    places = [KeyPlace(KEY_ESC, 0, 0, standard)]
    for group, start in ((range(KEY_F1, KEY_F5), 8), (range(KEY_F5, KEY_F9), 26),
                         ((KEY_F9, KEY_F10, KEY_F11, KEY_F12), 44)):
        places += _row(0, start, [(code, standard) for code in group])
    places += _row(1, 0, [(KEY_GRAVE, 4), *[(code, 4) for code in range(KEY_1, KEY_0 + 1)],
                          (KEY_MINUS, 4), (KEY_EQUAL, 4), (KEY_BACKSPACE, 8)])
    places += _row(2, 0, [(KEY_TAB, 6), *[(code, 4) for code in range(KEY_Q, KEY_P + 1)],
                          (KEY_LEFTBRACE, 4), (KEY_RIGHTBRACE, 4), (KEY_ENTER, 6)])
    places += _row(3, 0, [(KEY_CAPSLOCK, 7), *[(code, 4) for code in range(KEY_A, KEY_L + 1)],
                          (KEY_SEMICOLON, 4), (KEY_APOSTROPHE, 4), (KEY_BACKSLASH, 4)])
    places.append(KeyPlace(KEY_ENTER, 3, 55, 5, labelled=False))
    places += _row(4, 0, [(KEY_LEFTSHIFT, 5), (KEY_102ND, 4),
                          *[(code, 4) for code in range(KEY_Z, KEY_M + 1)],
                          (KEY_COMMA, 4), (KEY_DOT, 4), (KEY_SLASH, 4), (KEY_RIGHTSHIFT, 11)])
    places += _row(5, 0, [(KEY_LEFTCTRL, 6), (KEY_LEFTMETA, 5), (KEY_LEFTALT, 5),
                          (KEY_SPACE, 24), (KEY_RIGHTALT, 7), (KEY_COMPOSE, 6),
                          (KEY_RIGHTCTRL, 7)])
    # The navigation keys and the arrows, right of the main block.
    places += _row(1, 62, [(KEY_INSERT, 4), (KEY_HOME, 4), (KEY_PAGEUP, 4)])
    places += _row(2, 62, [(KEY_DELETE, 4), (KEY_END, 4), (KEY_PAGEDOWN, 4)])
    places.append(KeyPlace(KEY_UP, 4, 66, 4))
    places += _row(5, 62, [(KEY_LEFT, 4), (KEY_DOWN, 4), (KEY_RIGHT, 4)])
    return tuple(places)


PLACES = _physical_places()
KEY_CODES = tuple(dict.fromkeys(place.code for place in PLACES))  # each key once, in map order

# The names printed on keys, the same in both layouts' keyboards sold here except where a
# layout's own set says otherwise.
_NAMED_LABELS = {
    KEY_ESC: "Esc", KEY_TAB: "Tab", KEY_BACKSPACE: "Backsp", KEY_ENTER: "Enter",
    KEY_CAPSLOCK: "Caps", KEY_LEFTSHIFT: "Shft", KEY_RIGHTSHIFT: "Shift",
    KEY_LEFTCTRL: "Ctrl", KEY_RIGHTCTRL: "Ctrl", KEY_LEFTMETA: "Win", KEY_LEFTALT: "Alt",
    KEY_RIGHTALT: "AltGr", KEY_COMPOSE: "Menu", KEY_SPACE: "Space",
    KEY_INSERT: "Ins", KEY_DELETE: "Del", KEY_HOME: "Hom", KEY_END: "End",
    KEY_PAGEUP: "PgU", KEY_PAGEDOWN: "PgD",
    KEY_UP: "^", KEY_DOWN: "v", KEY_LEFT: "<-", KEY_RIGHT: "->",
    **{code: f"F{code - KEY_F1 + 1}" for code in range(KEY_F1, KEY_F10 + 1)},
    KEY_F11: "F11", KEY_F12: "F12",
}
_FRENCH_NAMES = {
    KEY_BACKSPACE: "Retour", KEY_ENTER: "Entr", KEY_CAPSLOCK: "VerMaj", KEY_LEFTSHIFT: "Maj",
    KEY_RIGHTSHIFT: "Maj", KEY_INSERT: "Ins", KEY_DELETE: "Sup", KEY_HOME: "Déb",
    KEY_END: "Fin", KEY_PAGEUP: "PgH", KEY_PAGEDOWN: "PgB", KEY_SPACE: "Espace",
}
# Where a key's label says too little in a list of keys ("Ctrl, ^"), its full name.
_LONG_NAMES = {
    "us": {KEY_LEFTCTRL: "Left Ctrl", KEY_RIGHTCTRL: "Right Ctrl", KEY_LEFTSHIFT: "Left Shift",
           KEY_RIGHTSHIFT: "Right Shift", KEY_UP: "Up arrow", KEY_DOWN: "Down arrow",
           KEY_LEFT: "Left arrow", KEY_RIGHT: "Right arrow", KEY_CAPSLOCK: "Caps Lock",
           KEY_BACKSPACE: "Backspace", KEY_HOME: "Home", KEY_PAGEUP: "Page Up",
           KEY_PAGEDOWN: "Page Down"},
    "fr": {KEY_LEFTCTRL: "Ctrl gauche", KEY_RIGHTCTRL: "Ctrl droite",
           KEY_LEFTSHIFT: "Maj gauche", KEY_RIGHTSHIFT: "Maj droite",
           KEY_UP: "Flèche haut", KEY_DOWN: "Flèche bas", KEY_LEFT: "Flèche gauche",
           KEY_RIGHT: "Flèche droite", KEY_CAPSLOCK: "Verr Maj", KEY_ENTER: "Entrée",
           KEY_HOME: "Début", KEY_PAGEUP: "Page haut", KEY_PAGEDOWN: "Page bas",
           KEY_DELETE: "Suppr", KEY_INSERT: "Inser"},
}


@dataclass(frozen=True)
class CharacterKey:
    """A key that types: its label, and what it types alone, with Shift, with AltGr."""

    label: str
    levels: tuple[str, ...]


def _letters(codes: list[int], letters: str) -> dict[int, CharacterKey]:
    return {code: CharacterKey(letter.upper(), (letter, letter.upper()))
            for code, letter in zip(codes, letters, strict=True)}


_US = {
    KEY_GRAVE: CharacterKey("`", ("`", "~")),
    **{code: CharacterKey(digit, (digit, shifted)) for code, digit, shifted in zip(
        range(KEY_1, KEY_0 + 1), "1234567890", "!@#$%^&*()", strict=True)},
    KEY_MINUS: CharacterKey("-", ("-", "_")), KEY_EQUAL: CharacterKey("=", ("=", "+")),
    **_letters(list(range(KEY_Q, KEY_P + 1)), "qwertyuiop"),
    KEY_LEFTBRACE: CharacterKey("[", ("[", "{")), KEY_RIGHTBRACE: CharacterKey("]", ("]", "}")),
    **_letters(list(range(KEY_A, KEY_L + 1)), "asdfghjkl"),
    KEY_SEMICOLON: CharacterKey(";", (";", ":")), KEY_APOSTROPHE: CharacterKey("'", ("'", '"')),
    KEY_BACKSLASH: CharacterKey("\\", ("\\", "|")), KEY_102ND: CharacterKey("<", ("<", ">")),
    **_letters(list(range(KEY_Z, KEY_M + 1)), "zxcvbnm"),
    KEY_COMMA: CharacterKey(",", (",", "<")), KEY_DOT: CharacterKey(".", (".", ">")),
    KEY_SLASH: CharacterKey("/", ("/", "?")),
}

# AZERTY as the Linux console's "fr" keymap has it. The circumflex key is a dead key: alone it
# types nothing, and the accented letter it makes is counted for it.
_FR = {
    KEY_GRAVE: CharacterKey("²", ("²",)),
    **{code: CharacterKey(digit + base, (base, digit, altgr)) for code, digit, base, altgr in (
        (KEY_1, "1", "&", ""), (KEY_2, "2", "é", "~"), (KEY_3, "3", '"', "#"),
        (KEY_4, "4", "'", "{"), (KEY_5, "5", "(", "["), (KEY_6, "6", "-", "|"),
        (KEY_7, "7", "è", "`"), (KEY_8, "8", "_", "\\"), (KEY_9, "9", "ç", "^"),
        (KEY_0, "0", "à", "@"))},
    KEY_MINUS: CharacterKey("°)", (")", "°", "]")),
    KEY_EQUAL: CharacterKey("+=", ("=", "+", "}")),
    **_letters([KEY_Q, KEY_W, KEY_E, KEY_R, KEY_T, KEY_Y, KEY_U, KEY_I, KEY_O, KEY_P],
               "azertyuiop"),
    KEY_LEFTBRACE: CharacterKey("^", ("^", "¨", "â", "ê", "î", "ô", "û", "ä", "ë", "ï", "ö",
                                      "ü", "ÿ")),
    KEY_RIGHTBRACE: CharacterKey("$", ("$", "£", "¤")),
    **_letters([KEY_A, KEY_S, KEY_D, KEY_F, KEY_G, KEY_H, KEY_J, KEY_K, KEY_L, KEY_SEMICOLON],
               "qsdfghjklm"),
    KEY_APOSTROPHE: CharacterKey("ù", ("ù", "%")), KEY_BACKSLASH: CharacterKey("*", ("*", "µ")),
    KEY_102ND: CharacterKey("<", ("<", ">")),
    **_letters([KEY_Z, KEY_X, KEY_C, KEY_V, KEY_B, KEY_N], "wxcvbn"),
    KEY_M: CharacterKey(",", (",", "?")), KEY_COMMA: CharacterKey(";", (";", ".")),
    KEY_DOT: CharacterKey(":", (":", "/")), KEY_SLASH: CharacterKey("!", ("!", "§")),
}
_FR[KEY_E] = CharacterKey("E", ("e", "E", "€"))

_CHARACTER_KEYS = {"us": _US, "fr": _FR}
LAYOUTS = tuple(_CHARACTER_KEYS)

# Textual's names of the keys that type no character, the same whatever the layout.
_TERMINAL_NAMES = {
    "escape": KEY_ESC, "tab": KEY_TAB, "backspace": KEY_BACKSPACE, "enter": KEY_ENTER,
    "space": KEY_SPACE, "insert": KEY_INSERT, "delete": KEY_DELETE, "home": KEY_HOME,
    "end": KEY_END, "pageup": KEY_PAGEUP, "pagedown": KEY_PAGEDOWN, "up": KEY_UP,
    "down": KEY_DOWN, "left": KEY_LEFT, "right": KEY_RIGHT,
    **{f"f{index + 1}": code for index, code in enumerate(
        [*range(KEY_F1, KEY_F10 + 1), KEY_F11, KEY_F12])},
}


@dataclass(frozen=True)
class KeyboardLayout:
    """The map's keys as `name` labels them; `known` is False when the layout asked for had no
    labels here and the US ones are shown instead."""

    name: str
    asked: str
    known: bool

    def label(self, code: int) -> str:
        if code in _CHARACTER_KEYS[self.name]:
            return _CHARACTER_KEYS[self.name][code].label
        if self.name == "fr" and code in _FRENCH_NAMES:
            return _FRENCH_NAMES[code]
        return _NAMED_LABELS.get(code, f"#{code}")

    def full_name(self, code: int) -> str:
        """The key in a list of keys: its label, or its full name where the label is short."""
        return _LONG_NAMES[self.name].get(code) or self.label(code)

    def key_for_terminal(self, key: str, character: str | None) -> int | None:
        """The key code a terminal's key event came from: by its name for the keys that type
        nothing ("f5", "escape"), by the character it typed otherwise ("a" is KEY_Q in
        AZERTY); None when no key of the map types it. Ctrl with a letter arrives as
        "ctrl+a": the letter's key is counted."""
        name = key.rsplit("+", 1)[-1] if "+" in key and key != "+" else key
        if name in _TERMINAL_NAMES:
            return _TERMINAL_NAMES[name]
        typed = character if character and character.isprintable() else None
        if typed is None and len(name) == 1:
            typed = name
        if typed is None:
            return None
        return self._by_character().get(typed)

    def _by_character(self) -> dict[str, int]:
        found: dict[str, int] = {}
        keys = _CHARACTER_KEYS[self.name]
        deepest = max(len(key.levels) for key in keys.values())
        for level in range(deepest):  # what a key types alone wins over a shifted meaning
            for code, key in keys.items():
                if level < len(key.levels) and key.levels[level]:
                    found.setdefault(key.levels[level], code)
        return found


def layout(name: str) -> KeyboardLayout:
    """The labels of layout `name` ("fr", "us", "fr(oss)" as XKB writes a variant); the US
    labels when this map does not know it."""
    base = re.split(r"[(:]", name.strip().lower(), maxsplit=1)[0] or DEFAULT_LAYOUT
    if base in _CHARACTER_KEYS:
        return KeyboardLayout(base, name, True)
    return KeyboardLayout(FALLBACK_LAYOUT, name, False)


def console_layout(path: Path = KEYBOARD_DEFAULTS) -> str:
    """The console's layout from /etc/default/keyboard (XKBLAYOUT="fr"; the first of a list
    "fr,us"); DEFAULT_LAYOUT when the file or the setting is missing."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return DEFAULT_LAYOUT
    for line in text.splitlines():
        if line.strip().startswith("XKBLAYOUT="):
            try:
                words = shlex.split(line.strip().removeprefix("XKBLAYOUT="))
            except ValueError:
                return DEFAULT_LAYOUT
            first = (words[0] if words else "").split(",")[0].strip()
            return first or DEFAULT_LAYOUT
    return DEFAULT_LAYOUT
