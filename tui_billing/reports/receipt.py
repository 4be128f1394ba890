"""The printed receipt for a payment: ``tui-billing report receipt NUMBER``.

Practice header, who paid, amount, method, what it paid, and the account balance after, so the
office can hand the patient a copy or file one. Query (:func:`receipt_rows`) and rendering
(:func:`render_receipt`) are apart so a screen or another report can reuse the figures.
Never imports Textual.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..money import format_cents
from ..store.clock import today
from ..store.db import sql
from ..store.errors import BillingError
from ..text import inert

WIDTH = 64


@dataclass(frozen=True)
class PaidLine:
    dos: str
    code: str
    charge_amount: int
    paid: int
    adjusted: int
    balance_now: int


@dataclass(frozen=True)
class ReceiptPrint:
    """Everything the printed receipt shows, in cents."""

    practice_name: str
    practice_address: str
    practice_phone: str
    practice_tax_id: str
    receipt_id: int
    received_date: str
    posting_date: str
    operator: str
    source: str
    payer_name: str
    patient_account: str
    patient_name: str
    method: str
    reference: str
    amount: int
    paid: tuple[PaidLine, ...]
    refunded: int
    unapplied: int
    voided: bool
    account_balance: int | None  # the patient's open balance now (None for a payer's check)
    as_of: str


def _one(query: str, params: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
    return sql(query, params).fetchone()


def _value(query: str, params: tuple[Any, ...] = ()) -> Any:
    """The one value of an aggregate query (without GROUP BY it always returns one row)."""
    row = sql(query, params).fetchone()
    assert row is not None, query
    return row[0]


def receipt_rows(receipt_id: int) -> ReceiptPrint:
    """The receipt's figures. Raises BillingError if there is no such receipt."""
    row = _one("SELECT r.id, r.received_date, r.posting_date, r.operator, r.source, COALESCE(y.name, ''), "
               "COALESCE(p.account, ''), COALESCE(p.last_name || ', ' || p.first_name, ''), r.method, r.reference, "
               "r.amount, r.patient_id, r.reverses_id, COALESCE(rb.unapplied, 0), "
               "EXISTS (SELECT 1 FROM receipt v WHERE v.reverses_id = r.id) "
               "FROM receipt r LEFT JOIN payer y ON y.id = r.payer_id LEFT JOIN patient p ON p.id = r.patient_id "
               "LEFT JOIN receipt_balance rb ON rb.receipt_id = r.id WHERE r.id = ?", (receipt_id,))
    if row is None:
        raise BillingError(f"receipt {receipt_id} does not exist", "receipt")
    if row[12] is not None:
        raise BillingError(f"receipt {receipt_id} is the reversal of receipt {row[12]}; print that one", "receipt")
    practice = _one("SELECT name, address, phone, tax_id FROM practice WHERE id = 1") or ("", "", "", "")
    # Net of voided distributions: a reversal's rows carry the negative amounts.
    lines = sql(
        "SELECT c.dos, c.code, c.amount, x.paid, x.adjusted, cb.balance FROM ("
        " SELECT charge_id, SUM(paid) AS paid, SUM(adjusted) AS adjusted FROM ("
        "  SELECT a.charge_id, a.amount AS paid, 0 AS adjusted FROM application a WHERE a.receipt_id = ?1"
        "  UNION ALL SELECT j.charge_id, 0, j.amount FROM adjustment j JOIN distribution d ON d.id = j.distribution_id"
        "  WHERE d.receipt_id = ?1) GROUP BY charge_id) x "
        "JOIN charge c ON c.id = x.charge_id JOIN charge_balance cb ON cb.charge_id = x.charge_id "
        "WHERE x.paid <> 0 OR x.adjusted <> 0 ORDER BY c.dos, c.id", (receipt_id,)).fetchall()
    refunded = _value("SELECT COALESCE(SUM(amount), 0) FROM refund WHERE receipt_id = ?", (receipt_id,))
    balance = None
    if row[11] is not None:
        balance = _value("SELECT COALESCE(SUM(balance), 0) FROM charge_balance WHERE patient_id = ?", (row[11],))
    return ReceiptPrint(
        practice_name=practice[0], practice_address=practice[1], practice_phone=practice[2],
        practice_tax_id=practice[3], receipt_id=row[0], received_date=row[1], posting_date=row[2], operator=row[3],
        source=row[4], payer_name=row[5], patient_account=row[6], patient_name=row[7], method=row[8],
        reference=row[9], amount=row[10], paid=tuple(PaidLine(*r) for r in lines), refunded=refunded,
        unapplied=row[13], voided=bool(row[14]), account_balance=balance, as_of=today().isoformat())


def _clean(text: str) -> str:
    """Printable text only: a control character in a name must not drive the printer."""
    return inert(text)


def render_receipt(data: ReceiptPrint | int) -> str:
    """The receipt as plain text for a printer or the screen (a receipt number is looked up)."""
    from tabulate import tabulate

    if not isinstance(data, ReceiptPrint):
        data = receipt_rows(int(data))
    d = data
    out: list[str] = []
    for line in (d.practice_name, d.practice_address, d.practice_phone,
                 f"Tax id {d.practice_tax_id}" if d.practice_tax_id else ""):
        if line:
            out.append(_clean(line).center(WIDTH).rstrip())
    out.append("")
    title = f"RECEIPT No. {d.receipt_id}" + ("  ** VOIDED **" if d.voided else "")
    out.append(title.center(WIDTH).rstrip())
    out.append("=" * WIDTH)
    method = {"cash": "Cash", "check": "Check", "card": "Card", "eft": "EFT"}.get(d.method, d.method)
    fields = [("Received", d.received_date), ("Posted", f"{d.posting_date} by {_clean(d.operator)}")]
    if d.source == "patient":
        fields.append(("Patient", f"{_clean(d.patient_name)} (account {_clean(d.patient_account)})"))
    else:
        fields.append(("From", _clean(d.payer_name)))
    fields += [("Amount", f"${format_cents(d.amount)}"),
               ("Method", method + (f" {_clean(d.reference)}" if d.reference else ""))]
    out += [f"{k + ':':<10} {v}" for k, v in fields]
    out.append("")
    if d.paid:
        out.append("This payment paid:")
        table = [(p.dos, _clean(p.code), format_cents(p.charge_amount), format_cents(p.paid),
                  format_cents(p.adjusted) if p.adjusted else "", format_cents(p.balance_now)) for p in d.paid]
        out.append(tabulate(table, headers=("Service date", "Code", "Charge", "Paid", "Adjusted", "Balance"),
                            tablefmt="simple", colalign=("left", "left", "right", "right", "right", "right"),
                            disable_numparse=True))
    else:
        out.append("Not yet applied to any service.")
    out.append("")
    totals = [("Applied to services", sum(p.paid for p in d.paid))]
    if d.refunded:
        totals.append(("Refunded", d.refunded))
    totals.append(("Credit on account", d.unapplied))
    for label, cents in totals:
        out.append(f"{label:<24}{format_cents(cents):>14}")
    if d.account_balance is not None:
        out.append(f"{'Account balance after':<24}{format_cents(d.account_balance):>14}  (as of {d.as_of})")
    out.append("")
    out.append("Thank you.".center(WIDTH).rstrip())
    return "\n".join(out) + "\n"
