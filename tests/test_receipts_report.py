"""`tui-billing report receipt NUMBER`: the printed receipt a patient takes home."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner
from test_receipts_support import fresh_books

from tui_billing.cli import main
from tui_billing.store import operations as ops
from tui_billing.store.db import close_database


def test_printed_receipt_shows_what_the_payment_paid_and_the_balance_after(tmp_path, monkeypatch):
    path, ids = fresh_books(tmp_path, monkeypatch)
    rid = ops.record_receipt(amount=20000, method="check", patient_id=ids["cy"], reference="1234").receipt_id
    ops.distribute(rid, [ops.DistributionLine(ids["cy0"], applied=10000),
                         ops.DistributionLine(ids["cy1"], applied=8000, adjustment=1000, reason="COURTESY")])
    close_database()
    result = CliRunner().invoke(main, ["--db", str(path), "report", "receipt", str(rid)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "Maple Street Clinic" in text and "1 Maple St, Springfield" in text
    assert f"RECEIPT No. {rid}" in text
    assert "[Cy], Chan (account C300)" in text  # names print literally
    assert "$200.00" in text and "Check 1234" in text
    assert "99213" in text and "99214" in text
    lines = [ln for ln in text.splitlines() if "99214" in ln][0].split()
    assert lines[-4:] == ["150.00", "80.00", "10.00", "60.00"]  # charge, paid, adjusted, balance now
    assert "Applied to services" in text and "180.00" in text
    assert [ln for ln in text.splitlines() if ln.startswith("Credit on account")][0].split()[-1] == "20.00"
    assert [ln for ln in text.splitlines() if ln.startswith("Account balance after")][0].split()[3] == "60.00"


def test_unknown_receipt_is_one_line_and_exit_1(tmp_path, monkeypatch):
    path, _ = fresh_books(tmp_path, monkeypatch)
    close_database()
    result = CliRunner().invoke(main, ["--db", str(path), "report", "receipt", "999"])
    assert result.exit_code == 1
    assert "receipt 999 does not exist" in result.output
    assert "Traceback" not in result.output


def test_receipt_report_never_imports_textual(tmp_path, monkeypatch):
    path, ids = fresh_books(tmp_path, monkeypatch)
    rid = ops.record_receipt(amount=500, method="cash", patient_id=ids["cy"]).receipt_id
    close_database()
    code = ("import sys; from tui_billing.cli import main\n"
            "try:\n    main(['--db', sys.argv[1], 'report', 'receipt', sys.argv[2]])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "assert not any(m == 'textual' or m.startswith('textual.') for m in sys.modules), 'textual imported'\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path), str(rid)], capture_output=True, text=True,
                          cwd=str(__import__("pathlib").Path(__file__).resolve().parents[1]))
    assert proc.returncode == 0, proc.stderr
    assert f"RECEIPT No. {rid}" in proc.stdout
