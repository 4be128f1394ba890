"""One encounter's detail: whose it is, its diagnoses, every posting on its lines, and its claims.

The one view of an encounter, opened from the account screen's ledger (Enter on a line) and from
charge entry's encounter list (F5, then Enter on a row). It reads in a thread worker after it is
shown, and the read goes in the audit trail like an account's.
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.widgets import Static

from ..money import format_cents
from ..store import account_queries as aq
from ..store import claim_views
from ..store.access import record_read
from ..text import inert
from .account_dialogs import TextDialog

__all__ = ["EncounterDetail", "encounter_text"]


def _dotted(code: str) -> str:
    """An ICD-10-CM code as the clerk typed it (the store keeps it without the dot, as X12 sends it)."""
    return code if len(code) <= 3 or "." in code else f"{code[:3]}.{code[3:]}"


def encounter_text(encounter_id: int) -> tuple[str, str]:
    """(title, body) of the encounter's detail, read from the store (run it off the event loop)."""
    head = aq.encounter_header(encounter_id)
    if head is None:
        return f"Encounter {encounter_id}", "No such encounter in these books."
    dx, acts = aq.encounter_activity(encounter_id)
    state = (f"  VOIDED by {head.voided_by}" if head.voided_by else
             f"  reverses {head.reverses_id}: {head.void_reason or ''}" if head.reverses_id else "")
    batch = f"batch {head.batch_id}" if head.batch_id else "no batch"
    out = [f"{head.account}  {head.patient_name}",
           f"DOS {head.dos}  POS {head.pos}  provider {head.provider_code}  {batch}, posted {head.posting_date}"
           f" by {head.operator}{state}",
           f"Diagnoses: {' '.join(map(_dotted, dx)) or '(none)'}", "",
           f"{'posted':<11}{'line':<5}{'what':<10}{'detail':<42}{'amount':>10}"]
    for a in acts:
        out.append(f"{a.posting_date:<11}{a.line_no:<5}{a.kind:<10}{a.detail[:41]:<42}{format_cents(a.amount):>10}")
    billed = claim_views.encounter_claims(encounter_id)
    if billed:
        kinds = {"7": "replacement", "8": "void"}
        out += ["", "Claims (F12):"] + [f"  {number}  {payer:<8} {kinds.get(freq, 'original'):<12} {status} since {since}"
                                        for number, payer, freq, status, since in billed]
    return f"Encounter {encounter_id}", "\n".join(out)


class EncounterDetail(TextDialog):
    """The encounter's detail over the current screen; Esc (or Enter) closes it."""

    def __init__(self, encounter_id: int) -> None:
        super().__init__(f"Encounter {encounter_id}", "reading...")
        self.encounter_id = encounter_id
        self.loaded = False  # tests wait for it

    def on_mount(self) -> None:
        super().on_mount()
        self._read(self.encounter_id)

    @work(thread=True, exclusive=True, group="encounter-detail", exit_on_error=False)
    def _read(self, encounter_id: int) -> None:
        record_read("read_encounter", {"encounter_id": encounter_id})  # patient data: audited before shown
        title, body = encounter_text(encounter_id)
        self.app.call_from_thread(self._show, title, body)

    def _show(self, title: str, body: str) -> None:
        self.title_text, self.body, self.loaded = title, body, True
        self.query_one(Static).update(Text(title))
        self.query_one("#text-static", Static).update(
            Text("\n".join(inert(line) for line in body.split("\n")), no_wrap=True))
