"""The station's configuration, `reeeboot.toml` on the stick's data partition.

Volunteers edit this file by hand, so every mistake is reported with file, line and key, and the
station then runs on safe defaults. Any problem at all turns unattended mode off: a typo must
never lead to disks being erased without a person in front of the machine.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from agent.i18n import LANGUAGES, N_, _

CONFIG_NAME = "reeeboot.toml"


@dataclass(frozen=True)
class StationConfig:
    language: str = "fr"
    unattended: bool = False
    station_name: str = ""
    hub_url: str = ""
    enrollment_token: str = ""
    # [erase]: the workshop's erasure policy (agent/wipe/policy.py explains each choice)
    erase_method: str = "auto"  # "auto": strongest the disk supports; or an overwrite method
    erase_verify: str = "full"  # verification after an overwrite: full, sample, off
    erase_rounds: int = 1  # the overwrite method repeated, for workshops that want more passes
    erase_blank: bool = False  # a final zero pass after the overwrite
    # Frozen drives: true, sleep a few seconds to unfreeze them without asking; false, never;
    # absent (None), the screen asks (unattended mode and the command line take it as false).
    erase_allow_unfreeze: bool | None = None
    erase_sample_sectors: int = 1000  # random sectors read back after a firmware erase
    # [inventory]: the OEM Windows key in the firmware is personal data of a kind: off by default
    keep_windows_key: bool = False
    # [install]: the OS put on the computer after erasure (agent/install/)
    install_image: str = ""  # a name from the stick's images/ folder or the hub, or a path
    install_target: str = "auto"  # "auto": the best healthy disk; or a device such as /dev/sda
    install_kernel_options: str = ""  # added to the installed system's kernel command line
    install_verify: bool = True  # read what was written back from the disk
    # [station] operator: who runs the station; named in every report ("" for nobody)
    operator: str = ""
    # [health]: how much of the health pass runs (agent/health/checkup.py); 0 s leaves a check out
    health_self_test: str = "short"  # the drives' own self-test: "short", "long" or "off"
    health_cpu_seconds: int = 60  # the processor under load
    health_memory_seconds: int = 120  # the memory test
    health_battery_seconds: int = 180  # the battery's timed discharge (its wear is always read)


@dataclass(frozen=True)
class ConfigProblem:
    """One mistake in the file; the text is translated when shown, in the language then in use."""

    path: str
    line: int | None
    key: str | None
    message: str  # an untranslated message id, formatted with `details`
    details: tuple[tuple[str, str], ...] = ()

    def describe(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        message = _(self.message).format(**dict(self.details))
        if self.key:
            return _("{where}: key '{key}': {message}").format(
                where=where, key=self.key, message=message
            )
        return f"{where}: {message}"


@dataclass(frozen=True)
class _Key:
    table: str | None
    name: str
    field: str
    kind: type


_KEYS = (
    _Key(None, "language", "language", str),
    _Key(None, "unattended", "unattended", bool),
    _Key("station", "name", "station_name", str),
    _Key("station", "operator", "operator", str),
    _Key("hub", "url", "hub_url", str),
    _Key("hub", "enrollment_token", "enrollment_token", str),
    _Key("erase", "method", "erase_method", str),
    _Key("erase", "verify", "erase_verify", str),
    _Key("erase", "rounds", "erase_rounds", int),
    _Key("erase", "blank", "erase_blank", bool),
    _Key("erase", "allow_unfreeze", "erase_allow_unfreeze", bool),
    _Key("erase", "sample_sectors", "erase_sample_sectors", int),
    _Key("inventory", "keep_windows_key", "keep_windows_key", bool),
    _Key("install", "image", "install_image", str),
    _Key("install", "target", "install_target", str),
    _Key("install", "kernel_options", "install_kernel_options", str),
    _Key("install", "verify", "install_verify", bool),
    _Key("health", "self_test", "health_self_test", str),
    _Key("health", "cpu_seconds", "health_cpu_seconds", int),
    _Key("health", "memory_seconds", "health_memory_seconds", int),
    _Key("health", "battery_seconds", "health_battery_seconds", int),
)
ERASE_METHODS = ("auto", "random", "zero", "one", "dodshort", "dod", "is5enh")
VERIFY_MODES = ("full", "sample", "off")
SELF_TEST_KINDS = ("short", "long", "off")
_CHOICES = {"language": LANGUAGES, "erase_method": ERASE_METHODS, "erase_verify": VERIFY_MODES,
            "health_self_test": SELF_TEST_KINDS}
_RANGES = {"erase_rounds": (1, 35), "erase_sample_sectors": (0, 1_000_000),
           "health_cpu_seconds": (0, 3600), "health_memory_seconds": (0, 7200),
           "health_battery_seconds": (0, 3600)}
_TABLES = {key.table for key in _KEYS if key.table}


def load_config(path: Path) -> tuple[StationConfig, list[ConfigProblem]]:
    """Read the configuration; never raises for bad content, returns the problems instead."""
    defaults = StationConfig()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return defaults, [
            ConfigProblem(str(path), None, None, N_("file not found, using defaults"))
        ]
    except (OSError, UnicodeDecodeError) as error:
        message = N_("cannot be read ({error}), using defaults")
        return defaults, [ConfigProblem(str(path), None, None, message, (("error", str(error)),))]
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        line = _line_of_decode_error(str(error))
        message = N_("not valid TOML ({error}), using defaults")
        return defaults, [ConfigProblem(str(path), line, None, message, (("error", str(error)),))]
    config, problems = _from_mapping(data, text, str(path))
    if problems and config.unattended:
        config = replace(config, unattended=False)
    return config, problems


def _from_mapping(
    data: dict[str, Any], text: str, path: str
) -> tuple[StationConfig, list[ConfigProblem]]:
    config = StationConfig()
    problems: list[ConfigProblem] = []

    def problem(section: str | None, key_name: str, message: str, **details: str) -> None:
        dotted = f"{section}.{key_name}" if section else key_name
        line = _line_of_key(text, section, key_name)
        problems.append(ConfigProblem(path, line, dotted, message, tuple(details.items())))

    known_top = {key.name for key in _KEYS if key.table is None} | _TABLES
    for name in data:
        if name not in known_top:
            problem(None, name, N_("unknown key, ignored"))
    for table in sorted(_TABLES):
        entries = data.get(table, {})
        if not isinstance(entries, dict):
            problem(None, table, N_("must be a table like [{table}]"), table=table)
            continue
        known = {key.name for key in _KEYS if key.table == table}
        for name in entries:
            if name not in known:
                problem(table, name, N_("unknown key, ignored"))

    for key in _KEYS:
        section = data if key.table is None else data.get(key.table, {})
        if not isinstance(section, dict) or key.name not in section:
            continue
        value: str | bool | int = section[key.name]
        # bool is an int in Python; `rounds = true` is still a mistake.
        if not isinstance(value, key.kind) or (key.kind is int and isinstance(value, bool)):
            if key.kind is bool:
                problem(key.table, key.name, N_("must be true or false"))
            elif key.kind is int:
                problem(key.table, key.name, N_("must be a whole number"))
            else:
                problem(key.table, key.name, N_("must be a text in quotes"))
            continue
        if key.field in _CHOICES and value not in _CHOICES[key.field]:
            choices = ", ".join(f'"{choice}"' for choice in _CHOICES[key.field])
            problem(key.table, key.name, N_("must be one of {choices}"), choices=choices)
            continue
        low, high = _RANGES.get(key.field, (None, None))
        if low is not None and high is not None and not low <= int(value) <= high:
            problem(key.table, key.name, N_("must be between {low} and {high}"),
                    low=str(low), high=str(high))
            continue
        if key.field == "hub_url" and value and not re.match(r"^https?://[^/\s]+", str(value)):
            problem(key.table, key.name, N_("must start with http:// or https://"))
            continue
        if key.field == "install_target" and value != "auto" and not str(value).startswith(
                "/dev/"):
            problem(key.table, key.name, N_('must be "auto" or a device such as /dev/sda'))
            continue
        config = replace(config, **{key.field: value})  # type: ignore[arg-type]
    return config, problems


def _line_of_decode_error(message: str) -> int | None:
    found = re.search(r"line (\d+)", message)
    return int(found.group(1)) if found else None


def _line_of_key(text: str, table: str | None, name: str) -> int | None:
    """The line where `name` is assigned inside `[table]` (or at top level), for messages."""
    current: str | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([^\]\s]+)\s*\]", line)
        if header:
            current = header.group(1)
            if table is None and current == name:
                return number
            continue
        if current == table and re.match(rf"^{re.escape(name)}\s*=", line):
            return number
    return None
