"""Telling a screen that the books changed: another clerk (or this app) committed a write.

One helper for every live screen, on both backends, so no screen knows how it is heard:

* PostgreSQL: every write sends ``NOTIFY tb_books`` (store/pg.py); a :class:`BooksWatch` holds a
  connection of its own that LISTENs and blocks on its socket until a notice comes. Nothing is
  queried while the books are quiet, and a commit is heard in about a millisecond.
* SQLite has no notices: a private read-only connection polls ``PRAGMA data_version`` (which moves
  whenever any other connection commits), every ``poll`` seconds. The query reads no table.

:meth:`BooksWatch.wait` blocks, so it is called from a worker thread (never the event loop), with
a short timeout so the thread notices when its screen is gone. One thread at a time uses a
watch (it is one connection): it may be made in one thread and handed to another. The store
never imports Textual.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from .db import database, on_server

#: SQLite: how often the private connection looks at PRAGMA data_version unless a screen says.
SQLITE_POLL_SECONDS = 0.05


class BooksWatch:
    """Waits for the next commit to the open books by any connection (this process's or another's)."""

    def __init__(self, poll: float = SQLITE_POLL_SECONDS) -> None:
        self.poll = poll
        self._listener: Any = None
        self._sqlite: sqlite3.Connection | None = None
        self._version: int | None = None
        self.on_server = on_server()
        if self.on_server:
            from .pg import Listener

            self._listener = Listener(str(database.database))  # LISTENing from here on: no commit is missed
            return
        path = database.database
        if not path:
            raise RuntimeError("no books are open to watch")
        uri = Path(path).resolve().as_uri() + "?mode=ro"  # as_uri escapes spaces, '?' and '#'
        # its own connection: data_version moves for every commit but this connection's (it makes none)
        self._sqlite = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self._version = self._data_version()

    def _data_version(self) -> int:
        assert self._sqlite is not None
        version: int = self._sqlite.execute("PRAGMA data_version").fetchone()[0]
        return version

    def wait(self, timeout: float) -> bool:
        """True as soon as a commit made since the last call (or since the watch began) is seen; False when
        ``timeout`` seconds pass without one. Several commits close together count as one."""
        if self._listener is not None:
            heard: bool = self._listener.wait(timeout)
            return heard
        deadline = time.monotonic() + timeout
        while True:
            version = self._data_version()
            if version != self._version:
                self._version = version
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(self.poll, left))

    def close(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._sqlite is not None:
            self._sqlite.close()
            self._sqlite = None
