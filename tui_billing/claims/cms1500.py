"""The CMS-1500 (02/12) claim form, data only, for the office's pre-printed red forms.

The red form is drawn on a grid of 10 characters per inch and 6 lines per inch (85 columns by 66
lines on the 8.5 x 11 inch sheet), so every box is a (line, column, width) in that grid: one table,
``BOXES``, read by the line-printer text, by the PDF and by the calibration page, and by the tests
that find the PDF's text inside the boxes. Nothing here reads a database: ``forms(claim)`` turns a
:class:`~tui_billing.claims.model.Claim` into one :class:`Form` per six service lines (the form has
six), each with its own total in box 28.

Outputs: ``text_pages`` (one page of exactly 66 lines per form, each page ended by a form feed)
and ``pdf_bytes`` (Courier 12 point, which is 10 characters per inch, shifted by the printer's
offsets in points). ``calibration_form`` fills every box with its own name so the office prints
it on a red form, sees how far off the printer is, and passes that as the offsets.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .model import ORIGINAL, Address, Claim, ClaimLine, Person

LINES, COLUMNS = 66, 85  # the 8.5 x 11 inch sheet at 6 lines and 10 characters per inch
CHAR_PT, LINE_PT = 7.2, 12.0  # one column and one line in points (1/72 inch)
PAGE_PT = (612.0, 792.0)  # US letter
#: Where a character's baseline sits below the top of its line (Courier's capitals fill the line's middle).
BASELINE_PT = 9.0
LINES_PER_FORM = 6  # box 24 has six service lines
MAX_CHARGE = 99_999_99  # box 24F and 28 hold five dollar digits


class FormError(ValueError):
    """A claim the paper form cannot carry (an amount too large for its box)."""


@dataclass(frozen=True)
class Box:
    """Where one item of the form is printed: 1-based line and column, width in characters."""

    name: str  # the form's item number, with a suffix for a part of it (``3.dob``, ``24F.2``)
    line: int
    col: int
    width: int
    right: bool = False  # right-justified (money)

    def rect_pt(self, offset_x: float = 0.0, offset_y: float = 0.0) -> tuple[float, float, float, float]:
        """The box's cells on the sheet in points from the top-left corner: (left, top, right, bottom)."""
        left = (self.col - 1) * CHAR_PT + offset_x
        top = (self.line - 1) * LINE_PT + offset_y
        return left, top, left + self.width * CHAR_PT, top + LINE_PT


def _service_boxes(n: int) -> list[Box]:
    """Box 24's six lines: each is a shaded upper half (24I qualifier) over the data line."""
    data, shaded = 42 + 2 * n, 41 + 2 * n
    return [
        Box(f"24A.from.{n}", data, 1, 8),
        Box(f"24A.to.{n}", data, 10, 8),
        Box(f"24B.{n}", data, 19, 2),
        Box(f"24C.{n}", data, 22, 2),
        Box(f"24D.{n}", data, 25, 6),
        Box(f"24D.mod.{n}", data, 33, 11),
        Box(f"24E.{n}", data, 45, 4),
        Box(f"24F.{n}", data, 50, 8, right=True),
        Box(f"24G.{n}", data, 59, 3),
        Box(f"24H.{n}", data, 63, 2),
        Box(f"24I.{n}", shaded, 65, 2),
        Box(f"24J.{n}", data, 68, 10),
    ]


