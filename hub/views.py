"""What the pages show, computed from stored reports: passports, certificates, totals, charts."""

from __future__ import annotations

import datetime
import io
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard
from xml.sax.saxutils import escape

import qrcode
import qrcode.image.svg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from markupsafe import Markup

from agent.i18n import N_
from agent.report.labels import FIRMWARE_METHODS, LEVELS, OVERWRITE_FORMAT, OVERWRITE_PASSES

# What people read for the codes reports and progress messages carry.
RESULT_LABELS = {
    "erased": N_("erased"),
    "erased_with_exceptions": N_("erased except bad sectors"),
    "failed": N_("failed"),
    "skipped": N_("skipped"),
    "done": N_("done"),  # live progress: a disk whose job ended well
}
STEP_LABELS = {
    "inventory": N_("inventory"),
    "erase": N_("erasure"),
    "install": N_("installation"),
    "report": N_("report"),
    "done": N_("done"),
    "failed": N_("failed"),
}


def label(labels: dict[str, str], code: Any, gettext: Any) -> str:
    """The translated label of a known code; an unknown one is shown as it came."""
    text = labels.get(str(code)) if code is not None else None
    return str(gettext(text)) if text else ("" if code is None else str(code))


# Avoided by each computer given a second life instead of a new one being made (programme
# figures): greenhouse gases (kg CO2e), fresh water (L), extracted ore (kg).
CO2_KG_PER_MACHINE = 500
WATER_L_PER_MACHINE = 3500
ORE_KG_PER_MACHINE = 1.5


@dataclass(frozen=True)
class DiskErasure:
    device: str
    model: str
    serial: str
    size_bytes: int
    method: str
    level: str  # "Clear" or "Purge"
    result: str
    verification: str
    verified: bool
    bad_ranges: list[str]
    error: str | None


def erasures(report: dict[str, Any]) -> list[DiskErasure]:
    found = []
    for disk in report.get("erasure") or []:
        if not isinstance(disk, dict):
            continue
        ranges = [f"{pair[0]}-{pair[1]}" for pair in disk.get("bad_ranges") or []
                  if isinstance(pair, list | tuple) and len(pair) == 2]
        found.append(DiskErasure(
            device=str(disk.get("device") or "?"), model=str(disk.get("model") or "?"),
            serial=str(disk.get("serial") or "?"), size_bytes=int(disk.get("size_bytes") or 0),
            method=str(disk.get("method") or "?"),
            level=str(disk.get("level") or "?").capitalize(),
            result=str(disk.get("result") or "?"),
            verification=str(disk.get("verification") or "?"),
            verified=bool(disk.get("verified")), bad_ranges=ranges,
            error=disk.get("error") if isinstance(disk.get("error"), str) else None))
    return found


def size_text(size_bytes: Any) -> str:
    try:
        value = float(size_bytes)
    except (TypeError, ValueError):
        return "?"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return "?"


def flat_items(section: Any, prefix: str = "") -> list[tuple[str, str]]:
    """A nested object as (dotted key, text) pairs, for sections the page shows as they are."""
    if not isinstance(section, dict):
        return [] if section is None else [(prefix or "value", str(section))]
    items: list[tuple[str, str]] = []
    for key, value in section.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            items.extend(flat_items(value, name))
        elif isinstance(value, list):
            items.append((name, ", ".join(str(item) for item in value) if all(
                not isinstance(item, dict | list) for item in value) else f"[{len(value)}]"))
        elif value is not None:
            items.append((name, str(value)))
    return items


