"""The CMS-1500 on paper: the text for a line printer against golden files, and the PDF rendered by
pdfium (a separate renderer) to check that every field lands inside the box of the form it belongs in."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from paper_claims import claim

from tui_billing.claims import cms1500
from tui_billing.claims.model import REPLACEMENT, OtherPayer, OtherPayment

GOLDEN = Path(__file__).parent / "data" / "cms1500"
PRINTED = "2026-03-10"

#: Some of the red form's boxes as drawn on the sheet (inches from the top-left corner: left, top,
#: right, bottom), measured on the form itself rather than taken from cms1500.BOXES, with what the
#: sample claim puts in each.
FORM_BOXES = {
    "1a insured's id": ((4.9, 1.0, 8.3, 1.35), "XGP123456789"),
    "2 patient's name": ((0.0, 1.5, 2.9, 1.68), "MULLER-ORTIZ, LEO"),
    "3 birth date": ((3.0, 1.5, 4.05, 1.68), "07 04 2015"),
    "4 insured's name": ((4.9, 1.5, 8.3, 1.68), "MULLER-ORTIZ, ANA, B"),
    "5 patient's street": ((0.0, 1.83, 2.9, 2.01), "12 OAK LANE"),
    "7 insured's city": ((4.9, 2.17, 7.25, 2.34), "SPRINGFIELD"),
    "9 other insured": ((0.0, 2.83, 2.9, 3.0), "ORTIZ, JUAN"),
    "11 group": ((4.9, 2.83, 8.3, 3.0), "GRP-77"),
    "11a insured's birth date": ((5.2, 3.17, 6.3, 3.34), "02 29 1980"),
    "21 A": ((0.2, 6.17, 1.1, 6.34), "J069"),
    "21 C": ((2.8, 6.17, 3.7, 6.34), "Z23"),
    "24D first line": ((2.4, 7.17, 3.1, 7.34), "99213"),
    "24F third line": ((4.9, 7.83, 5.7, 8.0), "133 33"),
    "24J sixth line": ((6.7, 8.83, 7.8, 9.0), "1245319599"),
    "25 EIN": ((0.0, 9.17, 1.55, 9.34), "123456789"),
    "26 account": ((2.2, 9.17, 3.6, 9.34), "A10042"),
    "33 billing name": ((4.9, 9.5, 8.3, 9.67), "RIVERSIDE FAMILY MEDICINE"),
    "33a NPI": ((4.9, 10.0, 6.0, 10.17), "1234567893"),
}


def _chars(pdf: bytes, page: int = 0) -> list[tuple[str, float, float]]:
    """Every printed character of a page with its centre, in points from the sheet's top-left corner."""
    doc = pdfium.PdfDocument(pdf)
    try:
        pdf_page = doc[page]
        height = pdf_page.get_height()
        text = pdf_page.get_textpage()
        out = []
        for i in range(text.count_chars()):
            ch = text.get_text_range(i, 1)
            if ch.strip():
                left, bottom, right, top = text.get_charbox(i)
                out.append((ch, (left + right) / 2, height - (bottom + top) / 2))
        return out
    finally:
        doc.close()


def _pdf_grid(pdf: bytes, page: int = 0, offset_x: float = 0.0, offset_y: float = 0.0) -> list[str]:
    """The page's characters put back in the 85 x 66 grid by where pdfium found them."""
    rows = [[" "] * cms1500.COLUMNS for _ in range(cms1500.LINES)]
    for ch, x, y in _chars(pdf, page):
        col, line = math.floor((x - offset_x) / cms1500.CHAR_PT), math.floor((y - offset_y) / cms1500.LINE_PT)
        assert rows[line][col] == " ", f"two characters in line {line + 1} column {col + 1}"
        rows[line][col] = ch
    return ["".join(row).rstrip() for row in rows]


def _text_in(chars: list[tuple[str, float, float]], rect_in: tuple[float, float, float, float]) -> str:
    left, top, right, bottom = (v * 72 for v in rect_in)
    return "".join(ch for ch, x, y in chars if left <= x <= right and top <= y <= bottom)


