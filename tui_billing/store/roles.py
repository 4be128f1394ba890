"""Who may do what: the one place the role rules live.

Roles are kept in the books (``role_grant``, schema 7): versioned grants, never updated (a revoke
is a grant of ``none``), each written with an audit event. The newest grant of a user is their
role. An operation asks with one line, ``roles.require(action, user, **facts)``; a refusal is a
:class:`BillingError` that says who may do it, and is audited in its own transaction after the
operation's is rolled back (see ``db.write``). An allowed action is recorded by the operation's
own event (who did it); the grant history says the role they held at that moment.

In a test book (see identity.py) a user with no grant is an admin, so tests need no set-up; a
user with a grant there has exactly that role. In an office's books a user with no grant (or one
revoked) may read but not post. The roles are enforced by this program: a group member with
``sqlite3`` can still write the file, which `check` detects (README, Reliability); the PostgreSQL
issue is where the database itself enforces them.
"""

from __future__ import annotations

import datetime as dt
import pwd
from collections.abc import Iterable
from typing import Any

from ..ledger.checks import text
from . import audit, identity
from .db import database, write
from .errors import BillingError

ROLES = ("clerk", "supervisor", "admin")
RANK = {"none": 0, "clerk": 1, "supervisor": 2, "admin": 3}
#: Refunds above this many cents need a supervisor.
REFUND_LIMIT_CENTS = 500_00

#: Master data and the fee schedule: changed by a supervisor only.
MASTER_DATA = {"set_practice", "add_provider", "add_payer", "set_procedure", "add_adjustment_reason"}


def _others(facts: dict[str, Any], user: str, key: str) -> bool:
    owner = facts.get(key)
    return owner is not None and owner != user


def _rule(action: str, user: str, facts: dict[str, Any]) -> tuple[str, str]:
    """(role needed, what is asked, in words)."""
    if action in ("close_day", "close_month"):
        return "supervisor", f"{action.replace('_', ' a ')}"
    if action == "close_batch":
        return ("supervisor" if _others(facts, user, "batch_operator") else "clerk",
                f"close {facts.get('batch_operator')}'s batch {facts.get('batch_id')}")
    if action == "correct_batch":
        return ("supervisor" if _others(facts, user, "batch_operator") else "clerk",
                f"correct or cancel {facts.get('batch_operator')}'s batch {facts.get('batch_id')}")
    if action == "batch_entry":
        return ("supervisor" if _others(facts, user, "batch_operator") else "clerk",
                f"post into {facts.get('batch_operator')}'s batch {facts.get('batch_id')}")
    if action == "void":
        what = f"void {facts.get('kind')} {facts.get('entry_id')}"
        if facts.get("closed_batch"):
            return "supervisor", what + " from a closed batch"
        if _others(facts, user, "entry_operator"):
            return "supervisor", what + f" entered by {facts.get('entry_operator')}"
        return "clerk", what
    if action == "refund":
        amount = int(facts.get("amount") or 0)
        return ("supervisor" if amount > REFUND_LIMIT_CENTS else "clerk",
                f"refund {amount / 100:.2f} (more than {REFUND_LIMIT_CENTS / 100:.2f} needs a supervisor)")
    if action == "adjust":
        offs = _write_offs(facts.get("reasons") or ())
        return ("supervisor", f"write off with {', '.join(offs)}") if offs else ("clerk", "adjust")
    if action in MASTER_DATA:
        return "supervisor", action.replace("_", " ")
    if action == "users":
        return "admin", "manage users and roles"
    if action == "post":
        return "clerk", "post"
    # Claims (issue 13): making, building and sending them is a clerk's daily work; voiding a
    # claim the payer already has cancels money owed to the office, so it is a supervisor's.
    if action in ("claims", "correct_claim"):
        return "clerk", "build, send or correct claims"
    if action == "void_claim":
        return ("supervisor" if facts.get("sent") else "clerk",
                f"void claim {facts.get('claim')}" + (" that the payer already has" if facts.get("sent") else ""))
    if action == "set_claim_receiver":
        return "supervisor", "set a claim receiver's name and test/production flag"
    raise ValueError(f"no role rule for {action!r}")  # a new action needs its rule here


def _write_offs(reasons: Iterable[str | None]) -> list[str]:
    """The office reasons among adjustment reason codes (bad debt, courtesy, small balance...)."""
    codes = sorted({r for r in reasons if r})
    if not codes:
        return []
    rows = database.execute_sql(
        f"SELECT code FROM adjustment_reason WHERE kind = 'office' AND code IN ({','.join('?' * len(codes))})",
        codes).fetchall()
    return sorted(r[0] for r in rows)


def role_of(user: str) -> str:
    """The user's role now: the newest grant; with none, admin in a test book and 'none' in an office's."""
    row = database.execute_sql("SELECT role FROM role_grant WHERE user = ? ORDER BY id DESC LIMIT 1",
                               (user,)).fetchone()
    if row:
        role: str = row[0]
        return role
    return "admin" if identity.honours_hooks() else "none"


def holders(role: str) -> list[str]:
    """Who holds ``role`` or a higher one now."""
    rows = database.execute_sql(
        "SELECT user, role FROM role_grant g WHERE id = (SELECT MAX(id) FROM role_grant h WHERE h.user = g.user)"
    ).fetchall()
    return sorted(u for u, r in rows if RANK[r] >= RANK[role])


def _who_may(role: str) -> str:
    names = holders(role)
    plural = {"supervisor": "a supervisor or an admin", "admin": "an admin", "clerk": "any user with a role"}[role]
    return f"{plural} ({', '.join(names[:6])})" if names else plural