def qr_svg(url: str) -> Markup:
    image = qrcode.make(url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    text = buffer.getvalue().decode()
    return Markup(text[text.index("<svg"):])


def public_key_pem(raw: bytes) -> str:
    return Ed25519PublicKey.from_public_bytes(raw).public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()


def fingerprint_commands(key_id: str) -> str:
    """Shell lines that print the SHA-256 of station.pem's raw key: the certificate's key id."""
    return ("openssl pkey -pubin -in station.pem -outform DER | tail -c 32 | sha256sum\n"
            f"# {key_id}")


# Rebuilds the DSSE pre-authentication encoding of report.dsse.json and checks its signature
# with OpenSSL (tests/hub/test_pages.py runs these lines).
SIGNATURE_COMMANDS = (
    "python3 -c 'import json,base64,sys; e=json.load(open(\"report.dsse.json\")); "
    "sys.stdout.buffer.write(base64.b64decode(e[\"payload\"]))' > payload.json\n"
    "python3 -c 'import json,base64,sys; e=json.load(open(\"report.dsse.json\")); "
    "sys.stdout.buffer.write(base64.b64decode(e[\"signatures\"][0][\"sig\"]))' > signature.bin\n"
    "printf 'DSSEv1 36 application/vnd.reeeboot.report+json %d ' \"$(stat -c %s payload.json)\""
    " > signed.bin\n"
    "cat payload.json >> signed.bin\n"
    "openssl pkeyutl -verify -pubin -inkey station.pem -rawin -in signed.bin "
    "-sigfile signature.bin")


@dataclass
class Totals:
    machines: int = 0
    reused: int = 0
    per_month: list[tuple[str, int]] = field(default_factory=list)
    methods: list[tuple[str, int]] = field(default_factory=list)

    @property
    def co2_kg(self) -> float:
        return self.reused * CO2_KG_PER_MACHINE

    @property
    def water_l(self) -> float:
        return self.reused * WATER_L_PER_MACHINE

    @property
    def ore_kg(self) -> float:
        return self.reused * ORE_KG_PER_MACHINE


def totals(rows: Sequence[Any]) -> Totals:
    """rows: (machine_id, created_at, received_at, reused, methods) of every report."""
    months: dict[str, set[str]] = {}
    reused: set[str] = set()
    machines: set[str] = set()
    methods: Counter[str] = Counter()
    for machine_id, created_at, received_at, was_reused, method_text in rows:
        stamp: datetime.datetime = created_at or received_at
        machines.add(machine_id)
        months.setdefault(stamp.strftime("%Y-%m"), set()).add(machine_id)
        if was_reused:
            reused.add(machine_id)
        methods.update(method_text.split())
    return Totals(machines=len(machines), reused=len(reused),
                  per_month=[(month, len(ids)) for month, ids in sorted(months.items())],
                  methods=methods.most_common())


def bar_chart(items: Sequence[tuple[str, int]], title: str, *, width: int = 640) -> Markup:
    """A horizontal bar chart as inline SVG: readable without scripts, printable."""
    bar, gap, label_width = 22, 8, 170
    height = max(1, len(items)) * (bar + gap) + 10
    largest = max((value for _label, value in items), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="chart" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
             f"<title>{escape(title)}</title>"]
    for index, (label, value) in enumerate(items):
        y = 5 + index * (bar + gap)
        length = round((width - label_width - 60) * value / largest)
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 16}" text-anchor="end">{escape(label)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{max(length, 1)}" height="{bar}" '
            f'fill="#2e7d32"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{label_width + length + 6}" y="{y + 16}">{value}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


