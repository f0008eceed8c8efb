"""Guided check: the USB ports. The volunteer plugs a device (a mouse, a key) into each USB port
in turn; each port where a device appears is listed with the device's name and speed. Devices
there from the start (the reeeboot stick, the keyboard) are listed as already in use: their
ports work. udev reports the devices from its own thread (agent/health/usb_ports.py); they
reach the screen as messages, which never wait for it."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from agent.health import guided
from agent.health.model import FAIL, Finding
from agent.health.usb_ports import (
    PortSeen,
    PortTally,
    UsbEvent,
    UsbWatch,
    WatchUsb,
    usb_generation,
    watch_usb_ports,
)
from agent.i18n import N_, LocalWords, _
from agent.tui.console import plain, printable
from agent.tui.screens.base import ENTER
from agent.tui.screens.dialogs import Choice
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen

# How many ports did not answer, as the volunteer counts them: the report keeps the key.
NOT_ANSWERING = {"1": N_("1 port"), "2": N_("2 ports"), "3+": N_("3 ports or more")}
PORT_MARK = "\u25a0"  # a filled square: the port answered


class UsbPortsScreen(GuidedScreen):
    CHECK = guided.USB_PORTS
    NAME = N_("the USB ports")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "works", N_("Every port answered"), key_display=ENTER),
        Binding("n,N", "dead", N_("A port did not answer"), key_display="n"),
    ]

    class Seen(Message):
        """A device plugged in or pulled out, from udev's thread."""

        def __init__(self, event: UsbEvent) -> None:
            super().__init__()
            self.event = event

    def __init__(self, context: GuidedContext, number: int, count: int, *,
                 watch: WatchUsb = watch_usb_ports) -> None:
        super().__init__(context, number, count)
        self._watch = watch
        self._watcher: UsbWatch | None = None
        self.tally = PortTally()

    def compose_body(self) -> ComposeResult:
        yield Static(plain(_("Plug a device (a mouse, a USB key, a keyboard) into each USB port "
                             "of the machine, one port after the other, and wait a few seconds "
                             "each time. Every port that answers appears below. Leave the "
                             "reeeboot stick where it is.")),
                     classes="text", markup=False)
        with VerticalScroll(id="ports", classes="list") as ports:
            ports.border_title = _("USB ports that answered")
            ports.can_focus = False
        yield Static("", id="status", classes="text", markup=False)

    def on_mount(self) -> None:
        try:
            self._watcher = self._watch(self.from_udev)
        except (OSError, ImportError):
            # No udev to listen to (a container): the volunteer can only skip.
            self.say(_("The USB ports cannot be watched on this system. Esc: skip this test."),
                     "error")
            return
        self.tally = PortTally(self._watcher.present)
        self.show_ports()

    def on_unmount(self) -> None:
        if self._watcher is not None:
            self._watcher.stop()
            self._watcher = None

    def from_udev(self, event: UsbEvent) -> None:
        """Called on udev's thread: posting never waits for the screen."""
        self.post_message(self.Seen(event))

    def on_usb_ports_screen_seen(self, message: Seen) -> None:
        if self.tally.seen(message.event):
            self.show_ports()

    # --- what it shows ----------------------------------------------------------------------

    def show_ports(self) -> None:
        frame = self.query_one("#ports", VerticalScroll)
        frame.remove_children()
        ports = self.tally.ports()
        frame.mount_all([Static(plain(self.port_line(port)), markup=False,
                                classes="text" if port.in_use_at_start else "text good")
                         for port in ports])
        if ports:
            frame.scroll_end(animate=False)
        new = len(self.tally.new_ports())
        self.say(_("Ports that answered: {count} ({new} of them since this test began).").format(
            count=len(ports), new=new), "")

    @staticmethod
    def port_line(port: PortSeen) -> str:
        if port.in_use_at_start:
            state = _("already in use")
        elif port.plugged:
            state = _("answered")
        else:
            state = _("answered, unplugged")
        product = printable(port.product)
        return f"{PORT_MARK} {port.port:<9} {usb_generation(port.speed_mbps):<6} {product}  " \
               f"({state})"


    # --- the answers ------------------------------------------------------------------------

    def action_works(self) -> None:
        if not self.tally.ports():
            self.say(_("Nothing was plugged in yet: plug a device into each port, or press Esc "
                       "to skip this test."), "warning")
            return
        self.finish_passed(self.tally.measured())

    def action_dead(self) -> None:
        self.app.push_screen(Choice(
            _("The USB ports"), _("How many ports did not answer?"),
            [(key, _(words)) for key, words in NOT_ANSWERING.items()]), self.dead_counted)

    def dead_counted(self, key: str | None) -> None:
        if key not in NOT_ANSWERING:
            return  # Esc: back to the ports
        finding = Finding.of("usb_port_dead", FAIL,
                             N_("USB ports that did not answer: {count}"),
                             count=LocalWords((NOT_ANSWERING[key],)))
        self.finish_failed(finding, {**self.tally.measured(), "ports_not_answering": key})
