"""Accounts in the store: registration, coverages, versions as of a date, search, and every refusal.

Each refusal names its field and leaves the database byte-for-byte as it was (a full dump before
and after), so nothing is ever half-saved.
"""

from __future__ import annotations

import sqlite3

import peewee
import pytest

from tui_billing.store import BillingError, database
from tui_billing.store import account_queries as aq
from tui_billing.store import accounts as acc
from tui_billing.store import operations as ops
from tui_billing.store.accounts import CoverageDetails, PatientIn

from store_helpers import NPIS, OPERATOR


def _walk_in(**kw) -> PatientIn:
    base = dict(last_name="García-López", first_name="María", dob="03/04/1985", sex="F", address="12 Elm St",
                city="Albany", state="ny", zip="122031234", phone="(518) 555-0100")
    base.update(kw)
    return PatientIn(**base)


def test_register_with_spouse_coverage_and_versions(practice, monkeypatch):
    pid = acc.register_patient(_walk_in(), [
        CoverageDetails(practice.payers[0], "XJ123", 1, group_no="G9", relationship="spouse",
                        subscriber_last="Lopez", subscriber_first="Carlos", subscriber_dob="1983-01-02",
                        subscriber_sex="M", effective="2026-01-01"),
        CoverageDetails(practice.payers[1], "1EG4TE5MK73", 2, effective="2026-01-01"),
    ])
    view = aq.patient_view(pid)
    assert (view.state, view.zip, view.phone, view.dob) == ("NY", "12203-1234", "518-555-0100", "1985-03-04")
    covs = aq.coverages(pid)
    assert [c.payer_code for c in covs] == ["ACME", "MCR"]
    assert covs[0].subscriber.startswith("Lopez, Carlos") and covs[0].relationship == "spouse"
    # an address fix the next week keeps the old version readable as of the earlier date
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-23")
    diff = acc.update_patient(pid, address="21 Elm St")
    assert diff == {"address": ["12 Elm St", "21 Elm St"]}
    assert aq.patient_view(pid, "2026-11-16").address == "12 Elm St"
    assert aq.patient_view(pid, "2026-11-23").address == "21 Elm St"
    assert aq.patient_view(pid).address == "21 Elm St"
    assert aq.patient_view(pid, "2026-11-01") is None  # not registered yet then
    events = database.execute_sql("SELECT action, user FROM audit_event WHERE entity = 'patient' AND entity_id = ? "
                                  "ORDER BY id", (pid,)).fetchall()
    assert events == [("register_patient", OPERATOR), ("update_patient", OPERATOR)]
    with pytest.raises(peewee.IntegrityError):
        database.execute_sql("UPDATE master_version SET data = '{}'")


def test_old_record_gets_its_earlier_state_kept(practice, monkeypatch):
    pid = practice.patients[0]  # added by ops.add_patient: no version rows yet
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-20")
    acc.update_patient(pid, city="Troy", state="NY", zip="12180")
    assert aq.patient_view(pid, "2026-11-19").city == ""
    assert aq.patient_view(pid, "2026-11-20").city == "Troy"
    assert [h.version for h in aq.history("patient", pid)] == [1, 2]


def test_primary_owes_the_charge_and_ended_coverage_is_skipped(practice):
    pid = acc.register_patient(_walk_in(), [
        CoverageDetails(practice.payers[1], "OLD1", 1, effective="2020-01-01", end_date="2025-12-31"),
        CoverageDetails(practice.payers[0], "NEW1", 1, effective="2026-01-01"),
        CoverageDetails(practice.payers[1], "SEC1", 2, effective="2026-01-01"),
    ])
    assert ops.primary_payer_id(pid) == practice.payers[0]
    ops.open_batch("charge", 1, 10000)
    ops.post_encounter(patient_id=pid, provider_id=practice.providers[0], dos="2026-11-16", diagnoses=["I10"],
                       lines=[ops.ChargeLine("99213")])
    ledger = aq.account_ledger(pid)
    assert [(line.code, line.owed_by, line.balance) for line in ledger.lines] == [("99213", "ACME", 10000)]
    assert ledger.by_party == (("ACME", 10000),)
    covs = aq.coverages(pid)
    assert [(c.member_id, c.in_force("2026-11-16")) for c in covs] == [("NEW1", True), ("SEC1", True), ("OLD1", False)]


