"""The health checks in the volunteer's words: the checks' names, their verdicts, and the lines
every screen shows for a disk, for the machine's checks and for the whole pass. One place, so
that the machine, disks, progress and result screens say the same thing the same way.

The findings speak for themselves (`Finding.describe()`, translated with their numbers); this
module only says which check spoke, how it ended, and what it means for the donation.
"""

from __future__ import annotations

import re

from agent.health import battery, cpu_load, guided, memory, network, platform
from agent.health.checkup import DONE, MACHINE_CHECKS, RUNNING, CheckProgress, HealthPass
from agent.health.disk import SELF_TEST_CHECK, SMART_CHECK
from agent.health.model import FAIL, NOT_PRESENT, PASS, SKIPPED, WARN, CheckResult, Finding
from agent.i18n import N_, _

CHECK_NAMES = {
    SMART_CHECK: N_("SMART data"),
    SELF_TEST_CHECK: N_("disk self-test"),
    platform.CHECK: N_("firmware locks"),
    cpu_load.CHECK: N_("processor under load"),
    memory.CHECK: N_("memory test"),
    battery.CHECK: N_("battery"),
    network.CHECK: N_("network"),
    guided.KEYBOARD: N_("keyboard"),
    guided.DISPLAY: N_("screen"),
    guided.SOUND: N_("sound"),
    guided.CAMERA: N_("camera"),
    guided.USB_PORTS: N_("USB ports"),
    guided.TOUCHPAD: N_("touchpad"),
    guided.APPEARANCE: N_("appearance"),
}
# "OK" rather than "passed": the one word that reads right after any check name, in French too.
VERDICTS = {PASS: N_("OK"), WARN: N_("warning"), FAIL: N_("FAILED"),
            SKIPPED: N_("not checked"), NOT_PRESENT: N_("not present")}
WAITING_WORD = N_("waiting")
RUNNING_WORD = N_("running")
# The verdicts the result screen lists, worst first: what the volunteer must act on comes first.
PROBLEMS = (FAIL, WARN, SKIPPED)
DISK_CHECKS = (SMART_CHECK, SELF_TEST_CHECK)


def check_name(check: str) -> str:
    return _(CHECK_NAMES[check]) if check in CHECK_NAMES else check


def verdict_word(verdict: str) -> str:
    return _(VERDICTS[verdict]) if verdict in VERDICTS else verdict


def deciding(result: CheckResult) -> tuple[Finding, ...]:
    """The findings that gave the result its verdict (a pass has none worth telling)."""
    return tuple(finding for finding in result.findings if finding.verdict == result.verdict)


def without_disk(text: str, path: str) -> str:
    """A disk's finding under that disk's own name: the leading "/dev/sda: " said twice is
    noise ("/dev/sda : " in French, which puts a space before a colon)."""
    return re.sub(rf"^{re.escape(path)}\s?:\s*", "", text)


def findings_text(findings: tuple[Finding, ...], path: str | None = None) -> str:
    texts = [finding.describe() for finding in findings]
    return "; ".join(without_disk(text, path) if path else text for text in texts)


# --- one disk --------------------------------------------------------------------------------


def smart_line(health: HealthPass, path: str) -> str | None:
    """The SMART judgement when it warns or fails; nothing when the data is good (the disk's own
    line already says "SMART: good")."""
    result = health.result_for(SMART_CHECK, path)
    if result is None or result.verdict not in (WARN, FAIL):
        return None
    findings = findings_text(deciding(result), path)
    if result.verdict == FAIL:
        return _("SMART FAILED, replace this disk (it is erased all the same): {findings}").format(
            findings=findings)
    return _("SMART warning: {findings}").format(findings=findings)


def self_test_line(health: HealthPass, path: str) -> str | None:
    """Where the disk's own self-test stands, or how it ended; nothing before it is started
    (a recorded machine, or the workshop turned it off)."""
    progress = _self_test(health, path)
    if progress is None:
        return None
    if progress.state != DONE or progress.result is None:
        if progress.state == RUNNING and progress.percent is not None:
            return _("self-test running: {percent} %").format(percent=progress.percent)
        return _("self-test running")
    result = progress.result
    if result.verdict == PASS:
        return _("self-test passed")
    if result.verdict == FAIL:
        return _("FAILED its self-test: it will be erased, but replace it")
    if result.verdict == NOT_PRESENT:
        return _("this drive has no self-test")
    return _("self-test {verdict}: {findings}").format(
        verdict=verdict_word(result.verdict), findings=findings_text(deciding(result), path))


def disk_health_lines(health: HealthPass, path: str) -> list[str]:
    """The lines under a disk on the machine and disks screens."""
    return [line for line in (smart_line(health, path), self_test_line(health, path)) if line]


