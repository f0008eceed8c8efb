"""What the new owner's passport (`/p/<token>`) shows of a machine's latest report: fields picked
one by one, never the report as it is.

A field the report gains later stays off the public page until it is added here. Left out on
purpose: the operator, the station, its keys, the report's and the machine's ids, the evidence
files and their digests (the health checks' too, with who ran them, their times and what they
measured), and every serial number, UUID, network address, EDID serial and licence key (the
machine's, its disks', memory's, battery's and screen's): a serial number leads back to the
donor's own records (an inventory, a warranty, a disposal list), and the new owner can read the
machine's on its label. The workshop's number for the machine (asset id) stays: it is on the
machine's sticker and in its installed hostname, and tells the reader that the page is about the
machine in their hands.

Every text comes out translated (gettext of the page's language) and is escaped by the template.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agent.i18n import N_
from agent.report.labels import BUS_NAMES, OUTCOMES
from hub import views
from hub.grade_view import PartLine, grade_section
from hub.health_view import HealthShown, health_section
from hub.ingest import report_columns

Gettext = Callable[[str], str]

# The inventory's sections and fields a new owner reads, in this order; labels from
# views.FIELD_LABELS, the passport's own.
COMPUTER_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("system", ("vendor", "product", "version", "family")),
    ("cpu", ("model", "cores", "threads", "max_mhz", "microarchitecture_level")),
    ("memory", ("total_bytes", "empty_slots", "max_capacity_bytes")),
    ("firmware", ("uefi_capable", "secure_boot")),
    ("tpm", ("present", "version")),
)
BENCHMARK_FIELDS = ("cpu.single_core_bytes_per_second", "cpu.all_cores_bytes_per_second",
                    "memory.copy_bytes_per_second")

SMART_HEALTH = {"passed": N_("good"), "failed": N_("failing")}
SECURE_BOOT = {"enabled": N_("on"), "disabled": N_("off")}
NETWORK_KINDS = {"wireless": N_("Wi-Fi"), "wired": N_("Ethernet")}
INSTALL_RESULTS = {"installed": N_("installed"), "failed": N_("failed")}
BOOT_MODES = {"uefi": "UEFI", "bios": "BIOS"}
KEPT_BY_CHOICE = "kept_by_choice"  # an excluded disk that stays in the machine, as it was


@dataclass(frozen=True)
class Section:
    """A table of the page: its title and (label, text) rows, both translated."""

    title: str
    rows: list[tuple[str, str]]


@dataclass(frozen=True)
class DiskErased:
    model: str
    size: str
    method: str
    level: str
    result: str
    erased: bool
    verified: str


@dataclass
class PublicPassport:
    name: str
    asset_id: str | None
    date: str | None
    sections: list[Section] = field(default_factory=list)
    grade: str | None = None
    grade_reasons: list[str] = field(default_factory=list)
    grade_parts: list[PartLine] = field(default_factory=list)  # the grade's parts in words
    outcome: str | None = None
    benchmarks: list[tuple[str, str]] = field(default_factory=list)
    erasures: list[DiskErased] = field(default_factory=list)
    installed: list[tuple[str, str]] = field(default_factory=list)
    reused: bool = False
    health: HealthShown | None = None


def public_passport(report: dict[str, Any], gettext: Gettext,
                    language: str = "en") -> PublicPassport:
    """`language`: the page's, which writes the numbers of translated health findings (and of
    the grade's reasons that repeat them)."""
    machine = _mapping(report.get("machine"))
    system = _mapping(machine.get("system"))
    name = " ".join(str(system[key]) for key in ("vendor", "product") if system.get(key))
    date = report.get("finished_at") or report.get("created_at")
    grade = grade_section(report, gettext, language)
    outcome = _mapping(report.get("outcome")).get("value")
    asset_id = report.get("asset_id")
    return PublicPassport(
        name=name or gettext(N_("Computer")),
        asset_id=str(asset_id) if asset_id else None,
        date=str(date)[:10] if isinstance(date, str) else None,
        sections=[*_computer(machine, gettext), *_parts(report, machine, gettext)],
        grade=grade.value if grade else None,
        grade_reasons=grade.texts if grade else [],
        grade_parts=grade.parts if grade else [],
        outcome=views.label(OUTCOMES, outcome, gettext) if outcome else None,
        benchmarks=_benchmarks(_mapping(report.get("benchmarks")), gettext),
        erasures=[_erasure(disk, gettext) for disk in views.erasures(report)],
        installed=_installed(_mapping(report.get("install")), gettext),
        reused=report_columns(report).reused,
        health=health_section(report, gettext, language, public=True),
    )


def _computer(machine: dict[str, Any], gettext: Gettext) -> list[Section]:
    sections = []
    for name, keys in COMPUTER_FIELDS:
        part = _mapping(machine.get(name))
        rows = [_row(f"{name}.{key}", part[key], gettext) for key in keys
                if part.get(key) is not None and part.get(key) != ""]
        if name == "system":
            chassis = _mapping(part.get("chassis")).get("type")
            if chassis:
                rows.append((gettext(views.FIELD_LABELS["system.chassis"]), str(chassis)))
        if name == "memory":
            modules = [_mapping(module) for module in _items(part.get("modules"))]
            if modules:
                rows.append((gettext(views.FIELD_LABELS["memory.modules"]), ", ".join(
                    " ".join(text for text in (views.size_text(module.get("size_bytes")),
                                               str(module.get("type") or "")) if text)
                    for module in modules)))
        if rows:
            sections.append(Section(gettext(views.SECTION_LABELS[name]), rows))
    return sections


