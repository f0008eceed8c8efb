"""The walk-through on the real image, as a volunteer drives it: keys sent through QEMU's monitor
(a French keyboard), the screen read from VGA text memory.

The first boot (SeaBIOS, the menu's safe graphics entry) goes from the first screen to "switch
this computer off", answering every guided check while the disks are erased (the keys through
QEMU's PS/2 keyboard, the colour pages read from pictures of the screen, the tones recorded from
its sound card, a stick plugged in through the monitor): a disk kept by choice
stays byte for byte what it was, the others are erased, the OS is installed, the report reaches
the hub with the asset number and the operator, and the QR code on the result screen, read from
a picture of the screen, is the machine's public passport. The second boot starts an unattended
run that fails: the screen takes over, nothing is written to any disk before the typed
confirmation (a held Enter key does not pass it), and an agent that fails lands on the error
screen, whose choices still work.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from harness import (
    HEALTH_SHORT,
    IMAGE,
    SCENARIOS,
    AgentFailed,
    Boot,
    Scenario,
    Stick,
    active_flags,
    clear_active_flags,
    every_key_of_the_map,
    flat,
    make_disk,
    marker_sectors,
    require_image,
    station_config,
)
from hub_reports import stored_report
from os_images import built_os_image
from screendumps import Picture

from agent.health import guided
from tests.hubserver import RunningHub
from tests.sound_wav import channels_with_tone

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
    # The image marks an empty MBR slot active for BIOSes that want one; SeaBIOS must boot a
    # stick without, as one written by another tool may be.
    assert active_flags(stick) == [0, 0x80, 0, 0]
    clear_active_flags(stick)
    assert active_flags(stick) == [0, 0, 0, 0]
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    kept_before = digest(disks["disk-keep"])
    boot = Boot(scenario, artifacts, stick, disks, menu_entry="safe-graphics")
    boot.start()
    try:
        first = boot.wait_for_screen("étape 1 sur 8", "RB-KEEP-0103", "RB-NVME-0102",
                                     timeout=SCREEN_SECONDS)
        assert "REEEBOOT-STICK-0002" in flat(first) and "conservé" in flat(first)
        assert "introuvable" not in flat(first), "the stick's reeeboot.toml was not read"
        assert boot.menu_outcome() == "picked 'safe-graphics' in the boot menu"
        boot.press("ret")
        boot.wait_for_screen("étape 2 sur 8", OPERATOR, timeout=60)
        boot.type_text(ASSET_ID)
        boot.press("ret", "ret")
        disks_screen = boot.wait_for_screen("étape 3 sur 8", "RB-KEEP-0103", timeout=60)
        boot.press(*["down"] * _downs_to(disks_screen, "RB-KEEP-0103"), "spc")
        # The reason under the list, for the disk under the cursor (its own line may be below
        # the frame's edge: the list scrolls).
        boot.wait_for_screen("reste tel quel", "conservé par choix", timeout=30)
        boot.press("ret")
        confirm = boot.wait_for_screen("étape 4 sur 8", "EFFACER", timeout=30)
        assert "RB-NVME-0102" in flat(confirm) and "RB-SATA-0101" in flat(confirm)
        boot.type_text("effacer")
        boot.press("ret")
        boot.wait_for_screen("étape 5 sur 8", "Tester clavier, écran, son", timeout=120)
        boot.press("t")  # the guided checks, while the disks are erased
        answer_the_guided_checks(boot, artifacts)
        # The erasure, the health checks and the read-only speed measures: beside another
        # worker's machine under emulation, the measures alone took minutes once.
        install = boot.wait_for_screen("étape 6 sur 8", image.name, timeout=900)
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
    # The guided checks as they were answered, each with who answered it.
    guided_results = {check["check"]: check for check in report["health"]["checks"]
                      if check["check"] in guided.GUIDED_CHECKS}
    assert {name: check["verdict"] for name, check in guided_results.items()} == {
        guided.KEYBOARD: "pass", guided.DISPLAY: "pass", guided.SOUND: "pass",
        guided.CAMERA: "not_present", guided.USB_PORTS: "pass",
        guided.TOUCHPAD: "not_present", guided.APPEARANCE: "pass"}
    assert {check["operator"] for check in guided_results.values()} == {OPERATOR}
    keyboard = guided_results[guided.KEYBOARD]["measured"]
    assert keyboard["source"] == "evdev" and keyboard["keys_pressed"] == keyboard["keys_total"]
    sound = guided_results[guided.SOUND]["measured"]
    assert (sound["left"], sound["right"]) == ("heard", "heard")
    plugged = [port for port in guided_results[guided.USB_PORTS]["measured"]["ports"]
               if not port["in_use_at_start"]]
    assert len(plugged) == 1 and "QEMU USB HARDDRIVE" in plugged[0]["product"], plugged
    assert report["grade"]["cosmetic"] == "C2"
    # The tones really came out of the speakers: left, then right.
    assert channels_with_tone(boot.sound_file) == ["left", "right"]


Pixel = tuple[int, int, int]
# The guided screen check's pages as the Linux console shows them: full hues (VGA's 170), white
# from full blocks, black, and the pattern's single pixels.
COLOUR_PAGES: list[tuple[str, Callable[[list[Pixel]], bool]]] = [
    ("red", lambda pixels: all(r > 150 and g + b == 0 for r, g, b in pixels)),
    ("green", lambda pixels: all(g > 150 and r + b == 0 for r, g, b in pixels)),
    ("blue", lambda pixels: all(b > 150 and r + g == 0 for r, g, b in pixels)),
    ("white", lambda pixels: all(min(pixel) > 240 for pixel in pixels)),
    ("black", lambda pixels: all(max(pixel) == 0 for pixel in pixels)),
    ("pattern", lambda pixels: {max(pixel) for pixel in pixels} == {0, 255}),
]


def wait_for_page(boot: Boot, artifacts: Path, name: str,
                  colour: Callable[[list[Pixel]], bool], timeout: float = 180) -> None:
    """Until the whole screen is the page `name`: a row of pixels across its middle, the
    corners' neighbourhoods."""
    picture = artifacts / f"{name}-page.ppm"
    deadline = time.monotonic() + timeout
    pixels: list[Pixel] = []
    while time.monotonic() < deadline:
        boot.hmp(f"screendump {picture}")
        page = Picture.read(picture)
        pixels = [page.pixel(x, page.height // 2) for x in range(0, page.width, 7)]
        pixels += [page.pixel(x, y) for x in (1, 2, page.width - 3, page.width - 2)
                   for y in (1, 2, page.height - 3, page.height - 2)]
        if colour(pixels):
            return
        time.sleep(2)
    raise AssertionError(f"the {name} page is not on the screen: {sorted(set(pixels))[:8]}")


def answer_the_guided_checks(boot: Boot, artifacts: Path) -> None:
    """As a volunteer would: every key of the map, the colours (red is red on the screen), the
    speakers (no microphone on this machine), no camera, a stick plugged into a free USB port,
    no touchpad, and the appearance "light wear"."""
    boot.wait_for_screen("test 1 sur 7", "AT Translated Set 2 keyboard", timeout=60)
    boot.press(*every_key_of_the_map(), pause=0.15)
    try:
        boot.wait_for_screen("test 2 sur 7", "l'écran", timeout=60)
    except TimeoutError:
        boot.press("esc", "esc", "esc")  # the question names the keys that did not light
        unlit = boot.wait_for_screen("Ces touches n'ont pas répondu", timeout=30, titled=False)
        raise AssertionError(f"a key of the map did not light:\n{unlit}") from None
    # Each page fills the screen as the console draws it (VGA text memory does not say which
    # colour is on, so the picture is read): one key, one page.
    for name, colour in COLOUR_PAGES:
        boot.press("ret")
        wait_for_page(boot, artifacts, name, colour)
    boot.press("ret")  # after the last page: the question
    boot.wait_for_screen("Non, l'écran est impeccable", timeout=60, titled=False)
    boot.press("ret")
    boot.wait_for_screen("test 3 sur 7", "Haut-parleur gauche", timeout=60)
    boot.press("ret")
    boot.wait_for_screen("Haut-parleur droit", timeout=60)
    boot.press("ret")
    boot.wait_for_screen("Pas de micro", timeout=60)
    boot.press("ret")
    boot.wait_for_screen("test 4 sur 7", "aucune caméra", timeout=60)
    boot.press("ret")
    boot.wait_for_screen("test 5 sur 7", "les ports USB", timeout=60)
    plugged = artifacts / "plugged.img"
    plugged.write_bytes(bytes(1 << 20))
    boot.plug_usb_stick(plugged, "RB-PLUGGED-01")
    # The stick the machine runs from is there from the start; the one plugged in is new.
    ports = boot.wait_for_screen("test 5 sur 7", "(dont 1 depuis le début de ce test)",
                                 timeout=60)
    (artifacts / "usb-screen.log").write_text(ports)
    boot.press("ret")
    boot.wait_for_screen("test 6 sur 7", "pavé tactile", timeout=60)
    boot.press("ret")
    boot.wait_for_screen("test 7 sur 7", "C2", timeout=60)
    # The list takes the cursor once drawn (Textual focuses it after the first paint): a key
    # sent at once, faster than any hand, would be lost.
    time.sleep(2)
    boot.press("down", "ret")


def test_after_a_failed_unattended_run_the_screen_takes_over_and_writes_nothing_unconfirmed(
        artifacts: Path) -> None:
    """One boot, the erasure failing each time (REEEBOOT_TEST_CRASH=erase): the unattended run
    says at once that it failed, and the screen takes over with the reason, nothing erased; a
    volunteer walking through it writes nothing before the typed confirmation (a held Enter key
    does not pass it); the erasure's failure then lands on the error screen, whose choices
    work."""
    require_image()
    scenario = Scenario.load(SCENARIOS / "crash" / "unattended.toml")
    stick = Stick.copy_of(IMAGE, artifacts)
    # A hub that is not there: the run must not depend on one to reach its confirmation.
    stick.write_file("reeeboot.toml", station_config("http://10.0.2.2:9", "unused",
                                                     unattended=True, language="en"))
    disks = {spec.id: make_disk(spec, artifacts) for spec in scenario.disks}
    before = {name: digest(path) for name, path in disks.items()}
    boot = Boot(scenario, artifacts, stick, disks,
                extra_cmdline="systemd.setenv=REEEBOOT_TEST_CRASH=erase")
    boot.start()
    try:
        failed = boot.wait_for("failed", scenario.timeout_seconds)
        assert failed["error"] == "InjectedCrash: REEEBOOT_TEST_CRASH=erase"
        screen = boot.wait_for_screen(
            "step 1 of 8", "the unattended run stopped in this boot (InjectedCrash: "
            "REEEBOOT_TEST_CRASH=erase): the screen took over, and nothing is erased without a "
            "person", timeout=180)
        assert "RB-VIRTIO-0501" in flat(screen)
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
        boot.wait_exit(120, after_failure=True)
        # Waiting for the end of a run that failed, the harness gives up at the `failed` line,
        # not after its timeout.
        started = time.monotonic()
        with pytest.raises(AgentFailed, match="InjectedCrash"):
            boot.wait_for("done", 600)
        assert time.monotonic() - started < 30
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