def test_reorder_and_end_coverage(practice):
    pid = acc.register_patient(_walk_in(), [CoverageDetails(practice.payers[0], "A1", 1),
                                            CoverageDetails(practice.payers[1], "B2", 2)])
    a, b = [c.id for c in aq.coverages(pid)]
    acc.reorder_coverages(pid, [b, a])
    assert [c.payer_code for c in aq.coverages(pid)] == ["MCR", "ACME"]
    acc.end_coverage(b, "2026-11-16")
    assert aq.coverages(pid)[0].end_date == "2026-11-16"
    acc.add_note(pid, "Called about statement; will pay Friday")
    assert aq.notes(pid)[0].text.startswith("Called") and aq.notes(pid)[0].operator == OPERATOR


def test_duplicate_name_and_dob(practice):
    acc.register_patient(_walk_in())
    with pytest.raises(acc.DuplicatePatient) as exc:
        acc.register_patient(_walk_in(last_name="garcia lopez", first_name="MARIA"))
    assert exc.value.field == "last_name"
    acc.register_patient(_walk_in(), allow_duplicate=True)


@pytest.mark.parametrize("patch, field", [
    ({"last_name": "Smi\u0007th"}, "last_name"),
    ({"first_name": "Ann\u202e"}, "first_name"),
    ({"last_name": "Zero\u200bWidth"}, "last_name"),
    ({"address": "1 Main\u200d St"}, "address"),
    ({"city": "Al\x1bbany"}, "city"),
    ({"zip": "1220"}, "zip"),
    ({"zip": "12203-12"}, "zip"),
    ({"zip": "ABCDE"}, "zip"),
    ({"state": "XX"}, "state"),
    ({"dob": "2030-01-01"}, "dob"),
    ({"dob": "13/45/1980"}, "dob"),
    ({"sex": "Q"}, "sex"),
    ({"phone": "555-0100"}, "phone"),
    ({"guarantor_relationship": "parent"}, "guarantor_last"),
])
def test_patient_refusals(practice, dump, patch, field):
    before = dump()
    with pytest.raises(BillingError) as exc:
        acc.register_patient(_walk_in(**patch))
    assert exc.value.field == field
    assert dump() == before


@pytest.mark.parametrize("cov, field", [
    (dict(member_id=""), "coverages[0].member_id"),
    (dict(member_id="AB|12"), "coverages[0].member_id"),
    (dict(relationship="cousin"), "coverages[0].relationship"),
    (dict(relationship="child"), "coverages[0].subscriber_last"),
    (dict(relationship="child", subscriber_last="Lopez", subscriber_first="Carlos", subscriber_dob="2099-01-01",
          subscriber_sex="M"), "coverages[0].subscriber_dob"),
    (dict(effective="2026-02-01", end_date="2026-01-01"), "coverages[0].end_date"),
    (dict(priority=4), "coverages[0].priority"),
    (dict(payer_id=999), "coverages[0].payer_id"),
])
def test_coverage_refusals_save_nothing(practice, dump, cov, field):
    before = dump()
    base = dict(payer_id=practice.payers[0], member_id="M1", priority=1)
    base.update(cov)
    with pytest.raises(BillingError) as exc:
        acc.register_patient(_walk_in(), [CoverageDetails(**base)])
    assert exc.value.field == field
    assert dump() == before  # the patient was not saved without its coverage


