"""Guided check: the sound. A tone plays in the left speaker, then in the right one, and the
volunteer says each time whether it was heard; then a meter shows what the microphone hears
while the volunteer speaks or claps. One result for the whole check; its hardware side
(the cards, the tones, the meter) is agent/health/sound.py."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static

from agent.health import guided
from agent.health.model import FAIL, NOT_PRESENT, PASS, Finding, worst
from agent.health.sound import (
    HEARD_DBFS,
    LEFT,
    RIGHT,
    Arecord,
    MicrophoneMeter,
    PcmDevice,
    Player,
    Recorder,
    SoundHardware,
    bar,
    find_sound,
    play_tone,
    set_mixer,
)
from agent.i18n import N_, _, number
from agent.runner import CommandNotFound, CommandRecord
from agent.tui.console import plain, printable
from agent.tui.screens.base import ENTER
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen

# What the screen is asking, in order.
ABSENT, TOOLS_MISSING, SPEAKER_LEFT, SPEAKER_RIGHT, MICROPHONE, NO_MICROPHONE = (
    "absent", "tools_missing", LEFT, RIGHT, "microphone", "no_microphone")
HEARD, NOT_HEARD = "heard", "not_heard"
METER_SECONDS = 0.1
METER_WIDTH = 60  # cells of the level bar, for -60 to 0 dBFS: one cell a decibel
METER_FLOOR_DBFS = -60.0
FULL, EMPTY = "\u2588", "\u2591"  # █ ░

# Which answers each question takes: its actions (Enter and "n", and "r" to play again).
_ACTIONS = {
    ABSENT: ("none_present", "not_found"),
    TOOLS_MISSING: (),
    SPEAKER_LEFT: ("heard", "not_heard", "replay"),
    SPEAKER_RIGHT: ("heard", "not_heard", "replay"),
    MICROPHONE: ("microphone_works", "microphone_silent"),
    NO_MICROPHONE: ("none_present", "not_found"),
}
_ALL_ACTIONS = {action for actions in _ACTIONS.values() for action in actions}

SIDE_WORDS = {LEFT: N_("LEFT"), RIGHT: N_("RIGHT")}


class SoundScreen(GuidedScreen):
    CHECK = guided.SOUND
    NAME = N_("the sound")
    # Several bindings share a key: `check_action` enables those of the current question, and
    # the keys' line shows the first enabled one.
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "heard", N_("Heard it"), key_display=ENTER),
        Binding("n", "not_heard", N_("Not heard")),
        Binding("r", "replay", N_("Play again")),
        Binding("enter", "microphone_works", N_("The microphone works"), key_display=ENTER),
        Binding("n", "microphone_silent", N_("It does not work")),
        Binding("enter", "none_present", N_("Right, it has none"), key_display=ENTER),
        Binding("n", "not_found", N_("It has one, but it is not found")),
    ]

    def __init__(self, context: GuidedContext, number: int, count: int, *,
                 find: Callable[[], SoundHardware] = find_sound,
                 mixer: Callable[[int], list[CommandRecord]] = set_mixer,
                 player: Player = play_tone, recorder: Recorder = Arecord) -> None:
        super().__init__(context, number, count)
        self._find, self._mixer, self._player, self._recorder = find, mixer, player, recorder
        self.hardware = SoundHardware()
        self.question = ABSENT
        self.answers: dict[str, str | None] = {LEFT: None, RIGHT: None}
        self.findings: list[Finding] = []
        self.meter: MicrophoneMeter | None = None
        self.plays = 0  # tones played, for the tests to wait on
        self._playing = threading.Lock()  # one tone at a time: the device takes one stream
        self._mixer_set = False

    # --- what it shows ----------------------------------------------------------------------

    def compose_body(self) -> ComposeResult:
        self.hardware = self._find()
        yield Static("", id="card", classes="text", markup=False)
        yield Static("", id="ask", classes="panel", markup=False)
        yield Static("", id="meter", classes="text hidden", markup=False)
        yield Static("", id="status", classes="text", markup=False)

    def on_mount(self) -> None:
        hardware = self.hardware
        self.evidence.extend(hardware.evidence)
        if hardware.tools_missing:
            self.ask(TOOLS_MISSING)
        elif not hardware.present:
            self.ask(ABSENT)
        else:
            name = hardware.card_name or ""
            self.query_one("#card", Static).update(plain(
                _("Sound card: {card}").format(card=printable(name))))
            if hardware.speaker is None:
                self.findings.append(Finding.of(
                    "speakers_not_present", NOT_PRESENT,
                    N_("The sound card shows no output for speakers")))
                self.ask_microphone()
            else:
                self.ask(SPEAKER_LEFT)

    def on_unmount(self) -> None:
        if self.meter is not None:
            self.meter.stop()

    def ask(self, question: str) -> None:
        self.question = question
        ask = self.query_one("#ask", Static)
        ask.border_title = plain(self.question_title())
        ask.update(plain(self.question_text()))
        self.query_one("#meter", Static).set_class(question != MICROPHONE, "hidden")
        self.say("", "")
        self.refresh_bindings()
        if question in (SPEAKER_LEFT, SPEAKER_RIGHT):
            self.play(question)
        elif question == MICROPHONE:
            self.listen()

    def question_title(self) -> str:
        return {ABSENT: _("No sound card"), TOOLS_MISSING: _("The sound cannot be tested"),
                SPEAKER_LEFT: _("Left speaker"), SPEAKER_RIGHT: _("Right speaker"),
                MICROPHONE: _("Microphone"), NO_MICROPHONE: _("No microphone")}[self.question]

    def question_text(self) -> str:
        question = self.question
        if question == TOOLS_MISSING:
            return _("The sound programs (alsa-utils) are not on this system. Press Esc to "
                     "skip this test.")
        if question == ABSENT:
            text = _("This computer shows no sound card. Does it really have none (no "
                     "speaker, no headphone socket)?")
            if self.hardware.undriven_chips:
                text += "\n\n" + _(
                    "It has a sound chip ({chips}) that this system cannot drive, as on many "
                    "recent laptops: press Esc to skip this test rather than answer.").format(
                    chips=", ".join(self.hardware.undriven_chips))
            return text
        if question in (SPEAKER_LEFT, SPEAKER_RIGHT):
            return _("A tone plays in the {side} speaker only (on a computer without speakers: "
                     "plug headphones or speakers into its socket).\n\nDid you hear it, and "
                     "only on that side?").format(side=_(SIDE_WORDS[question]))
        if question == MICROPHONE:
            device = self.hardware.microphone
            return _("Speak or clap near the computer's microphone ({device}). The bar shows "
                     "what it hears.").format(device=printable(device.name if device else ""))
        return _("This computer shows no microphone. Does it really have none (no built-in "
                 "microphone, no microphone socket)?")


    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in _ALL_ACTIONS:
            return action in _ACTIONS[self.question]
        return True

    # --- the speakers -----------------------------------------------------------------------

    def play(self, side: str) -> None:
        speaker = self.hardware.speaker
        if speaker is None:
            return
        self.say(_("Playing the tone..."), "hint")
        self.run_worker(lambda: self._play(speaker, side), thread=True, group="tone")

    def _play(self, speaker: PcmDevice, side: str) -> None:
        """On a worker thread: the mixer once, then the tone (aplay waits for its end)."""
        with self._playing:
            mixer: list[CommandRecord] = []
            if not self._mixer_set:
                self._mixer_set = True
                mixer = self._mixer(speaker.card)
            try:
                record = self._player(speaker, side)
            except CommandNotFound as missing:
                record = CommandRecord((missing.program,), -1, "", "not installed", 0.0)
            with contextlib.suppress(RuntimeError):  # the app ended meanwhile
                self.app.call_from_thread(self.played, side, record, mixer)

    def played(self, side: str, record: CommandRecord,
               mixer: list[CommandRecord] | None = None) -> None:
        self.evidence.extend([*(mixer or ()), record])
        self.plays += 1
        if side != self.question or not self.is_mounted:
            return  # answered, or left, before the tone ended
        if record.returncode != 0:
            self.say(_("The tone could not be played: {error}").format(
                error=printable(last_words(record))), "error")
        else:
            self.say(_("Press r to play it again."), "hint")

    def action_replay(self) -> None:
        self.play(self.question)

    def action_heard(self) -> None:
        self.answer_speaker(HEARD)

    def action_not_heard(self) -> None:
        self.answer_speaker(NOT_HEARD)

    def answer_speaker(self, answer: str) -> None:
        side = self.question
        self.answers[side] = answer
        if answer == NOT_HEARD:
            code = "sound_left_silent" if side == LEFT else "sound_right_silent"
            message = (N_("The left speaker was not heard") if side == LEFT
                       else N_("The right speaker was not heard"))
            self.findings.append(Finding.of(code, FAIL, message))
        if side == LEFT:
            self.ask(SPEAKER_RIGHT)
        else:
            self.ask_microphone()

    # --- the microphone ---------------------------------------------------------------------

    def ask_microphone(self) -> None:
        self.ask(MICROPHONE if self.hardware.microphone is not None else NO_MICROPHONE)

    def listen(self) -> None:
        device = self.hardware.microphone
        assert device is not None
        self.meter = MicrophoneMeter(self._recorder, device)
        self.meter.start()
        self.show_level()
        self.set_interval(METER_SECONDS, self.show_level)

    def show_level(self) -> None:
        meter = self.meter
        if meter is None or self.question != MICROPHONE:
            return
        filled = bar(meter.level_dbfs, METER_WIDTH, METER_FLOOR_DBFS)
        mark = bar(HEARD_DBFS, METER_WIDTH, METER_FLOOR_DBFS)
        lines = [FULL * filled + EMPTY * (METER_WIDTH - filled),
                 " " * (mark - 1) + "^ " + _("{level} dBFS: heard").format(
                     level=number(HEARD_DBFS))]
        self.query_one("#meter", Static).update(plain("\n".join(lines)))
        if meter.error:
            self.say(_("The microphone cannot be recorded: {error}").format(
                error=printable(meter.error)), "error")
        elif meter.heard:
            self.say(_("Heard! Loudest: {peak} dBFS. Does it follow your voice?").format(
                peak=number(meter.peak_dbfs or 0)), "good")
        elif meter.peak_dbfs is not None:
            self.say(_("Nothing heard yet (loudest: {peak} dBFS).").format(
                peak=number(meter.peak_dbfs)), "warning")
        else:
            self.say(_("Listening..."), "hint")

    def action_microphone_works(self) -> None:
        self.finish()

    def action_microphone_silent(self) -> None:
        self.findings.append(Finding.of("microphone_silent", FAIL,
                                        N_("The microphone did not hear anything")))
        self.finish()

    # --- no card, no microphone -------------------------------------------------------------

    def action_none_present(self) -> None:
        if self.question == ABSENT:
            self.finish_absent(Finding.of("sound_not_present", NOT_PRESENT,
                                          N_("The computer has no sound card")))
            return
        self.findings.append(Finding.of("microphone_not_present", NOT_PRESENT,
                                        N_("The computer has no microphone")))
        self.finish()

    def action_not_found(self) -> None:
        if self.question == ABSENT:
            self.finish_failed(Finding.of(
                "sound_not_found", FAIL,
                N_("The computer has sound, but no sound card was found")),
                self.measured())
            return
        self.findings.append(Finding.of(
            "microphone_not_found", FAIL,
            N_("The computer has a microphone, but it was not found")))
        self.finish()

    # --- the result -------------------------------------------------------------------------

    def measured(self) -> dict[str, Any]:
        peak = None if self.meter is None else self.meter.peak_dbfs
        speaker, microphone = self.hardware.speaker, self.hardware.microphone
        return {"card": self.hardware.card_name,
                "speaker_device": None if speaker is None else speaker.name,
                "microphone_device": None if microphone is None else microphone.name,
                "left": self.answers[LEFT], "right": self.answers[RIGHT],
                "microphone_peak_dbfs": None if peak is None else round(peak, 1),
                "microphone_heard_at_dbfs": HEARD_DBFS,
                "undriven_chips": list(self.hardware.undriven_chips)}

    def finish(self) -> None:
        """Every part's answer in one result: what was tested and worked counts as a pass, so a
        missing microphone alone (not_present) says nothing against working speakers."""
        if self.meter is not None and (record := self.meter.stop()) is not None:
            self.evidence.append(record)
        tested = [self.answers[LEFT], self.answers[RIGHT]]
        if self.question == MICROPHONE:
            tested.append(NOT_HEARD if any(finding.code == "microphone_silent"
                                           for finding in self.findings) else HEARD)
        verdicts = [finding.verdict for finding in self.findings]
        if HEARD in tested:
            verdicts.append(PASS)
        self.finish_with(tuple(self.findings), self.measured(),
                         verdict=worst(verdicts) if verdicts else PASS)


def last_words(record: CommandRecord) -> str:
    lines = [line.strip() for line in record.stderr.splitlines() if line.strip()]
    return lines[-1] if lines else f"exit status {record.returncode}"
