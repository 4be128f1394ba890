"""Patient picker: type an account, ``last,first``, a date of birth or a phone; matches show as you type.

The search (:func:`tui_billing.store.account_queries.search_patients`) runs in a thread worker,
never on the event loop; a newer keystroke supersedes an older search, and a result that arrives
for text no longer in the field is dropped. Every match can be reached: the list shows five
rows at a time, scrolls with Up/Down, fetches the next page at its end, and says how many more
follow. An Enter typed ahead of the list never takes the first of several: one typed less than
:data:`REACTION_S` after several matches appeared (or before), unless the clerk moved to one,
takes nothing (nobody reads a list that fast; a burst of type-ahead does), and the clerk picks
with Up/Down and Enter. One match, or a row the clerk moved to, is taken at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.text import Text
from textual import work
from textual.actions import SkipAction
from textual.worker import get_current_worker

from ..store.account_queries import SearchHit, SearchPage, search_patients
from ..store.lookups import PatientHit
from ..text import inert
from .lookup import LookupInput, Match, MatchList

__all__ = ["PatientPicker", "ScrollingMatchList", "patient_label"]

PAGE = 50
#: The search workers' group: the app's key-hold failsafe waits while one is in flight.
SEARCH_GROUP = "patient-lookup"
#: Several matches shown less than this long ago, untouched: an Enter now was typed ahead, unread.
REACTION_S = 0.2


def patient_label(hit: PatientHit) -> str:
    """``ACCOUNT  Last, First  DOB  PAYER`` as one plain-text line."""
    payer = hit.payer_code or "SELF"
    return inert(f"{hit.account:<9} {hit.name[:28]:<28} {hit.dob} {payer}")


def _patient_hit(hit: SearchHit) -> PatientHit:
    return PatientHit(hit.id, hit.account, hit.last_name, hit.first_name, hit.dob, hit.payer_id, hit.payer_code,
                      hit.payer_name)


class ScrollingMatchList(MatchList):
    """A MatchList over every match: a five-row window that follows the highlight, marked
    ``▲`` when rows are above and ``▼ N more`` (``N+`` while pages remain) when rows are below."""

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.top = 0
        self.more = False  # the store has further pages not fetched yet

    def set_labels(self, labels: Sequence[str], *, highlight: int | None = 0, more: bool = False) -> None:
        self.labels = list(labels)
        self.more = more
        self._highlighted = highlight if self.labels else None
        self.top = 0
        self._paint()

    def _paint(self) -> None:
        rows = self.ROWS
        if self._highlighted is not None:
            if self._highlighted < self.top:
                self.top = self._highlighted
            elif self._highlighted >= self.top + rows:
                self.top = self._highlighted - rows + 1
        window = self.labels[self.top:self.top + rows]
        below = len(self.labels) - self.top - len(window)
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, label in enumerate(window):
            n = self.top + i
            if i:
                text.append("\n")
            mark = ""
            if i == 0 and self.top:
                mark = f" ▲{self.top}"
            if i == len(window) - 1 and (below or self.more):
                mark = f" ▼{below}{'+' if self.more else ''} more"
            body = f" {label}"
            width = 64 - len(mark)
            body = body[:width].ljust(width) if mark else body
            text.append(body, style="reverse" if n == self._highlighted else "")
            if mark:
                text.append(mark, style="bold")
        self.update(text, layout=False)


class PatientPicker(LookupInput):
    """A LookupInput whose matches are patients (the Match value is a :class:`PatientHit`)."""

    DEFAULT_CSS = "PatientPicker { width: 22; }"

    match_list: ScrollingMatchList  # set in __init__, in place of LookupInput's plain list

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs.setdefault("placeholder", "account, last,first, DOB or phone")
        kwargs.setdefault("max_length", 60)
        list_id = kwargs.pop("list_id", None)
        super().__init__(value, **kwargs)
        self.match_list = ScrollingMatchList(id=list_id)
        self.searches = 0  # results shown (the benchmark and tests watch it)
        self._shown_text = ""  # the text whose matches are on screen
        self._page: SearchPage | None = None
        self._fetching = False
        self._shown_at = 0.0  # when the matches on screen appeared
        self._moved = False  # the clerk moved the highlight since they appeared
        self._enter_at = -1.0  # when the last Enter reaching this field was typed
        #: called once when the in-flight search's results are shown (Enter typed ahead waits on it)
        self.on_results: Callable[[], None] | None = None

    @property
    def pending(self) -> bool:
        """The matches shown are not (yet) for the text now in the field.

        Compared with the field's value, not with the last search started: in a burst of
        type-ahead, Enter can be handled before the Changed message of the key just before it,
        so no search for the final text has even started yet.
        """
        text = self.value.strip()
        return bool(text) and text != self._shown_text

    @property
    def more(self) -> bool:
        """More matches exist than the list holds (fetched as the clerk scrolls down to them)."""
        return bool(self._page and self._page.more)

    HINT = "account, last,first, birth date (01/02/1980) or phone"

    def show_matches(self, matches: Sequence[Match], *, more: bool = False) -> None:
        """Every match is kept (not only five); the first is highlighted.

        The list stays open (with a hint) while this field has focus: showing or hiding it
        re-lays-out the screen (~10 ms), so each keystroke's results only repaint the list.
        """
        self._matches = list(matches)
        self._shown_at = time.monotonic()
        self._moved = False
        ml = self.match_list
        ml.set_labels([m.label for m in self._matches], highlight=0, more=more)
        ml.shown = bool(self._matches) and self.has_focus
        if not self._matches and self.has_focus:
            MatchList.set_labels(ml, [self.HINT if not self.value.strip() else "no patient matches"])
            ml.highlighted = None
            ml.shown = True

    def highlighted_match(self) -> Match | None:
        """The highlighted match, unless several appeared too recently to have been read."""
        now = time.monotonic()
        # when the Enter was typed (its key event's time), else now (a screen's own Enter binding)
        typed = self._enter_at if 0 <= now - self._enter_at < 1.0 else now
        if len(self._matches) > 1 and not self._moved and typed - self._shown_at < REACTION_S:
            return None
        return super().highlighted_match()

    def action_move(self, step: int) -> None:
        if not self.list_open or not self._matches:
            raise SkipAction()
        self._moved = True
        index = self.match_list.highlighted
        index = (0 if step > 0 else len(self._matches) - 1) if index is None else index + step
        self.match_list.highlighted = max(0, min(len(self._matches) - 1, index))
        if self.more and self.match_list.highlighted >= len(self._matches) - 2 and not self._fetching:
            self._fetching = True
            self._next_page(self._shown_text, len(self._matches))

    async def _on_key(self, event) -> None:
        if event.key == "enter":
            self._enter_at = event.time
        await super()._on_key(event)

    async def action_submit(self) -> None:
        """Enter ahead of the list never takes a match shown for a shorter text (the screen waits)."""
        if self.pending:
            self.post_message(self.Submitted(self, self.value))
            return
        await super().action_submit()

    def _on_focus(self, event) -> None:
        super()._on_focus(event)
        self.show_matches(self._matches, more=self.more)

    def _watch_value(self, value: str) -> None:
        super()._watch_value(value)
        if not value.strip():
            # Emptied, also by a form reset that sets the value without a Changed event: nothing
            # shown is for any text now. Left stale, the same patient typed again as a burst made
            # `pending` false before its search landed (its text matched the old one), and Enter
            # found no list and refused the patient: the burst typed on into this box.
            self._shown_text = ""
            self._page = None

    def _on_input_changed(self, event: LookupInput.Changed) -> None:
        if event.input is not self:
            return
        text = event.value.strip()
        if not text:
            self._shown_text = ""
            self._page = None
            self.show_matches([])
            return
        self._search(text)

    @work(thread=True, exclusive=True, group=SEARCH_GROUP, exit_on_error=False)
    def _search(self, text: str) -> None:
        page = search_patients(text, limit=PAGE)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show, text, page)

    @work(thread=True, exclusive=True, group="patient-page", exit_on_error=False)
    def _next_page(self, text: str, offset: int) -> None:
        try:
            page = search_patients(text, limit=PAGE, offset=offset)
        finally:
            self.app.call_from_thread(setattr, self, "_fetching", False)
        self.app.call_from_thread(self._append, text, page)

    def _show(self, text: str, page: SearchPage) -> None:
        if self.value.strip() != text:
            return  # the clerk typed on; a newer search is coming
        self._shown_text = text
        self._page = page
        self.searches += 1
        self.show_matches([Match(patient_label(h), h) for h in map(_patient_hit, page.hits)], more=page.more)
        callback, self.on_results = self.on_results, None
        if callback is not None:
            callback()  # an Enter that waited for these: highlighted_match() says it was typed ahead

    def _append(self, text: str, page: SearchPage) -> None:
        if text != self._shown_text or page.offset != len(self._matches):
            return  # the clerk searched for something else meanwhile
        self._page = page
        self._matches += [Match(patient_label(h), h) for h in map(_patient_hit, page.hits)]
        ml = self.match_list
        highlighted = ml.highlighted
        ml.labels = [m.label for m in self._matches]
        ml.more = page.more
        ml.highlighted = highlighted