def test_overlapping_priority_refused(practice, dump):
    pid = acc.register_patient(_walk_in(), [CoverageDetails(practice.payers[0], "M1", 1, effective="2026-01-01")])
    before = dump()
    with pytest.raises(BillingError, match="priority 1 is already held") as exc:
        acc.add_coverage(pid, CoverageDetails(practice.payers[1], "M2", 1, effective="2026-06-01"))
    assert exc.value.field == "priority"
    assert dump() == before
    acc.end_coverage(aq.coverages(pid)[0].id, "2026-05-31")
    acc.add_coverage(pid, CoverageDetails(practice.payers[1], "M2", 1, effective="2026-06-01"))


@pytest.mark.parametrize("change, field", [
    (dict(npi="1234567890"), "npi"),
    (dict(tax_id="12-345"), "tax_id"),
    (dict(street="PO Box 12"), "street"),
    (dict(street="P.O. Box 9"), "street"),
    (dict(zip="12203"), "zip"),
    (dict(state="ZZ"), "state"),
    (dict(taxonomy="207Q"), "taxonomy"),
])
def test_practice_refusals(db, dump, change, field):
    good = dict(name="Maple Family Medicine", npi=NPIS[2], tax_id="12-3456789", street="100 Main St",
                city="Albany", state="NY", zip="12203-1234", taxonomy="207Q00000X")
    good.update(change)
    before = dump()
    with pytest.raises(BillingError) as exc:
        acc.save_practice(acc.PracticeIn(**good))
    assert exc.value.field == field
    assert dump() == before


def test_practice_payer_provider_saved_and_versioned(db, monkeypatch):
    acc.save_practice(acc.PracticeIn("Maple", NPIS[2], "123456789", "100 Main St", "Albany", "NY", "122031234",
                                     submitter_id="SUB1"))
    assert aq.practice_view()["tax_id"] == "12-3456789"
    pid = acc.save_payer(acc.PayerIn("BCBS", "Blue Cross", "commercial", "BCB01", receiver="AVAILITY",
                                     timely_filing_days=180))
    assert aq.payer_list()[0]["filing_code"] == "CI"
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-20")
    acc.save_payer(acc.PayerIn("BCBS", "Blue Cross NY", "commercial", "BCB01", timely_filing_days=90), pid)
    assert aq.record_as_of("payer", pid, "2026-11-16")[0]["name"] == "Blue Cross"
    with pytest.raises(BillingError) as exc:
        acc.save_payer(acc.PayerIn("X", "X", "commercial", filing_code="QQ"))
    assert exc.value.field == "filing_code"
    with pytest.raises(BillingError) as exc:
        acc.save_provider(acc.ProviderIn("DOC", "Who", "Dr", "1234567890"))
    assert exc.value.field == "npi"
    vid = acc.save_provider(acc.ProviderIn("DOC", "Who", "Dr", NPIS[0], "207Q00000X"))
    assert aq.provider_list()[0]["name"] == "Dr Who" and vid


def test_fee_from_a_date_onward(practice, monkeypatch):
    acc.set_fee("99213", 11000, "2026-12-01")
    assert aq.fee_on("99213", "2026-11-30") == 10000
    assert aq.fee_on("99213", "2026-12-01") == 11000
    assert database.execute_sql("SELECT fee FROM procedure WHERE code = '99213'").fetchone()[0] == 10000
    acc.set_fee("99213", 9000, payer_id=practice.payers[1])
    assert aq.fee_on("99213", "2026-11-16", practice.payers[1]) == 9000
    with pytest.raises(BillingError) as exc:
        acc.set_fee("99999", 1000)
    assert exc.value.field == "description"
    acc.set_fee("99999", 1000, description="Office special")
    assert aq.fee_on("99999", "2026-11-16") == 1000


def test_a_dated_fee_change_takes_effect_on_its_date(practice, monkeypatch):
    """Charge entry's schedule and a posting use the fee in force (a change counts from its date)."""
    from tui_billing.store import lookups

    acc.set_fee("99213", 11000, "2026-11-17")  # tomorrow, as TODAY is 2026-11-16
    assert lookups.procedure("99213").fee == 10000 and lookups.procedures()["99213"].fee == 10000
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-17")
    assert lookups.procedure("99213").fee == 11000 and lookups.procedures()["99213"].fee == 11000

    def posted(dos: str) -> int:
        enc = ops.post_encounter(patient_id=practice.patients[0], provider_id=practice.providers[0], dos=dos,
                                 diagnoses=["J06.9"], lines=[ops.ChargeLine("99213")])
        return enc.total

    assert posted("2026-11-17") == 11000
    assert posted("2026-11-16") == 10000  # a visit before the change keeps the fee of its day


