"""Money input: typed as 125, 125.5, 125.50 or $1,250.00 and parsed to integer cents."""

from __future__ import annotations

from ..money import MoneyError, format_cents, parse_cents
from .form_input import FormInput

__all__ = ["MoneyInput", "MoneyError"]


class MoneyInput(FormInput):
    """An Input that only takes money characters; :meth:`cents` parses it (MoneyError if bad)."""

    DEFAULT_CSS = "MoneyInput { width: 11; }"

    def __init__(self, value: str = "", *, allow_zero: bool = True, **kwargs) -> None:
        kwargs.setdefault("restrict", r"[0-9$,.]*")
        kwargs.setdefault("max_length", 15)
        super().__init__(value, **kwargs)
        self.allow_zero = allow_zero

    def cents(self) -> int:
        return parse_cents(self.value, allow_zero=self.allow_zero)

    def set_cents(self, cents: int) -> None:
        """Show an amount the way a clerk would type it (no symbol, with commas)."""
        self.value = format_cents(cents)