def test_the_text_form_is_the_golden_file():
    text = cms1500.text_pages(cms1500.forms(claim(3), PRINTED))
    assert text == (GOLDEN / "dependent-3-lines.txt").read_text(encoding="ascii")


def test_a_replacement_of_nine_lines_is_the_golden_file_on_two_forms():
    replacement = replace(claim(9), frequency=REPLACEMENT, payer_claim_number="PHP2026030900117")
    text = cms1500.text_pages(cms1500.forms(replacement, PRINTED))
    assert text == (GOLDEN / "replacement-9-lines.txt").read_text(encoding="ascii")
    first = text.split("\f")[0].split("\n")
    assert first[37][49] == "7" and first[37][61:77] == "PHP2026030900117"  # box 22 on line 38


def test_nine_lines_make_two_forms_whose_totals_add_up_to_the_claim():
    nine = claim(9)
    forms = cms1500.forms(nine, PRINTED)
    assert [(f.page, f.pages) for f in forms] == [(1, 2), (2, 2)]
    assert sum(f.total for f in forms) == nine.total
    assert forms[0].total == sum(line.charge for line in nine.lines[:6])
    for form in forms:
        assert form.value("28") == cms1500._money(form.total)
        shown = [form.value(f"24F.{n}") for n in range(1, 7) if form.value(f"24F.{n}")]
        assert sum(int(v.replace(" ", "")) for v in shown) == form.total  # box 28 adds up its own lines
    assert not forms[1].value("24D.4")  # the second form carries lines 7-9 only
    pages = cms1500.text_pages(forms).split("\f")
    assert pages[-1] == "" and len(pages) == 3  # each form is ended by a form feed
    assert all(len(page.split("\n")) == 66 for page in pages[:-1])
    assert all(len(row) <= 85 for page in pages for row in page.split("\n"))


def test_the_pdf_puts_each_field_inside_its_box_on_the_form():
    chars = _chars(cms1500.pdf_bytes(cms1500.forms(claim(6), PRINTED)))
    for what, (rect, expected) in FORM_BOXES.items():
        assert _text_in(chars, rect) == expected.replace(" ", ""), what


def test_the_pdf_has_the_same_characters_in_the_same_cells_as_the_text_form():
    forms = cms1500.forms(claim(9), PRINTED)
    pdf = cms1500.pdf_bytes(forms)
    for page, form in enumerate(forms):
        assert _pdf_grid(pdf, page) == [row.rstrip() for row in cms1500.grid(form)]


@pytest.mark.parametrize("offset_x, offset_y", [(9.0, -4.5), (-3.6, 6.0)])
def test_printer_offsets_move_every_field_by_the_offset(offset_x, offset_y):
    form = cms1500.forms(claim(3), PRINTED)
    pdf = cms1500.pdf_bytes(form, offset_x=offset_x, offset_y=offset_y)
    assert _pdf_grid(pdf, 0, offset_x, offset_y) == [row.rstrip() for row in cms1500.grid(form[0])]
    plain = {(ch, round(x, 1), round(y, 1)) for ch, x, y in _chars(cms1500.pdf_bytes(form))}
    moved = {(ch, round(x - offset_x, 1), round(y - offset_y, 1)) for ch, x, y in _chars(pdf)}
    assert moved == plain


def test_the_rendered_page_is_dark_only_inside_the_boxes_it_fills():
    form = cms1500.forms(claim(3), PRINTED)[0]
    offset_x, offset_y = 4.0, 3.0
    doc = pdfium.PdfDocument(cms1500.pdf_bytes([form], offset_x=offset_x, offset_y=offset_y))
    scale = 2  # 144 dots per inch
    image = doc[0].render(scale=scale, grayscale=True).to_pil().convert("L")
    doc.close()
    pixels = image.load()
    rects = {name: cms1500.BOXES[name].rect_pt(offset_x, offset_y) for name, _ in form.fields}
    dark = [(x, y) for y in range(image.height) for x in range(image.width) if pixels[x, y] < 128]
    assert dark
    for x, y in dark:  # nothing printed outside a box (a glyph may touch its cell's edge)
        px, py = x / scale, y / scale
        assert any(lf - 1 <= px <= rt + 1 and tp - 1 <= py <= bt + 1 for lf, tp, rt, bt in rects.values()), (px, py)
    for name, (lf, tp, rt, bt) in rects.items():  # and every filled box has ink in it
        assert any(lf <= x / scale <= rt and tp <= y / scale <= bt for x, y in dark), name


