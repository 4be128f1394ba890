"""Master data (payers, providers, the practice, fees) from the account screen (M) or the claims screen (J).

A small menu (1-5) over forms of :class:`~.account_dialogs.FormDialog`. Typing an existing payer
or provider code (and Enter) loads that record to change; saving writes a new version and keeps
the old one. The practice form starts from what is on file.
Reads and saves run in thread workers.
"""

from __future__ import annotations

from typing import Any

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

from ..money import MoneyError, parse_cents
from ..store import account_queries as aq
from ..store import accounts as acc
from ..store.errors import BillingError
from .account_dialogs import SCREEN_KEYS, Field, FormDialog

__all__ = ["MasterMenu"]

PAYER_FIELDS = (("code", "Code", 12), ("name", "Name", 40), ("kind", "Kind", 12), ("edi_payer_id", "EDI payer id", 20),
                ("filing_code", "Filing indicator", 4), ("address", "Address", 40), ("city", "City", 30),
                ("state", "State", 4), ("zip", "ZIP", 11), ("receiver", "Receiver", 20),
                ("timely_filing_days", "Timely filing days", 6))
PROVIDER_FIELDS = (("code", "Code", 10), ("last_name", "Last name", 30), ("first_name", "First name", 30),
                   ("npi", "NPI", 12), ("taxonomy", "Taxonomy", 12), ("active", "Active Y/N", 3))
PRACTICE_FIELDS = (("name", "Billing name", 40), ("npi", "NPI", 12), ("tax_id", "EIN", 12), ("taxonomy", "Taxonomy", 12),
                   ("street", "Street (no PO box)", 40), ("city", "City", 30), ("state", "State", 4),
                   ("zip", "ZIP+4", 11), ("phone", "Phone", 15), ("pay_to_street", "Pay-to street", 40),
                   ("pay_to_city", "Pay-to city", 30), ("pay_to_state", "Pay-to state", 4),
                   ("pay_to_zip", "Pay-to ZIP", 11), ("submitter_id", "Submitter id", 20))
FEE_FIELDS = (("code", "Code", 8), ("description", "Office description", 40), ("fee", "Fee", 12),
              ("effective", "From date", 12), ("payer", "Payer (allowed)", 10))


def _payer(name: str, value: str) -> dict | None:
    if name != "code":
        return None
    found = next((p for p in aq.payer_list() if p["code"] == value.upper()), None)
    return found


def _provider(name: str, value: str) -> dict | None:
    if name != "code":
        return None
    found = next((p for p in aq.provider_list() if p["code"] == value.upper()), None)
    return {**found, "active": "Y" if found["active"] else "N"} if found else None


def save_payer(values: dict[str, str], _override: bool = False) -> int:
    days = values.get("timely_filing_days", "").strip() or "365"
    if not days.isdigit():
        raise BillingError("timely filing must be a number of days", "timely_filing_days")
    code = values["code"].strip().upper()
    existing = next((p for p in aq.payer_list() if p["code"] == code), None)
    fields = {k: v for k, v in values.items() if k != "timely_filing_days"}
    return acc.save_payer(acc.PayerIn(**fields, timely_filing_days=int(days)), existing["id"] if existing else None)


def save_provider(values: dict[str, str], _override: bool = False) -> int:
    code = values["code"].strip().upper()
    existing = next((p for p in aq.provider_list() if p["code"] == code), None)
    active = (values.pop("active", "Y") or "Y").strip().lower() not in ("n", "no", "0")
    return acc.save_provider(acc.ProviderIn(**values, active=active), existing["id"] if existing else None)


def save_practice(values: dict[str, str], _override: bool = False) -> Any:
    return acc.save_practice(acc.PracticeIn(**values)) or True


def save_fee(values: dict[str, str], _override: bool = False) -> str:
    try:
        cents = parse_cents(values["fee"])
    except MoneyError as exc:
        raise BillingError(str(exc), "fee") from exc
    payer_id = None
    if values["payer"].strip():
        payer = next((p for p in aq.payer_list() if p["code"] == values["payer"].strip().upper()), None)
        if payer is None:
            raise BillingError(f"no payer with code {values['payer'].strip()}", "payer")
        payer_id = payer["id"]
    return acc.set_fee(values["code"], cents, values["effective"] or None,
                       description=values["description"].strip() or None, payer_id=payer_id)


