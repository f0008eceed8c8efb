"""The erasure certificate as a PDF (fpdf2: pure Python, nothing to download at run time)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fpdf import FPDF
from fpdf.fonts import FontFace

from hub import views
from hub.web import page_gettext

# What a station wrote is cut to this many characters, with "...": a disk model of thousands of
# characters would make a table row taller than a page (which fpdf2 cannot lay out) and cost
# seconds of layout; the signed report keeps the whole text.
LONGEST_FACT = 160
LONGEST_CELL = 120


def _latin1(text: Any, limit: int | None = None) -> str:
    # The PDF's core fonts cover Latin-1 (all of French); anything else becomes "?".
    text = str(text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 3] + "..."
    return text.encode("latin-1", "replace").decode("latin-1")


def certificate_pdf(row: dict[str, Any], report: dict[str, Any], pem: str, language: str,
                    base_url: str) -> bytes:
    _ = page_gettext(language)
    system = (report.get("machine") or {}).get("system") or {}
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(_latin1(f"{_('Erasure certificate')} {row['report_id']}"))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(_("Erasure certificate")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    facts = [
        (_("Report"), row["report_id"]),
        (_("Machine"), f"{system.get('vendor') or '?'} {system.get('product') or ''}"),
        (_("Serial"), system.get("serial") or "?"),
        (_("Asset id"), report.get("asset_id") or "-"),
        (_("Created"), report.get("created_at") or "?"),
        (_("Received"), row["received_at"]),
        (_("Station"), row["station"] + (f" ({row['workshop']})" if row.get("workshop") else "")),
        (_("Signature key fingerprint"), f"{row['key_id']} (SHA-256)"),
    ]
    if row.get("key_status") == "revoked":
        facts.append(("", _("signed by a key revoked since")))
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(60, 6, _latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 6, _latin1(value, LONGEST_FACT), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, _latin1(_("Erasure of each disk")), new_x="LMARGIN", new_y="NEXT")
    headings = (_("Disk"), _("Model"), _("Serial"), _("Size"), _("Method"),
                _("NIST SP 800-88 level"), _("Result"), _("Verification"),
                _("Bad sector ranges"))
    with pdf.table(col_widths=(18, 40, 32, 20, 30, 24, 34, 30, 40), text_align="LEFT") as table:
        pdf.set_font("Helvetica", "B", 8)
        heading = table.row()
        for title in headings:
            heading.cell(_latin1(title))
        pdf.set_font("Helvetica", "", 8)
        for disk in views.erasures(report):
            cells = table.row()
            for value in (disk.device, disk.model, disk.serial, views.size_text(disk.size_bytes),
                          disk.method, disk.level,
                          views.label(views.RESULT_LABELS, disk.result, _)
                          + (f" ({disk.error})" if disk.error else ""),
                          f"{disk.verification}: "
                          f"{_('passed') if disk.verified else _('not passed')}",
                          ", ".join(disk.bad_ranges) or _("none")):
                cells.cell(_latin1(value, LONGEST_CELL))
    pdf.ln(4)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(0, 8, _latin1(_("How to verify this report")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    pdf.multi_cell(0, 5, _latin1(
        _("The report is signed with the station's Ed25519 key in a DSSE envelope. Anyone can "
          "check it with OpenSSL:")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 8)
    pdf.multi_cell(0, 4, _latin1(
        f"{base_url.rstrip('/')}/api/v1/reports/{quote(row['report_id'], safe='')}/envelope"),
        new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 9)
    steps = (
        (_("Save the signed report (link above) as report.dsse.json and the station's public "
           "key below as station.pem."), None),
        (_("Check that the key is the one named by the fingerprint:"),
         views.fingerprint_commands(row["key_id"])),
        (_("Rebuild the signed message and verify the signature:"), views.SIGNATURE_COMMANDS),
    )
    for number, (text, commands) in enumerate(steps, 1):
        pdf.set_font("Helvetica", "", 9)
        pdf.multi_cell(0, 5, _latin1(f"{number}. {text}"), new_x="LMARGIN", new_y="NEXT")
        if commands:
            pdf.set_font("Courier", "", 7)
            pdf.multi_cell(0, 3.5, _latin1(commands), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "B", 9)
    pdf.multi_cell(0, 5, _latin1(_("Station public key")), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Courier", "", 8)
    pdf.multi_cell(0, 4, _latin1(pem), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 8)
    pdf.multi_cell(0, 4, _latin1(_("Details") + ": docs/report.md"))
    return bytes(pdf.output())


# -- the donor's certificate ------------------------------------------------------------------

# The machines' table, landscape A4 (277 mm between the margins): asset id, machine, state,
# report, then each disk's model, serial, size, method, level, verification, result, bad ranges.
DONOR_COLUMNS = (20, 32, 18, 30, 30, 24, 13, 28, 12, 18, 22, 30)
BAD = FontFace(emphasis="BOLD", color=(183, 28, 28))
WARN = FontFace(emphasis="BOLD", color=(138, 75, 0))
GOOD = FontFace(emphasis="BOLD", color=(27, 94, 32))


def donor_certificate_pdf(certificate: views.DonorCertificate, language: str,
                          base_url: str) -> bytes:
    """The donor's certificate: one table row per disk (the machine's cells on its first
    disk's row only), the machines not certified as erased named first, then the station keys
    and the recipe. Every text from a station is cut like the report's certificate's."""
    _ = page_gettext(language)
    base = base_url.rstrip("/")
    pdf = FPDF(orientation="landscape", format="A4")
    pdf.set_title(_latin1(_("Donor's erasure certificate")))
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 18)
    pdf.cell(0, 10, _latin1(_("Donor's erasure certificate")), new_x="LMARGIN", new_y="NEXT")

    def status(code: str) -> str:
        return views.label(views.MACHINE_STATUS_LABELS, code, _)

    def heading(text: str, style: FontFace | None = None) -> None:
        pdf.ln(3)
        pdf.set_font("Helvetica", "B", 13)
        if style is not None and style.color is not None:
            pdf.set_text_color(style.color)
        pdf.multi_cell(0, 8, _latin1(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0)

    def lines(text: str, size: float = 9, font: str = "Helvetica", height: float = 5) -> None:
        pdf.set_font(font, "", size)
        pdf.multi_cell(0, height, _latin1(text), new_x="LMARGIN", new_y="NEXT")

    facts = [(label, value) for label, value in (
        (_("Donor"), certificate.donor), (_("Lot"), certificate.lot_name),
        (_("Note"), certificate.note), (_("Workshop"), certificate.workshop),
        (_("Reports created"), _range_text(certificate)),
        (_("Issued"), certificate.issued_at.strftime("%Y-%m-%d %H:%M UTC")),
        (_("Machines listed"), str(len(certificate.machines))),
        (_("Erased"), str(len(certificate.erased))),
        (_("Erased except bad sectors"), str(len(certificate.with_exceptions))),
        (_("Not certified as erased"), str(len(certificate.attention))),
        (_("Asked for but not found"), str(len(certificate.missing))),
    ) if value]
    for label, value in facts:
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(60, 6, _latin1(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(0, 6, _latin1(value, LONGEST_FACT * 4), new_x="LMARGIN", new_y="NEXT")

    if certificate.attention or certificate.missing:
        heading(_("Not certified as erased"), BAD)
        for machine in certificate.attention:
            lines(f"{machine.asset_id or '-'} ({machine.system.get('serial') or '?'}): "
                  f"{status(machine.status)}", 9)
        for asset_id in certificate.missing:
            lines(f"{asset_id}: {_('not found: no signed report names this asset id')}", 9)
    if certificate.with_exceptions:
        heading(_("Erased except bad sectors"), WARN)
        lines(_("These disks were erased except sectors that refused every write; the ranges "
                "are listed in the table."), 9)
        lines(", ".join(machine.asset_id or "-" for machine in certificate.with_exceptions), 9)

    heading(_("Machines and the erasure of each disk"))
    headings = (_("Asset id"), _("Machine"), _("State"), _("Report"), _("Model"), _("Serial"),
                _("Size"), _("Method"), _("NIST SP 800-88 level"), _("Verification"),
                _("Result"), _("Bad sector ranges"))
    with pdf.table(col_widths=DONOR_COLUMNS, text_align="LEFT", line_height=3.2) as table:
        pdf.set_font("Helvetica", "B", 7)
        row = table.row()
        for title in headings:
            row.cell(_latin1(title))
        pdf.set_font("Helvetica", "", 7)
        for machine in certificate.machines:
            system = machine.system
            report_id = machine.row["report_id"]
            created = str(machine.report.get("created_at") or machine.row["received_at"] or "?")
            first = [
                (machine.asset_id or "-", None, None),
                (f"{system.get('vendor') or '?'} {system.get('product') or ''}\n"
                 f"{_('Serial')}: {system.get('serial') or '?'}", None, None),
                (status(machine.status), _tone(machine.status), None),
                (f"{report_id}\n{created[:10]}\n{_('key')} {machine.row['key_id'][:16]}", None,
                 f"{base}/reports/{quote(report_id, safe='')}/certificate"),
            ]
            disks: list[tuple[views.DiskErasure, list[views.BadRange]] | None] = [
                *zip(machine.disks, machine.bad_ranges, strict=True)] or [None]
            for index, disk in enumerate(disks):
                cells = table.row()
                for text, style, link in first if index == 0 else [("", None, None)] * 4:
                    cells.cell(_latin1(text, LONGEST_CELL), style=style, link=link)
                if disk is None:
                    cells.cell(_latin1(_("No disk was erased.")), style=BAD, colspan=8)
                    continue
                erasure, ranges = disk
                ranges_text = ", ".join(views.bad_range_text(bad, _) for bad in ranges)
                result = views.label(views.RESULT_LABELS, erasure.result, _)
                for text, style in (
                        (erasure.model, None), (erasure.serial, None),
                        (views.size_text(erasure.size_bytes), None),
                        (views.method_label(erasure.method, _), None),
                        (views.level_label(erasure.level, _), None),
                        (f"{erasure.verification}: "
                         f"{_('passed') if erasure.verified else _('not passed')}", None),
                        (result + (f" ({erasure.error})" if erasure.error else ""),
                         _result_tone(erasure.result)),
                        (ranges_text or _("none"), None)):
                    cells.cell(_latin1(text, LONGEST_CELL), style=style)
    if certificate.missing:
        heading(_("Asked for but not found"), BAD)
        lines(_("No signed report of these asset ids was found: these machines are not "
                "certified."), 9)
        lines(", ".join(certificate.missing), 9)

    heading(_("How to verify each report"))
    lines(_("Each line is a report signed with its station's Ed25519 key in a DSSE envelope. "
            "Anyone can check it with OpenSSL:"), 9)
    steps = (
        (_("Save the line's signed report as report.dsse.json (its address below, with the "
           "line's report id) and the public key of the line's station key (below) as "
           "station.pem."), f"{base}/api/v1/reports/REPORT-ID/envelope"),
        (_("Check that the key is the one named by the fingerprint (the commands under each "
           "key below)."), None),
        (_("Rebuild the signed message and verify the signature:"), views.SIGNATURE_COMMANDS),
    )
    for number, (text, commands) in enumerate(steps, 1):
        lines(f"{number}. {text}", 9)
        if commands:
            lines(commands, 7, "Courier", 3.5)
    lines(_("OpenSSL then prints: Signature Verified Successfully."), 9)
    heading(_("Station keys"))
    for key in certificate.keys:
        pdf.set_font("Helvetica", "B", 9)
        revoked = f" - {_('signed by a key revoked since')}" if key.status == "revoked" else ""
        pdf.multi_cell(0, 5, _latin1(f"{key.key_id} (SHA-256) - {key.station}{revoked}",
                                     LONGEST_FACT), new_x="LMARGIN", new_y="NEXT")
        lines(key.pem + views.fingerprint_commands(key.key_id), 7, "Courier", 3.5)
        pdf.ln(2)
    lines(_("Details") + ": docs/report.md", 8)
    return bytes(pdf.output())


def _tone(status: str) -> FontFace:
    if status == "erased":
        return GOOD
    return WARN if status == "erased_with_exceptions" else BAD


def _result_tone(result: str) -> FontFace | None:
    if result == "erased":
        return None
    return WARN if result == "erased_with_exceptions" else BAD


def _range_text(certificate: views.DonorCertificate) -> str | None:
    if certificate.since is None and certificate.until is None:
        return None
    since = certificate.since.isoformat() if certificate.since else "..."
    until = certificate.until.isoformat() if certificate.until else "..."
    return f"{since} - {until}"
