"""Disk health: SMART verdicts on real drives' smartctl JSON, and the drive's self-test run
against sequences of real outputs (tests/fixtures/health/smart/SOURCE.md says where each comes
from and which states are derived)."""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from agent.health import disk
from agent.health.disk import (
    ABORTED,
    FAILED,
    IN_PROGRESS,
    PASSED,
    SelfTestState,
    abort_command,
    judge_smart,
    latest_self_test,
    poll_command,
    run_self_test,
    self_test_state,
    self_test_timeout_seconds,
    start_command,
)
from agent.health.model import (
    FAIL,
    NOT_PRESENT,
    PASS,
    SKIPPED,
    WARN,
    CheckResult,
    Finding,
    verdict_of,
    worst,
)
from agent.i18n import set_language
from agent.inventory.source import PROFILE_FORMAT, ProfileSource
from agent.runner import CommandRecord
from tests.helpers import FakeTime
from tests.replay import fixture

DEVICE = "/dev/sda"


def drive(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(fixture(f"health/smart/{name}.json"))
    return document


# --- Verdicts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "verdict", "codes"), [
    ("sata-ssd-samsung-860evo", PASS, []),
    ("nvme-corsair-mp510", PASS, []),
    ("nvme-toshiba-kxg6", PASS, []),
    ("usb-hdd-samsung-hd204ui", PASS, []),  # attribute 3 failed in the past only
    ("sata-hdd-wd140edfz-self-test-running", PASS, []),
    # Scrutiny fails this one on its 108 CRC errors: cable faults, not the drive's health.
    ("sata-ssd-samsung-840", WARN, ["power_on_hours_high"]),
    ("nvme-samsung-970evo", WARN, ["nvme_media_errors"]),
    ("usb-hdd-hitachi-hds721050dle630", FAIL, [
        "smart_status_failed", "ata_attribute_failing_now", "ata_reallocated_sectors",
        "ata_pending_sectors", "power_on_hours_high"]),
    ("usb-hdd-wd3200bevt-failing", FAIL, [
        "smart_status_failed", "ata_attribute_failing_now", "ata_reallocated_sectors",
        "ata_pending_sectors"]),
    ("sata-hdd-wd4000fyyx-megaraid", FAIL, ["ata_reallocated_sectors", "power_on_hours_high"]),
    ("sas-seagate-st4000nm0043", FAIL, ["scsi_grown_defects", "power_on_hours_high"]),
    ("qemu-scsi-harddisk", NOT_PRESENT, ["no_smart"]),
    ("virtio-vda", NOT_PRESENT, ["no_smart"]),
    ("open-failed-windows", SKIPPED, ["smart_unreadable"]),
])
def test_each_real_drive_gets_the_verdict_it_deserves(name: str, verdict: str,
                                                       codes: list[str]) -> None:
    result = judge_smart(drive(name), DEVICE)
    assert (result.check, result.subject) == ("disk_smart", DEVICE)
    assert result.verdict == verdict
    assert [finding.code for finding in result.findings] == codes
    assert result.measured["rules"] == disk.RULES_VERSION


def test_a_failing_hard_disk_names_its_limits_and_measures() -> None:
    result = judge_smart(drive("usb-hdd-hitachi-hds721050dle630"), DEVICE)
    by_code = {finding.code: finding for finding in result.findings}
    assert by_code["ata_reallocated_sectors"].threshold == "ata_reallocated_fail_above_10"
    assert by_code["ata_reallocated_sectors"].text == "/dev/sda: 1975 reallocated sectors"
    assert by_code["ata_pending_sectors"].threshold == "ata_pending_fail_at_1"
    assert by_code["power_on_hours_high"].verdict == WARN
    assert by_code["power_on_hours_high"].threshold == "power_on_hours_warn_at_17532"
    assert by_code["ata_attribute_failing_now"].values == (
        ("device", DEVICE), ("attribute", 5), ("name", "Reallocated_Sector_Ct"))
    assert result.measured["temperature_celsius"] == 25
    assert (result.measured["reallocated_sectors"], result.measured["pending_sectors"],
            result.measured["offline_uncorrectable_sectors"],
            result.measured["power_on_hours"]) == (1975, 8, 0, 65592)
    assert result.measured["smart_status_passed"] is False


