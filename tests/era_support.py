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