@pytest.fixture
def people(practice):
    ids = {}
    for last, first, dob, phone in [("García-López", "María", "1980-01-02", "518-555-0101"),
                                    ("O'Brien", "Sean", "1970-05-06", "518-555-0102"),
                                    ("Obrien", "Ann", "1980-01-02", "")]:
        ids[last] = acc.register_patient(PatientIn(last, first, dob, "U", phone=phone))
    return ids


@pytest.mark.parametrize("typed, kind, names", [
    ("garcia-lopez", "name", ["García-López"]),
    ("GARCIA LOPEZ,mar", "name", ["García-López"]),
    ("obrien", "name", ["Obrien", "O'Brien"]),
    ("o'brien,s", "name", ["O'Brien"]),
    ("01/02/1980", "dob", ["García-López", "Obrien"]),
    ("1980-01-02", "dob", ["García-López", "Obrien"]),
    ("01021980", "dob", ["García-López", "Obrien"]),
    ("1/2/1980", "dob", ["García-López", "Obrien"]),
    ("(518) 555-0102", "phone", ["O'Brien"]),
    ("5185550101", "phone", ["García-López"]),
])
def test_search_ways(people, typed, kind, names):
    page = aq.search_patients(typed)
    assert page.kind == kind
    assert [h.last_name for h in page.hits] == names


def test_search_account_with_or_without_zeros(people):
    acct = database.execute_sql("SELECT account FROM patient WHERE id = ?", (people["O'Brien"],)).fetchone()[0]
    digits = acct.lstrip("A").lstrip("0")
    for typed in (acct, acct.lower(), digits, "000" + digits if len(digits) < 4 else digits):
        page = aq.search_patients(typed)
        assert page.hits and page.hits[0].account == acct, typed


def test_search_pages_never_silently_cut(practice):
    for n in range(12):
        acc.register_patient(PatientIn("Smith", f"Kid{n:02d}", "2010-01-01", "U"))
    first = aq.search_patients("smith", limit=5)
    assert len(first.hits) == 5 and first.more
    seen = [h.id for h in first.hits]
    offset = 5
    while True:
        page = aq.search_patients("smith", limit=5, offset=offset)
        seen += [h.id for h in page.hits]
        offset += 5
        if not page.more:
            break
    assert len(seen) == len(set(seen)) == 12


def test_migration_upgrades_an_old_file(tmp_path, today):
    """A file at the schema before accounts upgrades: coverages keep, keys are filled."""
    from tui_billing.store import close_database, migrations, open_database
    from tui_billing.store.db import _db

    path = tmp_path / "old.db"
    open_database(path)
    close_database()
    # rebuild the file at the previous schema with a patient and a coverage, by raw SQL
    path.unlink()
    con = sqlite3.connect(path)
    for version, script in enumerate(migrations.MIGRATIONS[:migrations.MIGRATIONS.index(migrations.V10)], start=1):
        con.executescript(script)
        con.execute(f"PRAGMA user_version = {version}")
    con.execute("INSERT INTO payer (id, code, name, kind) VALUES (1, 'MCR', 'Medicare', 'medicare')")
    con.execute("INSERT INTO patient (id, account, last_name, first_name, name_key, dob, sex, phone) VALUES "
                "(1, 'A000042', 'Núñez', 'José', 'núñez,josé', '1950-01-01', 'M', '518 555 0199')")
    con.execute("INSERT INTO coverage (patient_id, payer_id, member_id, priority) VALUES (1, 1, 'MB1', 1)")
    con.commit()
    con.close()
    path.chmod(0o600)
    open_database(path)
    try:
        assert migrations.schema_version(_db()) == migrations.SCHEMA_VERSION
        assert [h.account for h in aq.search_patients("nunez").hits] == ["A000042"]
        assert [h.account for h in aq.search_patients("42").hits] == ["A000042"]
        assert [h.account for h in aq.search_patients("518-555-0199").hits] == ["A000042"]
        assert aq.coverages(1)[0].member_id == "MB1"
        assert aq.payer_list()[0]["filing_code"] == "MB"
    finally:
        close_database()


