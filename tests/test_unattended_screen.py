"""What the machine's own screen says during an unattended run (agent/unattended_screen.py).

The recorded runs in tests/fixtures/unattended/ are status lines as the serial port carries
them, each with the second it came at: a stick's run erasing two disks, and a network-booted
machine the hub armed whose report waits for the hub (recorded from
tests/test_netboot_unattended.py's run). Their screens are kept as text snapshots in
tests/snapshots/ (unattended-*.txt); REEEBOOT_UPDATE_SNAPSHOTS=1 writes them again, and the
diff is read before it is committed.
"""

from __future__ import annotations

import dataclasses
import difflib
import io
import json
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent import cli, flow
from agent import unattended as unattended_module
from agent import unattended_screen as screen_module
from agent.i18n import set_language
from agent.inventory.model import Disk
from agent.unattended import STATUS_PREFIX, StatusLine, run_unattended
from agent.unattended_screen import CLEAR_SCREEN, UnattendedScreen, as_data, unattended_screen
from tests.scripted_run import workshop_machine

FIXTURES = Path(__file__).parent / "fixtures" / "unattended"
SNAPSHOTS = Path(__file__).parent / "snapshots"
GB = 1_000_000_000
# The disks of the stick's recorded run, as the inventory found them: the status lines name them
# without their models.
TWO_DISKS = (
    Disk("sda", "/dev/sda", "sata", "SanDisk SDSSDP064G", "131204400123", 64_023_257_088, 512,
         False, False, "passed"),
    Disk("mmcblk0", "/dev/mmcblk0", "mmc", "DF4032", "0x8a3d21f0", 31_268_536_320, 512, False,
         False, None),
    Disk("sdb", "/dev/sdb", "usb", "Cruzer Blade", "4C530001", 32_010_928_128, 512, False, True,
         None),
)


@pytest.fixture(params=["fr", "en"])
def language(request: pytest.FixtureRequest) -> Iterator[str]:
    set_language(request.param)
    yield request.param
    set_language("fr")


class Clock:
    """The time the recorded events came at."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def recorded(name: str) -> list[tuple[float, str, dict[str, Any]]]:
    """(second, event, fields) of each status line of a recorded run."""
    events = []
    for raw in (FIXTURES / name).read_text().splitlines():
        item = json.loads(raw)
        assert item["line"].startswith(STATUS_PREFIX)
        fields = json.loads(item["line"][len(STATUS_PREFIX):])
        events.append((item["t"], fields.pop("event"), fields))
    return events


def replay(name: str, **options: Any) -> str:
    """The screen's text after the recorded run `name`, told as it happened."""
    out, clock = io.StringIO(), Clock()
    screen = UnattendedScreen(out, clock=clock, **options)
    if name.startswith("stick"):
        screen.know_disks(TWO_DISKS)
    for at, event, fields in recorded(name):
        clock.now = at
        screen.tell(event, fields)
    return out.getvalue()


def stick_run() -> str:
    return replay("stick-two-disks.jsonl", station_name="lyon-3", switches_off=True)


def network_run() -> str:
    return replay("network-armed.jsonl", station_name="lyon-boot-525400abcdef",
                  network_boot=True, switches_off=True)


def progress(job: str, done: int, total: int, phase: str = "write", **more: Any) -> dict[str, Any]:
    fields = {"job": job, "phase": phase, "done_bytes": done, "total_bytes": total,
              "bytes_per_second": 100e6, "error": None, "detail": "1/1 random",
              "pass_number": 1, "pass_count": 1}
    return {**fields, **more}


def told_lines(screen_text: str, prefix: str) -> list[str]:
    return [line for line in screen_text.splitlines() if line.startswith(prefix)]


@pytest.mark.parametrize("name", ["stick-two-disks", "network-armed"])
def test_a_recorded_run_reads_as_its_snapshot(name: str, language: str) -> None:
    text = stick_run() if name.startswith("stick") else network_run()
    # The screen is cleared once, at the start; nothing else on it is an escape sequence.
    assert text.startswith(CLEAR_SCREEN) and text.count("\x1b") == CLEAR_SCREEN.count("\x1b")
    text = text.removeprefix(CLEAR_SCREEN)
    text.encode("cp437")  # the console's font
    assert "\u2019" not in text and "\u201c" not in text
    path = SNAPSHOTS / f"unattended-{name}.{language}.txt"
    if os.environ.get("REEEBOOT_UPDATE_SNAPSHOTS"):
        path.write_text(text)
        return
    assert path.exists(), f"no snapshot {path}: run with REEEBOOT_UPDATE_SNAPSHOTS=1"
    expected = path.read_text()
    assert text == expected, "\n".join(difflib.unified_diff(
        expected.splitlines(), text.splitlines(), str(path), "now", lineterm=""))