def test_a_few_reallocated_sectors_warn_and_many_fail() -> None:
    megaraid = drive("sata-hdd-wd4000fyyx-megaraid")  # 387 reallocated
    (reallocated,) = [finding for finding in judge_smart(megaraid, DEVICE).findings
                      if finding.code == "ata_reallocated_sectors"]
    assert (reallocated.verdict, reallocated.values[1]) == (FAIL, ("count", 387))
    # The limits themselves, on the same real document with only attribute 5's count changed.
    for count, verdict, threshold in ((1, WARN, "ata_reallocated_warn_at_1"),
                                      (10, WARN, "ata_reallocated_warn_at_1"),
                                      (11, FAIL, "ata_reallocated_fail_above_10")):
        document = copy.deepcopy(megaraid)
        row = next(row for row in document["ata_smart_attributes"]["table"] if row["id"] == 5)
        row["raw"] = {"value": count, "string": str(count)}
        (finding,) = [finding for finding in judge_smart(document, DEVICE).findings
                      if finding.code == "ata_reallocated_sectors"]
        assert (finding.verdict, finding.threshold) == (verdict, threshold)


def test_an_nvme_drive_is_judged_on_its_own_log() -> None:
    result = judge_smart(drive("nvme-samsung-970evo"), DEVICE)
    (errors,) = result.findings
    assert errors.text == "/dev/sda: 7 media and data integrity errors the drive could not recover"
    assert errors.threshold == "nvme_media_errors_warn_at_1"
    assert (result.measured["critical_warning"], result.measured["available_spare"],
            result.measured["endurance_used_percent"], result.measured["power_on_hours"]) == (
        0, 99, 3, 12798)


def nvme_with(**changes: int) -> dict[str, Any]:
    """The healthy Corsair MP510 with some of its health log's values changed: the rule for a
    value the drives here do not have is checked on a real document around it."""
    document = drive("nvme-corsair-mp510")
    document["nvme_smart_health_information_log"].update(changes)
    return document


def test_each_nvme_critical_warning_bit_is_named() -> None:
    result = judge_smart(nvme_with(critical_warning=0x0D, available_spare=3), DEVICE)
    assert [(finding.code, finding.verdict) for finding in result.findings] == [
        ("nvme_warning_spare_below_threshold", FAIL),
        ("nvme_warning_reliability_degraded", FAIL),
        ("nvme_warning_media_read_only", FAIL)]
    # The spare bit already says the spare is short: no second finding for the same fact.
    assert result.verdict == FAIL
    # Temperature alone describes the moment, not the drive's wear.
    hot = judge_smart(nvme_with(critical_warning=0x02), DEVICE)
    assert (hot.verdict, [finding.code for finding in hot.findings]) == (
        WARN, ["nvme_warning_temperature"])
    unnamed = judge_smart(nvme_with(critical_warning=0x40), DEVICE)
    assert [(finding.code, finding.values[1]) for finding in unnamed.findings] == [
        ("nvme_warning_other", ("bits", "0x40"))]


def test_nvme_spare_and_endurance_limits() -> None:
    low = judge_smart(nvme_with(available_spare=4), DEVICE)  # threshold 5
    assert [(finding.code, finding.threshold) for finding in low.findings] == [
        ("nvme_spare_below_threshold", "nvme_available_spare_below_threshold_fail")]
    for used, verdict in ((89, PASS), (90, WARN), (100, FAIL), (255, FAIL)):
        assert judge_smart(nvme_with(percentage_used=used), DEVICE).verdict == verdict, used


def test_an_ssd_wear_attribute_counts_only_under_its_name() -> None:
    # On SandForce drives attribute 177 is Wear_Range_Delta (0 here), not a wear level: this
    # Vertex 2 has used none of its life (SSD_Life_Left 100).
    vertex = judge_smart(drive("sata-ssd-ocz-vertex2"), DEVICE)
    assert (vertex.verdict, vertex.measured["endurance_used_percent"]) == (PASS, 0)
    samsung = judge_smart(drive("sata-ssd-samsung-860evo"), DEVICE)
    assert samsung.measured["endurance_used_percent"] == 19  # Wear_Leveling_Count 81


def test_no_smart_says_why_in_smartctl_words() -> None:
    (finding,) = judge_smart(drive("virtio-vda"), "/dev/vda").findings
    assert finding.text == ("/dev/vda: the drive gives no SMART data "
                            "(/dev/vda: Unable to detect device type)")
    (unreadable,) = judge_smart(drive("open-failed-windows"), DEVICE).findings
    assert unreadable.verdict == SKIPPED and "Open failed, Error=5" in unreadable.text


