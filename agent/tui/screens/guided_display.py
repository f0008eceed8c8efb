"""Guided check: the screen. Full-screen colours one after the other (red, green, blue, white,
black, then a fine pattern) show dead or stuck pixels, lines, dark or bright patches, and light
leaking at the edges (seen on black). Nothing else is drawn while a colour fills the screen.
After the last one the volunteer says whether they saw a defect, and which.

The console has 16 colours for text but 8 for backgrounds (PAGES says how each page is drawn).
The pattern is the VGA font's medium shade (code page 437, 0xB1), whose glyph alternates single
pixels: the finest pattern the text console can draw."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.binding import Binding, BindingType
from textual.widget import Widget
from textual.widgets import Static

from agent.health import guided
from agent.health.model import FAIL, Finding
from agent.i18n import N_, LocalWords, _
from agent.tui.console import plain
from agent.tui.screens.base import ENTER, SPACE
from agent.tui.screens.dialogs import Choice
from agent.tui.screens.guided_base import GuidedContext, GuidedScreen

PATTERN = "pattern"
# The pages in the order shown: the background colour, and the glyph that fills the page over it
# with its colour, if any. The Linux console has 8 background colours, its bright ones are for
# text only: red, green and blue are backgrounds (full hues, no other sub-pixel lit), white is
# full blocks in bright white (the background's white is grey), the pattern is drawn on black.
PATTERN_GLYPH = "\u2592"  # medium shade: the font alternates single pixels
FULL_BLOCK = "\u2588"
PAGES = {"red": ("ansi_red", None), "green": ("ansi_green", None),
         "blue": ("ansi_blue", None), "white": ("ansi_white", FULL_BLOCK),
         "black": ("ansi_black", None), PATTERN: ("ansi_black", PATTERN_GLYPH)}
GLYPH_COLOUR = "ansi_bright_white"
# What the volunteer may have seen, by the code the report keeps.
DEFECTS = {
    "dead_pixels": N_("dead or stuck pixels"),
    "lines": N_("lines"),
    "uneven_light": N_("spots or uneven light"),
    "edge_light": N_("light at the edges"),
}


class ColourPage(Widget):
    """The whole screen in one colour, or the pattern: nothing else on it."""

    DEFAULT_CSS = """
    ColourPage {
        width: 1fr;
        height: 1fr;
    }
    """

    def __init__(self) -> None:
        super().__init__(id="colour")
        self.page = "red"

    def show(self, page: str) -> None:
        self.page = page
        self.styles.background = PAGES[page][0]
        self.styles.color = GLYPH_COLOUR
        self.refresh()

    def render(self) -> RenderResult:
        glyph = PAGES[self.page][1]
        if glyph is None:
            return Text()
        width, height = self.size
        return Text("\n".join([glyph * width] * height), no_wrap=True)


class DisplayScreen(GuidedScreen):
    CHECK = guided.DISPLAY
    NAME = N_("the screen")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "next", N_("Continue"), key_display=ENTER),
        Binding("space", "again", N_("Next colour"), key_display=SPACE, show=False),
        Binding("n,N", "defect", N_("I saw a defect"), key_display="n"),
    ]
    DEFAULT_CSS = """
    DisplayScreen ColourPage {
        display: none;
    }
    DisplayScreen.colour ColourPage {
        display: block;
    }
    DisplayScreen.colour StepTitle, DisplayScreen.colour Footer,
    DisplayScreen.colour #explanation {
        display: none;
    }
    """

    def __init__(self, context: GuidedContext, number: int, count: int) -> None:
        super().__init__(context, number, count)
        self.shown: list[str] = []  # the pages shown so far, in order

    def compose_body(self) -> ComposeResult:
        yield Static(plain(self.explanation()), id="explanation", classes="text", markup=False)
        yield ColourPage()

    @staticmethod
    def explanation() -> str:
        return "\n".join((
            _("The screen will be filled with one colour after the other: red, green, blue, "
              "white, black, then a fine pattern. Look closely at each one for:"),
            "",
            _("  - dots that stay black or stay lit (dead or stuck pixels);"),
            _("  - lines across the screen;"),
            _("  - darker or brighter patches;"),
            _("  - on black: light leaking in at the edges."),
            "",
            _("Space or Enter: next colour. N: you saw a defect. Esc: skip this test."),
        ))

    def action_next(self) -> None:
        """Enter or Space: the next page; after the last one, the question. Once the pages were
        all seen, Enter asks the question again and Space shows the pages again."""
        if len(self.shown) == len(PAGES) and not self.has_class("colour"):
            self.ask()
        else:
            self.turn_page()

    def action_again(self) -> None:
        if len(self.shown) == len(PAGES) and not self.has_class("colour"):
            self.shown.clear()
        self.turn_page()

    def turn_page(self) -> None:
        if len(self.shown) == len(PAGES):
            self.remove_class("colour")
            self.ask()
            return
        page = list(PAGES)[len(self.shown)]
        self.shown.append(page)
        self.query_one(ColourPage).show(page)
        self.add_class("colour")

    def action_defect(self) -> None:
        self.choose_defect()

    def ask(self) -> None:
        self.query_one("#explanation", Static).update(plain(self.ended()))
        self.app.push_screen(Choice(
            _("The screen"),
            _("Did you see a dead pixel, a line, a spot or light leaking at the edges?"),
            [("no", _("No, the screen is clean")), ("yes", _("Yes"))]), self.answered)

    @staticmethod
    def ended() -> str:
        return "\n".join((
            _("That was the last colour."), "",
            _("Enter: answer the question. Space: see the colours again. Esc: skip this test.")))

    def answered(self, answer: str | None) -> None:
        if answer == "no":
            self.finish_passed({"patterns": list(self.shown)})
        elif answer == "yes":
            self.choose_defect()

    def choose_defect(self) -> None:
        kinds = [(code, sentence_case(_(words))) for code, words in DEFECTS.items()]
        self.app.push_screen(Choice(_("The screen"), _("What did you see?"), kinds),
                             self.defect_chosen)

    def defect_chosen(self, defect: str | None) -> None:
        if defect not in DEFECTS:
            return  # Esc: back to the page or the question's screen
        finding = Finding.of("display_defect", FAIL, N_("The screen shows a defect: {defect}"),
                             defect=LocalWords((DEFECTS[defect],)))
        self.finish_failed(finding, {"patterns": list(self.shown), "defect": defect})


def sentence_case(words: str) -> str:
    """A label that starts a line: "Lines"."""
    return words[:1].upper() + words[1:]