def _row(key: str, value: Any, gettext: Gettext) -> tuple[str, str]:
    """A field of the report in words, as views.shown_field writes it for the passport."""
    if key == "firmware.secure_boot":
        return gettext(views.FIELD_LABELS[key]), views.label(SECURE_BOOT, value, gettext)
    text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
    shown = views.shown_field(key, text)
    label = gettext(shown.label_id) if shown.label_id else shown.label
    return label, gettext(shown.text_id) if shown.text_id else shown.text


def _parts(report: dict[str, Any], machine: dict[str, Any], gettext: Gettext) -> list[Section]:
    """Disks (those that stay in the machine), graphics, built-in screens, batteries, network
    and cameras, each by maker, model and size: never a serial number or an address."""
    left_out = {item.get("path") for item in _items(report.get("excluded"))
                if item.get("code") != KEPT_BY_CHOICE}
    disks = []
    for disk in _items(machine.get("disks")):
        if disk.get("path") in left_out or disk.get("removable"):
            continue
        kind = gettext(N_("hard disk")) if disk.get("rotational") else "SSD"
        bus = BUS_NAMES.get(str(disk.get("bus")), str(disk.get("bus") or ""))
        health = disk.get("smart_health")
        disks.append((str(disk.get("model") or "?"), ", ".join(text for text in (
            views.size_text(disk.get("size_bytes")), f"{kind} {bus}".strip(),
            gettext(N_("SMART health: {verdict}")).format(
                verdict=views.label(SMART_HEALTH, health, gettext)) if health else "")
            if text)))
    components = [
        (gettext(N_("Graphics")), _named(gpu)) for gpu in _items(machine.get("gpus"))
        if _named(gpu)]
    for display in _items(machine.get("display")):
        edid = _mapping(display.get("edid"))
        native = _mapping(edid.get("native"))
        if not display.get("built_in") or not edid:
            continue  # a screen plugged in at the workshop does not leave with the machine
        size = edid.get("diagonal_inches")
        parts = [gettext(N_("{inches} inches")).format(inches=f"{float(size):.1f}")
                 if isinstance(size, int | float) else "",
                 f"{native['width']} x {native['height']}"
                 if native.get("width") and native.get("height") else ""]
        components.append((gettext(N_("Built-in screen")),
                           ", ".join(part for part in parts if part) or "?"))
    for battery in _items(machine.get("battery")):
        health, cycles = battery.get("health_percent"), battery.get("cycle_count")
        parts = [gettext(N_("{percent} % of its original capacity")).format(
            percent=round(float(health))) if isinstance(health, int | float) else
            gettext(N_("health unknown"))]
        if isinstance(cycles, int):
            parts.append(gettext(N_("charge cycles: {count}")).format(count=cycles))
        components.append((gettext(N_("Battery")), ", ".join(parts)))
    for interface in _items(machine.get("network")):
        network = NETWORK_KINDS.get(str(interface.get("kind")))
        if network is not None:
            components.append((gettext(network), _named(interface) or "?"))
    components += [(gettext(N_("Camera")), _named(camera) or str(camera.get("name") or "?"))
                   for camera in _items(machine.get("cameras"))]
    sections = []
    if disks:
        sections.append(Section(gettext(N_("Disks")), disks))
    if components:
        sections.append(Section(gettext(N_("Other parts")), components))
    return sections


def _named(part: dict[str, Any]) -> str:
    return " ".join(str(part[key]) for key in ("vendor", "model") if part.get(key))


def _benchmarks(benchmarks: dict[str, Any], gettext: Gettext) -> list[tuple[str, str]]:
    rows = []
    for key in BENCHMARK_FIELDS:
        section, name = key.split(".")
        value = _mapping(benchmarks.get(section)).get(name)
        if isinstance(value, int | float):
            rows.append(_row(f"benchmarks.{key}", int(value), gettext))
    for disk in _items(benchmarks.get("disks")):
        speed = disk.get("read_bytes_per_second")
        if disk.get("result") == "measured" and isinstance(speed, int | float):
            rows.append((gettext(N_("Disk read speed: {disk}")).format(
                disk=disk.get("model") or "?"), f"{views.size_text(speed)}/s"))
    return rows


def _erasure(disk: views.DiskErasure, gettext: Gettext) -> DiskErased:
    return DiskErased(
        model=disk.model, size=views.size_text(disk.size_bytes),
        method=views.method_label(disk.method, gettext),
        level=views.level_label(disk.level, gettext),
        result=views.label(views.RESULT_LABELS, disk.result, gettext),
        erased=disk.result.startswith("erased"),
        verified=gettext(views.YES if disk.verified else views.NO))


def _installed(install: dict[str, Any], gettext: Gettext) -> list[tuple[str, str]]:
    if not install:
        return []
    image = _mapping(install.get("image"))
    rows = [_row(f"install.image.{key}", image[key], gettext)
            for key in ("name", "version") if image.get(key)]
    rows.append((gettext(views.FIELD_LABELS["install.result"]),
                 views.label(INSTALL_RESULTS, install.get("result"), gettext)))
    if install.get("boot_mode") in BOOT_MODES:
        rows.append((gettext(views.FIELD_LABELS["install.boot_mode"]),
                     BOOT_MODES[install["boot_mode"]]))
    return rows


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
