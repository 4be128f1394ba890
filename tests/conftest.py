"""Shared fixtures for every test module.

Keep these generic: a module that needs more builds it on top of them in its own file.

* Every book a test opens new is a *test book* (store/identity.py): only such a book honours the
  hooks below, and its users without a role are admins. ``office_books`` turns that off.
* ``today`` pins the business day (``TUI_BILLING_TODAY``) and the operator
  (``TUI_BILLING_OPERATOR``) so posting dates, DOS checks and audit users are deterministic.
  Change the day in a test with ``monkeypatch.setenv("TUI_BILLING_TODAY", ...)``.
* ``db`` is a fresh, migrated database file under ``tmp_path`` opened on the global
  ``store.database`` (closed afterwards). It yields the file's path.
* ``practice`` seeds a small practice into ``db`` (see ``store_helpers.seed_practice``) and
  yields its ids: ``practice.providers``, ``practice.payers``, ``practice.patients``
  (primary-only, primary+secondary, self-pay), ``practice.fees``.
* ``dump`` is ``store_helpers.dump_database``: compare two calls to prove nothing changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator

import pytest

import store_helpers
from tui_billing.store import close_database, identity, open_database

from store_helpers import OPERATOR, TODAY


@pytest.fixture(autouse=True, scope="session")
def _test_books() -> Iterator[None]:
    """Every brand-new book a test opens in this process is a test book: it honours TUI_BILLING_TODAY
    and TUI_BILLING_OPERATOR and makes users without a role admins (see store/identity.py).
    A test of an office's books turns this off with ``office_books``."""
    identity.make_new_books_test_books(True)
    yield
    identity.make_new_books_test_books(False)


@pytest.fixture
def office_books() -> Iterator[None]:
    """Books opened new in this test are an office's: real uid, wall clock, real roles."""
    identity.make_new_books_test_books(False)
    try:
        yield
    finally:
        identity.make_new_books_test_books(True)


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> str:
    """Pin TUI_BILLING_TODAY and TUI_BILLING_OPERATOR; returns the pinned date as ISO text."""
    monkeypatch.setenv("TUI_BILLING_TODAY", TODAY)
    monkeypatch.setenv("TUI_BILLING_OPERATOR", OPERATOR)
    monkeypatch.delenv("TUI_BILLING_DB", raising=False)
    return TODAY


@pytest.fixture
def db(tmp_path: Path, today: str) -> Iterator[Path]:
    """A fresh database file at tmp_path/billing.db, open on store.database."""
    path = open_database(tmp_path / "billing.db")
    try:
        yield path
    finally:
        close_database()


@pytest.fixture
def practice(db: Path) -> store_helpers.Practice:
    """The small seeded practice in the fresh database."""
    return store_helpers.seed_practice()


@pytest.fixture
def dump() -> Callable[[], str]:
    """A full, ordered dump of the open database (equal dumps = nothing changed)."""
    return store_helpers.dump_database
