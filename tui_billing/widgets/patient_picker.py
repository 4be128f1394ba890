"""Patient picker: type an account number or a ``last,first`` prefix; matches show as you type.

The search runs in a thread worker (never on the event loop) against the indexed lookups in
:mod:`tui_billing.store.lookups`; a newer keystroke supersedes an older search, and a result
that arrives for text no longer in the field is dropped.
"""

from __future__ import annotations

from collections.abc import Callable

from textual import work
from textual.worker import get_current_worker

from ..store.lookups import PatientHit, find_patients
from ..text import inert
from .lookup import LookupInput, Match

__all__ = ["PatientPicker", "patient_label"]


def patient_label(hit: PatientHit) -> str:
    """``ACCOUNT  Last, First  DOB  PAYER`` as one plain-text line."""
    payer = hit.payer_code or "SELF"
    return inert(f"{hit.account:<9} {hit.name[:28]:<28} {hit.dob} {payer}")


class PatientPicker(LookupInput):
    """A LookupInput whose matches are patients (the Match value is a :class:`PatientHit`)."""

    DEFAULT_CSS = "PatientPicker { width: 22; }"

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs.setdefault("placeholder", "account or last,first")
        kwargs.setdefault("max_length", 60)
        super().__init__(value, **kwargs)
        self.searches = 0  # results shown (the benchmark and tests watch it)
        self._shown_text = ""  # the text whose matches are on screen
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

    HINT = "type an account number or last,first (smith,j)"

    def show_matches(self, matches) -> None:  # type: ignore[override]
        """Like LookupInput's, but the list stays open (with a hint) while this field has focus.

        Showing or hiding the list re-lays-out the screen (~10 ms); keeping it open while the
        clerk is in the patient field means each keystroke's results only repaint the list.
        """
        super().show_matches(matches)
        if not self._matches and self.has_focus:
            self.match_list.set_labels([self.HINT if not self.value.strip() else "no patient matches"])
            self.match_list.highlighted = None
            self.match_list.shown = True

    def _on_focus(self, event) -> None:
        super()._on_focus(event)
        self.show_matches(self._matches)

    def _on_input_changed(self, event: LookupInput.Changed) -> None:
        if event.input is not self:
            return
        text = event.value.strip()
        if not text:
            self._shown_text = ""
            self.show_matches([])
            return
        self._search(text)

    @work(thread=True, exclusive=True, group="patient-lookup", exit_on_error=False)
    def _search(self, text: str) -> None:
        hits = find_patients(text)
        if get_current_worker().is_cancelled:
            return
        self.app.call_from_thread(self._show, text, hits)

    def _show(self, text: str, hits: list[PatientHit]) -> None:
        if self.value.strip() != text:
            return  # the clerk typed on; a newer search is coming
        self._shown_text = text
        self.searches += 1
        self.show_matches([Match(patient_label(h), h) for h in hits])
        callback, self.on_results = self.on_results, None
        if callback is not None:
            callback()
