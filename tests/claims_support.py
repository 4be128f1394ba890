"""A practice whose claims a real scrubber passes: full billing address with ZIP+4, EIN, valid NPIs,
payers with EDI ids and a clearinghouse, patients with addresses and coverages (one a dependent).

Importable from any test module (``import claims_support``). Dates are relative to the pinned
TODAY of store_helpers (2026-11-16), so a claim's date of service is always days before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tui_billing.store import accounts as acc
from tui_billing.store import operations as ops

from store_helpers import FEES, NPIS

DOS = "2026-11-10"
CLEARINGHOUSE = "CLEARHOUSE1"


@dataclass
class ClaimsPractice:
    providers: list[int] = field(default_factory=list)
    #: [commercial via the clearinghouse, medicare direct (its own EDI id), a payer nobody is covered by]
    payers: list[int] = field(default_factory=list)
    #: [self-insured adult, dependent child (mother is the subscriber), primary + secondary]
    patients: list[int] = field(default_factory=list)


def seed_claims_practice() -> ClaimsPractice:
    p = ClaimsPractice()
    acc.save_practice(acc.PracticeIn(
        name="Maple Family Practice", npi=NPIS[2], tax_id="12-3456789", street="100 Main Street",
        city="Springfield", state="IL", zip="62701-1234", phone="217-555-0100", taxonomy="207Q00000X",
        submitter_id="MAPLE01"))
    p.providers.append(acc.save_provider(acc.ProviderIn("SMI", "Smith", "Anna", NPIS[0], "207Q00000X")))
    p.providers.append(acc.save_provider(acc.ProviderIn("JON", "Jones", "Ben", NPIS[1], "207R00000X")))
    p.payers.append(acc.save_payer(acc.PayerIn("ACME", "Acme Health", "commercial", "ACM01", address="PO Box 1",
                                               city="Hartford", state="CT", zip="06101", receiver=CLEARINGHOUSE)))
    p.payers.append(acc.save_payer(acc.PayerIn("MCR", "Medicare Part B", "medicare", "MCR01", address="1 Federal Way",
                                               city="Baltimore", state="MD", zip="21201")))
    p.payers.append(acc.save_payer(acc.PayerIn("NOBODY", "Nobody's Plan", "commercial", "NOB01",
                                               receiver=CLEARINGHOUSE)))
    home = {"address": "12 Oak Lane", "city": "Springfield", "state": "IL", "zip": "62702"}
    p.patients.append(acc.register_patient(
        acc.PatientIn("Doe", "Jane", "1980-02-03", "F", **home),
        [acc.CoverageDetails(p.payers[0], "M100", 1, group_no="G1", effective="2026-01-01")], account="A001"))
    p.patients.append(acc.register_patient(
        acc.PatientIn("Doe", "Tim", "2015-05-06", "M", **home),
        [acc.CoverageDetails(p.payers[0], "M100", 1, group_no="G1", relationship="child", subscriber_last="Doe",
                             subscriber_first="Jane", subscriber_dob="1980-02-03", subscriber_sex="F",
                             subscriber_address="12 Oak Lane", subscriber_city="Springfield", subscriber_state="IL",
                             subscriber_zip="62702", effective="2026-01-01")], account="A002"))
    p.patients.append(acc.register_patient(
        acc.PatientIn("Roe", "Rick", "1950-07-08", "M", address="3 Elm Road", city="Springfield", state="IL",
                      zip="62703"),
        [acc.CoverageDetails(p.payers[1], "1EG4TE5MK72", 1, effective="2026-01-01"),
         acc.CoverageDetails(p.payers[0], "M201", 2, effective="2026-01-01")], account="A003"))
    for code, fee in FEES.items():
        ops.set_procedure(code, f"Office service {code}", fee)
    ops.seed_standard_reasons()
    return p


def visit(patient: int, *, provider: int = 0, payer: int | str = ops.PRIMARY, dos: str = DOS,
          codes: tuple[str, ...] = ("99213", "85025"), diagnoses: tuple[str, ...] = ("J06.9", "I10"),
          provider_id: int | None = None) -> ops.PostedEncounter:
    """Post one encounter (each line points at the first diagnosis)."""
    return ops.post_encounter(patient_id=patient, provider_id=provider_id or provider or 1, dos=dos,
                              diagnoses=list(diagnoses), payer_id=payer,
                              lines=[ops.ChargeLine(code) for code in codes])
