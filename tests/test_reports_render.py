"""The renderer: the fast table path prints exactly what tabulate prints; cells stay inert."""

from __future__ import annotations

import random

import pytest

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
