"""The 835 writer (demo samples, the benchmark): what it writes parses back, balances, and pyx12 passes."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tui_billing.claims.era import balance_problems, parse_835
from tui_billing.claims.era_write import ClaimAnswer, LineAnswer, write_835

from era_support import claim, line
from x12_check import x12_errors


def answer(claim_id: str, splits: list[tuple[int, int, int]], status: str = "1", **kw) -> ClaimAnswer:
    lines = []
    for n, (charge, contractual, patient) in enumerate(splits, 1):
        claim_line = line(n, "99213", charge, "2026-11-02", control=f"{claim_id}-{n}")
        adjustments = tuple(a for a in (("CO", "45", contractual), ("PR", "2", patient)) if a[2])
        lines.append(LineAnswer(claim_line, charge - contractual - patient, adjustments))
    return ClaimAnswer(claim(claim_id, [a.line for a in lines]), tuple(lines), status, **kw)


def write(answers, **kw) -> str:
    return write_835(answers, payer_name="Acme Health", payer_id="ACM01", payee_name="Test Family Practice",
                     payee_npi="1003000126", trace="T1", paid_date="2026-11-13", **kw)


def test_a_remittance_with_every_part_parses_back_balanced_and_pyx12_clean():
    paid = answer("TB1", [(10000, 2000, 1600), (1000, 0, 200)])
    corrected = answer("TB1", [(10000, 2000, 800), (1000, 0, 200)])
    crossover = answer("TB2", [(10000, 0, 2000)], "19", crossover=("Acme Health", "ACM01"))
    text = write([corrected, crossover], reversals=[paid], plb=[("L6", "TB2", -250), ("WO", "TB0", 1000)])
    assert x12_errors(text) == []
    [r] = parse_835(text)
    assert balance_problems(r) == []
    assert [c.status for c in r.claims] == ["22", "1", "19"]
    assert r.amount == -paid.paid + corrected.paid + crossover.paid + 250 - 1000
    assert r.claims[2].crossover_id == "ACM01"


money = st.integers(min_value=0, max_value=500000)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(st.tuples(money, money, money), min_size=1, max_size=5), min_size=1, max_size=4))
def test_random_remittances_balance(claims):
    answers = []
    for i, splits in enumerate(claims):
        fixed = [(c + a + b, a, b) for c, a, b in splits]  # the charge covers its adjustments
        answers.append(answer(f"TB{i}", fixed))
    [r] = parse_835(write(answers))
    assert balance_problems(r) == []
    assert r.amount == sum(a.paid for a in answers)
