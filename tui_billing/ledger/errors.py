"""The one error type for anything a clerk can fix: a refusal with the field that caused it."""

from __future__ import annotations


class BillingError(Exception):
    """A refused operation. ``str(err)`` is a sentence a clerk can act on.

    ``field`` names the input that caused it (``"patient"``, ``"lines[2].code"``, ...) so a
    form can put the message beside the field; it is ``None`` for whole-operation refusals.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message
