"""Balancing (F4): prove the day, reconcile the deposit, close the day (F9) and the month (F10).

Every figure comes from :mod:`tui_billing.store.summary`, the same code the closes and the day
sheet use, so the screen can never disagree with them. One long-lived thread worker owns this
screen's database connection: it loads the chosen date, and loads again when the app's
``books_changed`` signal says any clerk (in this app or another session) committed (the app's one
watch of the books, store/live.py: LISTEN/NOTIFY on PostgreSQL, ``PRAGMA data_version`` on
SQLite), while the event loop only paints and takes keys.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import queue
import time
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static
from textual.worker import Worker, WorkerState, get_current_worker

from ..ledger.vocab import METHODS
from ..money import format_cents
from ..store.summary import DaySnapshot, PeriodSummary
from ..widgets.app_header import AppHeader
from ..widgets.key_bar import KeyBar
from ..widgets.parse import parse_amount, parse_count, parse_day
from .base import BillingScreen

#: The live worker's longest wait for work before it looks whether its screen is gone (seconds).
WAKE_SECONDS = 0.25
#: While another screen is up, the figures still follow the books, but at most this often.
HIDDEN_REFRESH_SECONDS = 0.25

#: (input id suffix, label, summary.deposit key or "count")
DEPOSIT_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("cash", "Cash", "cash"),
    ("checks", "Check tape", "check"),
    ("count", "  checks #", "count"),
    ("card", "Card batch", "card"),
    ("eft", "EFT", "eft"),
)
METHOD_LABELS = {"cash": "Cash", "check": "Check", "card": "Card", "eft": "EFT"}
WIDTH = 35  # one figures column; two fit beside each other at 80 columns


def _money(cents: int | None) -> str:
    return "—" if cents is None else format_cents(cents)


def _row(out: Text, label: str, amount: int | None = None, count: int | None = None, style: str = "",
         mark: str = "") -> None:
    """One figure line: label, optional count, right-aligned amount, optional ✓/✗ mark."""
    count_s = "" if count is None else str(count)
    amount_s = "" if amount is None else _money(amount)
    # An amount is never cut: the label gives way (A/R runs to eight figures).
    amount_w = max(13, len(amount_s))
    label_w = max(0, WIDTH - 5 - amount_w)
    line = f"{label[:label_w]:<{label_w}}{count_s:>5}{amount_s:>{amount_w}}"
    out.append(line, style=style)
    if mark:
        out.append(" " + mark, style="bold green" if mark == "✓" else "bold red")
    out.append("\n")


def _heading(out: Text, title: str, right: str = "") -> None:
    out.append(f"{title:<17}{right:>18}\n", style="bold underline")


def render_day(s: PeriodSummary) -> Text:
    """Left column: charges, receipts, applications, adjustments, transfers, refunds, voids."""
    out = Text(no_wrap=True, overflow="ellipsis")
    _heading(out, "CHARGES", "lines       amount")
    _row(out, "Charges (net)", s.charges, s.charge_lines, style="bold")
    if s.charge_voids:
        _row(out, " of which voided", s.charge_voids)
    out.append(" by provider\n", style="italic")
    for code, (n, total) in sorted(s.charges_by_provider.items()):
        _row(out, f"  {code}", total, n)
    out.append(" by operator\n", style="italic")
    for op, (n, total) in sorted(s.charges_by_operator.items()):
        _row(out, f"  {op}", total, n)
    _heading(out, "RECEIPTS", "count       amount")
    counts = s.receipt_counts_by_method or {}
    for m in METHODS:
        _row(out, f" {METHOD_LABELS[m]}", s.receipts_by_method.get(m, 0), counts.get(m, 0))
    _row(out, " Total", s.receipts, s.receipt_count, style="bold")
    _row(out, " from patients", s.receipts_by_source.get("patient", 0))
    _row(out, " from insurance", s.receipts_by_source.get("payer", 0))
    if s.receipt_voids:
        _row(out, " of which voided", s.receipt_voids)
    _heading(out, "POSTED", "count       amount")
    _row(out, " Applied", s.applications)
    _row(out, " Adjustments", s.adjustments)
    for reason, amount in sorted(s.adjustments_by_reason.items()):
        _row(out, f"  {reason}", amount)
    _row(out, " Transfers", s.transfer_total, s.transfer_count)
    _row(out, " Refunds", s.refunds, s.refund_count)
    for m in METHODS:
        if s.refunds_by_method.get(m):
            _row(out, f"  {METHOD_LABELS[m]}", s.refunds_by_method[m])
    _row(out, " Voids", None, s.void_count)
    for kind, n in (s.voids_by_kind or {}).items():
        if n:
            _row(out, f"  {kind}", None, n)
    return out


def render_proof(snap: DaySnapshot) -> Text:
    """Right column: the A/R proof, the unapplied roll-forward, the batches, and what a close stored."""
    s = snap.summary
    out = Text(no_wrap=True, overflow="ellipsis")
    if s.proof_errors:
        out.append("A/R PROOF ERROR\n", style="bold reverse red")
        for err in s.proof_errors:
            out.append(f"✗ {err}\n", style="bold red")
    _heading(out, "A/R PROOF")
    _row(out, " Opening A/R", s.opening_ar)
    _row(out, " + charges", s.charges)
    _row(out, " − applied", s.applications)
    _row(out, " − adjustments", s.adjustments)
    _row(out, " = closing A/R", s.closing_ar, style="bold")
    if s.current_ar is None:
        out.append(" Σ open balances: n/a, later days\n  posted; proved by the closes\n", style="italic")
    else:
        ok = s.current_ar == s.closing_ar
        _row(out, " Σ open balances", s.current_ar, style="" if ok else "bold red", mark="✓" if ok else "✗")
    _heading(out, "UNAPPLIED CREDIT")
    _row(out, " Opening", s.opening_unapplied)
    _row(out, " + receipts", s.receipts)
    _row(out, " − applied", s.applications)
    _row(out, " − refunds", s.refunds)
    _row(out, " = closing", s.closing_unapplied, style="bold")
    if s.current_unapplied is not None:
        ok = s.current_unapplied == s.closing_unapplied
        _row(out, " Receipts queue", s.current_unapplied, style="" if ok else "bold red", mark="✓" if ok else "✗")
    _heading(out, "BATCHES", "entered/control")
    if not snap.batches:
        out.append(" none\n", style="italic")
    # Unbalanced first, then open, then closed: the ones that stop a close stand out at the top.
    order = {"unbalanced": 0, "open": 1, "closed": 2}
    for b in sorted(snap.batches, key=lambda b: (order[b.status], b.id)):
        bad = b.status == "unbalanced"
        style = "bold red" if bad else ("" if b.closed else "yellow")
        flag = "!" if bad else " "
        kind = "chg" if b.kind == "charge" else "rcpt"
        head = f"{flag}#{b.id} {kind} {b.operator}"
        out.append(f"{head[:WIDTH - 11]:<{WIDTH - 11}}{b.status:>11}\n", style=style)
        out.append(f"  {b.entered_count:>3}/{b.control_count:<3} "
                   f"{format_cents(b.entered_total)}/{format_cents(b.control_total)}"[:WIDTH] + "\n", style=style)
    if snap.closed:
        c = snap.closed
        t = c.totals
        _heading(out, "CLOSED WITH")
        out.append(f" by {c.operator[:16]} {c.closed_at[:16].replace('T', ' ')}\n")
        deposit = t.get("deposit", {})
        for label, key, live in (("Charges", "charges", s.charges), ("Applied", "applications", s.applications),
                                 ("Adjustments", "adjustments", s.adjustments),
                                 ("Closing A/R", "closing_ar", s.closing_ar)):
            stored = t.get(key)
            _row(out, f" {label}", stored, mark="" if stored == live else "✗")
        for m in METHODS:
            _row(out, f" {METHOD_LABELS[m]} counted", c.counted[m],
                 mark="" if c.counted[m] == deposit.get(m, s.deposit[m]) else "✗")
        _row(out, " checks counted", None, c.counted_check_count)
    if snap.month_closed:
        out.append(f"Month {snap.month_closed.month} closed by {snap.month_closed.operator[:16]}\n", style="bold")
    return out


@dataclass(frozen=True)
class Counted:
    """The deposit the clerk typed, or the first field that is not an amount."""

    cash: int = 0
    checks: int = 0
    check_count: int = 0
    card: int = 0
    eft: int = 0
    bad_field: str | None = None
    bad_reason: str = ""


class BalancingCommands(Provider):
    """Ctrl+P offers the dashboard's actions by name (the same as its keys)."""

    ACTIONS = (
        ("Close day", "close_day", "F9: close the posting day shown, after checking every rule"),
        ("Close month", "close_month", "F10: close the month of the day shown"),
        ("Refresh balancing figures", "reload", "F5: read the figures again now"),
    )

    async def discover(self) -> Hits:
        for name, action, help_text in self.ACTIONS:
            yield DiscoveryHit(name, getattr(self.screen, f"action_{action}"), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, action, help_text in self.ACTIONS:
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), getattr(self.screen, f"action_{action}"), help=help_text)


