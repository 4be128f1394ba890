"""Amount and count fields that refuse what they cannot read.

A field restricted to "money characters" silently drops the rest: ``1S.00`` became ``1.00`` and a
count ``4l8.00`` became ``4800``. These fields take every key as typed and say, with the reason,
why the text is not an amount or a count; nothing is ever guessed. The parsers are plain
functions (no Textual) so the form model and the tests use exactly what the fields use.
"""

from __future__ import annotations

from ..money import MoneyError, format_cents
from .form_input import FormInput
from .parse import parse_amount, parse_count

__all__ = ["CountInput", "MoneyInput", "parse_amount", "parse_count"]  # the readers live in .parse

class MoneyInput(FormInput):
    """An amount field: every key is kept as typed; :meth:`cents` reads it or says why not."""

    DEFAULT_CSS = "MoneyInput { width: 11; }"

    def __init__(self, value: str = "", *, allow_zero: bool = True, what: str = "amount", **kwargs) -> None:
        kwargs.setdefault("max_length", 16)
        super().__init__(value, **kwargs)
        self.allow_zero = allow_zero
        self.what = what

    def cents(self, blank: int | None = None) -> int:
        """The amount in cents (ValueError, a MoneyError when the text is no amount, with the reason)."""
        try:
            return parse_amount(self.value, self.what, blank=blank, allow_zero=self.allow_zero)
        except ValueError as exc:
            raise MoneyError(str(exc)) from None

    def set_cents(self, cents: int) -> None:
        """Show an amount the way a clerk would type it (no symbol, with commas)."""
        self.value = format_cents(cents)


class CountInput(FormInput):
    """A count field: every key is kept as typed; :meth:`count` reads it or says why not."""

    DEFAULT_CSS = "CountInput { width: 6; }"

    def __init__(self, value: str = "", *, what: str = "count", **kwargs) -> None:
        kwargs.setdefault("max_length", 8)
        super().__init__(value, **kwargs)
        self.what = what

    def count(self, blank: int | None = None) -> int:
        return parse_count(self.value, self.what, blank=blank)