def test_the_stick_run_in_french() -> None:
    set_language("fr")
    text = stick_run()
    for phrase in (
        "Effacement automatique : ne pas éteindre cet ordinateur",
        "Station : lyon-3",
        "Il va effacer 2 disques :",
        "  /dev/sda  SATA 64 Go  SanDisk SDSSDP064G",
        "  /dev/mmcblk0  eMMC 31,3 Go  DF4032",
        "  Gardé : /dev/sdb (the system was started from it)",
        "/dev/sda : 10 %  passe 1 sur 1 (aléatoire)  241 Mo/s  reste 7 min 56 s",
        "/dev/sda : 61 %  vérification  412 Mo/s  reste 2 min 00 s",
        "/dev/mmcblk0 : 100 %  terminé",
        "  /dev/sda : effacé et vérifié (réécriture (passe aléatoire), nettoyage), en 7 min 01 s",
        "Contrôle de santé, test de la mémoire : OK",
        "Rapport enregistré : 3f1d2c9e-5b7a-4e61-9c0d-8a2b4f6e1d37",
        "Rapport envoyé au hub de l'atelier.",
        "Terminé : l'ordinateur s'éteint.",
    ):
        assert phrase in text.splitlines(), phrase


def test_the_stick_run_in_english(english: None) -> None:
    text = stick_run()
    for phrase in (
        "Unattended erasure: do not switch this computer off",
        "Station: lyon-3",
        "It will erase 2 disks:",
        "  /dev/sda  SATA 64 GB  SanDisk SDSSDP064G",
        "  Kept: /dev/sdb (the system was started from it)",
        "/dev/sda: 10 %  pass 1 of 1 (random)  241 MB/s  7 min 56 s left",
        "  /dev/mmcblk0: erased and verified (eMMC secure erase and sanitize, Purge), in 36 s",
        "Health check, disk self-test of /dev/sda: OK",
        "Report sent to the workshop's hub.",
        "Finished: switching off.",
    ):
        assert phrase in text.splitlines(), phrase


def test_an_armed_network_booted_machine_says_its_report_is_only_in_memory(
        english: None) -> None:
    text = network_run()
    lines = text.splitlines()
    assert "Armed by the workshop from the hub (arming 7): nobody stopped its countdown." in lines
    assert "Station: lyon-boot-525400abcdef" in lines
    assert "No disk to erase." in lines
    warning = "DO NOT SWITCH OFF: the report is only in this computer's memory."
    tries = [line for line in lines if line.startswith("Report not sent yet (")]
    assert len(tries) == 3 and all(line.endswith("trying again in 30 s; do not switch off.")
                                   for line in tries)
    assert lines.index(warning) < lines.index(tries[0])
    assert lines.index("Report sent to the workshop's hub.") > lines.index(tries[-1])
    assert lines[-2] == "Finished: switching off."
    set_language("fr")
    lines = network_run().splitlines()
    assert "NE PAS ÉTEINDRE : le rapport n'est que dans la mémoire de cet ordinateur." in lines
    assert any(line.startswith("Armé par l'atelier depuis le hub (armement 7)") for line in lines)