# What the passport's tables call each field of the report, in the reader's language; a field
# this table does not know yet is shown by its name in the report.
SECTION_LABELS = {
    "system": N_("Computer"), "board": N_("Motherboard"), "firmware": N_("Firmware"),
    "cpu": N_("Processor"), "memory": N_("Memory"), "tpm": N_("TPM"),
    "identity": N_("Identity"),
}
FIELD_LABELS = {
    "system.vendor": N_("Maker"), "system.product": N_("Model"), "system.version": N_("Version"),
    "system.serial": N_("Serial number"), "system.sku": N_("SKU"), "system.uuid": N_("UUID"),
    "system.family": N_("Family"), "system.chassis": N_("Chassis"),
    "board.vendor": N_("Maker"), "board.product": N_("Model"), "board.version": N_("Version"),
    "board.serial": N_("Serial number"),
    "firmware.vendor": N_("Maker"), "firmware.version": N_("Version"),
    "firmware.release_date": N_("Release date"), "firmware.uefi_capable": N_("UEFI capable"),
    "firmware.mode": N_("Started in"), "firmware.uefi_bits": N_("UEFI bits"),
    "firmware.secure_boot": N_("Secure Boot"), "firmware.kernel_lockdown": N_("Kernel lockdown"),
    "cpu.model": N_("Model"), "cpu.vendor": N_("Maker"), "cpu.cores": N_("Cores"),
    "cpu.threads": N_("Threads"), "cpu.min_mhz": N_("Lowest frequency"),
    "cpu.max_mhz": N_("Highest frequency"), "cpu.frequency_source": N_("Frequencies read from"),
    "cpu.microarchitecture_level": N_("x86-64 level"),
    "memory.total_bytes": N_("Installed"), "memory.modules": N_("Modules"),
    "memory.empty_slots": N_("Empty slots"), "memory.max_capacity_bytes": N_("Most it takes"),
    "memory.source": N_("Read from"),
    "tpm.present": N_("Present"), "tpm.version": N_("Version"), "tpm.evidence": N_("Seen in"),
    "tpm.smbios_version": N_("Version in the firmware tables"),
    "identity.id": N_("Identity"), "identity.basis": N_("Made from"),
    "identity.placeholder_fields": N_("Placeholders left out"),
    "identity.ereuse_hid": N_("eReuse hardware id"),
    "identity.distinguishes_units": N_("Tells units of the model apart"),
    "benchmarks.cpu.algorithm": N_("Processor: measured with"),
    "benchmarks.cpu.single_core_bytes_per_second": N_("Processor: one core"),
    "benchmarks.cpu.all_cores_bytes_per_second": N_("Processor: all cores"),
    "benchmarks.cpu.workers": N_("Processor: workers"),
    "benchmarks.cpu.seconds": N_("Processor: time spent"),
    "benchmarks.memory.copy_bytes_per_second": N_("Memory: copy speed"),
    "benchmarks.memory.buffer_bytes": N_("Memory: buffer copied"),
    "benchmarks.memory.seconds": N_("Memory: time spent"),
    "benchmarks.disks": N_("Disks measured"),
    "install.result": N_("Result"), "install.error": N_("Error"),
    "install.image.name": N_("System"), "install.image.version": N_("Version"),
    "install.image.sha256": N_("Image SHA-256"), "install.image.source": N_("Image from"),
    "install.target.path": N_("Disk"), "install.target.serial": N_("Disk serial number"),
    "install.target.model": N_("Disk model"), "install.target.size_bytes": N_("Disk size"),
    "install.target.reason": N_("Why this disk"), "install.bytes_written": N_("Written"),
    "install.seconds": N_("Time spent"), "install.verification.result": N_("Read back"),
    "install.verification.bytes_checked": N_("Read back: checked"),
    "install.verification.first_mismatch": N_("Read back: first difference"),
    "install.boot_mode": N_("Starts in"), "install.hostname": N_("Computer name"),
    "install.grow.grown": N_("System partition grown"),
    "install.grow.partition_bytes": N_("System partition"),
    "install.grow.file_system": N_("File system"),
    "install.grow.file_system_bytes": N_("File system size"),
    "install.post_install_check.result": N_("Check after install"),
    "install.post_install_check.problems": N_("Check after install: problems"),
    "install.post_install_check.files_verified": N_("Check after install: files checked"),
    "install.identity.firstboot_questions": N_("Questions at first start"),
    "install.identity.ssh_host_keys_removed": N_("Old SSH host keys removed"),
}


YES, NO = N_("yes"), N_("no")


@dataclass(frozen=True)
class ShownField:
    """One row of a passport table: a label and a text, each either a message id for the
    page to translate or shown as it is (`*_id` None)."""

    label: str
    text: str
    label_id: str | None = None
    text_id: str | None = None


