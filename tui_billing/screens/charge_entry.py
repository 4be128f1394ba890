"""Charge entry (F2): not built yet; its issue replaces this module."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header, Static


class ChargeEntryScreen(Screen[None]):
    """Placeholder until the screen's issue lands."""

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("Charge entry (F2) is coming.", markup=False)
        yield Footer()