def test_the_calibration_page_names_every_box_in_the_box():
    calibration = cms1500.calibration_form()
    pdf = cms1500.pdf_bytes([calibration])
    grid = _pdf_grid(pdf)
    for box in cms1500.BOXES.values():
        cells = grid[box.line - 1][box.col - 1: box.col - 1 + box.width]
        assert cells == cms1500.calibration_label(box), box.name
    # the labels say which box they are in: 24B of line 3 and the insured's id
    assert cms1500.calibration_label(cms1500.BOXES["24B.3"]) == "B3"
    assert cms1500.calibration_label(cms1500.BOXES["1a"]).startswith("1A###")
    assert cms1500.calibration_label(cms1500.BOXES["24A.from.6"]) == "24AFROM6"
    text = cms1500.text_pages([calibration])
    assert text.split("\f")[0].split("\n") == grid


def test_boxes_never_overlap_and_stay_on_the_sheet():
    cells: dict[tuple[int, int], str] = {}
    for box in cms1500.BOXES.values():
        assert 1 <= box.line <= cms1500.LINES and box.col >= 1 and box.col + box.width - 1 <= cms1500.COLUMNS
        for col in range(box.col, box.col + box.width):
            assert (box.line, col) not in cells, f"{box.name} overlaps {cells[(box.line, col)]}"
            cells[(box.line, col)] = box.name


def test_what_is_printed_is_plain_upper_case_ascii_cut_to_the_box():
    hostile = replace(claim(1), account="A\x1b[31m1\u202e2", patient=replace(claim(1).patient, last="Ærøskøbing-Łódź" * 3))
    form = cms1500.forms(hostile, PRINTED)[0]
    assert form.value("2") == "AEROSKOBING-LODZAEROSKOBING-"  # transliterated, cut to box 2's 28 columns
    assert all(" " <= ch <= "~" for _, text in form.fields for ch in text)
    assert all(len(text) <= cms1500.BOXES[name].width for name, text in form.fields)
    assert form.value("26").startswith("A [31M1")


def test_an_amount_the_box_cannot_hold_is_refused():
    big = claim(1)
    big = replace(big, lines=(replace(big.lines[0], charge=10_000_000),))
    with pytest.raises(cms1500.FormError, match="99,999.99"):
        cms1500.forms(big, PRINTED)


def test_box_29_shows_what_the_earlier_payer_paid_on_each_forms_lines():
    nine = claim(9)
    primary = replace(nine.other_payers[0], paid=300_00,
                      lines=tuple(OtherPayment(n, 10_00 * n, (("CO", "45", 5_00),), "2026-04-01") for n in range(1, 10)))
    forms = cms1500.forms(replace(nine, responsibility="S", other_payers=(primary,)), PRINTED)
    assert [f.value("29") for f in forms] == [cms1500._money(10_00 * sum(range(1, 7))), cms1500._money(10_00 * (7 + 8 + 9))]
    lump = replace(primary, lines=())
    forms = cms1500.forms(replace(nine, other_payers=(lump, OtherPayer(primary.payer, primary.subscriber, "T", 0))),
                          PRINTED)
    assert [f.value("29") for f in forms] == ["  300 00", ""]  # a payment without line detail: on the first form


def test_medicare_with_nothing_primary_to_it_says_none_in_box_11():
    medicare = replace(claim(1).payer, filing_code="MB")
    sub = replace(claim(1).subscriber, group_no="", relationship="self")
    form = cms1500.forms(replace(claim(1), payer=medicare, subscriber=sub, other_payers=()), PRINTED)[0]
    assert (form.value("11"), form.value("1.medicare"), form.value("6.self"), form.value("11d.no")) == ("NONE", "X", "X", "X")
