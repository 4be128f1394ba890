"""Money input (kept for imports): the field lives in :mod:`.fields` with the count field."""

from __future__ import annotations

from ..money import MoneyError
from .fields import MoneyInput

__all__ = ["MoneyInput", "MoneyError"]
