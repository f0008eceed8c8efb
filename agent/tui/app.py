"""The walk-through on tty1: one machine's run, screen by screen, keyboard only.

The app holds the run (agent/run/engine.py) and moves between the screens; the run's steps work
in threads (the screen stays alive meanwhile) and tell the app through messages. There is no key
that quits: the end screen's choices (power off, restart, start again) are the way out, and an
error lands on an error screen with the same choices, never on a dead console.

The hub answers the run's live progress with orders, which the app obeys while nobody has
started anything: a network-booted machine the workshop armed counts down on its first screen,
then leaves the walk-through for the unattended run (`armed_for`), unless a key stopped it; and
a finished run whose report went out counts down to switching off, when the workshop asked.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import work
from textual.app import App
from textual.binding import BindingType
from textual.screen import Screen

from agent import flow
from agent.health.keyboard_map import console_layout
from agent.i18n import _
from agent.inventory.hotplug import DiskEvent, DiskEventSink, Stoppable, watch_for_disks
from agent.inventory.model import Disk
from agent.power import Power, SystemPower
from agent.report.sender import OutboxSender, SenderState
from agent.run.engine import Run
from agent.tui.console import use_console_glyphs
from agent.tui.guided_checks import default_guided_screens
from agent.tui.messages import (
    Crashed,
    DiskChanged,
    ErasureDone,
    HubOrdersHeard,
    InstallDone,
    MachineInspected,
    OutboxChanged,
    ReportDone,
)
from agent.tui.screens.armed import ARMED_COUNTDOWN_SECONDS, ArmedErasureScreen
from agent.tui.screens.base import translate_bindings
from agent.tui.screens.confirm import ConfirmScreen
from agent.tui.screens.disks import DisksScreen
from agent.tui.screens.end import (
    AGAIN,
    POWER_OFF,
    QUIT,
    REBOOT,
    SWITCH_OFF_COUNTDOWN_SECONDS,
    CrashScreen,
    EndScreen,
    SwitchOffCountdown,
)
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen
from agent.tui.screens.install import InstallScreen
from agent.tui.screens.machine import MachineScreen
from agent.tui.screens.progress import ProgressScreen
from agent.tui.screens.result import ResultScreen
from agent.tui.screens.who import WhoScreen
from agent.words import disk_title

if TYPE_CHECKING:
    from agent.health.model import CheckResult
    from agent.install.image import OsImage
    from agent.report.progress import ArmedErasure, HubOrders
    from agent.unattended import StatusLine

log = logging.getLogger(__name__)

# How long the result screen waits for the report to reach the platform before it shows what
# happened; the background sender keeps trying afterwards.
DELIVERY_WAIT_SECONDS = 15.0

RunFactory = Callable[[flow.Station], Run]
# A guided check's screen, made with the run's context and its place in the sequence.
GuidedFactory = Callable[[GuidedContext, int, int], GuidedScreen]
SenderFactory = Callable[[flow.Station, Callable[[SenderState], None]], OutboxSender]


class ReeebootApp(App[None], inherit_bindings=False):
    CSS_PATH = Path(__file__).parent / "console.tcss"
    TITLE = "reeeboot"
    ENABLE_COMMAND_PALETTE = False  # volunteers need the keys on the footer, nothing hidden
    BINDINGS: ClassVar[list[BindingType]] = []  # no quit key: see the module's docstring

    def __init__(
        self,
        station: flow.Station,
        *,
        make_run: RunFactory = Run,
        watch_disks: Callable[[DiskEventSink], Stoppable] | None = watch_for_disks,
        start_sender: SenderFactory | None = flow.start_sender,
        power: Power | None = None,
        log_path: Path | None = None,
        crashed: BaseException | None = None,
        status: StatusLine | None = None,
        guided: Sequence[GuidedFactory] | None = None,
        keyboard_layout: str | None = None,
        accept_arming: bool = True,
        countdown_tick: float = 1.0,
    ) -> None:
        """`crashed`: what stopped the previous app (a bug in a screen); this one then opens
        on the error screen. `status`: the machine-readable status lines (the serial port),
        where the walk-through says that its first screen is drawn, for a workshop's serial
        console and for tests that cannot read a frame buffer. `guided`: the guided checks'
        screens in the order they are asked (agent/tui/guided_checks.py by default);
        `keyboard_layout`: the one the keyboard's map shows (the console's, by default).
        `accept_arming`: whether the hub may arm this machine (booted from the network) for
        an unattended erasure; not once such a run started in this boot. `countdown_tick`:
        how long a second of the countdowns lasts (tests make it short)."""
        use_console_glyphs()
        super().__init__()
        translate_bindings(self)
        self.station = station
        self._make_run = make_run
        self._watch_disks = watch_disks
        self._watcher: Stoppable | None = None
        self._start_sender = start_sender
        self.sender: OutboxSender | None = None
        self.power = power or SystemPower()
        self.log_path = log_path
        self.outbox_state = SenderState(station.outbox.count(), None)
        self._accept_arming = accept_arming
        self._countdown_tick = countdown_tick
        self.hub_orders: HubOrders | None = None  # the latest, once the hub answered
        self.armed_for: int | None = None  # the arming whose countdown ran out: run unattended
        self._armings_stopped: set[int] = set()  # by a key: never shown again in this app
        self.current_run = self._new_run()
        self._cancel = threading.Event()
        self._crashed = crashed
        self._status = status
        self.crash: BaseException | None = None  # what stopped this app, for `reeeboot start`
        # A recorded machine (--profile) is not this computer: no one can test its keys.
        self._guided = ([] if station.profile is not None else default_guided_screens()
                        ) if guided is None else list(guided)
        self.keyboard_layout = keyboard_layout or console_layout()
        self._guided_left: list[GuidedFactory] = []
        self._erasure_over = False  # the guided checks that end after it lead to the install
        self._went_on = False  # a person left the first screen: the run is theirs
        self._reported = False  # the run filed its report and tried to send it
        self._kept_on = False  # a key stopped the countdown to switching off

    # --- the app's life -------------------------------------------------------------------

    def on_mount(self) -> None:
        self.theme = "ansi-dark"  # the console's own 16 colours
        if self._start_sender is not None:
            # Reports left from an earlier run (hub down, no network) go out in the background,
            # and whatever this run files later; the screen shows how many still wait.
            # post_message, not call_from_thread: it never waits for the screen, so stopping the
            # sender while the app closes cannot wait on the app's own loop.
            self.sender = self._start_sender(self.station, self._sender_state)
        if self._watch_disks is not None:
            self._watcher = self._watch_disks(self._disk_event)
        if self._crashed is not None:
            self.show_crash(self._crashed)
        else:
            self.begin()
        if self._status is not None:
            self.call_after_refresh(self._status.emit, "screen", name=type(self.screen).__name__)

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
        if self.sender is not None:
            self.sender.stop()
        if self.armed_for is not None:
            self.current_run.hand_over()  # the unattended run goes on with this machine
        else:
            self.current_run.finish()

    def _new_run(self) -> Run:
        run = self._make_run(self.station)
        run.listen_to_hub(self._hub_orders)
        return run

    def begin(self) -> None:
        """A new machine: its first screen, while the inventory runs."""
        self._cancel = threading.Event()
        self._guided_left = list(self._guided)
        self._erasure_over = False
        self._went_on = self._reported = self._kept_on = False
        self._reset_to(MachineScreen())
        self.inspect()

    def _reset_to(self, screen: Screen[None]) -> None:
        """`screen` alone above the base: no way back to the steps before it."""
        while len(self.screen_stack) > 2:
            self.pop_screen()
        if len(self.screen_stack) == 2:
            self.switch_screen(screen)
        else:
            self.push_screen(screen)

    # --- the steps, in threads ------------------------------------------------------------

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """A step that fails unexpectedly ends on the error screen, never silently."""
        try:
            yield
        except Exception as error:
            log.exception("run step failed")
            self.post_message(Crashed(error))

    @work(thread=True, exclusive=True, group="run")
    def inspect(self) -> None:
        with self._guard():
            self.current_run.inspect()
            # The drives test themselves while the volunteer reads the next screens; the
            # erasure waits for their end.
            self.current_run.start_self_tests()
            self.post_message(MachineInspected())

    @work(thread=True, exclusive=True, group="run")
    def _erase_and_check(self) -> None:
        with self._guard():
            self.current_run.erase(self._cancel)
            cancelled = self._cancel.is_set()
            if not cancelled:
                self.current_run.check_health()
            self.post_message(ErasureDone(cancelled))

    @work(thread=True, exclusive=True, group="run")
    def _prepare_install(self) -> None:
        with self._guard():
            images, problems = self.current_run.images()
            proposal = self.current_run.install_proposal()
            self.call_from_thread(self._reset_to, InstallScreen(images, problems, proposal))

    @work(thread=True, exclusive=True, group="run")
    def _install(self, image: OsImage, target: Disk, reason: str) -> None:
        with self._guard():
            self.current_run.install(image, target, reason)
            self.post_message(InstallDone())

    @work(thread=True, exclusive=True, group="run")
    def _report(self) -> None:
        with self._guard():
            self.current_run.file_report()
            delivery = self.current_run.deliver(self.sender, DELIVERY_WAIT_SECONDS)
            self.post_message(ReportDone(delivery))

    # --- going from screen to screen (called by the screens) ------------------------------

    def show_who(self) -> None:
        self._went_on = True
        self.push_screen(WhoScreen())

    def show_disks(self) -> None:
        self.push_screen(DisksScreen())

    def show_confirm(self) -> None:
        self.push_screen(ConfirmScreen())

    def start_erasure(self) -> None:
        self._reset_to(ProgressScreen(self._cancel))
        self._erase_and_check()

    # --- the guided checks: beside the erasure, or after it -------------------------------

    def guided_checks_left(self) -> int:
        return len(self._guided_left)

    def start_guided_checks(self) -> None:
        """The next guided check not answered yet, over the progress screen; after the last,
        back to the erasure's progress, or on to the install if the erasure is over."""
        if self._guided_check_shown():
            return  # one at a time: a second key press while one shows does nothing
        if not self._guided_left:
            if self._erasure_over:
                self._prepare_install()
            return
        number = len(self._guided) - len(self._guided_left) + 1
        run = self.current_run
        context = GuidedContext(operator=run.choices.operator, machine=run.machine,
                                keyboard_layout=self.keyboard_layout)
        self.push_screen(self._guided_left[0](context, number, len(self._guided)),
                         self._guided_answered)

    def _guided_check_shown(self) -> bool:
        """A guided check is on the screen, or under a question it asks."""
        return any(isinstance(screen, GuidedScreen) for screen in self.screen_stack)

    def _guided_answered(self, result: CheckResult | None) -> None:
        if result is not None:
            self.current_run.health.record_answer(result)
            self._guided_left.pop(0)
        self.start_guided_checks()

    def start_install(self, image: OsImage, target: Disk, reason: str) -> None:
        self._install(image, target, reason)

    def file_report(self) -> None:
        self._report()

    def show_end(self, notice: list[str] | None = None) -> None:
        self._reset_to(EndScreen(notice))

    def installed_boot_entry(self) -> str | None:
        """The firmware entry of the system just installed ("" on a BIOS); None if none is."""
        installed = self.current_run.installed
        if installed is None or installed.result != "installed":
            return None
        bootloader = installed.bootloader
        return (bootloader.efi_entry or "") if bootloader is not None else ""

    def end_with(self, choice: str) -> None:
        if choice == AGAIN:
            self.current_run.finish()
            self.current_run = self._new_run()
            self.begin()
        elif choice == QUIT or (self.station.profile is not None and choice != AGAIN):
            self.exit()  # a recorded machine: this computer is not switched off
        elif choice == POWER_OFF:
            self.power.power_off()
        elif choice == REBOOT:
            self.power.reboot(self.installed_boot_entry() or None)

    # --- what the workers and the system say ----------------------------------------------

    def on_machine_inspected(self, message: MachineInspected) -> None:
        screen = self.screen
        if isinstance(screen, MachineScreen):
            screen.show_machine()
        elif isinstance(screen, DisksScreen):
            screen.refresh_disks()

    def on_erasure_done(self, message: ErasureDone) -> None:
        if message.cancelled:
            self.current_run.finish(keep_in_touch=True)
            self.show_end([_("The erasure was stopped. Nothing was reported: the next erasure "
                             "of these disks resumes where it stopped.")])
            return
        # The guided checks not answered during the erasure come now, before the install;
        # one that shows already leads on to the others, then to the install.
        self._erasure_over = True
        if not self._guided_check_shown():
            self.start_guided_checks()

    def on_install_done(self, message: InstallDone) -> None:
        screen = self.screen
        if isinstance(screen, InstallScreen):
            screen.redraw()

    def on_report_done(self, message: ReportDone) -> None:
        # The machine stays on the hub's board, and hears its orders, until it is switched off
        # or started again.
        self.current_run.finish(keep_in_touch=True)
        self._reported = True
        self._reset_to(ResultScreen(message.delivery))
        self._switch_off_if_asked()

    def _disk_event(self, event: DiskEvent) -> None:
        """Called in the disk watcher's thread."""
        self.post_message(DiskChanged(event))

    def _hub_orders(self, orders: HubOrders) -> None:
        """Called in the live progress's thread."""
        self.post_message(HubOrdersHeard(orders))

    def _sender_state(self, state: SenderState) -> None:
        """Called in the sender's thread."""
        self.post_message(OutboxChanged(state))

    def on_outbox_changed(self, message: OutboxChanged) -> None:
        self.outbox_state = message.state
        screen = self.screen
        if isinstance(screen, MachineScreen | EndScreen):
            screen.show_outbox(message.state)
        self._switch_off_if_asked()  # the report that kept the machine on went out

    # --- the hub's orders -----------------------------------------------------------------

    def on_hub_orders_heard(self, message: HubOrdersHeard) -> None:
        orders: HubOrders = message.orders
        self.hub_orders = orders
        if not self.screen_stack:
            return  # the app is closing: the answer to its last progress came late
        if orders.unattended is not None:
            self._count_down_to_erasure(orders.unattended)
        self._switch_off_if_asked()

    def may_be_armed(self) -> bool:
        """Whether an arming is obeyed now: a machine booted from the network (a stick has its
        own unattended switch), on its first screen, the machine looked at, and nothing started
        or chosen by a person yet."""
        run = self.current_run
        return (self._accept_arming and self.station.network_boot is not None
                and self.station.profile is None and self.armed_for is None
                and isinstance(self.screen, MachineScreen) and not self._went_on
                and run.machine is not None and run.identity_problem is None
                and not run.erasures)

    def _count_down_to_erasure(self, armed: ArmedErasure) -> None:
        if armed.expires_in_seconds <= 0 or armed.arming in self._armings_stopped \
                or not self.may_be_armed():
            return  # not told to the hub: it keeps offering the arming, which is harmless
        disks = [f"  {plan.path}  {disk_title(plan.disk)}" for plan in self.current_run.to_erase()]
        seconds = ARMED_COUNTDOWN_SECONDS
        self.current_run.tell_hub_arming(armed.arming, "countdown")
        self._status_line("armed", arming=armed.arming, seconds=seconds)
        self.push_screen(ArmedErasureScreen(disks, seconds, tick=self._countdown_tick),
                         partial(self._armed_countdown_over, armed.arming))

    def _armed_countdown_over(self, arming: int, ran_out: bool | None) -> None:
        if not ran_out:  # a key: this arming is done with, the walk-through goes on
            self._armings_stopped.add(arming)
            self.current_run.tell_hub_arming(arming, "stopped")
            self._status_line("arming_stopped", arming=arming)
            return
        self.current_run.tell_hub_arming(arming, "started")
        self._status_line("arming_started", arming=arming)
        self.armed_for = arming
        self.exit()  # `reeeboot start` runs the unattended run (agent/tui/start.py)

    def _switch_off_if_asked(self) -> None:
        """The workshop asked for its machines to switch off at the end: once the run filed its
        report and the outbox is empty (a report still waiting keeps the machine on: switched
        off, a network-booted machine would lose it), a countdown over the result or end
        screen, which a key stops."""
        orders = self.hub_orders
        if orders is None or not orders.power_off_at_end or not self._reported \
                or self._kept_on or self.station.profile is not None or not self.screen_stack:
            return
        screen = self.screen
        if not isinstance(screen, ResultScreen | EndScreen) or isinstance(screen, CrashScreen):
            return  # the countdown already shows, or an error took over
        if self.station.outbox.count():
            return
        seconds = SWITCH_OFF_COUNTDOWN_SECONDS
        self._status_line("power_off_countdown", seconds=seconds)
        self.push_screen(SwitchOffCountdown(seconds, tick=self._countdown_tick),
                         self._switch_off_countdown_over)

    def _switch_off_countdown_over(self, ran_out: bool | None) -> None:
        if ran_out:
            self.end_with(POWER_OFF)
            return
        self._kept_on = True
        self._status_line("power_off_stopped")

    def _status_line(self, event: str, **fields: object) -> None:
        if self._status is not None:
            self._status.emit(event, **fields)

    def on_disk_changed(self, message: DiskChanged) -> None:
        """A disk was plugged in or pulled out: say so, and look again before the erasure."""
        event: DiskEvent = message.event
        text = (_("New disk: {path}") if event.action == "appeared"
                else _("Disk removed: {path}")).format(path=event.path)
        self.notify(text, timeout=8, markup=False)
        if isinstance(self.screen, MachineScreen | WhoScreen | DisksScreen):
            self.inspect()

    def on_crashed(self, message: Crashed) -> None:
        self.show_crash(message.error)

    def show_crash(self, error: BaseException) -> None:
        where = str(self.log_path) if self.log_path else _("no log file (no data partition)")
        notice = [_("Something unexpected stopped the run: {error}").format(
                      error=" ".join(str(error).split())[:300] or type(error).__name__),
                  _("The details are in the log: {path}").format(path=where),
                  _("No disk was erased without your confirmation.")]
        self._reset_to(CrashScreen(notice))

    def _handle_exception(self, error: Exception) -> None:
        """A bug in a screen stops Textual's handling of that screen's messages, so the app
        ends here; `reeeboot start` opens a new one on the error screen (agent/tui/start.py)."""
        log.error("screen failed:\n%s", "".join(traceback.format_exception(error)))
        self.crash = error
        super()._handle_exception(error)