def _diagnosis_boxes() -> list[Box]:
    # A-D, E-H and I-L across three lines, 13 columns apart
    return [Box(f"21.{letter}", 38 + i // 4, 3 + 13 * (i % 4), 8) for i, letter in enumerate("ABCDEFGHIJKL")]


_BOXES: list[Box] = [
    # the carrier block, top right: the payer's name and address
    Box("payer.name", 2, 41, 31), Box("payer.street", 3, 41, 31), Box("payer.street2", 4, 41, 31),
    Box("payer.city", 5, 41, 31),
    # 1: one X among the programs; 1a the insured's id
    Box("1.medicare", 8, 1, 1), Box("1.medicaid", 8, 8, 1), Box("1.tricare", 8, 15, 1), Box("1.champva", 8, 24, 1),
    Box("1.group", 8, 31, 1), Box("1.feca", 8, 39, 1), Box("1.other", 8, 45, 1), Box("1a", 8, 50, 29),
    Box("2", 10, 1, 28), Box("3.dob", 10, 31, 10), Box("3.m", 10, 42, 1), Box("3.f", 10, 47, 1), Box("4", 10, 50, 29),
    Box("5.street", 12, 1, 28), Box("6.self", 12, 33, 1), Box("6.spouse", 12, 38, 1), Box("6.child", 12, 42, 1),
    Box("6.other", 12, 47, 1), Box("7.street", 12, 50, 29),
    Box("5.city", 14, 1, 24), Box("5.state", 14, 26, 3), Box("7.city", 14, 50, 23), Box("7.state", 14, 74, 3),
    Box("5.zip", 16, 1, 10), Box("7.zip", 16, 50, 10),
    Box("9", 18, 1, 28), Box("11", 18, 50, 29),
    Box("9a", 20, 1, 28), Box("10a.yes", 20, 35, 1), Box("10a.no", 20, 41, 1), Box("11a.dob", 20, 53, 10),
    Box("11a.m", 20, 68, 1), Box("11a.f", 20, 75, 1),
    Box("10b.yes", 22, 35, 1), Box("10b.no", 22, 41, 1),
    Box("10c.yes", 24, 35, 1), Box("10c.no", 24, 41, 1), Box("11c", 24, 50, 29),
    Box("9d", 26, 1, 28), Box("11d.yes", 26, 52, 1), Box("11d.no", 26, 57, 1),
    Box("12", 29, 7, 20), Box("13", 29, 55, 20),
    Box("17", 34, 1, 28), Box("17b", 34, 33, 15),
    Box("21.ind", 37, 42, 1), *_diagnosis_boxes(),
    Box("22.code", 38, 50, 1), Box("22.original", 38, 62, 17), Box("23", 40, 50, 29),
    *(box for n in range(1, LINES_PER_FORM + 1) for box in _service_boxes(n)),
    Box("25", 56, 1, 15), Box("25.ssn", 56, 17, 1), Box("25.ein", 56, 19, 1), Box("26", 56, 23, 14),
    Box("27.yes", 56, 38, 1), Box("27.no", 56, 43, 1), Box("28", 56, 52, 8, right=True),
    Box("29", 56, 62, 8, right=True),
    Box("33.phone", 57, 66, 12),
    Box("32.name", 58, 23, 26), Box("33.name", 58, 50, 29),
    Box("32.street", 59, 23, 26), Box("33.street", 59, 50, 29),
    Box("31", 60, 1, 21), Box("32.city", 60, 23, 26), Box("33.city", 60, 50, 29),
    Box("31.date", 61, 6, 10), Box("32a", 61, 23, 10), Box("33a", 61, 50, 10),
]

#: Every box of the form by name.
BOXES: dict[str, Box] = {box.name: box for box in _BOXES}

#: Box 1 by the coverage's claim filing code (SBR09): the program whose box gets the X.
PROGRAMS = {"MB": "medicare", "MA": "medicare", "MC": "medicaid", "CH": "tricare", "VA": "champva",
            "WC": "other", "AM": "other", "OF": "other", "ZZ": "other", "11": "other", "LM": "other",
            "TV": "other", "DS": "other", "LI": "other"}
# everything else (CI, BL, HM, 12-17, FI, ...) is a group health plan


@dataclass(frozen=True)
class Form:
    """One printed form: what goes in which box, and the form's place in its claim."""

    claim_id: str
    page: int  # 1-based
    pages: int
    total: int  # box 28: this form's lines only, in cents
    fields: tuple[tuple[str, str], ...]  # (box name, text as printed), only the boxes with something

    def value(self, box: str) -> str:
        return dict(self.fields).get(box, "")


#: Letters that Unicode does not decompose into an ASCII letter and an accent.
_LETTERS = str.maketrans({"Æ": "AE", "æ": "ae", "Ø": "O", "ø": "o", "Ł": "L", "ł": "l", "ß": "ss", "Œ": "OE",
                          "œ": "oe", "Đ": "D", "đ": "d", "Þ": "TH", "þ": "th", "ı": "i"})


def printable(value: str) -> str:
    """``value`` as the form prints it: upper case ASCII, accents dropped, anything else a space."""
    if value.isascii() and value.isprintable():  # nearly every value: nothing to fold
        return value.upper()
    decomposed = unicodedata.normalize("NFKD", value.translate(_LETTERS))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = "".join(ch if ch.isascii() else " " for ch in plain)
    return "".join(ch if " " <= ch <= "~" else " " for ch in plain.upper())


def _name(person: Person) -> str:
    # the form asks for LAST, FIRST, MIDDLE INITIAL
    name = f"{person.last}, {person.first}"
    return f"{name}, {person.middle[:1]}" if person.middle else name


def _long_date(iso: str) -> str:
    return f"{iso[5:7]} {iso[8:10]} {iso[0:4]}" if iso else ""


def _short_date(iso: str) -> str:
    return f"{iso[5:7]} {iso[8:10]} {iso[2:4]}"


def _zip(code: str) -> str:
    return f"{code[:5]}-{code[5:]}" if len(code) == 9 else code


def _money(cents: int) -> str:
    # dollars right-justified before the form's dollar/cents rule, cents after it; no $ and no commas
    if not 0 <= cents <= MAX_CHARGE:
        raise FormError(f"{cents / 100:,.2f} does not fit the form's amount box (at most 99,999.99)")
    return f"{cents // 100:>5} {cents % 100:02d}"


def _address(prefix: str, address: Address | None) -> list[tuple[str, str]]:
    if address is None:
        return []
    street = f"{address.street} {address.street2}".strip()
    return [(f"{prefix}.street", street), (f"{prefix}.city", address.city), (f"{prefix}.state", address.state),
            (f"{prefix}.zip", _zip(address.zip))]


def _sex(box: str, sex: str) -> list[tuple[str, str]]:
    return [(f"{box}.m", "X")] if sex == "M" else [(f"{box}.f", "X")] if sex == "F" else []


def _claim_fields(claim: Claim, printed: str) -> list[tuple[str, str]]:
    """Everything but the service lines and the total: the same on every form of the claim."""
    sub, payer, billing = claim.subscriber, claim.payer, claim.billing
    fields = [("payer.name", payer.name)]
    if payer.address is not None:
        fields += [("payer.street", payer.address.street), ("payer.street2", payer.address.street2),
                   ("payer.city", f"{payer.address.city}, {payer.address.state} {_zip(payer.address.zip)}")]
    fields += [
        (f"1.{PROGRAMS.get(payer.filing_code, 'group')}", "X"), ("1a", sub.member_id),
        ("2", _name(claim.patient)), ("3.dob", _long_date(claim.patient.dob)), *_sex("3", claim.patient.sex),
        ("4", _name(sub.person)),
        *_address("5", claim.patient.address),
        (f"6.{sub.relationship if sub.relationship in ('self', 'spouse', 'child') else 'other'}", "X"),
        *_address("7", sub.person.address),
        # Medicare asks for NONE in box 11 when no insurance is primary to it
        ("11", sub.group_no or ("NONE" if payer.filing_code in ("MA", "MB") and not claim.other_payers else "")),
        ("11a.dob", _long_date(sub.person.dob)), *_sex("11a", sub.person.sex),
        ("11c", payer.name),
        # nothing in the books says a visit was an accident: box 10 is answered NO
        ("10a.no", "X"), ("10b.no", "X"), ("10c.no", "X"),
    ]
    if claim.other_payers:
        other = claim.other_payers[0]
        fields += [("9", _name(other.subscriber.person)), ("9a", other.subscriber.member_id),
                   ("9d", other.payer.name), ("11d.yes", "X")]
    else:
        fields.append(("11d.no", "X"))
    if claim.signature_on_file:
        fields.append(("12", "SIGNATURE ON FILE"))
    if claim.assignment:
        fields.append(("13", "SIGNATURE ON FILE"))
    fields.append(("21.ind", "0"))  # ICD-10
    # twelve boxes: a thirteenth diagnosis is the scrubber's to refuse, the form has no room for it
    fields += [(f"21.{'ABCDEFGHIJKL'[i]}", code.replace(".", "")) for i, code in enumerate(claim.diagnoses[:12])]
    if claim.frequency != ORIGINAL:
        fields += [("22.code", claim.frequency), ("22.original", claim.payer_claim_number)]
    fields += [
        ("25", billing.ein), ("25.ein", "X"), ("26", claim.account),
        ("27.yes" if claim.assignment else "27.no", "X"),
        ("31", "SIGNATURE ON FILE"), ("31.date", _long_date(printed)),
        # the office is where the care happened (the books keep no other facility)
        ("32.name", billing.name), ("32.street", f"{billing.address.street} {billing.address.street2}".strip()),
        ("32.city", f"{billing.address.city}, {billing.address.state} {_zip(billing.address.zip)}"),
        ("33.name", billing.name), ("33.street", f"{billing.address.street} {billing.address.street2}".strip()),
        ("33.city", f"{billing.address.city}, {billing.address.state} {_zip(billing.address.zip)}"),
        ("33a", billing.npi),
    ]
    phone = "".join(ch for ch in billing.phone if ch.isdigit())
    if len(phone) == 10:
        fields.append(("33.phone", f"{phone[:3]} {phone[3:6]}-{phone[6:]}"))
    return fields


def _line_fields(n: int, line: ClaimLine, claim: Claim) -> list[tuple[str, str]]:
    letters = "".join("ABCDEFGHIJKL"[p - 1] for p in line.pointers if 1 <= p <= 12)
    return [
        (f"24A.from.{n}", _short_date(line.dos)), (f"24A.to.{n}", _short_date(line.dos)),
        (f"24B.{n}", line.place_of_service or claim.place_of_service), (f"24D.{n}", line.code),
        (f"24D.mod.{n}", " ".join(line.modifiers[:4])), (f"24E.{n}", letters), (f"24F.{n}", _money(line.charge)),
        (f"24G.{n}", str(line.units)), (f"24J.{n}", claim.rendering.npi),
    ]


def _paid_by_others(claim: Claim, line_nos: set[int], *, first: bool) -> int:
    """Box 29 of one form: what earlier payers paid on its lines (a payer's claim-level payment
    without line detail counts on the first form)."""
    paid = 0
    for other in claim.other_payers:
        if other.lines:
            paid += sum(p.paid for p in other.lines if p.line_no in line_nos)
        elif first:
            paid += other.paid
    return paid


def forms(claim: Claim, printed: str) -> list[Form]:
    """The claim on as many forms as its lines need (six a form), each with its own box 28.

    ``printed`` is the ISO date written beside the signature in box 31.
    """
    common = _claim_fields(claim, printed)
    chunks = [claim.lines[i:i + LINES_PER_FORM] for i in range(0, len(claim.lines), LINES_PER_FORM)] or [()]
    out = []
    for page, chunk in enumerate(chunks, start=1):
        total = sum(line.charge for line in chunk)
        fields = list(common)
        for n, line in enumerate(chunk, start=1):
            fields += _line_fields(n, line, claim)
        fields.append(("28", _money(total)))
        paid = _paid_by_others(claim, {line.line_no for line in chunk}, first=page == 1)
        if paid:
            fields.append(("29", _money(paid)))
        out.append(Form(claim.claim_id, page, len(chunks), total, _fit(fields)))
    return out


def _fit(fields: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """Each value as printed: printable, cut to its box (right-justified where the box says so)."""
    out = []
    for name, value in fields:
        box = BOXES[name]
        text = printable(value)[: box.width].rstrip()
        if box.right:
            text = text.rjust(box.width)
        if text.strip():
            out.append((name, text))
    return tuple(out)


def calibration_label(box: Box) -> str:
    """What the calibration page prints in ``box``: its name without dots (``24AFROM1``), without
    the item number where the box is too narrow (``B1`` for 24B of line 1), filled out with #;
    a checkbox gets an X."""
    if box.width == 1:
        return "X"
    label = box.name.replace(".", "").upper()
    if len(label) > box.width:
        short = label.lstrip("0123456789")
        label = short if short and len(short) <= box.width else label
    return (label + "#" * box.width)[: box.width]


def calibration_form() -> Form:
    """A form with every box filled by its own label: print it on a red form and every label should
    sit in the box it names; how far it is off is the printer's offset."""
    return Form("CALIBRATION", 1, 1, 0, tuple((box.name, calibration_label(box)) for box in _BOXES))


def grid(form: Form) -> list[str]:
    """The form as 66 lines of 85 columns (trailing spaces kept), the one layout both outputs print."""
    rows = [[" "] * COLUMNS for _ in range(LINES)]
    for name, text in form.fields:
        box = BOXES[name]
        for i, ch in enumerate(text[: box.width]):
            rows[box.line - 1][box.col - 1 + i] = ch
    return ["".join(row) for row in rows]


def text_pages(all_forms: Sequence[Form]) -> str:
    """For a line printer: each form exactly 66 lines, the last one ended by a form feed."""
    return "".join("\n".join(row.rstrip() for row in grid(form)) + "\f" for form in all_forms)


def pdf_bytes(all_forms: Sequence[Form], *, offset_x: float = 0.0, offset_y: float = 0.0) -> bytes:
    """The forms as a letter-size PDF, one page each, in Courier 12 point (10 characters per inch).

    ``offset_x`` and ``offset_y`` (points, positive moves right and down) shift everything, to
    make up for where this printer puts the page; the calibration page shows what they should be.
    """
    from fpdf import FPDF  # imported here: only printing needs it

    pdf = FPDF(unit="pt", format="letter")
    pdf.set_auto_page_break(False)
    pdf.set_margins(0, 0, 0)
    pdf.set_creator("tui-billing")
    pdf.set_font("Courier", size=12)
    for form in all_forms:
        pdf.add_page()
        for name, text in form.fields:
            box = BOXES[name]
            left, top, _, _ = box.rect_pt(offset_x, offset_y)
            # leading spaces (right-justified money) are kept as an x shift so each digit keeps its column
            stripped = text.lstrip(" ")
            x = left + (len(text) - len(stripped)) * CHAR_PT
            pdf.text(x, top + BASELINE_PT, stripped)
    return bytes(pdf.output())