def test_rows_loaded_without_keys_are_keyed_on_first_search(practice):
    database.execute_sql("INSERT INTO patient (account, last_name, first_name, name_key, dob, sex) "
                         "VALUES ('B9', 'Ñandú', 'Zoë', 'x', '1990-01-01', 'F')")
    assert [h.account for h in aq.search_patients("nandu,zoe").hits] == ["B9"]
    assert aq.search_patients("9").hits[0].account == "B9"


def test_charge_entry_lookup_shows_one_primary_after_a_plan_ends(practice):
    from tui_billing.store import lookups

    pid = acc.register_patient(_walk_in(), [
        CoverageDetails(practice.payers[1], "OLD1", 1, effective="2020-01-01", end_date="2025-12-31"),
        CoverageDetails(practice.payers[0], "NEW1", 1, effective="2026-01-01")])
    hit = lookups.patient_by_id(pid)
    assert hit.payer_id == practice.payers[0]
    assert len([h for h in lookups.find_patients("garcía") if h.id == pid]) == 1


@pytest.mark.parametrize("payer, field", [
    (dict(code=""), "code"),
    (dict(kind="friends"), "kind"),
    (dict(edi_payer_id="60-054"), "edi_payer_id"),
    (dict(filing_code="XX"), "filing_code"),
    (dict(state="QQ"), "state"),
    (dict(zip="606"), "zip"),
    (dict(name="Blue\u200bCross"), "name"),
    (dict(timely_filing_days=0), "timely_filing_days"),
])
def test_payer_refusals(db, dump, payer, field):
    base = dict(code="BC", name="Blue Cross", kind="commercial")
    base.update(payer)
    before = dump()
    with pytest.raises(BillingError) as exc:
        acc.save_payer(acc.PayerIn(**base))
    assert exc.value.field == field
    assert dump() == before


@pytest.mark.parametrize("provider, field", [
    (dict(npi="1234567890"), "npi"),
    (dict(npi="12345"), "npi"),
    (dict(taxonomy="207Q0000"), "taxonomy"),
    (dict(last_name="Smith\u202e"), "last_name"),
    (dict(first_name=""), "first_name"),
])
def test_provider_refusals(db, dump, provider, field):
    base = dict(code="DOC", last_name="Smith", first_name="Ann", npi=NPIS[0], taxonomy="207Q00000X")
    base.update(provider)
    before = dump()
    with pytest.raises(BillingError) as exc:
        acc.save_provider(acc.ProviderIn(**base))
    assert exc.value.field == field
    assert dump() == before


def _statement_head(account: str, day: str) -> dict[str, str]:
    from tui_billing.reports import queries

    head = queries.statements(account, day).sections[0]
    return {row[0]: row[1] for row in head.rows}