class BalancingScreen(BillingScreen[None]):
    """The day's proof and deposit reconciliation, refreshed live; F9 closes the day, F10 the month."""

    AUTO_FOCUS = "#dep-cash"
    COMMANDS = {BalancingCommands}
    BINDINGS = [
        Binding("f9", "close_day", "Close day", id="balancing.close_day"),
        Binding("f10", "close_month", "Close month", id="balancing.close_month"),
        Binding("f5", "reload", "Refresh", id="balancing.refresh"),
        Binding("ctrl+g", "go_to_date", "Other day", id="balancing.date"),
        Binding("pageup", "scroll_figures(-1)", "Scroll up", show=False, id="balancing.page_up"),
        Binding("pagedown", "scroll_figures(1)", "Scroll down", show=False, id="balancing.page_down"),
    ]

    class Loaded(Message):
        """Figures for a date were read and shown (tests and benchmarks wait on it)."""

        def __init__(self, snapshot: DaySnapshot, elapsed_ms: float) -> None:
            super().__init__()
            self.snapshot = snapshot
            self.elapsed_ms = elapsed_ms

    class Closed(Message):
        """A day or a month was closed from this screen."""

        def __init__(self, what: str, totals: dict) -> None:
            super().__init__()
            self.what = what
            self.totals = totals

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.snapshot: DaySnapshot | None = None
        #: dates to load ("" means the current posting date), or None: the books changed
        self._requests: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        #: the app's count of changes heard when the first load was asked (compared once subscribed)
        self._books_version: int | None = None
        self._visible = True
        self._wanted = ""  # what the date input asks for ("" = current posting date)
        #: the difference shown for each deposit field (cash, checks, count, card, eft)
        self.differences: dict[str, Text] = {}
        self.loaded = asyncio.Event()
        self._early: tuple[DaySnapshot, float] | None = None
        self._ready = False  # set on mount: the widgets exist

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        # Start reading the books now, so the database work overlaps building the screen.
        self._books_version = getattr(self.app, "books_version", None)
        self._live()
        self.request("")
        yield AppHeader("Balancing")
        with Horizontal(id="bal-top"):
            yield Label("Posting date", id="bal-date-label")
            yield Input(placeholder="1126, -3, t", id="bal-date", compact=True, max_length=10)
            yield Static("loading…", id="bal-state", markup=False)
        # Few widgets on purpose: labels and differences are one Static each (CSS cost grows per node).
        with Grid(id="bal-deposit"):
            labels = Text()
            labels.append("DEPOSIT", style="bold underline")
            labels.append("\n" + "\n".join(label for _, label, _ in DEPOSIT_FIELDS))
            yield Static(labels, id="bal-dep-labels")
            yield Static(Text("counted", style="bold underline"), id="bal-dep-head")
            yield Static("", id="bal-dep-diffs")
            for key, _, _ in DEPOSIT_FIELDS:
                # No character filter: a typo stays visible and is refused with its reason (a filter
                # dropped it silently: "4l8.00" counted 48.00).
                yield Input(placeholder="0" if key == "count" else "0.00", id=f"dep-{key}", compact=True,
                            max_length=16)
        with VerticalScroll(id="bal-figures", can_focus=True):
            with Horizontal(id="bal-cols"):
                yield Static("", id="bal-left", classes="bal-col")
                yield Static("", id="bal-right", classes="bal-col")
        yield KeyBar()

    def on_mount(self) -> None:
        self.sub_title = "Balancing"
        self._ready = True
        changed = getattr(self.app, "books_changed", None)
        if changed is not None:
            changed.subscribe(self, self._books_changed)
            if self._books_version is not None and getattr(self.app, "books_version", None) != self._books_version:
                self._requests.put(None)  # a commit landed between the first load and now
        if self._early is not None:
            self._show(*self._early)

    def on_screen_resume(self) -> None:
        self._visible = True
        if self.snapshot is not None:
            self._requests.put(self._wanted)  # catch up on what was posted in the last moments

    def on_screen_suspend(self) -> None:
        self._visible = False

    # ------------------------------------------------------------------ loading

    def request(self, date: str) -> None:
        """Ask the live worker to (re)load ``date`` ("" = the current posting date)."""
        self._wanted = date
        self.loaded.clear()
        self._requests.put(date)

    @work(thread=True, exclusive=True, group="balancing-live", exit_on_error=False, name="balancing live refresh")
    def _live(self) -> None:
        """Load on request, and again after the books change (``None`` in the queue: the app's watch
        heard a commit by any connection; see on_mount)."""
        from ..store import BillingError, database
        from ..store.summary import day_snapshot

        worker = get_current_worker()
        wanted: str | None = None
        stale = False
        last_load = 0.0
        try:
            while not worker.is_cancelled:
                wait = WAKE_SECONDS
                if stale and not self._visible:  # hidden: the next throttled reload is due then
                    wait = max(0.0, HIDDEN_REFRESH_SECONDS - (time.perf_counter() - last_load))
                asked: str | None = None
                for item in self._take(wait):
                    if item is None:
                        stale = True
                    else:
                        asked = item  # a newer ask supersedes an older one
                if asked is not None:
                    wanted = asked
                if wanted is None:
                    continue
                if asked is None:
                    # Hidden, it still follows the books (throttled) so F4 finds fresh figures.
                    if not stale or (not self._visible and time.perf_counter() - last_load < HIDDEN_REFRESH_SECONDS):
                        continue
                started = time.perf_counter()
                stale = False
                try:
                    snap = day_snapshot(wanted or None)
                except BillingError as exc:
                    if not worker.is_cancelled:
                        self.app.call_from_thread(self._show_problem, str(exc))
                    continue
                last_load = time.perf_counter()
                elapsed = (last_load - started) * 1000
                if not worker.is_cancelled:
                    self.app.call_from_thread(self._show, snap, elapsed)
        finally:
            database.close()  # this thread's own connection

    def _take(self, wait: float) -> list[str | None]:
        """What was put in the queue: waits up to ``wait`` seconds for the first item, then takes the rest."""
        try:
            items = [self._requests.get(timeout=wait)]
        except queue.Empty:
            return []
        while True:
            try:
                items.append(self._requests.get_nowait())
            except queue.Empty:
                return items

    def _books_changed(self, _version: int) -> None:
        self._requests.put(None)

    def _show_problem(self, message: str) -> None:
        self.query_one("#bal-state", Static).update(Text(f"✗ {message}", style="bold red"))
        self.loaded.set()

    def _show(self, snap: DaySnapshot, elapsed_ms: float) -> None:
        if not self._ready:  # the first figures can arrive before the widgets exist
            self._early = (snap, elapsed_ms)
            return
        self._early = None
        first = self.snapshot is None or self.snapshot.date != snap.date or bool(self.snapshot.closed) != bool(snap.closed)
        self.snapshot = snap
        date_input = self.query_one("#bal-date", Input)
        if not date_input.has_focus or not date_input.value:
            date_input.value = snap.date
        self.query_one("#bal-left", Static).update(render_day(snap.summary))
        self.query_one("#bal-right", Static).update(render_proof(snap))
        self._show_state()
        if first:
            self._fill_deposit(snap)
        self._update_differences()
        self.post_message(self.Loaded(snap, elapsed_ms))
        self.loaded.set()

    def _show_state(self) -> None:
        snap = self.snapshot
        if snap is None:
            return
        state = Text(no_wrap=True, overflow="ellipsis")
        if snap.closed:
            state.append(f"CLOSED by {snap.closed.operator} {snap.closed.closed_at[:16].replace('T', ' ')}",
                         style="bold")
        elif snap.month_closed:
            state.append(f"month {snap.month_closed.month} CLOSED", style="bold")
        elif snap.date > snap.current_date:
            state.append(f"future; posting goes to {snap.current_date}", style="yellow")
        else:
            state.append("open" + (" (current)" if snap.is_current else ""), style="bold green")
        if snap.summary.proof_errors:
            state.append("  ✗ A/R PROOF ERROR", style="bold reverse red")
        else:
            state.append("  proof ✓", style="green")
        bad = sum(b.status == "unbalanced" for b in snap.batches)
        if bad:
            state.append(f"  {bad} batch{'es' if bad > 1 else ''} off", style="bold red")
        state.append(f"  {dt.datetime.now():%H:%M:%S}", style="dim")
        self.query_one("#bal-state", Static).update(state)

    # ------------------------------------------------------------------ deposit

    def _fill_deposit(self, snap: DaySnapshot) -> None:
        """A closed day shows what it was counted with (read-only); an open day keeps what was typed."""
        for key, _, _ in DEPOSIT_FIELDS:
            box = self.query_one(f"#dep-{key}", Input)
            if snap.closed:
                stored = {"cash": snap.closed.counted_cash,
                          "checks": snap.closed.counted_checks + refund_checks(snap.summary),
                          "count": snap.closed.counted_check_count, "card": snap.closed.counted_card,
                          "eft": snap.closed.counted_eft}[key]
                box.value = str(stored) if key == "count" else format_cents(stored, commas=False)
                box.disabled = True
            elif box.disabled:
                box.disabled = False
                box.value = ""

    def counted(self) -> Counted:
        """Parse the deposit inputs (an empty one counts as nothing)."""
        values: dict[str, int] = {}
        for key, label, _ in DEPOSIT_FIELDS:
            raw = self.query_one(f"#dep-{key}", Input).value
            try:
                values[key] = (parse_count(raw, "check count", blank=0, maximum=99999) if key == "count"
                               else parse_amount(raw, label.strip().lower(), blank=0))
            except ValueError as exc:
                return Counted(bad_field=key, bad_reason=str(exc))
        return Counted(values["cash"], values["checks"], values["count"], values["card"], values["eft"])

    def _expected(self, key: str) -> int:
        """What the bag should hold: checks as received (refund checks paid out are shown apart)."""
        assert self.snapshot is not None  # differences are shown only once figures are
        s = self.snapshot.summary
        if key == "count":
            return s.check_count
        if key == "checks":
            return s.receipts_by_method.get("check", 0)
        return s.deposit[dict((k, m) for k, _, m in DEPOSIT_FIELDS)[key]]

    def _update_differences(self) -> None:
        """Each counted figure against the receipts, at once as the clerk types."""
        if self.snapshot is None:
            return
        out = Text(no_wrap=True, overflow="ellipsis")
        # Narrow columns: a line that wraps at 80 columns pushes every figure below it onto the wrong label.
        out.append(f"{'in the bag':>12}  difference\n", style="bold underline")
        for key, _, _ in DEPOSIT_FIELDS:
            want = self._expected(key)
            out.append(f"{str(want) if key == 'count' else format_cents(want):>12}  ")
            self.differences[key] = diff = self._difference(key, want)
            out.append_text(diff)
            paid = refund_checks(self.snapshot.summary)
            if key == "checks" and paid:  # money out is not money deposited: shown apart, never netted
                out.append(f" · {format_cents(paid)} paid out", style="italic")
            out.append("\n")
        self.query_one("#bal-dep-diffs", Static).update(out)

    def _difference(self, key: str, want: int) -> Text:
        raw = self.query_one(f"#dep-{key}", Input).value.strip()
        try:
            got: int | None = parse_count(raw, blank=0, maximum=99999) if key == "count" else parse_amount(raw, blank=0)
        except ValueError:
            got = None
        if got is None:
            return Text("✗ not an amount" if key != "count" else "✗ not a number", style="bold red")
        if not raw and want:
            return Text("not counted yet", style="yellow")
        delta = got - want
        if delta == 0:
            return Text("0 ✓" if key == "count" else "0.00 ✓", style="bold green")
        shown = f"{delta:+d}" if key == "count" else ("+" if delta > 0 else "") + format_cents(delta)
        return Text(f"{shown} {'over' if delta > 0 else 'short'} ✗", style="bold red")

    @on(Input.Changed, "#bal-deposit Input")
    def _deposit_typed(self) -> None:
        self._update_differences()

    @on(Input.Submitted, "#bal-deposit Input")
    def _deposit_next(self, event: Input.Submitted) -> None:
        counted = self.counted()
        if counted.bad_field and event.input.id == f"dep-{counted.bad_field}":
            # Say why at once and stay: the figure is refused, never guessed.
            self.notify(f"counted {counted.bad_reason}", severity="error", markup=False)
            return
        self.focus_next()

    @on(Input.Submitted, "#bal-date")
    def _date_chosen(self, event: Input.Submitted) -> None:
        raw = event.value.strip()
        if raw:
            from ..store.validate import today

            try:  # the kit's one date grammar: 2026-11-26, 11/26, 1126, t, -3
                raw = parse_day(raw, today(), "posting date").isoformat()
            except ValueError as exc:
                self._show_problem(str(exc))
                return
            event.input.value = raw
        self.request(raw)
        self.focus_next()

    def action_go_to_date(self) -> None:
        """Ctrl+G: the date field, selected, to show any other day (Enter shows it; empty = today's)."""
        field = self.query_one("#bal-date", Input)
        field.focus()
        field.select_all()

    def action_reload(self) -> None:
        """F5: reload now (and restart the live refresh if it stopped on an error)."""
        if not any(w.group == "balancing-live" and w.is_running for w in self.workers):
            self._live()
        self.request(self._wanted)

    def action_scroll_figures(self, direction: int) -> None:
        figures = self.query_one("#bal-figures", VerticalScroll)
        (figures.scroll_page_down if direction > 0 else figures.scroll_page_up)()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        """Say on the dashboard which figures went stale (the app's shared handler notifies the failure)."""
        if event.state == WorkerState.ERROR and event.worker.group.startswith("balancing"):
            error = event.worker.error
            what = "live refresh stopped" if event.worker.group == "balancing-live" else "close failed"
            self._show_problem(f"{what}: {error}. F5 tries again.")

    # ------------------------------------------------------------------ closes

    def action_close_day(self) -> None:
        """F9: check every rule, then show the totals (or the reasons) in a confirmation."""
        snap = self.snapshot
        if snap is None:
            return
        if snap.closed:
            self.notify(f"day {snap.date} is already closed", severity="warning")
            return
        counted = self.counted()
        if counted.bad_field:
            self.notify(f"counted {counted.bad_reason}", severity="error", markup=False)
            self.query_one(f"#dep-{counted.bad_field}", Input).focus()
            return
        self._prepare_close_day(snap.date, counted)

    @work(thread=True, exclusive=True, group="balancing-close", exit_on_error=False, name="check day close")
    def _prepare_close_day(self, date: str, counted: Counted) -> None:
        from ..store import database
        from ..store.closes import DepositCount, close_day_problems
        from ..store.summary import day_summary
        from ..store.validate import closed_reason, today

        try:
            with database.atomic("DEFERRED"):
                problems = []
                why = closed_reason(date)
                if why:
                    problems.append(why)
                if date > today().isoformat():
                    problems.append(f"{date} has not happened yet")
                s = day_summary(date)
                # The check tape is the checks received (the bag); the practice's own refund checks
                # are money paid out, never deposited. The store's deposit is net of refunds, so
                # the bag's figure is handed over less them.
                deposit = DepositCount(counted.cash, counted.checks - refund_checks(s), counted.check_count,
                                       counted.card, counted.eft)
                problems += close_day_problems(date, deposit)
        finally:
            database.close()
        lines = close_lines(s, deposit_counted=deposit, tape=counted.checks)
        title = f"Day {date} cannot close" if problems else f"Close posting day {date}?"
        self.app.call_from_thread(self._confirm, title, lines, problems, ("day", date, deposit, s.as_dict()))

    def action_close_month(self) -> None:
        """F10: close the month of the date shown, once all its days with postings are closed."""
        snap = self.snapshot
        if snap is None:
            return
        self._prepare_close_month(snap.date[:7])

    @work(thread=True, exclusive=True, group="balancing-close", exit_on_error=False, name="check month close")
    def _prepare_close_month(self, month: str) -> None:
        from ..store import database
        from ..store.closes import month_close_problems
        from ..store.summary import month_bounds, period_summary

        try:
            with database.atomic("DEFERRED"):
                problems = month_close_problems(month)
                s = period_summary(*month_bounds(month))
        finally:
            database.close()
        title = f"Month {month} cannot close" if problems else f"Close month {month}?"
        self.app.call_from_thread(self._confirm, title, close_lines(s), problems, ("month", month, None, s.as_dict()))

    def _confirm(self, title: str, lines: list[str], problems: list[str], what: tuple) -> None:
        from .balancing_dialogs import CloseConfirm

        def done(ok: bool | None) -> None:
            if ok:
                self._do_close(*what)

        self.app.push_screen(CloseConfirm(title, lines, problems, key="F9" if what[0] == "day" else "F10"),
                             callback=done)

    @work(thread=True, exclusive=True, group="balancing-close", exit_on_error=False, name="close")
    def _do_close(self, kind: str, key: str, deposit, shown: dict) -> None:
        from ..store import BillingError, database
        from ..store.closes import close_day_as_shown, close_month_as_shown
        from ..store.validate import current_posting_date

        try:
            if kind == "day":
                totals = close_day_as_shown(key, deposit, shown)
            else:
                totals = close_month_as_shown(key, shown)
            nxt = current_posting_date()
        except BillingError as exc:
            self.app.call_from_thread(self.notify, str(exc), title="Not closed", severity="error", timeout=15)
            return
        finally:
            database.close()
        message = (f"day {key} closed; postings now go to {nxt}" if kind == "day"
                   else f"month {key} closed; closing A/R {format_cents(totals['closing_ar'])}")
        self.app.call_from_thread(self._after_close, kind, key, totals, message, nxt)

    def _after_close(self, kind: str, key: str, totals: dict, message: str, next_date: str = "") -> None:
        if next_date:
            # Every screen posts to the new open day from now on (charge entry follows it on F2).
            self.billing.set_posting_date(next_date)
        self.notify(message, title="Closed")
        self.post_message(self.Closed(f"{kind} {key}", totals))
        self.request(self._wanted or (key if kind == "day" else ""))


