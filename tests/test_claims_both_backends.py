"""One claim cycle, run the same way on SQLite and on PostgreSQL, with equal outputs (issue 17).

Fees, patients (hostile names), superbill charges and receipts come in by the CSV imports; claims
are scrubbed and built by the CLI into 837P files that pyx12 passes; Medicare's 835 pays as primary
and moves the patient's share to the secondary payer, another 835 denies a claim; the secondary
837P is built; the denial gets a note. The commands' output, the claims and denials reports, the
patients and journal exports, what the claims screen and the work list read, and the 837P files
(less the moment they were built) must be the same on both backends, byte for byte.
"""

from __future__ import annotations

import re
from pathlib import Path

from claims_support import seed_claims_practice
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import close_database, open_database

from era_support import fixture_for
from raw_books import Raw
from store_helpers import OPERATOR, TODAY
from x12_check import assert_valid_x12

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": OPERATOR}

PATIENTS = (
    "account,last_name,first_name,dob,sex,address,city,state,zip,phone,guarantor_relationship,guarantor_last,"
    "guarantor_first,payer1,member_id1,group_no1,relationship1,subscriber_last1,subscriber_first1,subscriber_dob1,"
    "subscriber_sex1,effective1,end_date1\n"
    "K77,Núñez,Zoë,2015-04-05,F,1 Elm St,Albany,NY,122031234,518-555-0111,parent,O'Brien-Núñez,Łukasz,ACME,XJ9,G1,"
    "self,,,,,2024-01-01,\n"
    "K78,D'Angelo-Smith,Ærø,1962-09-30,M,9 Birch Ave,Springfield,IL,62704,217-555-0142,,,,ACME,XJ10,G1,self,,,,,"
    "2024-01-01,\n"
)
#: a fee from a future date, Medicare's contracted amount (the 835 allows more: no underpayment), a new code
FEES = ("code,description,fee,units,effective,payer\n99213,Visit est low,130.00,1,2099-01-01,\n99213,,80.00,1,,MCR\n"
        "J1100,Dexamethasone injection per 1 mg,$4.50,4,,\n")
RECEIPTS = "account,payer,method,reference,amount,received_date\nK78,,cash,,10.00,\nA003,,check,1042,20.00,\n"
#: A003 is Medicare primary with Acme secondary (claims_support); A001 has Acme; the imported K77, K78 Acme
CHARGES = (
    "encounter,account,provider,dos,pos,payer,diagnoses,code,modifiers,pointers,units,fee\n"
    "E1,A003,SMI,2026-11-07,11,primary,J06.9,99213,,1,1,\n"
    "E2,A001,SMI,2026-11-03,11,primary,I10,99214,,1,1,\n"
    "E3,K77,JON,2026-11-10,11,primary,J06.9;E11.9,99213,,1 2,1,\n"
    "E3,K77,JON,2026-11-10,11,primary,J06.9;E11.9,85025,,2,1,\n"
    "E4,K78,SMI,2026-11-12,11,primary,E78.5,36415,,1,1,\n"
)
#: the elements that carry the moment a file was built: ISA09/10, GS04/05, BHT04/05
_BUILT_AT = {"ISA": (9, 10), "GS": (4, 5), "BHT": (4, 5)}


def _without_build_time(text: str) -> str:
    element, terminator = text[3], text[105]
    out = []
    for segment in text.split(terminator):
        parts = segment.split(element)
        for i in _BUILT_AT.get(parts[0].strip(), ()):
            parts[i] = "-"
        out.append(element.join(parts))
    return terminator.join(out)


