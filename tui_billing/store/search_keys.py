"""Folded search keys for patients: accents, case and punctuation do not matter.

``García-López`` and ``O'Brien`` are stored as ``garcialopez`` and ``obrien``; the clerk's typing
is folded the same way before an index range probe. Pure functions: the migration registers
:func:`fold` as an SQLite function to fill the keys of an existing file.
"""

from __future__ import annotations

import unicodedata

__all__ = ["account_key", "fold", "name_search_key", "phone_key"]

# Letters that do not decompose into a base letter plus a mark.
_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "đ": "d", "ł": "l", "ı": "i", "þ": "th"})


def fold(text: str | None) -> str:
    """Lower-case letters and digits only, accents removed (``Núñez-O'Hara`` -> ``nunezohara``)."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_SPECIAL))
    return "".join(ch for ch in decomposed if ch.isalnum() and not unicodedata.combining(ch))


def name_search_key(last: str, first: str) -> str:
    """``last,first`` folded: a prefix of it is what a typed ``last,first`` folds to."""
    return f"{fold(last)},{fold(first)}"


def phone_key(phone: str | None) -> str:
    """The digits of a phone number, without a leading country code 1 on an 11-digit number."""
    digits = "".join(ch for ch in (phone or "") if ch.isdigit())
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return digits


def account_key(account: str | None) -> str:
    """The account's digits without leading zeros (``A000123`` -> ``123``), for typing ``123``."""
    digits = "".join(ch for ch in (account or "") if ch.isdigit())
    return digits.lstrip("0") or ("0" if digits else "")
