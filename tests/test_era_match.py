"""Matching 835 lines to claim lines: each rule in its order, and exceptions instead of guesses."""

from __future__ import annotations

from tui_billing.claims import era_match as m
from tui_billing.claims.era import parse_835

from era_support import ERA_DIR, claim, line


def payments(name: str):
    [r] = parse_835((ERA_DIR / f"{name}.835").read_text())
    return r.claims


def test_lines_are_found_by_their_control_number_whatever_the_order():
    books = {"C1": claim("C1", [line(1, "36415", 1000, "2026-11-02", control="C1L2"),
                                line(2, "99213", 10000, "2026-11-02", control="C1L1")])}
    [found] = m.match_remittance(payments("paid"), books)
    assert found.matched
    assert [(x.line.line_no, x.how) for x in found.lines] == [(2, m.BY_CONTROL_NUMBER), (1, m.BY_CONTROL_NUMBER)]


def test_a_control_number_we_never_sent_is_an_exception_with_suggestions():
    books = {"C1": claim("C1", [line(1, "99213", 10000, "2026-11-02", control="OTHER1"),
                                line(2, "36415", 1000, "2026-11-02", control="C1L2")])}
    [found] = m.match_remittance(payments("paid"), books)
    assert not found.matched
    first = found.lines[0]
    assert first.line is None and "C1L1 is not a line of claim C1" in first.problem
    assert [s.line_no for s in first.suggestions] == [1]
    assert found.lines[1].line is not None


def test_a_claim_we_cannot_find():
    books = {"C1": claim("C1", [line(1, "99213", 10000, "2026-11-02", control="C1L1"),
                                line(2, "36415", 1000, "2026-11-02", control="C1L2")])}
    known, unknown = m.match_remittance(payments("unknown_claim"), books)
    assert known.matched
    assert unknown.claim is None and not unknown.matched and "no claim ZZ999" in unknown.problem


def test_restated_code_then_code_date_units_then_code_and_date_and_ambiguity():
    books = {"C10": claim("C10", [
        line(1, "99214", 15000, "2026-11-09"),
        line(2, "85025", 2500, "2026-11-09", modifiers=("QW", "91")),
        line(3, "99213", 10000, "2026-11-09", modifiers=("25",)),
        line(4, "36415", 1000, "2026-11-09"),
        line(5, "36415", 1000, "2026-11-09"),
    ])}
    [found] = m.match_remittance(payments("matching"), books)
    hows = [(x.line.line_no if x.line else None, x.how) for x in found.lines]
    assert hows[:3] == [(1, m.BY_RESTATED_CODE), (2, m.BY_CODE_DATE_UNITS), (3, m.BY_CODE_DATE)]
    ambiguous = found.lines[3]
    assert ambiguous.line is None and "fits 2 lines" in ambiguous.problem
    assert [s.line_no for s in ambiguous.suggestions] == [4, 5]
    assert not found.matched


def test_code_and_date_is_not_used_when_the_date_differs():
    books = {"C10": claim("C10", [
        line(1, "99214", 15000, "2026-11-09"),
        line(2, "85025", 2500, "2026-11-09", modifiers=("QW", "91")),
        line(3, "99213", 10000, "2026-11-10", modifiers=("25",)),
        line(4, "36415", 1000, "2026-11-09"),
    ])}
    [found] = m.match_remittance(payments("matching"), books)
    third = found.lines[2]
    assert third.line is None and "no line of claim C10 is 99213 on 2026-11-09" in third.problem
    assert [s.line_no for s in third.suggestions] == [3, 4]  # the same code, or the same day
    assert found.lines[3].line is not None and found.lines[3].line.line_no == 4


def test_a_line_is_never_paid_twice_in_one_claim():
    books = {"C1": claim("C1", [line(1, "99213", 10000, "2026-11-02", control="C1L1"),
                                line(2, "36415", 1000, "2026-11-02", control="C1L2")])}
    [r] = parse_835((ERA_DIR / "paid.835").read_text().replace("REF*6R*C1L2", "REF*6R*C1L1"))
    [found] = m.match_remittance(r.claims, books)
    assert found.lines[0].line is not None and found.lines[1].line is None
    assert "C1L1 is paid twice" in found.lines[1].problem


def test_a_charge_that_differs_from_the_line_is_an_exception():
    books = {"C1": claim("C1", [line(1, "99213", 9000, "2026-11-02", control="C1L1"),
                                line(2, "36415", 1000, "2026-11-02", control="C1L2")])}
    [found] = m.match_remittance(payments("paid"), books)
    assert found.lines[0].line is None and "charged 100.00" in found.lines[0].problem