# --- The verdict model --------------------------------------------------------------------------


def test_worst_verdict() -> None:
    assert worst([PASS, WARN, PASS]) == WARN
    assert worst([WARN, FAIL, NOT_PRESENT]) == FAIL
    assert worst([SKIPPED, PASS, NOT_PRESENT]) == PASS
    assert worst([NOT_PRESENT, NOT_PRESENT]) == NOT_PRESENT
    assert worst([NOT_PRESENT, SKIPPED]) == SKIPPED
    assert worst([]) == SKIPPED
    assert verdict_of([]) == PASS
    with pytest.raises(ValueError):
        worst(["bad"])


def test_values_are_never_read_as_format_strings() -> None:
    finding = Finding.of("self_test_failed", FAIL,
                         "{device}: the drive failed its self-test: {status}",
                         device="/dev/{0}", status="Completed: {read} failure {0!r}")
    assert finding.text == (
        "/dev/{0}: the drive failed its self-test: Completed: {read} failure {0!r}")
    assert "{read} failure {0!r}" in finding.describe()


def test_findings_are_shown_in_the_screen_language() -> None:
    result = judge_smart(drive("usb-hdd-hitachi-hds721050dle630"), DEVICE)
    hours = next(finding for finding in result.findings if finding.code == "power_on_hours_high")
    assert hours.text == "/dev/sda: powered on for 65592 hours (about 7.5 years)"
    try:
        set_language("fr")
        assert hours.describe() == "/dev/sda : allumé pendant 65 592 heures (environ 7,5 ans)"
        set_language("en")
        assert hours.describe() == "/dev/sda: powered on for 65,592 hours (about 7.5 years)"
    finally:
        set_language("fr")


def test_a_result_serialises_with_its_evidence() -> None:
    record = CommandRecord(("smartctl", "-X", DEVICE), 0, "{}", "", 0.1)
    result = CheckResult("disk_self_test", DEVICE, WARN, (Finding.of(
        "self_test_timeout", WARN, "{device}: stopped", device=DEVICE),), {"kind": "short"}, 2.5,
        evidence=(record,))
    document = json.loads(json.dumps(result.to_json()))
    assert document["findings"] == [{"code": "self_test_timeout", "verdict": WARN,
                                     "text": "/dev/sda: stopped",
                                     "message": "{device}: stopped", "threshold": None,
                                     "values": {"device": DEVICE}}]
    assert document["evidence"][0]["argv"] == ["smartctl", "-X", DEVICE]
    assert (document["operator"], document["seconds"]) == (None, 2.5)


# --- Reading a self-test's state and its log ----------------------------------------------------


def test_the_commands() -> None:
    assert start_command(DEVICE) == ["smartctl", "--json=c", "-t", "short", DEVICE]
    assert start_command(DEVICE, "long")[3] == "long"
    assert poll_command(DEVICE) == ["smartctl", "--json=c", "-c", "-l", "selftest", DEVICE]
    assert abort_command(DEVICE) == ["smartctl", "--json=c", "-X", DEVICE]
    with pytest.raises(ValueError):
        start_command(DEVICE, "conveyance; reboot")


@pytest.mark.parametrize(("name", "state"), [
    ("sata-hdd-wd140edfz-self-test-running", SelfTestState(True, True, 90)),
    ("sata-ssd-samsung-860evo", SelfTestState(True, False, None)),
    # The log keeps a stale "in progress" entry from hour 1; the execution status is what says.
    ("sata-ssd-ocz-vertex2", SelfTestState(True, False, None)),
    ("nvme-samsung-980pro-self-test-running.transcribed", SelfTestState(True, True, 28)),
    ("sas-ssd-samsung-mzilt7t6hala-self-test-log.transcribed", SelfTestState(True, False, None)),
    ("nvme-toshiba-kxg6", SelfTestState(False, False, None)),  # smartctl 7.3: no NVMe self-test
    ("virtio-vda", SelfTestState(False, False, None)),
])
def test_self_test_state(name: str, state: SelfTestState) -> None:
    assert self_test_state(drive(name)) == state