def refund_checks(s: PeriodSummary) -> int:
    """The practice's refund checks of the period: paid out, so never part of the check tape."""
    return s.refunds_by_method.get("check", 0)


def close_lines(s: PeriodSummary, deposit_counted=None, tape: int | None = None) -> list[str]:
    """The totals a close confirmation repeats (plain text)."""
    w = 14
    lines = [
        f"{'Charges':<18}{s.charge_lines:>5} lines {format_cents(s.charges):>{w}}",
        f"{'Receipts':<18}{s.receipt_count:>5}       {format_cents(s.receipts):>{w}}",
        f"{'Refunds':<18}{s.refund_count:>5}       {format_cents(s.refunds):>{w}}",
        f"{'Applied':<24}{format_cents(s.applications):>{w + 6}}",
        f"{'Adjustments':<24}{format_cents(s.adjustments):>{w + 6}}",
        f"A/R {format_cents(s.opening_ar)} + {format_cents(s.charges)} − {format_cents(s.applications)} − "
        f"{format_cents(s.adjustments)} = {format_cents(s.closing_ar)}",
        f"Unapplied {format_cents(s.opening_unapplied)} → {format_cents(s.closing_unapplied)}",
        "Deposit   " + "  ".join(f"{METHOD_LABELS[m]} {format_cents(v)}" for m, v in s.deposit.items()),
    ]
    if deposit_counted is not None:
        lines.append("Counted   " + "  ".join(
            f"{METHOD_LABELS[m]} {format_cents(v)}" for m, v in (
                ("cash", deposit_counted.cash), ("check", deposit_counted.checks),
                ("card", deposit_counted.card), ("eft", deposit_counted.eft))))
        lines.append(f"Checks    {deposit_counted.check_count} counted, {s.check_count} posted")
        if refund_checks(s):
            lines.append(f"Check tape {format_cents(tape if tape is not None else deposit_counted.checks)} received; "
                         f"refund checks {format_cents(refund_checks(s))} paid out apart (not deposited)")
    return lines
