"""The headless claims commands and `report claims`, as a clerk's script runs them."""

from __future__ import annotations

import csv
import io
import json
import stat
from pathlib import Path

import pytest
from claims_support import CLEARINGHOUSE, seed_claims_practice, visit
from click.testing import CliRunner

from tui_billing.cli import main
from tui_billing.store import close_database

from store_helpers import OPERATOR, TODAY

ENV = {"TUI_BILLING_TODAY": TODAY, "TUI_BILLING_OPERATOR": OPERATOR}

#: On PostgreSQL only the tests marked both_backends run too (the claims commands; the formats are rendering
#: only): between them they reach each kind of store write and read this module tests; the others mostly run
#: that SQL again, and the CI time budget has no room for them twice.
pytestmark = pytest.mark.sqlite_only(reason="the same store SQL as this module's both_backends tests")


@pytest.fixture
def books(db: Path):
    practice = seed_claims_practice()
    visit(practice.patients[0], provider=practice.providers[0])
    visit(practice.patients[2], provider=practice.providers[1])
    visit(practice.patients[1], provider=practice.providers[0], payer=practice.payers[2])  # no such coverage: held
    close_database()
    return db


def invoke(books: Path, *args: str, code: int = 0):
    result = CliRunner().invoke(main, ["--db", str(books), *args], env=ENV)
    assert result.exit_code == code, (result.output, result.exception)
    return result


@pytest.mark.both_backends
def test_scrub_build_and_send(books: Path, tmp_path: Path) -> None:
    out = invoke(books, "claims", "scrub").output
    assert "3 new claim(s); 2 ready, 1 held" in out
    assert "held TB00000003 A002 Doe, Tim NOBODY DOS 2026-11-10 125.00:" in out
    invoke(books, "claims", "scrub", "--fail-on-held", code=1)
    assert "0 new claim(s); 2 ready, 1 held" in invoke(books, "claims", "scrub").output
    dry = invoke(books, "claims", "build", "--validate-only").output
    assert f"would build for {CLEARINGHOUSE}: 1 claim(s), 125.00" in dry and "would build for MCR01" in dry
    files = tmp_path / "files"
    files.mkdir()
    assert list(files.iterdir()) == []
    built = invoke(books, "claims", "build", "--receiver", "MCR01", "--output", str(files)).output
    assert "MCR01, 1 claim(s), 125.00, ISA13 000000001" in built
    (path,) = files.iterdir()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_text().startswith("ISA")
    file_id = built.split()[1]
    assert "1 claim(s) marked sent" in invoke(books, "claims", "sent", file_id).output
    assert "already marked sent" in invoke(books, "claims", "sent", file_id, code=1).output
    assert "no claims ready" not in invoke(books, "claims", "build", "-o", str(files)).output
    assert "no claims ready" in invoke(books, "claims", "build", "-o", str(files)).output
    invoke(books, "claims", "build", code=2)


@pytest.mark.both_backends
def test_receiver_setting_is_a_supervisors(books: Path) -> None:
    out = invoke(books, "claims", "receiver", CLEARINGHOUSE.lower(), "--name", "Clearing House", "--production").output
    assert f"receiver {CLEARINGHOUSE}: Clearing House, production" in out


@pytest.mark.parametrize("fmt", ["simple", "csv", "json", "github", "grid", "plain", "html"])
def test_report_claims_in_every_format(books: Path, fmt: str) -> None:
    invoke(books, "claims", "scrub")
    out = invoke(books, "report", "claims", "--format", fmt).output
    assert "ready" in out and "held" in out
    if fmt == "json":
        doc = json.loads(out)
        counts = next(s for s in doc["sections"] if s["key"] == "counts")
        assert json.dumps(counts).count("ready") == 1
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(out)))
        assert any(r[:2] == ["ready", "2"] for r in rows)


@pytest.mark.both_backends
def test_report_claims_ages_in_buckets(books: Path) -> None:
    invoke(books, "claims", "scrub")
    doc = json.loads(invoke(books, "report", "claims", "--format", "json", "--as-of", "2027-01-20").output)
    counts = next(s for s in doc["sections"] if s["key"] == "counts")
    amounts = next(s for s in doc["sections"] if s["key"] == "amounts")
    ready = next(r for r in counts["rows"] if r["status"] == "ready")  # 71 days after they were made: 61-90
    assert ready == {"status": "ready", "0-30": 0, "31-60": 0, "61-90": 2, "91-120": 0, "121+": 0, "total": 2}
    money = next(r for r in amounts["rows"] if r["status"] == "ready")
    assert money["61-90"] == money["total"] == "250.00" and money["0-30"] == "0.00"
    assert counts["total"]["total"] == 3 and amounts["total"]["total"] == "375.00"
    assert amounts["notes"] == ["outstanding (not paid, replaced or voided): 3 claim(s), 375.00"]
    by_dos = invoke(books, "report", "claims", "--basis", "service", "--as-of", "2026-11-16", "-f", "csv").output
    assert any(r[:2] == ["ready", "2"] for r in csv.reader(io.StringIO(by_dos)))