def _cycle(books: Path | str, work: Path) -> dict[str, str]:
    """The claim cycle on ``books`` (a file or a server's URL); returns what each step showed or wrote."""
    open_database(books)
    try:
        seed_claims_practice()
    finally:
        close_database()
    seen: dict[str, str] = {}

    def cli(name: str, *args: str, code: int = 0) -> str:
        result = CliRunner().invoke(main, ["--db", str(books), *args], env=ENV)
        assert result.exit_code == code, (name, result.output, result.exception)
        seen[name] = result.output.replace(str(work), "WORK")
        return result.output

    def one(query: str) -> list[tuple]:
        con = Raw(books)
        try:
            return [tuple(r) for r in con.execute(query).fetchall()]
        finally:
            con.close()

    (work / "patients.csv").write_text(PATIENTS, encoding="utf-8")
    (work / "charges.csv").write_text(CHARGES, encoding="utf-8")
    (work / "fees.csv").write_text(FEES, encoding="utf-8")
    (work / "receipts.csv").write_text(RECEIPTS, encoding="utf-8")
    cli("import fees", "import", "fees", str(work / "fees.csv"))
    cli("import patients", "import", "patients", str(work / "patients.csv"))
    # a file with a bad row saves nothing (each row in a savepoint, the whole file one transaction); a dry run neither
    (work / "bad-charges.csv").write_text(CHARGES + "E9,NOSUCH,SMI,2026-11-12,11,primary,E78.5,36415,,1,1,\n",
                                          encoding="utf-8")
    cli("import bad charges", "import", "charges", str(work / "bad-charges.csv"), code=1)
    cli("import charges dry run", "import", "charges", "--dry-run", str(work / "charges.csv"))
    cli("import charges", "import", "charges", str(work / "charges.csv"))
    cli("import receipts", "import", "receipts", str(work / "receipts.csv"))
    cli("scrub", "claims", "scrub")
    first, second = work / "837", work / "837-secondary"
    first.mkdir()
    second.mkdir()
    cli("build", "claims", "build", "--output", str(first))
    for (file_id,) in one("SELECT id FROM claim_file WHERE kind = '837P' ORDER BY id"):
        cli(f"sent {file_id}", "claims", "sent", str(file_id))

    def claim_of(account: str) -> tuple[str, list[str]]:
        rows = one("SELECT c.claim_id, l.control_number FROM claim c JOIN claim_line l ON l.claim_id = c.id "
                   f"JOIN patient p ON p.id = c.patient_id WHERE p.account = '{account}' ORDER BY l.line_no")
        return rows[0][0], [control for _, control in rows]

    eras = work / "835"
    eras.mkdir()
    # Medicare's answer as a primary's (CLP02 1, no crossover): the patient's share moves to Acme, billed by us
    primary = fixture_for("crossover", {"C7": claim_of("A003")}, eras)
    text = re.sub(r"(CLP\*[^*]+)\*19\*", r"\1*1*", primary.read_text()).replace("NM1*TT*2*ACME HEALTH*****PI*ACM01~", "")
    primary.write_text(re.sub(r"SE\*(\d+)\*", lambda m: f"SE*{int(m.group(1)) - 1}*", text))  # one segment less
    denial = fixture_for("denial", {"C2": claim_of("A001")}, eras)
    cli("import era primary", "import", "era", str(primary))
    cli("import era denial", "import", "era", str(denial))
    cli("scrub secondary", "claims", "scrub")
    cli("build secondary", "claims", "build", "--output", str(second))
    ((item,),) = one("SELECT id FROM era_work_item WHERE kind = 'denial'")
    cli("worklist note", "worklist", "note", str(item), "--note", "called Acme", "--follow-up", "2026-12-01",
        "--outcome", "appeal letter printed")
    for fmt in ("csv", "json"):
        cli(f"report claims {fmt}", "report", "claims", "--format", fmt)
    cli("report denials", "report", "denials", "--format", "csv")
    cli("export patients", "export", "patients", "--output", str(work / "export.csv"))
    seen["exported patients"] = (work / "export.csv").read_text(encoding="utf-8")
    cli("export journal", "export", "journal")
    seen["claims screen"] = _screen_views(books).replace(str(work), "WORK")  # (the 837P files' own folders)
    cli("check", "check", "--quick")
    seen["check"] = seen["check"].splitlines()[0]  # (the next line names when the test books were made)
    for folder in (first, second):
        for path in sorted(folder.iterdir()):
            text = path.read_text()
            assert_valid_x12(text)  # what the clearinghouse's validator says of the file we send
            seen[f"{folder.name}/{path.name}"] = _without_build_time(text)
    return seen


def _screen_views(books: Path | str) -> str:
    """What the claims screen and the 835 work list read (store/claim_views.py, era.work_queue), as text."""
    from tui_billing.store import claim_views, database
    from tui_billing.store import era as era_store

    open_database(books)
    try:
        rows = [r for (r,) in database.execute_sql("SELECT id FROM claim ORDER BY id").fetchall()]
        encounters = [e for (e,) in database.execute_sql("SELECT id FROM encounter ORDER BY id").fetchall()]
        views = [claim_views.queue_counts(30), *(claim_views.queue_rows(q.key, 30) for q in claim_views.QUEUES),
                 *(claim_views.claim_detail(r) for r in rows), *(claim_views.findings(r) for r in rows),
                 *(claim_views.claim_file(r) for r in rows), *(claim_views.encounter_claims(e) for e in encounters),
                 era_store.work_queue()]
        return "\n".join(map(repr, views))
    finally:
        close_database()


def test_the_same_claim_cycle_gives_the_same_outputs_on_both_backends(tmp_path: Path, pg_url: str) -> None:
    on = {}
    for name, books in (("sqlite", tmp_path / "billing.db"), ("postgresql", pg_url)):
        work = tmp_path / name
        work.mkdir()
        on[name] = _cycle(books, work)
    sqlite, server = on["sqlite"], on["postgresql"]
    # the cycle did what it says: a file for each receiver, then the secondary claim with Medicare's CAS and paid
    assert sorted(k for k in sqlite if k.startswith("837")) == [
        "837-secondary/837P-CLEARHOUSE1-000000002.x12", "837/837P-CLEARHOUSE1-000000001.x12",
        "837/837P-MCR01-000000001.x12"]
    secondary = sqlite["837-secondary/837P-CLEARHOUSE1-000000002.x12"]
    assert "CAS*PR*2*20~" in secondary and "AMT*D*80~" in secondary
    assert "NUNEZ" in sqlite["837/837P-CLEARHOUSE1-000000001.x12"].upper()
    assert "appeal letter printed" in sqlite["report denials"] and "TB00000005" in sqlite["claims screen"]
    assert "O'Brien-Núñez" in sqlite["exported patients"]
    assert "NOSUCH" in sqlite["import bad charges"] and "imported 4 encounters" in sqlite["import charges"]
    assert "2 receipts" in sqlite["import receipts"] and "3 fee schedule lines" in sqlite["import fees"]
    for key in sqlite:
        assert server[key] == sqlite[key], key
    assert sorted(server) == sorted(sqlite)
