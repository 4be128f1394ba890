"""A small X12 segment builder for the 5010 envelopes (ISA/IEA, GS/GE, ST/SE) that the 837P
writer (guide 005010X222A1) fills.

Delimiters are fixed: ``~`` ends a segment, ``*`` separates elements, ``:`` components and ``^``
repetitions (ISA11/ISA16 announce them). Every count in a trailer (SE01, GE01, IEA01) is computed
from what was built, never typed. Data is written in the X12 *basic* character set (upper-case
letters, digits, space and ``! " & ' ( ) + , - . / ; ? =``): :func:`basic_text` transliterates
(``Müller`` -> ``MULLER``), drops what has no plain form, and refuses a delimiter in data with a
ValueError naming the field, since a ``*`` or ``~`` inside a name would split the segment.

Pure: no database, no Textual.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence

__all__ = [
    "BASIC_CHARACTERS",
    "COMPONENT",
    "DELIMITERS",
    "ELEMENT",
    "REPETITION",
    "SEGMENT",
    "Transaction",
    "amount",
    "basic_text",
    "composite",
    "date8",
    "delimiters_in",
    "digits",
    "identifier",
    "interchange",
    "is_plain",
    "outside_basic",
    "segment",
]

SEGMENT, ELEMENT, COMPONENT, REPETITION = "~", "*", ":", "^"
DELIMITERS = SEGMENT + ELEMENT + COMPONENT + REPETITION
#: What follows each segment terminator: a line break keeps files readable (every reader we
#: target, pyx12 included, skips it); it is not part of the segment and is never counted.
SEGMENT_END = SEGMENT + "\n"


#: The basic character set less the four delimiters (``*`` and ``:`` are basic but ours): what data may hold.
BASIC_CHARACTERS = _BASIC_DATA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 !\"&'()+,-./;?=")
_FAST_OK = re.compile(r"[A-Za-z0-9 !\"&'()+,\-./;?=]*")
_ID_OK = re.compile(r"[A-Z0-9 !\"&'()+,\-./;?=]*")
_SPACES = re.compile(r" {2,}")


def delimiters_in(text: str) -> str:
    """The delimiters ``text`` holds, or folds onto (a full-width ＊ is a ``*`` once
    transliterated); '' when none."""
    if not any(ch in DELIMITERS for ch in text) and text.isascii():
        return ""
    return "".join(sorted({ch for ch in _fold(text) if ch in DELIMITERS}))


def is_plain(text: str) -> bool:
    """True when ``text`` is already X12 basic data but for its case: sent as ``text.upper()``."""
    return _FAST_OK.fullmatch(text) is not None


def outside_basic(text: str) -> str:
    """The characters of ``text`` (after transliteration and upper-casing) that the basic
    character set lacks and that would be dropped, delimiters excluded; '' when none."""
    # an accent split off by NFKD and a tab made a space are transliterated, not lost
    return "".join(sorted({ch for ch in _fold(text) if ch not in _BASIC_DATA and ch not in DELIMITERS
                           and not ch.isspace() and not unicodedata.combining(ch)}))


# Letters of names that NFKD leaves whole (they are letters of their own, not accented ones),
# spelled the way passports and payers write them in plain Latin.
_LETTERS = str.maketrans({"Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "ß": "ss", "Ł": "L", "ł": "l", "Đ": "D",
                          "đ": "d", "Þ": "TH", "þ": "th", "Œ": "OE", "œ": "oe", "ı": "i", "Ð": "D", "ð": "d"})


def _fold(text: str) -> str:
    # NFKD splits an accented letter into its base and a combining mark (é -> e + ´) and maps
    # compatibility forms (ﬁ -> fi, full-width letters -> ASCII); upper() then gives the X12 case.
    return unicodedata.normalize("NFKD", text.translate(_LETTERS)).upper()


def basic_text(value: str, field: str, *, max_len: int = 0) -> str:
    """``value`` in the X12 basic character set: transliterated, upper-cased, runs of spaces
    (and any whitespace) made one space, what has no basic form dropped, cut to ``max_len``.

    Raises:
        ValueError: naming ``field``, when the value holds a delimiter (``~ * : ^``).
    """
    if _FAST_OK.fullmatch(value):  # the usual case: plain ASCII already
        text = value.upper()
    else:
        folded = _fold(value)
        found = delimiters_in(folded)
        if found:
            raise ValueError(f"{field}: {found!r} is an X12 delimiter and cannot be sent")
        text = "".join(ch if ch in _BASIC_DATA else (" " if ch.isspace() else "") for ch in folded)
    if "  " in text or text[:1] == " " or text[-1:] == " ":
        text = _SPACES.sub(" ", text).strip()
    if max_len and len(text) > max_len:
        text = text[:max_len].rstrip()
    return text


def identifier(value: str, field: str, *, max_len: int, min_len: int = 1) -> str:
    """An id (member id, payer id, claim id, control number): sent as given, upper-cased; never
    transliterated or cut, since a changed id names someone else.

    Raises:
        ValueError: naming ``field``, when it is empty, too long, or has a character outside the
        basic set (delimiters included).
    """
    text = value.strip().upper()
    if not min_len <= len(text) <= max_len:
        raise ValueError(f"{field}: {text!r} must be {min_len} to {max_len} characters")
    if _ID_OK.fullmatch(text) is None:
        bad = "".join(sorted({ch for ch in text if ch not in _BASIC_DATA}))
        raise ValueError(f"{field}: {text!r} has characters X12 cannot carry: {bad!r}")
    return text


def digits(value: str) -> str:
    """Only the digits of ``value`` (a phone number typed with dashes or brackets)."""
    return "".join(ch for ch in value if "0" <= ch <= "9")


def amount(cents: int) -> str:
    """Cents as an X12 decimal (R): no trailing zeros, no needless point (12550 -> '125.5')."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    if part == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{part:02d}".rstrip("0")