def failure_line(health: HealthPass, path: str) -> str | None:
    """What a failing disk's row on the progress screen says under its name."""
    self_test = health.result_for(SELF_TEST_CHECK, path)
    if self_test is not None and self_test.verdict == FAIL:
        return _("FAILED its self-test: replace this disk")
    smart = health.result_for(SMART_CHECK, path)
    if smart is not None and smart.verdict == FAIL:
        return _("its SMART data FAILED: replace this disk")
    return None


def disk_health_reasons(health: HealthPass, path: str) -> list[str]:
    """What the disks screen's "Why" adds for the disk under the cursor: what a failing disk
    means for the donation, and every finding that did not pass, in full."""
    verdict = health.disk_verdict(path)
    if verdict is None:
        return []
    lines = []
    if verdict[0] == FAIL:
        lines.append(_("This disk failed a health check: it is erased all the same, so that its "
                       "data goes, but no system is installed on it. Replace it."))
    for check in DISK_CHECKS:
        result = health.result_for(check, path)
        if result is not None and result.verdict in (WARN, FAIL):
            lines += [finding.describe() for finding in deciding(result)]
    return lines


def waiting_for_self_test(progress: CheckProgress) -> str:
    """A disk's status on the progress screen while the erasure waits for the self-tests."""
    if progress.state == DONE and progress.result is not None:
        return _("self-test {verdict}; waiting for the other disks' self-tests").format(
            verdict=verdict_word(progress.result.verdict))
    if progress.percent is not None:
        return _("self-test {percent} %; the erasure starts after it").format(
            percent=progress.percent)
    return _("self-test running; the erasure starts after it")


def _self_test(health: HealthPass, path: str) -> CheckProgress | None:
    return next((progress for progress in health.snapshot()
                 if progress.check == SELF_TEST_CHECK and progress.subject == path), None)


# --- the machine -------------------------------------------------------------------------------


def platform_locks(health: HealthPass) -> list[Finding]:
    """What stops a donation in the firmware (a password, AMT, Absolute): every finding of the
    platform check that fails. What only limits the machine (no TPM, Secure Boot off) waits for
    the result screen: the first screen keeps its room for the disks."""
    result = health.result_for(platform.CHECK, platform.SUBJECT)
    if result is None:
        return []
    return [finding for finding in result.findings if finding.verdict == FAIL]


def machine_checks(health: HealthPass) -> list[CheckProgress]:
    """The checks beside the erasure (processor, memory, battery), once they are planned."""
    by_check = {progress.check: progress for progress in health.snapshot()
                if progress.check in MACHINE_CHECKS}
    return [by_check[check] for check in MACHINE_CHECKS if check in by_check]


def check_state(progress: CheckProgress) -> str:
    """A machine check's state in words, when no bar says it."""
    if progress.state == DONE and progress.result is not None:
        result = progress.result
        findings = findings_text(deciding(result)) if result.verdict != PASS else ""
        return (_("{verdict}: {findings}").format(verdict=verdict_word(result.verdict),
                                                   findings=findings)
                if findings else verdict_word(result.verdict))
    return _(RUNNING_WORD) if progress.state == RUNNING else _(WAITING_WORD)


# --- the whole pass ------------------------------------------------------------------------------


def result_line(result: CheckResult) -> str:
    """A check that did not pass: its verdict and the findings that decided it (they name the
    part and what was wrong with it; the check's own name when none did)."""
    return _("{verdict}: {findings}").format(
        verdict=verdict_word(result.verdict),
        findings=findings_text(deciding(result)) or check_name(result.check))


def health_summary(results: list[CheckResult]) -> tuple[list[str], list[Finding]]:
    """The result screen's lines: each check that did not pass, worst first, or that all
    passed; with the findings they show, so that the grade's reasons do not say them again."""
    problems = sorted((result for result in results if result.verdict in PROBLEMS),
                      key=lambda result: PROBLEMS.index(result.verdict))
    if not problems:
        # Named, since not every check runs everywhere (a recorded machine gets only its SMART
        # data judged); nothing is said when no check found its part.
        ran = {result.check for result in results if result.verdict == PASS}
        names = [check_name(check) for check in CHECK_NAMES if check in ran]
        names += sorted(check_name(check) for check in ran - CHECK_NAMES.keys())
        if not names:
            return [], []
        return [_("All health checks passed: {checks}.").format(checks=", ".join(names))], []
    lines = [_("Health checks:")] + [f"- {result_line(result)}" for result in problems]
    return lines, [finding for result in problems for finding in deciding(result)]
