"""A throwaway PostgreSQL cluster for the tests: real server binaries, a temporary directory, a unix socket.

When ``/usr/lib/postgresql/15/bin`` (or ``TUI_BILLING_PG_BIN``'s folder) holds the server, the
session starts one cluster: ``initdb`` as an unprivileged OS user (the server refuses to run as
root; ``tbpgtest`` is created with ``useradd`` when missing), ``postgres`` listening on a socket in
the temporary directory only (no TCP), peer authentication mapped so the test process (root)
may log in as the owner and as the clerk roles the role tests make. It is stopped and removed
at the end of the session.

Each test gets its own database, cloned from a template that already holds the schema (a clone
takes milliseconds, a schema build a second). Without the binaries the PostgreSQL tests skip,
unless ``TUI_BILLING_REQUIRE_PG=1`` (``.ci/run`` sets it), when they fail instead.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

PG_BIN = Path(os.environ.get("TUI_BILLING_PG_BIN", "/usr/lib/postgresql/15/bin"))
SERVER_USER = "tbpgtest"
SUPERUSER = "tb_super"
#: The owner of the books' schema (migrations, `pg setup`); the role the tests' books are opened as.
OWNER = "tb_owner"
#: Login roles of clerks that the role tests make; root may log in as each (peer map below).
CLERKS = ("tb_clerk_ann", "tb_clerk_bob", "tb_sup_cat")
REQUIRE_ENV = "TUI_BILLING_REQUIRE_PG"


def available() -> bool:
    return (PG_BIN / "postgres").exists() and (PG_BIN / "initdb").exists()


def require_or_skip() -> None:
    """Skip without a server, or fail when the run requires PostgreSQL (CI)."""
    if available():
        return
    message = f"PostgreSQL server binaries not found in {PG_BIN}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message}, and {REQUIRE_ENV}=1 requires the PostgreSQL tests to run")
    pytest.skip(message)


def _server_user() -> tuple[int, int] | None:
    """(uid, gid) to run the server as when we are root (postgres refuses root); None otherwise."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError:  # (another test process may be making it at the same moment: then it is there)
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
                       capture_output=True)
        entry = pwd.getpwnam(SERVER_USER)
    return entry.pw_uid, entry.pw_gid