class RoleRefused(BillingError):
    """A refusal; ``after_rollback`` audits it once the operation's transaction is undone."""

    def __init__(self, message: str, audit_detail: dict[str, Any], user: str) -> None:
        super().__init__(message, "operator")
        self.audit_detail = audit_detail
        self.user = user

    def after_rollback(self) -> None:
        _record_refusal(self.user, self.audit_detail)


@write
def _record_refusal(user: str, detail: dict[str, Any]) -> None:
    audit.record(_now(), user, "role_refused", "role", None, detail)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def require(action: str, user: str, **facts: Any) -> None:
    """Refuse ``action`` unless ``user``'s role allows it (a refusal is audited).

    An allowed action needs no event of its own: the operation's event names the user, and the
    versioned grants say what role they held then."""
    needed, what = _rule(action, user, facts)
    have = role_of(user)
    detail = {"action": action, "asked": what, "role": have, "needs": needed,
              **{k: v for k, v in facts.items() if isinstance(v, (str, int, bool, type(None)))}}
    if RANK[have] < RANK[needed]:
        raise RoleRefused(f"{user} ({have if have != 'none' else 'no role'}) may not {what}: "
                          f"ask {_who_may(needed)}", detail, user)


def acting_user(value: str | None = None) -> str:
    """The clerk who writes: the real uid's account (see store/identity.py), who must hold a role here."""
    name = text(identity.operator_name(value), "operator", max_len=64)
    require_member(name)
    return name


def require_member(user: str) -> None:
    """Any write needs a role in these books (cheap: one indexed read).

    Books nobody holds a role in yet (just created) make their first writer the admin, as `init` does.
    """
    if role_of(user) == "none" and not _bootstrap(user):
        raise RoleRefused(f"{user} has no role in these books and may not post: ask {_who_may('admin')} to run "
                          f"`tui-billing users add {user}`", {"action": "post", "needs": "clerk", "role": "none"}, user)


def entry_facts(kind: str, entry_id: object) -> dict[str, Any]:
    """Facts for a void: who entered the entry, and whether its batch is closed."""
    if kind not in ("encounter", "receipt", "distribution", "refund") or not isinstance(entry_id, int) \
            or not -2**63 <= entry_id < 2**63:  # the void itself explains a bad id
        return {"kind": kind, "entry_id": None}
    batch = "batch_id" if kind in ("encounter", "receipt") else "NULL"
    row = database.execute_sql(f"SELECT operator, {batch} FROM {kind} WHERE id = ?", (entry_id,)).fetchone()
    if not row:
        return {"kind": kind, "entry_id": entry_id}
    closed = row[1] is not None and bool(database.execute_sql(
        "SELECT 1 FROM batch_close WHERE batch_id = ?", (row[1],)).fetchone())
    return {"kind": kind, "entry_id": entry_id, "entry_operator": row[0], "closed_batch": closed}


# --------------------------------------------------------------------------- managing users


def _account(name: str) -> str:
    name = text(name, "user", max_len=64)
    if not identity.honours_hooks():
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise BillingError(f"{name} is not a user account on this machine", "user") from None
    return name


@write
def grant(name: str, role: str, *, operator: str | None = None, new: bool = False) -> str:
    """Give ``name`` a role (a new, audited grant row). ``new``: refuse a user who already has one."""
    user = acting_user(operator)
    require("users", user)
    name = _account(name)
    if role not in (*ROLES, "none"):
        raise BillingError(f"role must be one of {', '.join(ROLES)}", "role")
    current = database.execute_sql("SELECT role FROM role_grant WHERE user = ? ORDER BY id DESC LIMIT 1",
                                    (name,)).fetchone()
    if new and current and current[0] != "none":
        raise BillingError(f"{name} is already a user ({current[0]}): use `tui-billing users grant`", "user")
    if role != "admin" and name == user and not [h for h in holders("admin") if h != user]:
        raise BillingError("you are the only admin: make another admin before giving up the role", "role")
    now = _now()
    database.execute_sql("INSERT INTO role_grant (user, role, granted_by, granted_at) VALUES (?,?,?,?)",
                         (name, role, user, now))
    audit.record(now, user, "grant_role" if role != "none" else "revoke_role", "role_grant", None,
                 {"user": name, "role": role, "was": current[0] if current else None})
    return role


def revoke(name: str, *, operator: str | None = None) -> str:
    return grant(name, "none", operator=operator)


@write
def bootstrap(*, operator: str | None = None) -> str | None:
    """`init` on books with no grant yet: the user running it becomes their admin."""
    from .identity import operator_name

    user = operator_name(operator)
    return user if _bootstrap(user) else None


def _bootstrap(user: str) -> bool:
    if database.execute_sql("SELECT 1 FROM role_grant LIMIT 1").fetchone():
        return False
    now = _now()
    database.execute_sql("INSERT INTO role_grant (user, role, granted_by, granted_at) VALUES (?,?,?,?)",
                         (user, "admin", "init", now))
    audit.record(now, user, "grant_role", "role_grant", None, {"user": user, "role": "admin", "was": None})
    return True


def users() -> list[tuple[str, str, str, str]]:
    """(user, role now, granted by, granted at) for everyone who ever had a grant."""
    return [tuple(r) for r in database.execute_sql(
        "SELECT user, role, granted_by, granted_at FROM role_grant g "
        "WHERE id = (SELECT MAX(id) FROM role_grant h WHERE h.user = g.user) ORDER BY user").fetchall()]



def batch_facts(batch_id: int | None) -> dict[str, Any]:
    """Facts for posting into a batch: whose it is (none when the entry has no batch)."""
    if batch_id is None:
        return {}
    row = database.execute_sql("SELECT operator FROM batch WHERE id = ?", (batch_id,)).fetchone()
    return {"batch_id": batch_id, "batch_operator": row[0] if row else None}
