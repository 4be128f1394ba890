"""Money helpers: every amount is an integer number of cents.

Rules for the whole code base:

* Amounts are stored, summed and compared as ``int`` cents. Never ``float``,
  never ``Decimal`` columns.
* Text typed by a clerk is turned into cents by :func:`parse_cents`, which
  reads the digits as integers and never goes through ``float``.
* Amounts are shown with :func:`format_cents` and exported (CSV/JSON) with
  :func:`cents_to_decimal`.
* Splitting an amount (payments across lines, equal installments...) is done
  with :func:`split_cents`, whose parts always add up exactly to the total.

This module is pure: no UI, no database.
"""

from __future__ import annotations

import re

__all__ = [
    "MAX_CENTS",
    "MoneyError",
    "cents_to_decimal",
    "format_cents",
    "parse_cents",
    "split_cents",
]

#: Largest absolute amount accepted by :func:`parse_cents`: $10,000,000.00.
MAX_CENTS: int = 1_000_000_000


class MoneyError(ValueError):
    """An amount was refused; the message tells the clerk what to fix."""


# Integer part: plain digits, or digits grouped by thousands with commas
# ("1,250", "12,345,678"). The first group of a grouped number must not start
# with 0 ("0,125" is refused as a misplaced comma). Explicit [0-9] classes so
# that non-ASCII digits (Arabic-Indic, full width...) are never accepted.
_AMOUNT_RE = re.compile(
    r"""
    (?P<int>[0-9]+|[1-9][0-9]{0,2}(?:,[0-9]{3})+)?
    (?:\.(?P<frac>[0-9]*))?
    """,
    re.VERBOSE,
)

# Characters that may legitimately appear in an amount (after sign and $).
_AMOUNT_CHARS = frozenset("0123456789,.")

_CEILING_TEXT = "$10,000,000.00"


