"""Scrubber and 837P writer (005010X222A1) speed on a day's claims, in memory (no database).

    python bench/claims_x12_bench.py [--claims 3500] [--rounds 7]

Builds ``--claims`` varied claims (1-4 lines, 1-4 diagnoses, one in ten with accented names, one
in five a dependent, one in ten a secondary claim with the primary payer's adjudication) and
times, as medians over ``--rounds`` (wall, and CPU as ``*_cpu_ms``: the machine is shared):

- ``scrub_ms``: :func:`tui_billing.claims.scrub.scrub` over every claim;
- ``write_ms``: :func:`tui_billing.claims.x837.write_837p` of all of them as one interchange;
- ``floor_text_ms``: the floor, the same claims' fields (every line with its claim's names and
  ids) joined into plain delimited text with no X12 rules: what writing the data costs at all.

``run(claims, rounds)`` returns the figures as a dict; the store's benchmark adds the reads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tui_billing.claims.model import (
    Address,
    BillingProvider,
    Claim,
    ClaimLine,
    OtherPayer,
    OtherPayment,
    Payer,
    Person,
    RenderingProvider,
    Subscriber,
)
from tui_billing.claims.scrub import scrub
from tui_billing.claims.x837 import write_837p
from tui_billing.codes import COMMON_ICD10, npi_check_digit, warm_icd10

LASTS = ["Smith", "Garcia", "O'Brien", "Nguyen", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis"]
ACCENTED = ["Núñez", "Müller", "Zoë", "Łukasz", "Ærø", "Gonçalves"]
FIRSTS = ["Ann", "Bob", "Carla", "Dmitri", "Eve", "Farah", "Gus", "Hana"]
CODES = ["99213", "99214", "99203", "36415", "81002", "G0439", "90471", "87880"]
DIAGNOSES = [c for c in COMMON_ICD10 if c[0] not in "VWXY"]


def _npi(first9: str) -> str:
    return first9 + str(npi_check_digit(first9))


def make_claims(count: int, dos: str = "2026-02-20") -> list[Claim]:
    """``count`` clean claims, varied the way a day's claims are."""
    practice = BillingProvider(name="Riverside Family Medicine", npi=_npi("124531959"), ein="741234567",
                               taxonomy="207Q00000X", address=Address("100 Main Street", "Springfield", "IL", "627011234"),
                               phone="2175550100", submitter_id="TUIBILLING01", contact="Dana Biller")
    doctors = [RenderingProvider("Okafor", "Ada", _npi(f"1{n:08d}"), "207Q00000X") for n in range(1, 6)]
    acme = Payer(1, "Acme Health Plan", "ACME1", "CI", Address("PO Box 1000", "Chicago", "IL", "60601"), "CLEARHOUSE")
    medicare = Payer(2, "Medicare Part B", "MCRB1", "MB", None, "CLEARHOUSE")
    claims = []
    for n in range(count):
        last = ACCENTED[n % len(ACCENTED)] if n % 10 == 3 else LASTS[n % len(LASTS)]
        home = Address(f"{n % 900 + 1} Elm Road", "Springfield", "IL", "62704")
        patient = Person(last, FIRSTS[n % len(FIRSTS)], f"19{50 + n % 50}-0{1 + n % 9}-1{n % 9}", "FM"[n % 2], home)
        dependent = n % 5 == 0
        insured = replace(patient, first="Pat", dob="1970-01-01") if dependent else patient
        subscriber = Subscriber(f"M{n:09d}", "GRP-42", "child" if dependent else "self", insured, effective="2025-01-01")
        dx = tuple(DIAGNOSES[(n + k) % len(DIAGNOSES)] for k in range(1 + n % 4))
        lines = tuple(ClaimLine(k, f"{n:08d}{k:02d}", n * 10 + k, CODES[(n + k) % len(CODES)], ("25",) if k == 1 and n % 3
                                else (), 1, 5000 + (n * 37 + k * 101) % 20000, dos, tuple(range(1, min(len(dx), 4) + 1)))
                      for k in range(1, 2 + n % 4))
        claim = Claim(f"C{n:09d}", "1", "P", patient, f"A{n:06d}", subscriber, acme, practice, doctors[n % len(doctors)],
                      dx, lines)
        if n % 10 == 7:
            paid = tuple(OtherPayment(ln.line_no, ln.charge // 2, (("CO", "45", ln.charge - ln.charge // 2),),
                                      "2026-02-27") for ln in lines)
            claim = replace(claim, responsibility="S", payer=medicare,
                            other_payers=(OtherPayer(acme, subscriber, "P", sum(p.paid for p in paid), (), paid),))
        claims.append(claim)
    return claims


def _floor(claims: list[Claim]) -> str:
    rows = []
    for c in claims:
        head = "|".join((c.claim_id, c.patient.last, c.patient.first, c.subscriber.member_id, c.payer.edi_id,
                         c.billing.npi, c.rendering.npi, ",".join(c.diagnoses)))
        for ln in c.lines:
            rows.append(f"{head}|{ln.line_no}|{ln.code}|{':'.join(ln.modifiers)}|{ln.charge}|{ln.units}|{ln.dos}|"
                        f"{ln.control_number}\n")
    return "".join(rows)


def _median_ms(fn, rounds: int) -> tuple[float, float]:
    """Median wall and CPU milliseconds of ``fn``: on a shared machine the CPU time says what the
    code costs, the wall time what a clerk would wait."""
    wall, cpu = [], []
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    return statistics.median(wall), statistics.median(cpu)


def run(claims: int = 3500, rounds: int = 7) -> dict[str, float]:
    batch = make_claims(claims)
    warm_icd10()  # the code set is loaded once per process, at start-up; not part of a day's run
    assert all(not p for c in batch[:50] for p in scrub(c, today="2026-03-02") if not p.warning)
    envelope = dict(sender_id="TUIBILLING01", receiver_id="CLEARHOUSE", receiver_name="Clear House Exchange",
                    interchange_number=1, group_number=1, production=False, created=dt.datetime(2026, 3, 2, 9, 30))
    figures = {"claims": float(claims), "lines": float(sum(len(c.lines) for c in batch)),
               "bytes": float(len(write_837p(batch, **envelope)))}
    for name, fn in (("scrub", lambda: [scrub(c, today="2026-03-02") for c in batch]),
                     ("write", lambda: write_837p(batch, **envelope)), ("floor_text", lambda: _floor(batch))):
        figures[f"{name}_ms"], figures[f"{name}_cpu_ms"] = _median_ms(fn, rounds)
    figures["write_vs_floor"] = figures["write_cpu_ms"] / figures["floor_text_cpu_ms"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=3500)
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    print(json.dumps({k: round(v, 2) for k, v in run(args.claims, args.rounds).items()}, indent=2))


if __name__ == "__main__":
    main()
