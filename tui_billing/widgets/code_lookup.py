"""Code inputs: ICD-10-CM diagnosis fields and the fee-schedule procedure lookup.

Codes are upper-cased as typed. The procedure lookup filters the office's fee schedule (a few
hundred rows, cached by the screen) in memory, so it costs nothing per keystroke.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..money import format_cents
from ..store.lookups import ProcedureRow
from .form_input import FormInput
from .lookup import LookupInput, Match

__all__ = ["CodeInput", "ProcedureLookup", "procedure_matches"]


class CodeInput(FormInput):
    """A short code field (diagnosis, modifier, POS...): upper-case letters, digits and a dot."""

    def __init__(self, value: str = "", *, max_length: int = 8, **kwargs) -> None:
        kwargs.setdefault("restrict", r"[A-Za-z0-9.]*")
        super().__init__(value, max_length=max_length, **kwargs)

    def insert_text_at_cursor(self, text: str) -> None:
        super().insert_text_at_cursor(text.upper())


def procedure_matches(text: str, schedule: Mapping[str, ProcedureRow], limit: int = 8) -> list[Match]:
    """Fee-schedule lines whose code starts with ``text`` (exact match first)."""
    q = text.strip().upper()
    if not q:
        return []
    rows = sorted((r for code, r in schedule.items() if code.startswith(q)), key=lambda r: (r.code != q, r.code))
    return [Match(f"{r.code:<6} {r.description[:44]:<44} {format_cents(r.fee):>10}", r) for r in rows[:limit]]


class ProcedureLookup(LookupInput):
    """Procedure code with matches from the fee schedule (the screen sets :attr:`schedule`)."""

    def __init__(self, value: str = "", **kwargs) -> None:
        kwargs.setdefault("restrict", r"[A-Za-z0-9]*")
        super().__init__(value, max_length=5, **kwargs)
        self.schedule: Mapping[str, ProcedureRow] = {}

    def insert_text_at_cursor(self, text: str) -> None:
        super().insert_text_at_cursor(text.upper())

    def _on_input_changed(self, event: LookupInput.Changed) -> None:
        if event.input is self:
            text = event.value.strip().upper()
            # An exact code needs no list: Enter should just move on.
            exact = len(text) == 5 and text in self.schedule
            self.show_matches([] if exact else procedure_matches(text, self.schedule))