def shown_field(key: str, value: str) -> ShownField:
    """A field of the report as a passport row: the label in words, sizes, rates and
    frequencies in units, yes and no in words; an unknown field as it came."""
    text, text_id = value, None
    if value in ("True", "False"):
        text_id = YES if value == "True" else NO
    elif value.isdigit() and key.endswith("_bytes_per_second"):
        text = f"{size_text(int(value))}/s"
    elif value.isdigit() and (key.endswith("_bytes") or key.endswith("bytes_written")):
        text = size_text(int(value))
    elif key.endswith("_mhz") and value.replace(".", "", 1).isdigit():
        text = f"{float(value):g} MHz"
    return ShownField(key, text, FIELD_LABELS.get(key), text_id)


def report_sections(report: dict[str, Any]) -> dict[str, Any]:
    """The report's optional parts for the passport and certificate templates, each None when
    an older report does not have it."""
    install = report.get("install") if isinstance(report.get("install"), dict) else None
    found = report.get("machine")
    machine: dict[str, Any] = found if isinstance(found, dict) else {}
    return {
        "system": machine.get("system") or {},
        "inventory": [(name, flat_items(machine.get(name))) for name in
                      ("system", "board", "firmware", "cpu", "memory", "tpm", "identity")
                      if machine.get(name)],
        "inventory_disks": [disk for disk in machine.get("disks") or [] if isinstance(disk, dict)],
        "benchmarks": flat_items(report.get("benchmarks")) if report.get("benchmarks") else None,
        "install": install,
        "install_items": flat_items(install) if install else None,
        "grade": report.get("grade"), "outcome": report.get("outcome"),
        "operator": report.get("operator"),
        "size_text": size_text,
        "field": shown_field,
        "section_labels": SECTION_LABELS,
    }


# -- the donor's certificate ------------------------------------------------------------------


def method_label(method: str, gettext: Any) -> str:
    """An erasure method in words; one this table does not know is shown as the report names
    it."""
    if method in OVERWRITE_PASSES:
        return str(gettext(OVERWRITE_FORMAT)).format(
            passes=gettext(OVERWRITE_PASSES[method]))
    text = FIRMWARE_METHODS.get(method)
    return str(gettext(text)) if text else method


def level_label(level: str, gettext: Any) -> str:
    text = LEVELS.get(level.lower())
    return str(gettext(text)) if text else level


# A bad range: first and last LBA as the report gives them, and the disk's logical sector size
# when the report's inventory names it (None: the range is shown in sectors only).
BadRange = tuple[int, int, int | None]


def erasure_bad_ranges(report: dict[str, Any]) -> list[list[BadRange]]:
    """The bad ranges of each disk, in the order and with the filter of erasures(), with the
    sector size the inventory gives for the disk (found by serial, else by device path)."""
    found = report.get("machine")
    machine: dict[str, Any] = found if isinstance(found, dict) else {}
    by_serial: dict[str, int] = {}
    by_path: dict[str, int] = {}
    for disk in machine.get("disks") or []:
        if not isinstance(disk, dict):
            continue
        size = disk.get("logical_sector_size")
        if not _whole(size) or size <= 0:
            continue
        if disk.get("serial"):
            by_serial[str(disk["serial"])] = size
        if disk.get("path"):
            by_path[str(disk["path"])] = size
    ranges: list[list[BadRange]] = []
    for disk in report.get("erasure") or []:
        if not isinstance(disk, dict):
            continue
        sector = by_serial.get(str(disk.get("serial"))) if disk.get("serial") else None
        sector = sector or by_path.get(str(disk.get("device")))
        ranges.append([(pair[0], pair[1], sector) for pair in disk.get("bad_ranges") or []
                       if isinstance(pair, list | tuple) and len(pair) == 2
                       and _whole(pair[0]) and _whole(pair[1])])
    return ranges


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def bad_range_text(bad: BadRange, gettext: Any) -> str:
    first, last, sector = bad
    if sector is None:
        return str(gettext(N_("LBA {first}-{last}"))).format(first=first, last=last)
    return str(gettext(N_("LBA {first}-{last}, bytes {start}-{end}"))).format(
        first=first, last=last, start=first * sector, end=(last + 1) * sector - 1)