def test_the_newest_log_entry_of_each_kind_of_drive() -> None:
    failed = latest_self_test(drive("usb-hdd-wd3200bevt-failing"))
    assert failed is not None
    assert (failed.kind, failed.result, failed.passed, failed.status, failed.lifetime_hours,
            failed.first_error_lba) == ("short", FAILED, False, "Completed: read failure", 16402,
                                        494591083)
    aborted = latest_self_test(drive("sata-hdd-wd4000fyyx-megaraid"))
    assert aborted is not None
    assert (aborted.result, aborted.passed, aborted.status) == (ABORTED, None, "Aborted by host")
    stale = latest_self_test(drive("sata-ssd-ocz-vertex2"))
    assert stale is not None and (stale.result, stale.passed) == (IN_PROGRESS, None)
    extended = latest_self_test(drive("usb-hdd-samsung-hd204ui"))  # -x: the extended log
    assert extended is not None
    assert (extended.kind, extended.description, extended.lifetime_hours) == (
        "long", "Extended offline", 3624)
    nvme = latest_self_test(drive("nvme-samsung-980pro-self-test-running.transcribed"))
    assert nvme is not None
    assert (nvme.kind, nvme.result, nvme.lifetime_hours) == ("long", PASSED, 3441)
    scsi = latest_self_test(drive("sas-ssd-samsung-mzilt7t6hala-self-test-log.transcribed"))
    assert scsi is not None
    assert (scsi.kind, scsi.description, scsi.result, scsi.lifetime_hours) == (
        "short", "Background short", PASSED, 134)
    assert latest_self_test(drive("sata-ssd-samsung-840")) is None  # nothing logged yet
    assert latest_self_test(drive("virtio-vda")) is None


def test_time_allowed_comes_from_the_drive() -> None:
    assert self_test_timeout_seconds(drive("sata-ssd-samsung-860evo"), "short") == (2 * 2 + 10) * 60
    wd = drive("sata-hdd-wd140edfz-self-test-running")
    assert self_test_timeout_seconds(wd, "long") == (2 * 1479 + 10) * 60
    sas = drive("sas-ssd-samsung-mzilt7t6hala-self-test-log.transcribed")
    assert self_test_timeout_seconds(sas, "long") == (2 * 60 + 10) * 60
    nvme = drive("nvme-samsung-980pro-self-test-running.transcribed")  # NVMe announces none
    assert self_test_timeout_seconds(nvme, "short") == (2 * 5 + 10) * 60
    assert self_test_timeout_seconds(nvme, "long") == (2 * 240 + 10) * 60


# --- Running a self-test ------------------------------------------------------------------------


def without_newest_entry(document: dict[str, Any]) -> dict[str, Any]:
    """The log as it was before its newest test ran (derived: see SOURCE.md)."""
    before = copy.deepcopy(document)
    for log in (before.get("ata_smart_self_test_log", {}).get("standard"),
                before.get("ata_smart_self_test_log", {}).get("extended"),
                before.get("nvme_self_test_log")):
        if log and log.get("table"):
            del log["table"][0]
    return before


def nvme_idle(document: dict[str, Any]) -> dict[str, Any]:
    """NVMe with no test running, as nvmeprint.cpp writes it (derived: see SOURCE.md)."""
    idle = copy.deepcopy(document)
    log = idle["nvme_self_test_log"]
    log["current_self_test_operation"] = {"value": 0, "string": "No self-test in progress"}
    log.pop("current_self_test_completion_percent", None)
    return idle


class ScriptedDrive(ProfileSource):
    """A machine source answering each smartctl command from a script, in order; the last answer
    to a command is repeated. Any other command fails the test."""

    def __init__(self, answers: dict[tuple[str, ...], list[CommandRecord]]) -> None:
        super().__init__({"format": PROFILE_FORMAT})
        self.answers = answers
        self.calls: list[tuple[str, ...]] = []

    def run(self, argv: Sequence[str], timeout: float = 120.0) -> CommandRecord:
        command = tuple(argv)
        self.calls.append(command)
        queue = self.answers.get(command)
        if not queue:
            raise AssertionError(f"unexpected command: {' '.join(command)}")
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def count(self, argv: list[str]) -> int:
        return self.calls.count(tuple(argv))


def answer(argv: list[str], document: dict[str, Any] | None = None, returncode: int = 0,
           stdout: str | None = None) -> CommandRecord:
    text = stdout if stdout is not None else json.dumps(document)
    return CommandRecord(tuple(argv), returncode, text, "", 0.5)