def date8(iso: str) -> str:
    """An ISO date as CCYYMMDD."""
    return iso[0:4] + iso[5:7] + iso[8:10]


def composite(*components: str) -> str:
    """A composite element (``HC:99213:25``), trailing empty components left off."""
    return COMPONENT.join(components).rstrip(COMPONENT)


def segment(seg_id: str, *elements: str) -> str:
    """One segment with its terminator; trailing empty elements are left off (X12 forbids
    sending them). Data never holds a delimiter (see :func:`basic_text`), so a trailing run of
    separators can only be empty elements."""
    return ELEMENT.join((seg_id, *elements)).rstrip(ELEMENT) + SEGMENT_END


class Transaction:
    """One ST..SE transaction set: add segments, then :meth:`close` writes SE with the count."""

    def __init__(self, kind: str, control: str, guide: str) -> None:
        self.control = control
        self.segments: list[str] = []
        self.add("ST", kind, control, guide)

    def add(self, seg_id: str, *elements: str) -> None:
        self.segments.append(segment(seg_id, *elements))

    def extend(self, segments: Iterable[str]) -> None:
        """Segments already built with :func:`segment` (each one counts)."""
        self.segments.extend(segments)

    def close(self) -> str:
        """The transaction's text; SE01 counts every segment from ST to SE."""
        self.segments.append(segment("SE", str(len(self.segments) + 1), self.control))
        return "".join(self.segments)


def interchange(transactions: Sequence[str], *, functional_id: str, guide: str, sender_id: str, receiver_id: str,
                interchange_number: int, group_number: int, production: bool, created: dt.datetime,
                ack_requested: bool = False) -> str:
    """ISA/GS around closed transactions, with GE01 (transaction sets) and IEA01 (groups) counted.

    Raises:
        ValueError: a control number outside 1..999999999, or a sender/receiver id that is not
        1 to 15 basic characters.
    """
    for name, number in (("interchange number", interchange_number), ("group number", group_number)):
        if not 1 <= number <= 999_999_999:
            raise ValueError(f"{name} {number} must be 1 to 999999999")
    sender = identifier(sender_id, "sender id", max_len=15, min_len=2)
    receiver = identifier(receiver_id, "receiver id", max_len=15, min_len=2)
    isa = segment(
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ", receiver.ljust(15),
        created.strftime("%y%m%d"), created.strftime("%H%M"), REPETITION, "00501", f"{interchange_number:09d}",
        "1" if ack_requested else "0", "P" if production else "T", COMPONENT)
    gs = segment("GS", functional_id, sender, receiver, created.strftime("%Y%m%d"), created.strftime("%H%M"),
                 str(group_number), "X", guide)
    ge = segment("GE", str(len(transactions)), str(group_number))
    iea = segment("IEA", "1", f"{interchange_number:09d}")
    return isa + gs + "".join(transactions) + ge + iea