class Cluster:
    """One running server in a temporary directory."""

    def __init__(self, settings: str = "") -> None:
        self.settings = settings  # more server options (-c name=value ...), e.g. the bench's bulk-load ones
        self.root = Path(tempfile.mkdtemp(prefix="tb-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.log = self.root / "server.log"
        self.ids = _server_user()
        self._names = itertools.count(1)
        self.template = "tb_template"
        self.running = False

    # the server's files belong to the server's user; the socket folder is open to every user (the
    # server's own permissions and pg_hba decide who logs in)
    def _as_server(self, *argv: str) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, object] = {}
        if self.ids:
            kwargs.update(user=self.ids[0], group=self.ids[1], extra_groups=[])
        return subprocess.run(list(argv), check=True, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]

    def start(self) -> None:
        os.chmod(self.root, 0o755)
        self.socket_dir.mkdir(mode=0o755)
        os.chmod(self.socket_dir, 0o777)  # clerks' processes (other OS users) reach the socket
        if self.ids:
            os.chown(self.root, *self.ids)
            os.chown(self.socket_dir, *self.ids)
        self._as_server(str(PG_BIN / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "-A", "peer",
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
        root_login = pwd.getpwuid(os.getuid()).pw_name
        ident = [f"tb {root_login} {role}" for role in (SUPERUSER, OWNER, *CLERKS)]
        ident.append(r"tb /^(.*)$ \1")  # everyone else: the OS user is the role (plain peer)
        (self.data / "pg_ident.conf").write_text("\n".join(ident) + "\n")
        (self.data / "pg_hba.conf").write_text("local all all peer map=tb\n")
        # a throwaway cluster: no fsync (the tests' crash checks are about transactions, not disks)
        self._start_server()
        self.running = True
        self.sql(f"CREATE ROLE {OWNER} LOGIN")
        for clerk in CLERKS:
            self.sql(f"CREATE ROLE {clerk} LOGIN")

    def _start_server(self) -> None:
        self._as_server(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
                        "-o", f"-k {self.socket_dir} -c listen_addresses= -c fsync=off -c full_page_writes=off "
                              f"-c synchronous_commit=off -c max_connections=60 {self.settings}", "start")

    def crash_and_restart(self) -> None:
        """Stop the server as a crash would (``-m immediate``: every backend killed, no shutdown
        checkpoint), then start it again: it recovers from its WAL. The OS is not crashed, so with
        fsync=off this proves the server's crash recovery, not the disk's durability."""
        self._as_server(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        self._start_server()

    def stop(self) -> None:
        if self.running:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._as_server(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
            self.running = False
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, dbname: str, user: str = OWNER) -> str:
        return f"postgresql:///{dbname}?host={self.socket_dir}&user={user}"

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        """One statement as the superuser (autocommit: CREATE DATABASE cannot run in a transaction)."""
        import psycopg

        with psycopg.connect(self.url(dbname, SUPERUSER), autocommit=True) as conn:
            conn.execute(statement)

    def make_template(self) -> None:
        """The books' schema, built once by the program itself (as the owner), for every test to clone."""
        from tui_billing.store import db as store_db
        from tui_billing.store import pg_admin

        self.sql(f"CREATE DATABASE {self.template} OWNER {OWNER}")
        pg_admin.setup(self.url(self.template, SUPERUSER), owner=OWNER)
        store_db.close_database()
        import psycopg

        with psycopg.connect(self.url(self.template, SUPERUSER)) as conn:
            self._template_tables = [r[0] for r in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]

    def new_database(self) -> str:
        """A fresh database cloned from the template; returns its URL (as the owner)."""
        name = f"tb_test_{os.getpid()}_{next(self._names)}"
        for attempt in range(20):  # the template must have no other session while it is copied
            try:
                self.sql(f"CREATE DATABASE {name} TEMPLATE {self.template} OWNER {OWNER} STRATEGY FILE_COPY")
                break
            except Exception:
                if attempt == 19:
                    raise
                time.sleep(0.05)
        return self.url(name)

    def copy_database(self, url: str) -> str:
        """A copy of the database at ``url`` (no session may be open on it); its URL."""
        name = f"tb_copy_{os.getpid()}_{next(self._names)}"
        source = url.split("///", 1)[1].split("?", 1)[0]
        self.sql(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{source}' "
                 "AND pid <> pg_backend_pid()")
        self.sql(f"CREATE DATABASE {name} TEMPLATE {source} OWNER {OWNER} STRATEGY FILE_COPY")
        return self.url(name)

    def fresh_books(self) -> str:
        """Empty books for the next test: the last test's database emptied (milliseconds) when its schema
        is still the template's, else a new clone (a second: a test that dropped a guard gets one)."""
        if self._reusable is not None and self._empty(self._reusable):
            return self._reusable
        if self._reusable is not None:
            self.drop_database(self._reusable)
        self._reusable = self.new_database()
        return self._reusable

    _reusable: str | None = None

    def _empty(self, url: str) -> bool:
        import psycopg

        from tui_billing.store import pg_schema

        try:
            with psycopg.connect(url.replace(f"user={OWNER}", f"user={SUPERUSER}"), autocommit=True) as conn:
                conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                             "WHERE datname = current_database() AND pid <> pg_backend_pid()")
                tables = [r[0] for r in conn.execute(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename").fetchall()]
                if tables != self._template_tables or pg_schema.problems(conn.execute):
                    return False
                with conn.transaction():
                    conn.execute("SET LOCAL session_replication_role = replica")  # no guards, no foreign keys
                    for table in tables:
                        if table not in ("tb_schema", "tb_books_version"):
                            conn.execute(f"DELETE FROM {table}")
                    conn.execute("UPDATE tb_books_version SET n = 0")
            return True
        except psycopg.Error:
            return False

    _template_tables: list[str] = []

    def drop_database(self, url: str) -> None:
        name = url.split("///", 1)[1].split("?", 1)[0]
        with contextlib.suppress(Exception):
            self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