def test_progress_comes_every_10_seconds_or_every_10_percent(english: None) -> None:
    out, clock = io.StringIO(), Clock()
    screen = UnattendedScreen(out, clock=clock)
    screen.tell("plan", {"targets": ["/dev/sda", "/dev/sdb"]})
    size = 100 * GB  # one pass, then its read-back: 200 GB of work
    # A slow disk, told every second (more often than the status line itself does): a line
    # every 10 s, however little it moved.
    for second in range(0, 61):
        clock.now = float(second)
        screen.tell("progress", progress("/dev/sda", second * GB // 10, size))
    slow = [line.split("  ")[0] for line in told_lines(out.getvalue(), "/dev/sda:")]
    assert slow == [f"/dev/sda: {percent} %" for percent in (0, 0, 1, 1, 2, 2, 3)]
    # A fast one: a line at each step of 10 %, though the steps come within seconds.
    for tick in range(26):
        clock.now = 100.0 + tick
        screen.tell("progress", progress("/dev/sdb", tick * 4 * GB, size))
    fast = [line.split("  ")[0] for line in told_lines(out.getvalue(), "/dev/sdb:")]
    assert fast == [f"/dev/sdb: {percent} %" for percent in (0, 10, 20, 30, 40, 50)]
    # A new phase is worth a line at once, and so is the end, even a second later.
    clock.now = 200.0
    screen.tell("progress", progress("/dev/sda", 6 * GB, size, phase="verify", detail=""))
    clock.now = 201.0
    screen.tell("progress", progress("/dev/sda", size, size, phase="done", detail=""))
    assert told_lines(out.getvalue(), "/dev/sda:")[-2:] == [
        "/dev/sda: 53 %  checking  100 MB/s  15 min 40 s left", "/dev/sda: 100 %  done"]
    # A benchmark reads the erased disks afterwards: one line says so, not one per disk.
    before = out.getvalue()
    clock.now = 300.0
    for job in ("/dev/sda", "/dev/sdb"):
        screen.tell("progress", progress(job, GB, size, phase="bench", detail=""))
        screen.tell("progress", progress(job, size, size, phase="done", detail=""))
    assert out.getvalue()[len(before):] == "Measuring the disks' speed (read only)...\n"


def test_text_from_outside_is_shown_as_data(english: None) -> None:
    hostile = "EVIL\x1b[2J\x1b]0;owned\x07 DISK\r\n\x9b31m\u202e\u2019 \U0001f600"
    assert as_data(hostile) == "EVIL DISK???? ?"
    out = io.StringIO()
    screen = UnattendedScreen(out, station_name="lyon\x1bc-3")
    disk = dataclasses.replace(TWO_DISKS[0], model=hostile)
    screen.know_disks([disk])
    screen.tell("plan", {"targets": ["/dev/sda"]})
    screen.tell("disk_result", {"device": "/dev/sda", "serial": "x", "method": "random",
                                "level": "clear", "result": "failed", "bytes_written": 0,
                                "seconds": 3.0, "bad_ranges": [],
                                "error": "OSError: \x1b[31mread\x1b[0m \x07failed"})
    screen.tell("failed", {"error": "disk \x1b[1;1H\x1b[2Jgone"})
    text = out.getvalue().removeprefix(CLEAR_SCREEN)
    assert "\x1b" not in text and "\x07" not in text and "\r" not in text
    assert "\x9b" not in text and "\u202e" not in text
    lines = text.splitlines()
    assert "Station: lyon-3" in lines  # ESC c, a reset, is a sequence too
    assert "  /dev/sda  SATA 64 GB  EVIL DISK???? ?" in lines
    assert "  /dev/sda: NOT ERASED: OSError: read ?failed" in lines
    assert "STOPPED: disk gone" in lines


def test_a_failed_run_ends_with_the_failures_and_why(english: None) -> None:
    out = io.StringIO()
    screen = UnattendedScreen(out, switches_off=False)
    screen.tell("plan", {"targets": ["/dev/sda"]})
    screen.tell("disk_result", {"device": "/dev/sda", "serial": "x", "method": "random",
                                "level": "clear", "result": "failed", "bytes_written": 0,
                                "seconds": 226.0, "bad_ranges": [],
                                "error": "DiskStalled: /dev/sda did not answer for 60 s"})
    screen.tell("install_result", {"result": "failed", "error": "no image named debian-13"})
    screen.tell("done", {"ok": False, "failed": ["/dev/sda", "install", "/dev/sdc"],
                         "report_waiting": True})
    lines = out.getvalue().splitlines()
    end = lines[lines.index("=" * 72, lines.index("Nothing was installed: no image named "
                                                  "debian-13")):]
    assert end == ["=" * 72, "/dev/sda: NOT ERASED: the disk stopped answering",
                   "Nothing was installed: no image named debian-13", "FAILED: /dev/sdc",
                   "Finished, with failures: this computer can be switched off.", "=" * 72]


def test_a_network_booted_machine_left_on_with_its_report_unsent_says_to_keep_it_on(
        english: None) -> None:
    out = io.StringIO()
    screen = UnattendedScreen(out, network_boot=True, switches_off=False)
    screen.tell("upload", {"sent": [], "waiting": ["3f1d"], "error": "no network"})
    screen.tell("done", {"ok": True, "failed": [], "report_waiting": True})
    lines = out.getvalue().splitlines()
    warning = "DO NOT SWITCH OFF: the report is only in this computer's memory."
    assert lines[-3:] == ["Finished.", warning, "=" * 72]
    assert "Not sent yet: no network" in lines


def test_without_a_serial_port_the_lines_go_to_a_file_and_the_screen_gets_words(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Most laptops have no serial port: the status lines are kept in a file, and the screen
    says the run in words, never as JSON."""
    station = flow.open_station(data_dir)
    console = io.StringIO()
    monkeypatch.setattr(sys, "stdout", console)
    monkeypatch.setenv("REEEBOOT_STATUS_TTY", str(tmp_path / "missing" / "ttyS0"))
    status_file = tmp_path / "run" / "status.jsonl"
    stream = unattended_module.open_status_stream(status_file)
    try:
        assert stream is not console
        code = run_unattended(station, StatusLine(stream, unattended_screen(
            station, stream, switches_off=False, screen=console)), power_off=False,
            take_inventory=lambda _station: stick_only(), failure_mark=tmp_path / "mark")
    finally:
        stream.close()
    assert code == 0
    lines = status_file.read_text(encoding="utf-8").splitlines()
    names = [json.loads(line[len(STATUS_PREFIX):])["event"] for line in lines]
    assert names == ["start", "inventory", "plan", "benchmarks", "report", "upload", "done"]
    shown = console.getvalue().splitlines()
    assert "Aucun disque à effacer." in shown  # the default language: French
    assert not any(STATUS_PREFIX.strip() in line or "{" in line for line in shown), shown


def test_nothing_is_told_twice_when_the_status_lines_go_to_the_screen(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither a serial port nor the file can be opened (a developer's terminal, not root): the
    status lines go to standard output, which shows them, and no words besides."""
    station = flow.open_station(data_dir)
    console = io.StringIO()
    monkeypatch.setattr(sys, "stdout", console)
    monkeypatch.setenv("REEEBOOT_STATUS_TTY", str(tmp_path / "missing" / "ttyS0"))
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    stream = unattended_module.open_status_stream(blocked / "status.jsonl")
    assert stream is console
    assert unattended_screen(station, stream, switches_off=True, screen=console) is None
    # The same device opened twice (the port named as /dev/tty1) is the same output too.
    path = tmp_path / "tty1"
    with open(path, "w") as first, open(path, "w") as second:
        assert unattended_screen(station, first, switches_off=True, screen=second) is None
    code = run_unattended(station, StatusLine(stream, unattended_screen(
        station, stream, switches_off=False, screen=console)), power_off=False,
        take_inventory=lambda _station: stick_only(), failure_mark=tmp_path / "mark")
    assert code == 0
    lines = console.getvalue().splitlines()
    assert lines and all(line.startswith(STATUS_PREFIX) for line in lines)
    names = [json.loads(line[len(STATUS_PREFIX):])["event"] for line in lines]
    assert names == ["start", "inventory", "plan", "benchmarks", "report", "upload", "done"]


def test_no_words_when_standard_output_is_not_a_terminal(
        data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # a pipe, a file
    station = flow.open_station(data_dir)
    assert unattended_screen(station, io.StringIO(), switches_off=True) is None
    asked = unattended_screen(station, io.StringIO(), switches_off=True, screen=sys.stdout)
    assert isinstance(asked, UnattendedScreen)


def stick_only() -> Any:
    # Only the stick is left in the machine: nothing to erase, the rest of the run is real.
    machine = workshop_machine()
    return dataclasses.replace(machine, disks=tuple(
        disk for disk in machine.disks if disk.path == "/dev/sdb"))


def test_a_real_run_is_told_on_the_screen_and_its_status_lines_stay_as_they_are(
        data_dir: Path, tmp_path: Path, english: None) -> None:
    (data_dir / "reeeboot.toml").write_text(
        'language = "en"\nunattended = true\n[station]\nname = "lyon-3"\n')
    station = flow.open_station(data_dir)
    port, console = io.StringIO(), io.StringIO()
    screen = unattended_screen(station, port, switches_off=False, screen=console)
    assert screen is not None
    code = run_unattended(station, StatusLine(port, screen), power_off=False,
                          take_inventory=lambda _station: stick_only(),
                          failure_mark=tmp_path / "mark")
    assert code == 0
    events = [json.loads(line[len(STATUS_PREFIX):]) for line in port.getvalue().splitlines()]
    assert [event["event"] for event in events] == [
        "start", "inventory", "plan", "benchmarks", "report", "upload", "done"]
    assert not any(line.startswith(STATUS_PREFIX) for line in console.getvalue().splitlines())
    lines = console.getvalue().removeprefix(CLEAR_SCREEN).splitlines()
    report_id = events[4]["report_id"]
    assert lines[:4] == ["=" * 72, "Unattended erasure: do not switch this computer off",
                         "=" * 72, "Station: lyon-3"]
    assert "No disk to erase." in lines
    assert f"Report filed: {report_id}" in lines
    assert any(line.startswith("Report not sent (no hub address") for line in lines)
    assert lines[-2:] == ["Finished: this computer can be switched off.", "=" * 72]


def test_a_screen_that_fails_never_stops_the_run(caplog: pytest.LogCaptureFixture) -> None:
    class BrokenScreen(UnattendedScreen):
        def tell(self, event: str, fields: Any) -> None:
            raise RuntimeError("the console went away")

    port = io.StringIO()
    status = StatusLine(port, BrokenScreen(io.StringIO()))
    status.emit("start", data_dir="/srv/reeeboot")
    status.emit("plan", targets=[])
    assert len(port.getvalue().splitlines()) == 2 and status.screen is None
    assert "the screen stopped telling" in caplog.text


class StoppedConsole(io.StringIO):
    """A console whose output is stopped (Scroll Lock) until `resume` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.resume = threading.Event()

    def write(self, text: str) -> int:
        self.resume.wait()
        return super().write(text)


def test_a_stopped_console_never_holds_up_the_run(
        english: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(screen_module, "END_WAIT_SECONDS", 0.3)
    console = StoppedConsole()
    screen = UnattendedScreen(console, in_background=True)
    began = time.monotonic()
    screen.tell("plan", {"targets": []})
    screen.tell("done", {"ok": True, "failed": [], "report_waiting": False})
    # The end waits a little for its last lines to be read, then goes on.
    assert time.monotonic() - began < 2.0
    console.resume.set()
    writer = screen._writer
    assert writer is not None and writer.wait_written(5.0)
    assert console.getvalue().splitlines()[-2] == "Finished: switching off."


def test_the_stick_unattended_start_tells_the_screen(
        data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`reeeboot start` with both unattended switches on: the status lines go to the port,
    and the screen is given the same events."""
    (data_dir / "reeeboot.toml").write_text('unattended = true\n[station]\nname = "lyon-3"\n')
    port = tmp_path / "ttyS0"
    monkeypatch.setenv("REEEBOOT_STATUS_TTY", str(port))
    monkeypatch.setattr(unattended_module, "kernel_cmdline", lambda: "reeeboot.unattended=1")
    monkeypatch.setattr(unattended_module, "first_unattended_start", lambda: True)
    monkeypatch.setattr(cli, "start_log", lambda _state_dir: None)
    asked: list[dict[str, Any]] = []

    def screen_for(station: flow.Station, stream: Any, *, switches_off: bool) -> Any:
        asked.append({"stream": stream.name, "switches_off": switches_off})
        return UnattendedScreen(io.StringIO())

    given: list[StatusLine] = []

    def unattended_run(station: flow.Station, status: StatusLine, **options: Any) -> int:
        given.append(status)
        return 0

    monkeypatch.setattr(screen_module, "unattended_screen", screen_for)
    monkeypatch.setattr(unattended_module, "run_unattended", unattended_run)
    assert cli.main(["--data", str(data_dir), "start", "--no-poweroff"]) == 0
    assert asked == [{"stream": str(port), "switches_off": False}]
    [status] = given
    assert isinstance(status.screen, UnattendedScreen) and status.stream.name == str(port)
