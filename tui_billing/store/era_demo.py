"""Sample 835 remittances for the demo's own claims, so a new user can try `import era` at once.

For each payer, the claims the books show as sent or accepted whose lines the payer still owes in
full are answered in one file, the way payers do: most paid with a contractual write-off (CO-45)
and coinsurance (PR-2); a few denied (CO-50, CO-16: they stay with the payer and open work
items); a few lines without the line control number (found by code and date instead); a claim of
a patient with more coverage crossed over (CLP02 19 and NM1*TT); interest on one payment (PLB L6).
A second file for the first payer reverses one of its paid claims (CLP02 22) and pays the
corrected amount, so the reversal can be seen after the first file is posted.

Nothing here writes to the books: it reads claims and writes files (0600, whole or not at all).
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path
from typing import Any

from ..claims import model as m
from ..claims.era_write import ClaimAnswer, LineAnswer, write_835
from ..files import atomic_output
from .clock import today as business_today
from .db import database

__all__ = ["claims_awaiting_payment", "write_demo_eras"]


def _rows(query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = database.execute_sql(query, params).fetchall()
    return rows


def claims_awaiting_payment(per_payer: int) -> dict[int, list[tuple[m.Claim, bool]]]:
    """Payer -> (claim as the 835 needs it, whether the patient has a next coverage), oldest first: the
    claims sent or accepted whose lines their payer still owes in full (also what bench/era_bench.py
    answers on a big demo)."""
    heads = _rows(
        "SELECT k.id, k.claim_id, k.payer_id, p.last_name, p.first_name, COALESCE(v.member_id, ''), "
        "y.name, y.edi_payer_id, EXISTS (SELECT 1 FROM coverage n WHERE n.patient_id = k.patient_id "
        "AND n.priority > COALESCE(v.priority, 1)) "
        "FROM claim k JOIN claim_status s ON s.claim_id = k.id JOIN patient p ON p.id = k.patient_id "
        "JOIN payer y ON y.id = k.payer_id LEFT JOIN coverage v ON v.id = k.coverage_id "
        "WHERE s.status IN ('sent', 'accepted') AND y.edi_payer_id <> '' "
        "AND NOT EXISTS (SELECT 1 FROM claim_line l JOIN charge_balance cb ON cb.charge_id = l.charge_id "
        "WHERE l.claim_id = k.id AND (cb.balance <> l.charge OR cb.payer_id IS NOT k.payer_id)) "
        "ORDER BY k.id")
    out: dict[int, list[tuple[m.Claim, bool]]] = defaultdict(list)
    address = m.Address("", "", "", "")
    for row, number, payer, last, first, member, payer_name, edi, more in heads:
        if len(out[payer]) >= per_payer:
            continue
        lines = tuple(m.ClaimLine(n, control, charge_id, code, tuple(x for x in (mods or "").split(",") if x), units,
                                  amount, dos, ())
                      for n, control, charge_id, code, mods, units, amount, dos in _rows(
                          "SELECT l.line_no, l.control_number, l.charge_id, c.code, c.modifiers, c.units, l.charge, "
                          "c.dos FROM claim_line l JOIN charge c ON c.id = l.charge_id WHERE l.claim_id = ? "
                          "ORDER BY l.line_no", (row,)))
        if not lines:
            continue
        person = m.Person(last, first, "", "U", address)
        claim = m.Claim(number, m.ORIGINAL, "P", person, "", m.Subscriber(member, "", "self", person),
                        m.Payer(payer, payer_name, edi, "", None, edi),
                        m.BillingProvider("", "", "", "", address, "", ""), m.RenderingProvider("", "", ""), (), lines,
                        id=row)
        out[payer].append((claim, bool(more)))
    return out


def _answer(claim: m.Claim, rng: random.Random, crossover: tuple[str, str] | None) -> ClaimAnswer:
    denied = rng.random() < 0.04
    reason = rng.choice(("50", "16"))
    answers = []
    for line in claim.lines:
        if denied:
            answers.append(LineAnswer(line, 0, (("CO", reason, line.charge),)))
            continue
        contractual = line.charge * rng.choice((15, 20, 25, 30)) // 100
        patient = (line.charge - contractual) // 5
        answers.append(LineAnswer(line, line.charge - contractual - patient,
                                  tuple(a for a in (("CO", "45", contractual), ("PR", "2", patient)) if a[2]),
                                  no_control_number=rng.random() < 0.03))
    status = "4" if denied else "19" if crossover else "1"
    return ClaimAnswer(claim, tuple(answers), status, f"DEMO{claim.claim_id}", None if denied else crossover)


def write_demo_eras(output_dir: str | Path, *, seed: int = 1, per_payer: int = 150) -> dict[str, int]:
    """Write the sample files into ``output_dir``; returns counts (files, claims, lines)."""
    rng = random.Random(seed)
    practice = _rows("SELECT name, npi FROM practice WHERE id = 1")
    payee, npi = practice[0] if practice else ("Demo Practice", "1003000126")
    by_payer = claims_awaiting_payment(per_payer)
    names = {pid: (name, edi) for pid, name, edi in _rows("SELECT id, name, edi_payer_id FROM payer")}
    out = Path(output_dir)
    out.mkdir(mode=0o700, parents=True, exist_ok=True)
    for old in out.glob("835-*.835"):  # the folder is the demo's: a rebuilt demo starts it again
        old.unlink()
    paid_date = business_today().isoformat()
    counts = {"835 files": 0, "835 claims": 0, "835 lines": 0}
    for n, (payer, claims) in enumerate(sorted(by_payer.items()), 1):
        name, edi = names[payer]
        others = [names[p] for p in sorted(by_payer) if p != payer] or [(name, edi)]
        answers = [_answer(claim, rng, others[0] if more else None) for claim, more in claims]
        later: list[ClaimAnswer] = []
        if n == 1:  # one claim paid now and taken back in a second file; one held back for that file
            plain = [a for a in answers if a.status == "1" and a.paid > 500]
            if len(plain) >= 2:
                later = [plain[0], plain[-1]]
                answers.remove(plain[-1])
        kw = {"payer_name": name, "payer_id": edi, "payee_name": payee or "Demo Practice",
              "payee_npi": npi or "1003000126", "paid_date": paid_date}
        text = write_835(answers, trace=f"DEMO{payer:03d}{n:04d}", control=n,
                         plb=[("L6", answers[0].claim.claim_id, -125)] if n == 1 else [], **kw)
        _write(out / f"835-{edi}-{paid_date}.835", text)
        counts["835 files"] += 1
        counts["835 claims"] += len(answers)
        counts["835 lines"] += sum(len(a.lines) for a in answers)
        if later:
            taken, held = later
            corrected = ClaimAnswer(taken.claim, (_less(taken.lines[0], 500), *taken.lines[1:]), "1",
                                    taken.payer_claim_number)
            text = write_835([corrected, held], reversals=[taken], trace=f"DEMO{payer:03d}R", control=90, **kw)
            _write(out / f"835-{edi}-{paid_date}-reversal.835", text)
            counts["835 files"] += 1
            counts["835 claims"] += 3
            counts["835 lines"] += 2 * len(taken.lines) + len(held.lines)
    return counts


def _less(answer: LineAnswer, cents: int) -> LineAnswer:
    """The same line paid ``cents`` less, the difference a contractual adjustment (the corrected claim)."""
    adjustments = list(answer.adjustments)
    found = next((i for i, (g, r, _) in enumerate(adjustments) if (g, r) == ("CO", "45")), None)
    if found is None:
        adjustments.append(("CO", "45", cents))
    else:
        g, r, a = adjustments[found]
        adjustments[found] = (g, r, a + cents)
    return LineAnswer(answer.line, answer.paid - cents, tuple(adjustments), answer.no_control_number)


def _write(path: Path, text: str) -> None:
    with atomic_output(path) as fh:
        fh.write(text)