def scripted(polls: list[dict[str, Any]], *, start_returncode: int = 0) -> ScriptedDrive:
    return ScriptedDrive({
        tuple(poll_command(DEVICE)): [answer(poll_command(DEVICE), poll) for poll in polls],
        tuple(start_command(DEVICE)): [answer(start_command(DEVICE), returncode=start_returncode,
                                              stdout="")],
        tuple(start_command(DEVICE, "long")): [answer(start_command(DEVICE, "long"), stdout="")],
        tuple(abort_command(DEVICE)): [answer(abort_command(DEVICE), stdout="")],
    })


def run(source: ScriptedDrive, **options: Any) -> tuple[CheckResult, list[int | None]]:
    heard: list[int | None] = []
    time = FakeTime()
    result = run_self_test(DEVICE, source, progress=heard.append, sleep=time.sleep,
                           clock=time.clock, **options)
    return result, heard


SAMSUNG_860 = "sata-ssd-samsung-860evo"
RUNNING_ATA = "sata-hdd-wd140edfz-self-test-running"


def test_a_short_self_test_that_passes() -> None:
    done = drive(SAMSUNG_860)
    source = scripted([without_newest_entry(done), drive(RUNNING_ATA), drive(RUNNING_ATA), done])
    result, heard = run(source)
    assert (result.check, result.verdict, result.findings) == ("disk_self_test", PASS, ())
    assert heard == [90, 90, 100]
    assert result.measured["outcome"] == {
        "kind": "short", "description": "Short offline", "result": PASSED,
        "status": "Completed without error", "lifetime_hours": 14417, "first_error_lba": None}
    assert result.measured["timeout_seconds"] == (2 * 2 + 10) * 60
    assert result.seconds == 3 * disk.DEFAULT_POLL_SECONDS
    # Every command and its whole output is kept, in order.
    poll, start = tuple(poll_command(DEVICE)), tuple(start_command(DEVICE))
    assert [record.argv for record in result.evidence] == [poll, start, poll, poll, poll]
    assert json.loads(result.evidence[-1].stdout)["model_name"] == "Samsung SSD 860 EVO 500GB"
    assert source.count(abort_command(DEVICE)) == 0


def test_the_drive_reports_a_read_failure() -> None:
    done = drive("usb-hdd-wd3200bevt-failing")
    result, heard = run(scripted([without_newest_entry(done), done]))
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (FAIL, "self_test_failed")
    assert finding.text == ("/dev/sda: the drive failed its self-test: Completed: read failure "
                            "(first error at sector 494591083)")
    assert heard == [100]


def test_a_test_aborted_by_the_host_warns_with_the_reason() -> None:
    done = drive("sata-hdd-wd4000fyyx-megaraid")
    result, _heard = run(scripted([without_newest_entry(done), done]))
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (WARN, "self_test_aborted")
    assert finding.values == (("device", DEVICE), ("status", "Aborted by host"))


def test_an_nvme_extended_test_with_its_progress() -> None:
    running = drive("nvme-samsung-980pro-self-test-running.transcribed")
    source = scripted([nvme_idle(without_newest_entry(running)), running, nvme_idle(running)])
    result, heard = run(source, kind="long")
    assert result.verdict == PASS
    assert heard == [28, 100]
    assert result.measured["outcome"]["lifetime_hours"] == 3441
    assert result.measured["timeout_seconds"] == (2 * 240 + 10) * 60
    assert source.count(start_command(DEVICE, "long")) == 1


@pytest.mark.parametrize("name", ["virtio-vda", "nvme-toshiba-kxg6"])
def test_a_drive_without_self_test_is_not_present_and_never_started(name: str) -> None:
    source = scripted([drive(name)])
    result, _heard = run(source)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (NOT_PRESENT, "self_test_not_supported")
    assert source.count(start_command(DEVICE)) == 0
    assert [record.argv for record in result.evidence] == [tuple(poll_command(DEVICE))]


def test_a_drive_smartctl_cannot_open_is_skipped() -> None:
    source = scripted([drive("open-failed-windows")])
    result, _heard = run(source)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "self_test_unreadable")
    assert "Open failed, Error=5" in finding.text
    assert source.count(start_command(DEVICE)) == 0
    missing = ScriptedDrive({tuple(poll_command(DEVICE)): [
        answer(poll_command(DEVICE), returncode=127, stdout="")]})
    result, _heard = run(missing)
    assert result.findings[0].text == (
        "/dev/sda: smartctl could not open the drive (exit status 127)")


