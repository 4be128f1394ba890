"""Lookup input: an Input with a drop-down of matches that filters as you type.

Up/Down move the highlight, Enter takes the highlighted match (posting :class:`LookupInput.Picked`),
Esc closes the list. The list floats over the form (``overlay: screen``) so it never pushes fields
around, and every label is plain text (user data is never markup).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from rich.text import Text
from textual.actions import SkipAction
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input, OptionList
from textual.widgets.option_list import Option

__all__ = ["LookupInput", "Match", "MatchList"]


@dataclass(frozen=True)
class Match:
    """One candidate: the text shown, and the value handed back when it is taken."""

    label: str
    value: Any


class MatchList(OptionList, can_focus=False):
    """The floating list of matches under a lookup input (never takes focus: typing stays put)."""

    DEFAULT_CSS = """
    MatchList {
        overlay: screen;
        constrain: none inside;
        display: none;
        width: 64;
        height: auto;
        max-height: 10;
        border: none;
        padding: 0;
        background: $panel;
    }
    MatchList.-shown { display: block; }
    """


class LookupInput(Input):
    """An Input whose owner fills :attr:`matches` (e.g. from a worker); Enter takes the highlight."""

    BINDINGS = [
        Binding("down", "move(1)", "Next match", show=False),
        Binding("up", "move(-1)", "Previous match", show=False),
        Binding("escape", "close", "Close list", show=False),
    ]

    class Picked(Message):
        """The clerk took a match (Enter on a highlighted one)."""

        def __init__(self, lookup: "LookupInput", match: Match) -> None:
            super().__init__()
            self.lookup = lookup
            self.match = match

        @property
        def control(self) -> "LookupInput":
            return self.lookup

    def __init__(self, value: str = "", *, list_id: str | None = None, **kwargs) -> None:
        super().__init__(value, compact=True, **kwargs)
        self._matches: list[Match] = []
        self.match_list = MatchList(id=list_id)

    @property
    def matches(self) -> list[Match]:
        return self._matches

    def show_matches(self, matches: Sequence[Match]) -> None:
        """Replace the list; shown only while this input has focus and there is something to show."""
        self._matches = list(matches)
        ml = self.match_list
        ml.set_options([Option(Text(m.label)) for m in self._matches])
        if self._matches:
            ml.highlighted = 0
        ml.set_class(bool(self._matches) and self.has_focus, "-shown")

    def close_list(self) -> None:
        self.match_list.remove_class("-shown")

    @property
    def list_open(self) -> bool:
        return self.match_list.has_class("-shown")

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