# A machine's state on the donor's certificate, from its disks' results. Only "erased" is
# certified as erased; every other state is named at the top of the certificate.
MACHINE_STATUS_LABELS = {
    "erased": N_("erased"),
    "erased_with_exceptions": N_("erased except bad sectors"),
    "partly_erased": N_("partly erased"),
    "not_erased": N_("not erased"),
    "no_disk": N_("no disk erased"),
}
ERASED_RESULTS = ("erased", "erased_with_exceptions")


def machine_status(disks: Sequence[DiskErasure]) -> str:
    if not disks:
        return "no_disk"
    done = [disk for disk in disks if disk.result in ERASED_RESULTS]
    if not done:
        return "not_erased"
    if len(done) < len(disks):
        return "partly_erased"
    if any(disk.result == "erased_with_exceptions" for disk in disks):
        return "erased_with_exceptions"
    return "erased"


@dataclass(frozen=True)
class CertifiedMachine:
    """One line of a donor's certificate: the report that certifies the machine."""

    asked: str | None  # the asset id asked for or entered in the lot (None: a date range)
    row: dict[str, Any]  # the stored report, as Store.report() gives it
    report: dict[str, Any]  # its signed payload
    disks: list[DiskErasure]
    bad_ranges: list[list[BadRange]]  # per disk, as `disks`
    status: str  # a key of MACHINE_STATUS_LABELS

    @property
    def system(self) -> dict[str, Any]:
        found = self.report.get("machine")
        system = found.get("system") if isinstance(found, dict) else None
        return system if isinstance(system, dict) else {}

    @property
    def asset_id(self) -> str:
        found = self.report.get("asset_id")
        return str(found) if found else (self.asked or "")


def certified_machine(asked: str | None, row: dict[str, Any],
                      report: dict[str, Any]) -> CertifiedMachine:
    disks = erasures(report)
    return CertifiedMachine(asked, row, report, disks, erasure_bad_ranges(report),
                            machine_status(disks))


@dataclass(frozen=True)
class StationKeyShown:
    key_id: str
    station: str
    status: str
    pem: str


@dataclass(frozen=True)
class DonorCertificate:
    """What a donor's certificate shows, for the page and the PDF alike."""

    machines: list[CertifiedMachine]
    missing: list[str]  # asset ids asked for that no visible report names
    issued_at: datetime.datetime
    donor: str | None = None
    lot_name: str | None = None
    note: str | None = None
    workshop: str | None = None
    since: datetime.date | None = None
    until: datetime.date | None = None

    @property
    def keys(self) -> list[StationKeyShown]:
        """The station keys that signed the listed reports, each once."""
        keys: dict[str, StationKeyShown] = {}
        for machine in self.machines:
            row = machine.row
            if row["key_id"] not in keys:
                keys[row["key_id"]] = StationKeyShown(row["key_id"], row["station"],
                                                      row["key_status"],
                                                      public_key_pem(row["public_key"]))
        return list(keys.values())

    @property
    def attention(self) -> list[CertifiedMachine]:
        """The machines not certified as erased: a disk failed, was skipped, or none was
        erased."""
        return [machine for machine in self.machines
                if machine.status not in ("erased", "erased_with_exceptions")]

    @property
    def with_exceptions(self) -> list[CertifiedMachine]:
        return [machine for machine in self.machines
                if machine.status == "erased_with_exceptions"]

    @property
    def erased(self) -> list[CertifiedMachine]:
        return [machine for machine in self.machines if machine.status == "erased"]


def day_start(day: datetime.date) -> datetime.datetime:
    """Midnight UTC of a day a form or a query names: date filters cover whole UTC days."""
    return datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