def save_reason(values: dict[str, str], _override: bool = False) -> Any:
    """A new reason (with its description), or an existing code retired (N) or restored (Y)."""
    active = (values.get("active") or "Y").strip().lower() not in ("n", "no", "0")
    return acc.save_reason(values["code"], values["description"], values.get("kind") or "office", active)


class MasterMenu(ModalScreen[None]):
    """1 payers, 2 providers, 3 the practice, 4 a fee, 5 an adjustment reason; Esc back."""

    DEFAULT_CSS = """
    MasterMenu { align: center middle; background: $background 60%; }
    MasterMenu > Vertical { width: 60; height: auto; border: round $accent; background: $panel; padding: 0 1; }
    """
    BINDINGS = [Binding("escape", "dismiss", "Back"), Binding("1", "payer", "Payer"),
                Binding("2", "provider", "Provider"), Binding("3", "practice", "Practice"),
                Binding("4", "fee", "Fee"), Binding("5", "reason", "Reason"), *SCREEN_KEYS]

    def __init__(self, start: tuple[str, str] | None = None) -> None:
        super().__init__()
        #: (form, code) to open at once: ("payer", "BLUE") when the claims screen sends a clerk to fix it
        self.start = start

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Master data (every change is kept as a new version)", markup=False)
            yield Static("1  payer: add, or type an existing code to change it", markup=False)
            yield Static("2  provider: add or change (NPI check digit checked)", markup=False)
            yield Static("3  the practice: billing name, NPI, EIN, address", markup=False)
            yield Static("4  a fee from a date onward (or a payer's allowed)", markup=False)
            yield Static("5  an adjustment reason: add one, or retire/restore one", markup=False)
            yield Static("", id="master-status", markup=False)
            yield Static("Esc back", markup=False)

    def on_mount(self) -> None:
        if self.start is not None:
            form, code = self.start
            if form == "fee":
                self.action_fee()
            else:
                self._open(form, code)

    def _done(self, result: Any) -> None:
        if result is not None:
            self.query_one("#master-status", Static).update("saved")

    def action_payer(self) -> None:
        self._open("payer")

    def action_provider(self) -> None:
        self._open("provider")

    def action_practice(self) -> None:
        self._open("practice")

    def action_fee(self) -> None:
        fields = [Field(n, lbl, w, "", {"fee": "0.00", "effective": "blank = today", "payer": "blank = office fee"}
                        .get(n, "")) for n, lbl, w in FEE_FIELDS]
        self.app.push_screen(FormDialog("Fee schedule: a fee from a date onward", fields, save_fee), self._done)

    def action_reason(self) -> None:
        fields = [Field("code", "Code", 12, "", "e.g. HARDSHIP"), Field("description", "Description", 40),
                  Field("kind", "Kind", 8, "office", "office or carc"),
                  Field("active", "In pick lists", 3, "Y", "Y, or N to retire")]
        self.app.push_screen(FormDialog("Adjustment reason", fields, save_reason), self._done)

    @work(thread=True, group="master-read", exit_on_error=False)
    def _open(self, what: str, code: str = "") -> None:
        if what == "practice":
            current = aq.practice_view() or {}
            fields = [Field(n, lbl, w, str(current.get(n, "") or "")) for n, lbl, w in PRACTICE_FIELDS]
            self.app.call_from_thread(self.app.push_screen,
                                      FormDialog("The practice (billing provider on claims)", fields, save_practice),
                                      self._done)
            return
        if what == "payer":
            codes = " ".join(p["code"] for p in aq.payer_list())
            fields = [Field(n, lbl, w, "", {"kind": "commercial", "filing_code": "CI"}.get(n, ""))
                      for n, lbl, w in PAYER_FIELDS]
            title, fn, lookup = "Payer: a new code adds one; an existing code loads it", save_payer, _payer
        else:
            codes = " ".join(p["code"] for p in aq.provider_list())
            fields = [Field(n, lbl, w, "Y" if n == "active" else "") for n, lbl, w in PROVIDER_FIELDS]
            title, fn, lookup = "Provider: a new code adds one; an existing code loads it", save_provider, _provider
        found = lookup("code", code) if code else None
        if found:  # the record to change, loaded (a held claim's payer or provider)
            fields = [Field(f.name, f.label, f.width, str(found.get(f.name, "") or "")) for f in fields]
        self.app.call_from_thread(self.app.push_screen,
                                  FormDialog(title, fields, fn, note=f"On file: {codes}"[:74], lookup=lookup),
                                  self._done)