def parse_cents(
    text: str, *, allow_negative: bool = False, allow_zero: bool = True
) -> int:
    """Parse an amount typed by a clerk into integer cents.

    Accepted shapes (surrounding whitespace is ignored)::

        125        -> 12500
        125.5      -> 12550
        125.50     -> 12550
        125.       -> 12500
        .50        -> 50
        $1,250.00  -> 125000
        -5.00      -> -500   (only with ``allow_negative=True``)
        -$5.00     -> -500   (idem; "$-5.00" is accepted too)

    Commas are optional but, when present, must group thousands
    (``1,250.00`` is fine, ``1,25.00`` is not). At most two decimals.
    Only ASCII digits are accepted. The absolute value may not exceed
    :data:`MAX_CENTS` ($10,000,000.00).

    The digits are read as integers; no floating point is ever involved.

    Args:
        text: The text to parse.
        allow_negative: Accept a leading ``-`` (refunds, adjustments).
        allow_zero: Accept an amount of zero (``0``, ``0.00``, ``-0``).

    Returns:
        The amount in cents.

    Raises:
        MoneyError: With a message the clerk can act on.
    """
    if not isinstance(text, str):
        raise MoneyError(f"Amount must be text, not {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise MoneyError("Amount is empty: type an amount such as 125.00")
    shown = raw if len(raw) <= 40 else raw[:37] + "..."

    body = raw
    negative = False
    # Optional sign and dollar sign, in either order: "-$5", "$-5", "-5", "$5".
    if body.startswith("-"):
        negative, body = True, body[1:]
        if body.startswith("$"):
            body = body[1:]
    elif body.startswith("$"):
        body = body[1:]
        if body.startswith("-"):
            negative, body = True, body[1:]

    bad = sorted({ch for ch in body if ch not in _AMOUNT_CHARS})
    if bad:
        if any(ch.isdigit() for ch in bad):
            raise MoneyError(
                f"'{shown}': use the digits 0-9 only (found {_describe(bad)})"
            )
        raise MoneyError(
            f"'{shown}': an amount may only contain digits, one '.', commas "
            f"between thousands and a leading $ (found {_describe(bad)})"
        )
    if body.count(".") > 1:
        raise MoneyError(f"'{shown}': more than one decimal point")
    if not any(ch.isdigit() for ch in body):
        raise MoneyError(f"'{shown}' is not an amount: type digits, such as 125.00")

    match = _AMOUNT_RE.fullmatch(body)
    if match is None:
        # The only thing left that can fail the pattern is comma placement.
        raise MoneyError(
            f"'{shown}': commas must group thousands, as in 1,250.00 "
            "(or leave them out: 1250.00)"
        )
    int_text = (match.group("int") or "").replace(",", "")
    frac_text = match.group("frac") or ""
    if len(frac_text) > 2:
        raise MoneyError(f"'{shown}': at most two decimals (cents)")

    # Guard the size before calling int(): a huge digit string would be slow
    # (and Python refuses > 4300 digits with a ValueError, not a MoneyError).
    int_text = int_text.lstrip("0")
    if len(int_text) > len(str(MAX_CENTS // 100)):
        raise MoneyError(f"'{shown}' is over the {_CEILING_TEXT} ceiling")

    cents = int(int_text or "0") * 100 + int(frac_text.ljust(2, "0"))
    if cents > MAX_CENTS:
        raise MoneyError(f"'{shown}' is over the {_CEILING_TEXT} ceiling")
    if cents == 0:
        # "-0.00" is just zero, not a negative amount.
        if not allow_zero:
            raise MoneyError("Amount must be more than zero")
        return 0
    if negative:
        if not allow_negative:
            raise MoneyError(f"'{shown}': negative amounts are not allowed here")
        return -cents
    return cents


def _describe(chars: list[str]) -> str:
    """Human description of offending characters, e.g. "'a', ' '"."""
    shown = []
    for ch in chars[:5]:
        if ch == " ":
            shown.append("a space")
        elif ch.isprintable() and not ch.isspace():
            shown.append(repr(ch))
        else:
            shown.append(f"U+{ord(ch):04X}")
    return ", ".join(shown)


def _check_int(cents: int) -> None:
    if isinstance(cents, bool) or not isinstance(cents, int):
        raise TypeError(f"cents must be an int, not {type(cents).__name__}")


def format_cents(cents: int, *, commas: bool = True, symbol: bool = False) -> str:
    """Format integer cents for display.

    >>> format_cents(125000)
    '1,250.00'
    >>> format_cents(-500)
    '-5.00'
    >>> format_cents(125000, symbol=True)
    '$1,250.00'
    >>> format_cents(-500, symbol=True)
    '-$5.00'
    >>> format_cents(125000, commas=False)
    '1250.00'

    The output is always accepted back by :func:`parse_cents` (with
    ``allow_negative=True`` for negative amounts) when within the ceiling.

    Raises:
        TypeError: if ``cents`` is not an ``int`` (floats are a bug).
    """
    _check_int(cents)
    sign = "-" if cents < 0 else ""
    dollars, rest = divmod(abs(cents), 100)
    whole = f"{dollars:,}" if commas else str(dollars)
    return f"{sign}{'$' if symbol else ''}{whole}.{rest:02d}"


def cents_to_decimal(cents: int) -> str:
    """Exact decimal text for CSV/JSON export: ``"1250.00"``, ``"-0.05"``.

    No thousands separators, no currency symbol, always two decimals.

    Raises:
        TypeError: if ``cents`` is not an ``int``.
    """
    return format_cents(cents, commas=False, symbol=False)


def split_cents(total: int, weights: list[int] | int) -> list[int]:
    """Split ``total`` cents into parts that add up exactly to ``total``.

    * ``split_cents(1000, 3)`` -> ``[334, 333, 333]``: ``n`` near-equal parts
      (they differ by at most one cent; the extra cents go to the first parts).
    * ``split_cents(1000, [1, 2])`` -> ``[333, 667]``: proportional split using
      the largest remainder method (ties go to the earlier part). A weight of
      zero always gets zero.

    Negative totals are split like their absolute value, then negated, so
    ``split_cents(-1000, 3)`` is ``[-334, -333, -333]``.

    Args:
        total: Amount in cents (any sign).
        weights: Number of equal parts (>= 1), or a list of non-negative
            integer weights with a positive sum.

    Returns:
        One part per weight, in the same order; ``sum(parts) == total``.

    Raises:
        MoneyError: on a part count < 1, a negative weight, or a weight sum
            of zero.
        TypeError: on non-integer total or weights.
    """
    _check_int(total)
    if isinstance(weights, bool):
        raise TypeError("weights must be an int or a list of ints")
    if isinstance(weights, int):
        if weights < 1:
            raise MoneyError(f"Cannot split into {weights} parts: need at least 1")
        weights = [1] * weights
    weights = list(weights)
    for w in weights:
        if isinstance(w, bool) or not isinstance(w, int):
            raise TypeError(f"weights must be ints, not {type(w).__name__}")
        if w < 0:
            raise MoneyError(f"Cannot split with a negative weight ({w})")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise MoneyError("Cannot split: the weights add up to zero")

    magnitude = abs(total)
    parts: list[int] = []
    remainders: list[int] = []
    for w in weights:
        q, r = divmod(magnitude * w, weight_sum)
        parts.append(q)
        remainders.append(r)
    leftover = magnitude - sum(parts)  # 0 <= leftover < len(weights)
    order = sorted(range(len(weights)), key=lambda i: (-remainders[i], i))
    for i in order[:leftover]:
        parts[i] += 1
    if total < 0:
        parts = [-p for p in parts]
    return parts
