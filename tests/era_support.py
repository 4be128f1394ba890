"""Claim records for the 835 tests: only what matching and posting read is real, the parties are plain."""

from __future__ import annotations

from pathlib import Path

from tui_billing.claims import model

ERA_DIR = Path(__file__).parent / "data" / "era"

_ADDRESS = model.Address("1 Main St", "Springfield", "IL", "627010001")
_PERSON = model.Person("Doe", "Jane", "1980-02-03", "F", _ADDRESS)


def line(line_no: int, code: str, charge: int, dos: str, *, control: str = "", charge_id: int = 0,
         modifiers: tuple[str, ...] = (), units: int = 1) -> model.ClaimLine:
    return model.ClaimLine(line_no, control, charge_id, code, modifiers, units, charge, dos, (1,))


def claim(claim_id: str, lines: list[model.ClaimLine], *, payer_id: int = 1, payer_edi: str = "ACM01",
          responsibility: str = "P") -> model.Claim:
    payer = model.Payer(payer_id, "Payer", payer_edi, "CI", None, payer_edi)
    return model.Claim(
        claim_id=claim_id, frequency=model.ORIGINAL, responsibility=responsibility, patient=_PERSON, account="A001",
        subscriber=model.Subscriber("M100", "", "self", _PERSON), payer=payer,
        billing=model.BillingProvider("Test Family Practice", "1003000126", "123456789", "207Q00000X", _ADDRESS,
                                      "2175551212", "TESTPRACTICE"),
        rendering=model.RenderingProvider("Smith", "Anna", "1234567893"), diagnoses=("J06.9",),
        lines=tuple(lines))


# --------------------------------------------------------------------------- books with claims


def books_claim(patient: int, payer: int, codes: tuple[str, ...], dos: str) -> tuple[str, list[str], list[int], int]:
    """Post an encounter and record its claim to ``payer``: (claim number, control numbers, charge ids, claim row)."""
    import claims_support

    from tui_billing.store import claims as claim_store
    from tui_billing.store import database

    enc = claims_support.visit(patient, codes=codes, dos=dos, payer=payer)
    amounts = dict(database.execute_sql(
        f"SELECT id, amount FROM charge WHERE id IN ({','.join(map(str, enc.charge_ids))})").fetchall())
    with database.atomic():
        [row] = claim_store._insert_claims({(enc.encounter_id, payer): [(c, amounts[c], dos) for c in enc.charge_ids]},
                                           user="tester", now="2026-11-16T09:00:00", day="2026-11-16")
    claim_store.record_events([(row, "sent", "")])  # a claim the payer has: what an 835 answers
    number = claim_store.claim_number(row)
    controls = [r[0] for r in database.execute_sql(
        "SELECT control_number FROM claim_line WHERE claim_id = ? ORDER BY line_no", (row,)).fetchall()]
    return number, controls, list(enc.charge_ids), row


def fixture_for(name: str, claims: dict[str, tuple[str, list[str]]], tmp_path: Path) -> Path:
    """A fixture 835 with its placeholder claim ids (C1) and line controls (C1L1) replaced by the books' own."""
    text = (ERA_DIR / f"{name}.835").read_text()
    for placeholder, (number, controls) in claims.items():
        for n, control in enumerate(controls, 1):
            text = text.replace(f"REF*6R*{placeholder}L{n}~", f"REF*6R*{control}~")
        text = text.replace(f"CLP*{placeholder}*", f"CLP*{number}*")
    path = tmp_path / f"{name}.835"
    path.write_text(text)
    return path