def test_statement_goes_to_the_guarantor_as_the_record_read_on_its_date(practice, monkeypatch):
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-02")
    child = acc.register_patient(_walk_in(first_name="Tomás", dob="2015-06-07", guarantor_relationship="parent",
                                          guarantor_last="García-López", guarantor_first="Ana",
                                          guarantor_address="9 Oak Ave", guarantor_city="Troy",
                                          guarantor_state="NY", guarantor_zip="12180-0001"))
    account = aq.patient_view(child).account
    head = _statement_head(account, "2026-11-02")
    assert head["statement to"] == "Ana García-López (guarantor, parent)"
    assert head["address"] == "9 Oak Ave, Troy, NY 12180-0001"
    assert head["patient"] == "García-López, Tomás"  # the statement still says whose care it is
    # the guarantor moves on the 20th: a statement dated before it reads the old address, one after the new
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-20")
    acc.update_patient(child, guarantor_address="1 River Rd", guarantor_city="Cohoes", guarantor_zip="12047")
    assert _statement_head(account, "2026-11-10")["address"] == "9 Oak Ave, Troy, NY 12180-0001"
    assert _statement_head(account, "2026-11-20")["address"] == "1 River Rd, Cohoes, NY 12047"
    # a guarantor without an address of their own lives at the patient's
    acc.update_patient(child, guarantor_address="", guarantor_city="", guarantor_state="", guarantor_zip="")
    assert _statement_head(account, "2026-11-20")["address"] == "12 Elm St, Albany, NY 12203-1234"
    # back to self: the patient gets it
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-21")
    acc.update_patient(child, guarantor_relationship="self", guarantor_last="", guarantor_first="")
    assert _statement_head(account, "2026-11-21")["statement to"] == "Tomás García-López"
    assert _statement_head(account, "2026-11-10")["statement to"].startswith("Ana García-López")


def test_statement_to_the_patient_when_no_guarantor_and_before_versions(practice):
    pid = practice.patients[0]  # added by ops.add_patient: no version rows yet (an older office file)
    view = aq.patient_view(pid)
    head = _statement_head(view.account, "2026-11-16")
    assert head["statement to"] == f"{view.first_name} {view.last_name}"
    assert head["patient"] == f"{view.last_name}, {view.first_name}"
    # registered after the statement's date (a reprint dated earlier): read as it is now
    late = acc.register_patient(_walk_in(last_name="Late", dob="1990-01-01"))
    assert _statement_head(aq.patient_view(late).account, "2020-01-01")["statement to"] == "María Late"


def test_an_address_fix_moves_the_subscriber_at_the_same_home_only(practice, monkeypatch):
    home = dict(subscriber_address="12 Elm St", subscriber_city="Albany", subscriber_state="NY",
                subscriber_zip="12203-1234")
    pid = acc.register_patient(_walk_in(address="12 Elm Sr"), [
        CoverageDetails(practice.payers[0], "XJ1", 1, relationship="spouse", subscriber_last="Lopez",
                        subscriber_first="Carlos", subscriber_dob="1983-01-02", subscriber_sex="M",
                        effective="2026-01-01", **{**home, "subscriber_address": "12 Elm Sr"}),
        CoverageDetails(practice.payers[1], "XJ2", 2, relationship="spouse", subscriber_last="Ruiz",
                        subscriber_first="Ana", subscriber_dob="1960-01-02", subscriber_sex="F",
                        effective="2026-01-01", **{**home, "subscriber_address": "4 Far Rd"}),
    ])
    monkeypatch.setenv("TUI_BILLING_TODAY", "2026-11-23")
    assert acc.update_patient(pid, address="12 Elm St") == {"address": ["12 Elm Sr", "12 Elm St"]}
    same, other = aq.coverages(pid)
    assert aq.record_as_of("coverage", same.id)[0]["subscriber_address"] == "12 Elm St"
    assert aq.record_as_of("coverage", same.id, "2026-11-16")[0]["subscriber_address"] == "12 Elm Sr"
    assert aq.record_as_of("coverage", other.id)[0]["subscriber_address"] == "4 Far Rd"
    assert [h.version for h in aq.history("coverage", other.id)] == [1]
    events = database.execute_sql("SELECT action, entity_id FROM audit_event WHERE action LIKE 'update_%' "
                                  "ORDER BY id").fetchall()
    assert events == [("update_patient", pid), ("update_coverage", same.id)]
    # a change of name only moves nobody, and neither does an address cleared (no new home to follow)
    acc.update_patient(pid, first_name="Maria")
    acc.update_patient(pid, address="", city="", state="", zip="")
    assert [h.version for h in aq.history("coverage", same.id)] == [1, 2]