def test_a_refused_start_is_not_present() -> None:
    source = scripted([without_newest_entry(drive(SAMSUNG_860))], start_returncode=4)
    result, _heard = run(source)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (NOT_PRESENT, "self_test_refused")
    assert finding.text == ("/dev/sda: the drive refused to start a self-test (smartctl exit "
                            "status 4)")
    assert source.count(poll_command(DEVICE)) == 1


def test_a_test_still_running_when_time_is_up_is_aborted() -> None:
    source = scripted([without_newest_entry(drive(SAMSUNG_860)), drive(RUNNING_ATA)])
    result, heard = run(source, poll_seconds=60)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (WARN, "self_test_timeout")
    assert finding.text == ("/dev/sda: the self-test was still running after 14 minutes; "
                            "it was stopped")
    assert source.calls[-1] == tuple(abort_command(DEVICE))
    assert heard == [90] * 14


def test_a_given_timeout_wins_over_the_drive_s() -> None:
    source = scripted([without_newest_entry(drive(SAMSUNG_860)), drive(RUNNING_ATA)])
    result, heard = run(source, timeout_seconds=30)
    assert result.findings[0].code == "self_test_timeout"
    assert len(heard) == 6 and source.calls[-1] == tuple(abort_command(DEVICE))


def test_cancel_aborts_the_test() -> None:
    cancel = threading.Event()
    source = scripted([without_newest_entry(drive(SAMSUNG_860)), drive(RUNNING_ATA)])
    time = FakeTime()

    def progress(percent: int | None) -> None:
        cancel.set()  # the volunteer presses cancel on the first progress shown

    result = run_self_test(DEVICE, source, progress=progress, cancel=cancel, sleep=time.sleep,
                           clock=time.clock)
    (finding,) = result.findings
    assert (result.verdict, finding.code) == (SKIPPED, "self_test_cancelled")
    assert source.calls[-1] == tuple(abort_command(DEVICE))
    assert source.count(poll_command(DEVICE)) == 2


def test_cancel_before_the_start_runs_nothing_on_the_drive() -> None:
    cancel = threading.Event()
    cancel.set()
    source = scripted([without_newest_entry(drive(SAMSUNG_860))])
    result, _heard = run(source, cancel=cancel)
    assert result.verdict == SKIPPED
    assert source.count(start_command(DEVICE)) == 0 and source.count(abort_command(DEVICE)) == 0


def test_a_test_left_running_is_aborted_before_this_one_starts() -> None:
    done = drive(SAMSUNG_860)
    source = scripted([drive(RUNNING_ATA), without_newest_entry(done), done])
    result, _heard = run(source)
    assert result.verdict == PASS and result.measured["aborted_earlier_test"] is True
    assert source.calls[:4] == [tuple(poll_command(DEVICE)), tuple(abort_command(DEVICE)),
                                tuple(poll_command(DEVICE)), tuple(start_command(DEVICE))]


def test_a_status_stuck_at_zero_percent_remaining_ends_with_the_new_entry() -> None:
    done = drive(SAMSUNG_860)
    stuck = copy.deepcopy(done)  # ataprint.cpp's words for 0xf0; see SOURCE.md
    stuck["ata_smart_data"]["self_test"]["status"] = {
        "value": 0xF0, "string": "in progress, 00% remaining", "remaining_percent": 0}
    assert self_test_state(stuck) == SelfTestState(True, True, 100)
    result, heard = run(scripted([without_newest_entry(done), stuck]))
    assert result.verdict == PASS and heard == [100]


def test_a_drive_that_never_logs_a_result_warns() -> None:
    before = without_newest_entry(drive(SAMSUNG_860))
    source = scripted([before, before])
    result, heard = run(source)
    assert [finding.code for finding in result.findings] == ["self_test_no_result"]
    assert result.verdict == WARN and heard == [100]
    assert source.count(poll_command(DEVICE)) == 1 + disk.LOOKS_BEFORE_GIVING_UP


def test_a_drive_that_stops_answering_warns() -> None:
    source = scripted([without_newest_entry(drive(SAMSUNG_860))])
    source.answers[tuple(poll_command(DEVICE))].append(
        answer(poll_command(DEVICE), returncode=2, stdout=""))
    result, _heard = run(source)
    assert [finding.code for finding in result.findings] == ["self_test_drive_lost"]
    assert source.count(poll_command(DEVICE)) == 1 + disk.UNREADABLE_LOOKS_ALLOWED
    assert source.calls[-1] == tuple(abort_command(DEVICE))
