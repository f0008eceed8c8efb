"""The walk-through on the real image, as a volunteer drives it: keys sent through QEMU's monitor
(a French keyboard), the screen read from VGA text memory.

The first boot goes from the first screen to "switch this computer off": a disk kept by choice
stays byte for byte what it was, the others are erased, the OS is installed, the report reaches
the hub with the asset number and the operator, and the QR code on the result screen, read from
a picture of the screen, is the machine's public passport. The second boot shows that nothing is
written to any disk before the typed confirmation (a held Enter key does not pass it), and that
an agent that fails lands on the error screen, whose choices still work.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

from harness import (
    HEALTH_SHORT,
    IMAGE,
    SCENARIOS,
    Boot,
    Scenario,
    Stick,
    flat,
    make_disk,
    marker_sectors,
    require_image,
)
from hub_reports import stored_report
from os_images import built_os_image

from tests.hubserver import RunningHub

ATTENDED = SCENARIOS / "attended"
ASSET_ID = "WS-2026-42"
OPERATOR = "Atelier Lyon"
SCREEN_SECONDS = 420  # boot, inventory and the first screen, under TCG


def config(language: str, hub_url: str, token: str, extra: str = "") -> str:
    # unattended = true on purpose: without the kernel switch the screen must come up anyway.
    return (f'language = "{language}"\nunattended = true\n'
            f'[station]\nname = "qemu-attended"\noperator = "{OPERATOR}"\n'
            f'[hub]\nurl = "{hub_url}"\nenrollment_token = "{token}"\n{HEALTH_SHORT}{extra}')


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_volunteer_walks_through_to_power_off(hub: RunningHub, artifacts: Path) -> None:
    require_image()
    image = built_os_image()
    scenario = Scenario.load(ATTENDED / "walkthrough.toml")
    stick = Stick.copy_of(IMAGE, artifacts)
    token = hub.database.add_station("qemu-attended")
    stick.write_file("reeeboot.toml", config(
        "fr", f"http://10.0.2.2:{hub.port}", token, f'[install]\nimage = "{image.name}"\n'))
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    kept_before = digest(disks["disk-keep"])
    boot = Boot(scenario, artifacts, stick, disks)
    boot.start()
    try:
        first = boot.wait_for_screen("étape 1 sur 8", "RB-KEEP-0103", "RB-NVME-0102",
                                     timeout=SCREEN_SECONDS)
        assert "REEEBOOT-STICK-0002" in flat(first) and "conservé" in flat(first)
        assert "introuvable" not in flat(first), "the stick's reeeboot.toml was not read"
        boot.press("ret")
        boot.wait_for_screen("étape 2 sur 8", OPERATOR, timeout=60)
        boot.type_text(ASSET_ID)
        boot.press("ret", "ret")
        disks_screen = boot.wait_for_screen("étape 3 sur 8", "RB-KEEP-0103", timeout=60)
        boot.press(*["down"] * _downs_to(disks_screen, "RB-KEEP-0103"), "spc")
        boot.wait_for_screen("conservé tel quel (votre choix)", timeout=30)
        boot.press("ret")
        confirm = boot.wait_for_screen("étape 4 sur 8", "EFFACER", timeout=30)
        assert "RB-NVME-0102" in flat(confirm) and "RB-SATA-0101" in flat(confirm)
        boot.type_text("effacer")
        boot.press("ret")
        install = boot.wait_for_screen("étape 6 sur 8", image.name, timeout=600)
        assert "RB-NVME-0102" in flat(install)  # the only disk large enough, with why
        boot.press("ret")
        boot.wait_for_screen("est installé sur", "réussi", timeout=900)
        boot.press("ret")
        result = boot.wait_for_screen("étape 7 sur 8", "Envoyé à la plateforme", timeout=180)
        (artifacts / "result-screen.log").write_text(result)
        passport = _qr_on_screen(boot, artifacts)
        boot.press("ret")
        boot.wait_for_screen("étape 8 sur 8", "Éteindre cet ordinateur", timeout=30)
        boot.press("ret")  # the first choice: switch off
        boot.wait_exit(120)
    finally:
        boot.stop()

    report = stored_report(hub, token, scenario.system["serial"])
    assert report["asset_id"] == ASSET_ID and report["operator"] == OPERATOR
    paths = {disk["serial"]: disk["path"] for disk in report["machine"]["disks"]}
    assert {"path": paths["RB-KEEP-0103"], "code": "kept_by_choice"} in [
        {"path": item["path"], "code": item["code"]} for item in report["excluded"]]
    erased = {entry["serial"]: entry for entry in report["erasure"]}
    assert set(erased) == {"RB-NVME-0102", "RB-SATA-0101"}
    assert all(entry["result"] == "erased" and entry["verified"] for entry in erased.values())
    assert erased["RB-NVME-0102"]["method"] == "nvme-format-user-data"
    assert report["install"]["result"] == "installed"
    assert report["install"]["target"]["serial"] == "RB-NVME-0102"
    # The QR code is the new owner's public passport, the link the hub answered with.
    public_token = hub.database.public_link(None, report["machine"]["identity"]["id"])
    assert passport == f"http://10.0.2.2:{hub.port}/p/{public_token}"
    assert digest(disks["disk-keep"]) == kept_before, "the disk kept by choice was written"
    assert marker_sectors(disks["disk-sata"]) == 0
    assert marker_sectors(disks["disk-nvme"]) == 0


def test_nothing_is_written_before_confirmation_and_a_crash_shows_the_error_screen(
        artifacts: Path) -> None:
    require_image()
    scenario = Scenario.load(ATTENDED / "crash.toml")
    stick = Stick.copy_of(IMAGE, artifacts)
    # A hub that is not there: the run must not depend on one to reach its confirmation.
    stick.write_file("reeeboot.toml", config("en", "http://10.0.2.2:9", "unused"))
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    before = {name: digest(path) for name, path in disks.items()}
    boot = Boot(scenario, artifacts, stick, disks,
                extra_cmdline="systemd.setenv=REEEBOOT_TEST_CRASH=erase")
    boot.start()
    try:
        boot.wait_for_screen("step 1 of 8", "RB-SATA-0401", "RB-VIRTIO-0402",
                             timeout=SCREEN_SECONDS)
        boot.press("ret")
        boot.wait_for_screen("step 2 of 8", timeout=60)
        boot.press("ret", "ret")
        boot.wait_for_screen("step 3 of 8", timeout=60)
        boot.press("ret")
        boot.wait_for_screen("step 4 of 8", "type ERASE", timeout=30)
        boot.press(*["ret"] * 12, pause=0.1)  # a held Enter key
        refused = boot.wait_for_screen("step 4 of 8", "Nothing was erased", timeout=30)
        assert "step 5" not in refused
        assert {name: digest(path) for name, path in disks.items()} == before, \
            "a disk was written before the confirmation"
        boot.type_text("erase")
        boot.press("ret")
        error = boot.wait_for_screen("an error stopped the run", "REEEBOOT_TEST_CRASH=erase",
                                     "/var/lib/reeeboot/logs/reeeboot.log", timeout=120)
        assert "Switch this computer off" in flat(error)
        assert "Start again" in flat(error)
        boot.press("ret")  # switch off, from the error screen
        boot.wait_exit(120)
    finally:
        boot.stop()
    assert {name: digest(path) for name, path in disks.items()} == before
    log = (stick.state_file("logs/reeeboot.log") or b"").decode(errors="replace")
    assert "InjectedCrash" in log and "Traceback" in log


def _downs_to(screen: str, serial: str) -> int:
    """How many times Down moves the cursor from the first choosable disk to `serial`'s. The
    disks screen starts each disk's entry with "[X]" (erased), "[ ]" (kept by choice) or "[-]"
    (kept by the system, which the cursor skips)."""
    entries: list[list[str]] = []
    for line in screen.splitlines():
        inside = line.strip("\u2502 ")  # the list's frame, then the entry's own text
        if inside.startswith(("[X]", "[ ]", "[-]")):
            entries.append([inside])
        elif entries:
            entries[-1].append(inside)
    choosable = [" ".join(entry) for entry in entries if "[-]" not in entry[0]]
    for index, entry in enumerate(choosable):
        if serial in entry:
            return index
    raise AssertionError(f"{serial} is not a choosable disk on:\n{screen}")


def _qr_on_screen(boot: Boot, artifacts: Path) -> str:
    """The address in the QR code of a picture of the screen, as a phone would read it."""
    picture = artifacts / "result.ppm"
    boot.hmp(f"screendump {picture}")
    if shutil.which("zbarimg") is None:
        raise AssertionError("zbarimg is missing (tests/run installs zbar-tools)")
    read = subprocess.run(["zbarimg", "--quiet", "--raw", str(picture)], capture_output=True,
                          text=True)
    assert read.returncode == 0, f"no QR code read from the screen: {read.stderr}"
    return read.stdout.strip()
