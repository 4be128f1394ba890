"""The renderer: the fast table path prints exactly what tabulate prints; cells stay inert."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_billing.money import format_cents
from tui_billing.reports import render as r


def _section(seed: int) -> r.Section:
    rng = random.Random(seed)
    names = ["Nguyen, Linh", "Müller, Jürgen", "O'Neil, Pat", "", "Łukasz, Zoë", "x" * 30]
    rows = [[rng.choice(["charge", "receipt", "void charge"]), rng.randint(1, 10**6), rng.choice(names),
             r.Money(rng.randint(-10**8, 10**8)), None if rng.random() < 0.2 else rng.randint(0, 99)]
            for _ in range(rng.randint(21, 80))]
    return r.Section("t", ["kind", "id", "name", "amount", "count"], rows)


@pytest.mark.parametrize("fmt", sorted(r.FAST_FORMATS))
@pytest.mark.parametrize("seed", [1, 2])
def test_fast_path_equals_tabulate(fmt, seed):
    sec = _section(seed)
    align = ["right" if r._is_amount_column(sec, i) else "left" for i in range(5)]
    shown = [[r._display(c) for c in row] for row in sec.rows]
    fast = r._fast_table(shown, list(sec.columns), fmt, align)
    assert fast is not None
    assert fast == r._tabulate(shown, list(sec.columns), fmt, align)


def test_money_never_float_and_exact():
    rep = r.Report("x", "X", sections=[r.Section("s", ["a"], [[r.Money(-5)], [r.Money(123456789)]])])
    assert r.render(rep, "csv").splitlines() == ["a", "-0.05", "1234567.89"]
    assert '"a": "-0.05"' in r.render(rep, "json")
    assert "1,234,567.89" in r.render(rep, "simple")


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_csv_formula_cells_neutralised(text):
    rep = r.Report("x", "X", sections=[r.Section("s", ["name"], [[text]])])
    cell = r.render(rep, "csv").split("\n")[1]
    # formula starts get a quote; a tab or CR is a control character and prints as U+FFFD
    assert cell.lstrip('"').startswith(("'", "\ufffd"))


def test_control_characters_print_inert():
    rep = r.Report("x", "X\x1b]0;pwned\x07", sections=[r.Section("s\x1b[2J", ["n"], [["a\x1b[31mb\u202ec"]])])
    for fmt in ("simple", "csv", "json", "html"):
        out = r.render(rep, fmt)
        assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out


_LATIN_CHARS = st.characters(min_codepoint=32, max_codepoint=0x17F, blacklist_categories=("Cc", "Zl", "Zp"))
_LATIN = st.text(alphabet=_LATIN_CHARS, max_size=12)
#: printable Latin text, and some wide (two-column) CJK characters
_CELL = st.text(alphabet=_LATIN_CHARS | st.sampled_from("日本語李王김"), max_size=12)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), ncols=st.integers(1, 5), fmt=st.sampled_from(["simple", "plain"]))
def test_simple_and_plain_are_written_out_as_tabulate_prints_them(data, ncols, fmt):
    # the default format never imports tabulate, so it must print what tabulate would: widths,
    # the heading minimum, alignment, stripped trailing blanks. tabulate counts characters
    # (wcwidth is not installed), so wide characters are checked against the marker-row path,
    # which takes the furniture from tabulate and the widths from us.
    heads = data.draw(st.lists(_LATIN, min_size=ncols, max_size=ncols))  # headings are the code's own words
    rows = data.draw(st.lists(st.lists(_CELL, min_size=ncols, max_size=ncols), min_size=1, max_size=8))
    align = data.draw(st.lists(st.sampled_from(["left", "right"]), min_size=ncols, max_size=ncols))
    ours = r._simple_table([list(c) for c in zip(*rows, strict=False)], list(heads), align, rule=fmt == "simple")
    if all(r._width(t) == len(t) for t in heads + [c for row in rows for c in row]):
        assert ours == r._tabulate(rows, heads, fmt, align)
    marked = r._fast_table([list(row) for row in rows], list(heads), fmt, align)
    if marked is not None:  # (it declines a column with no width at all)
        assert ours == marked


def test_default_format_does_not_import_tabulate():
    code = ("import sys\nfrom tui_billing.reports import render as r\n"
            "rep = r.Report('x', 'X', sections=[r.Section('s', ['a', 'b'], [['x', r.Money(5)]] * 30)])\n"
            "r.render(rep, 'simple'); r.render(rep, 'plain'); r.render(rep, 'simple', page_length=20)\n"
            "print('tabulate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_wide_characters_line_up_by_display_width():
    rep = r.Report("x", "X", sections=[r.Section("s", ["name", "amount"], [["日本", r.Money(100)], ["ab", r.Money(5)]])])
    table = r.render(rep, "simple").split("\n\n")[1].splitlines()[1:]
    assert len({r._width(line) for line in table[1:]}) == 1  # the amounts end in the same column


@given(st.lists(st.none() | st.integers(-10**15, 10**15).map(r.Money), max_size=30))
def test_amount_column_text_is_format_cents(cells):
    assert r._amount_texts(cells) == ["" if c is None else format_cents(c) for c in cells]
