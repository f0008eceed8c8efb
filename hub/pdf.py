"""The erasure certificate as a PDF (fpdf2: pure Python, nothing to download at run time)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fpdf import FPDF

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
