"""Lookup input: an Input with a drop-down of matches that filters as you type.

Up/Down move the highlight, Enter takes the highlighted match (posting :class:`LookupInput.Picked`),
Esc closes the list. The list floats over the form (``overlay: screen``) so it never pushes fields
around, and every label is plain text (user data is never markup).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Static

from .form_input import FormInput

__all__ = ["LookupInput", "Match", "MatchList"]


@dataclass(frozen=True)
class Match:
    """One candidate: the text shown, and the value handed back when it is taken."""

    label: str
    value: Any


class MatchList(Static, can_focus=False):
    """The floating list of matches under a lookup input (never takes focus: typing stays put).

    A fixed-size Static rather than an OptionList: showing new matches repaints only the list,
    where an OptionList re-lays-out the whole screen on every change (the lookup is per keystroke).
    """

    DEFAULT_CSS = """
    MatchList {
        overlay: screen;
        constrain: none inside;
        visibility: hidden;
        width: 66;
        height: 5;
        background: $panel;
        color: $text;
    }
    """

    ROWS = 5  # the patient list covers the provider row and the diagnoses, never the lines

    def __init__(self, id: str | None = None) -> None:
        super().__init__("", markup=False, id=id)
        self.labels: list[str] = []
        self._highlighted: int | None = None
        self._shown = False
        #: Told when the list shows (True) or hides: a screen can blank what would show through at
        #: its right, past the list's 66 columns (a wider list delays the first frame ~150 ms).
        self.on_shown: Callable[[bool], None] | None = None

    @property
    def shown(self) -> bool:
        return self._shown

    @shown.setter
    def shown(self, value: bool) -> None:
        # The inline style, not a class: a class change waits for the app's next stylesheet
        # pass before the screen even schedules its layout (two frames later, ~30 ms).
        if value != self._shown:
            self._shown = value
            self.styles.visibility = "visible" if value else "hidden"
            if self.on_shown is not None:
                self.on_shown(value)

    @property
    def highlighted(self) -> int | None:
        return self._highlighted

    @highlighted.setter
    def highlighted(self, index: int | None) -> None:
        self._highlighted = index
        self._paint()

    def set_labels(self, labels: Sequence[str]) -> None:
        self.labels = list(labels)[: self.ROWS]
        self._highlighted = 0 if self.labels else None
        self._paint()

    def _paint(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, label in enumerate(self.labels):
            if i:
                text.append("\n")
            text.append(f" {label}", style="reverse" if i == self._highlighted else "")
        self.update(text, layout=False)


class LookupInput(FormInput):
    """An Input whose owner fills :attr:`matches` (e.g. from a worker); Enter takes the highlight."""

    BINDINGS = [
        Binding("down", "move(1)", "Next match", show=False),
        Binding("up", "move(-1)", "Previous match", show=False),
        Binding("escape", "close", "Close list", show=False),
    ]

    class Picked(Message):
        """The clerk took a match (Enter on a highlighted one)."""

        def __init__(self, lookup: LookupInput, match: Match) -> None:
            super().__init__()
            self.lookup = lookup
            self.match = match

        @property
        def control(self) -> LookupInput:
            return self.lookup

    def __init__(self, value: str = "", *, list_id: str | None = None, **kwargs) -> None:
        super().__init__(value, **kwargs)
        self._matches: list[Match] = []
        self.match_list = MatchList(id=list_id)

    @property
    def matches(self) -> list[Match]:
        return self._matches

    def show_matches(self, matches: Sequence[Match]) -> None:
        """Replace the list; shown only while this input has focus and there is something to show."""
        self._matches = list(matches)
        self._matches = self._matches[: MatchList.ROWS]
        ml = self.match_list
        ml.set_labels([m.label for m in self._matches])
        ml.shown = bool(self._matches) and self.has_focus

    def close_list(self) -> None:
        self.match_list.shown = False

    @property
    def list_open(self) -> bool:
        return self.match_list.shown

    def highlighted_match(self) -> Match | None:
        index = self.match_list.highlighted
        if self.list_open and index is not None and 0 <= index < len(self._matches):
            return self._matches[index]
        return None

    def action_move(self, step: int) -> None:
        if not self.list_open or not self._matches:
            raise SkipAction()
        index = self.match_list.highlighted or 0
        self.match_list.highlighted = max(0, min(len(self._matches) - 1, index + step))

    def action_close(self) -> None:
        if not self.list_open:
            raise SkipAction()  # not ours: the screen's Esc (clear the form) runs instead
        self.close_list()

    async def action_submit(self) -> None:
        match = self.highlighted_match()
        if match is not None:
            self.close_list()
            self.post_message(self.Picked(self, match))
            return
        await super().action_submit()

    def _on_blur(self, event) -> None:  # the list belongs to the focused field only
        self.close_list()
        super()._on_blur(event)
