"""Erasure methods and levels, outcomes, the grade's parts and buses in words, keyed as the
report names them: the agent's screen (agent/wipe/labels.py, agent/words.py) and the hub's pages
and certificates show the same words, and the catalogs translate each once. Only agent.i18n is
imported: the hub uses this module too."""

from __future__ import annotations

from agent.i18n import N_

OUTCOMES = {"reuse": N_("to be reused"), "parts": N_("for parts"),
            "recycle": N_("to be recycled")}
# Names of buses, not words: the same in every language.
BUS_NAMES = {"sata": "SATA", "nvme": "NVMe", "usb": "USB", "scsi": "SAS/SCSI", "mmc": "eMMC",
             "virtio": "virtio", "loop": "loop", "ide": "IDE"}
OVERWRITE_FORMAT = N_("overwrite ({passes})")
OVERWRITE_PASSES = {
    "random": N_("random pass"),
    "zero": N_("zero pass"),
    "one": N_("pass of ones"),
    "dodshort": N_("DoD 5220.22-M short, 3 passes"),
    "dod": N_("DoD 5220.22-M, 7 passes"),
    "is5enh": N_("HMG IS5 enhanced, 3 passes"),
}
# The keys are agent/wipe/firmware/model.py's method names (tests/test_erase_policy.py).
FIRMWARE_METHODS = {
    "nvme-sanitize-crypto": N_("NVMe sanitize, cryptographic erase"),
    "nvme-sanitize-block": N_("NVMe sanitize, block erase"),
    "nvme-format-crypto": N_("NVMe format, cryptographic erase"),
    "nvme-format-user-data": N_("NVMe format, user data erase"),
    "ata-sanitize-crypto": N_("ATA sanitize, crypto scramble"),
    "ata-sanitize-block": N_("ATA sanitize, block erase"),
    "ata-security-erase-enhanced": N_("ATA enhanced security erase"),
    "ata-security-erase": N_("ATA security erase"),
    "scsi-sanitize-crypto": N_("SCSI sanitize, cryptographic erase"),
    "scsi-sanitize-block": N_("SCSI sanitize, block erase"),
    "mmc-sanitize": N_("eMMC secure erase and sanitize"),
}
LEVELS = {"clear": N_("Clear"), "purge": N_("Purge")}
# The grade's parts in words (agent/report/grade.py, docs/grading.md section 7), keyed as the
# report names them.
FUNCTIONAL_WORDS = {
    "F0": N_("functions not tested"),
    "F1": N_("a key function fails (processor, memory or every disk)"),
    "F2": N_("a function fails"),
    "F3": N_("key functions work, not everything was tested"),
    "F4": N_("every function tested works"),
    "F5": N_("fully functional, guided checks included"),
}
PERFORMANCE_WORDS = {
    "P1": N_("runs current software well"),
    "P2": N_("runs current software, more slowly"),
    "P3": N_("for light use"),
    "P4": N_("too weak for a current system"),
}
BATTERY_WORDS = {
    "none": N_("no battery"),
    "A": N_("80 % or more of its capacity left"),
    "B": N_("50 to 80 % of its capacity left"),
    "C": N_("30 to 50 % of its capacity left"),
    "D": N_("under 30 % of its capacity left: to replace"),
}
# The appearance check's cosmetic codes (agent/health/guided.py COSMETIC_CODES, docs/grading.md
# section 7.5), best first: a short label, and what a person sees on such a machine.
COSMETIC_WORDS: dict[str, str] = {
    "C1": N_("like new"),
    "C2": N_("light wear"),
    "C3": N_("visible wear"),
    "C4": N_("heavy wear"),
    "C5": N_("a damaged part"),
}
COSMETIC_PICTURES: dict[str, str] = {
    "C1": N_("No mark seen at arm's length."),
    "C2": N_("Fine scratches, seen only up close."),
    "C3": N_("Scratches, shiny keys, small dents."),
    "C4": N_("Cracks, chips, stains, missing feet or covers."),
    "C5": N_("A broken hinge, a cracked case or screen frame, missing keys."),
}
