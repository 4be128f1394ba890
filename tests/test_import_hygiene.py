"""Import hygiene of the whole package, read statically from the source (no module is imported).

The layers of DESIGN.md, enforced here:

* ``ledger/``, ``edi/``, ``store/``, ``reports/``, ``money.py``, ``codes.py``, ``imports.py``
  and ``cli_context.py`` never import Textual, nor the screens, widgets or app (which do), not
  even through another module of ours, not even inside a function.
* ``ledger/`` and ``edi/`` import no database either: neither Peewee nor sqlite3 nor ``store/``.
* No import cycles anywhere in ``tui_billing/``.

What counts as a cycle: an import runs at import time when it sits at module level (also inside
a module-level ``if``/``try``, but not under ``if TYPE_CHECKING:``, which never runs). Those
edges must form no cycle at all. A function-local (deferred) import runs only when the function
is called, when both modules are complete; it still ties the two modules together, so a cycle
that a deferred import closes counts too, unless it is listed in ``DEFERRED_CYCLES_ALLOWED``
with the reason. Today that list is empty. ``ledger/`` and ``edi/`` are covered as soon as they
exist (the kernel and claims branches add them).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "tui_billing"

#: Module cycles known today, each a sorted pair. Keep this list short and say who removes a line.
CYCLES_ALLOWED: set[frozenset[str]] = set()
#: Cycles closed only by a deferred (function-local) import that are judged harmless.
DEFERRED_CYCLES_ALLOWED: set[frozenset[str]] = {
    # Opening a file (db) asks identity whether it is a test book; in a test process identity
    # marks a brand-new book, and the mark is the book's first audit event (audit writes through
    # db). The call runs only after the connection is up, never at import.
    frozenset({"tui_billing.store.audit", "tui_billing.store.db", "tui_billing.store.identity"}),
}

#: The UI: Textual itself and our modules built on it.
UI = ("textual", "tui_billing.app", "tui_billing.screens", "tui_billing.widgets")
#: A database, in any form.
DATABASE = ("peewee", "sqlite3", "tui_billing.store")

HEADLESS = ("tui_billing.ledger", "tui_billing.edi", "tui_billing.store", "tui_billing.reports",
            "tui_billing.money", "tui_billing.codes", "tui_billing.imports", "tui_billing.cli_context",
            "tui_billing.claims")
PURE = ("tui_billing.ledger", "tui_billing.edi",
        # the claim records, the scrubber and the 837P writer: pure code the store calls (issue 13)
        "tui_billing.claims")


@dataclass
class Graph:
    """Every module of a package and what it imports: ``eager`` at import time, ``deferred`` later."""

    modules: dict[str, Path] = field(default_factory=dict)
    eager: dict[str, set[str]] = field(default_factory=dict)
    deferred: dict[str, set[str]] = field(default_factory=dict)

    def imports(self, name: str) -> set[str]:
        return self.eager.get(name, set()) | self.deferred.get(name, set())


def _module_name(root: Path, path: Path) -> str:
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _targets(node: ast.Import | ast.ImportFrom, here: str, is_package: bool, modules: dict[str, Path]) -> set[str]:
    """The modules an import statement loads (``from X import Y``: X.Y when Y is a module, else X)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if node.level:
        base = here.split(".") if is_package else here.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    out = set()
    for alias in node.names:
        sub = f"{source}.{alias.name}"
        out.add(sub if sub in modules else source)
    return out


def build_graph(root: Path) -> Graph:
    graph = Graph()
    for path in sorted(root.rglob("*.py")):
        graph.modules[_module_name(root, path)] = path
    for name, path in graph.modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        is_package = path.name == "__init__.py"
        eager: set[str] = set()
        deferred: set[str] = set()

        def visit(node: ast.AST, at_import_time: bool, name: str = name, is_package: bool = is_package,
                  eager: set[str] = eager, deferred: set[str] = deferred) -> None:
            if isinstance(node, ast.Import | ast.ImportFrom):
                (eager if at_import_time else deferred).update(_targets(node, name, is_package, graph.modules))
                return
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.orelse:  # the body never runs; an else branch would
                    visit(child, at_import_time)
                return
            # a def's body runs when called; a class body runs at import time
            inside = at_import_time and not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            for child in ast.iter_child_nodes(node):
                visit(child, inside)

        visit(tree, True)
        graph.eager[name] = eager
        graph.deferred[name] = deferred - eager
    return graph


def _is_under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def reaches(graph: Graph, start: str, forbidden: tuple[str, ...]) -> list[str] | None:
    """The import chain from ``start`` to a forbidden module (through any of our modules), or None."""
    seen = {start}
    todo = [[start]]
    while todo:
        chain = todo.pop(0)
        for target in sorted(graph.imports(chain[-1])):
            if _is_under(target, forbidden):
                return chain + [target]
            if target in graph.modules and target not in seen:
                seen.add(target)
                todo.append(chain + [target])
    return None


def cycles(edges: dict[str, set[str]], modules: dict[str, Path]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, set()) & modules.keys()):
            if w == v:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(modules):
        if v not in index:
            connect(v)
    return found


def _unexplained(found: list[list[str]], allowed: set[frozenset[str]]) -> list[list[str]]:
    return [c for c in found if frozenset(c) not in allowed]


GRAPH = build_graph(PACKAGE)


def _present(prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in GRAPH.modules if _is_under(m, prefixes))


@pytest.mark.parametrize("module", _present(HEADLESS))
def test_headless_modules_never_reach_textual(module):
    chain = reaches(GRAPH, module, UI)
    assert chain is None, "imports the UI: " + " -> ".join(chain or [])


@pytest.mark.parametrize("module", _present(PURE) or [pytest.param(None, marks=pytest.mark.skip(
    reason="tui_billing/ledger/ and tui_billing/edi/ do not exist on this branch yet"))])
def test_ledger_and_edi_reach_no_database(module):
    chain = reaches(GRAPH, module, DATABASE + UI)
    assert chain is None, "imports a database: " + " -> ".join(chain or [])


def test_the_guarded_layers_are_really_there():
    """The checks above are not vacuous: the layers they guard are found, with their imports."""
    for name in ("tui_billing.store.operations", "tui_billing.reports.queries", "tui_billing.money",
                 "tui_billing.codes", "tui_billing.cli_context"):
        assert name in GRAPH.modules
    assert "peewee" in GRAPH.imports("tui_billing.store.db")
    assert "textual.app" in GRAPH.imports("tui_billing.app") or "textual" in GRAPH.imports("tui_billing.app")
    assert "tui_billing.app" in GRAPH.deferred["tui_billing.cli"]  # the TUI opens on demand only


def test_no_import_cycle_at_import_time():
    found = cycles(GRAPH.eager, GRAPH.modules)
    assert _unexplained(found, CYCLES_ALLOWED) == [], "module-level import cycles"


def test_no_import_cycle_even_through_deferred_imports():
    found = cycles({m: GRAPH.imports(m) for m in GRAPH.modules}, GRAPH.modules)
    assert _unexplained(found, CYCLES_ALLOWED | DEFERRED_CYCLES_ALLOWED) == [], "import cycles"


def test_the_allow_lists_hold_only_cycles_that_still_exist():
    """A removed cycle must leave the list too, or the list would hide its return."""
    found = {frozenset(c) for c in cycles({m: GRAPH.imports(m) for m in GRAPH.modules}, GRAPH.modules)}
    assert CYCLES_ALLOWED | DEFERRED_CYCLES_ALLOWED <= found


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / "pkg" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "pkg"


def test_the_checker_finds_what_it_must(tmp_path):
    """The checker itself, on a small made-up package: each rule can fail."""
    pkg = _write(tmp_path, {
        "__init__.py": "",
        "a.py": "from . import b\n",
        "b.py": "from .c import thing\n",
        "c.py": "import typing\nif typing.TYPE_CHECKING:\n    from . import a\n"
                "def later():\n    from .d import x\n",
        "d.py": "from .c import later\nclass K:\n    from .ui import w\n",
        "ui.py": "import textual.app\n",
        "store/__init__.py": "",
        "store/db.py": "import sqlite3\n",
        "ledger/__init__.py": "from ..store import db\n",
    })
    graph = build_graph(pkg)
    assert graph.eager["pkg.a"] == {"pkg.b"} and graph.eager["pkg.b"] == {"pkg.c"}
    assert graph.eager["pkg.c"] == {"typing"}  # TYPE_CHECKING imports never run
    assert graph.deferred["pkg.c"] == {"pkg.d"}
    assert graph.eager["pkg.d"] == {"pkg.c", "pkg.ui"}  # a class body runs at import time
    assert cycles(graph.eager, graph.modules) == []
    assert cycles({m: graph.imports(m) for m in graph.modules}, graph.modules) == [["pkg.c", "pkg.d"]]
    assert reaches(graph, "pkg.a", ("textual",)) == ["pkg.a", "pkg.b", "pkg.c", "pkg.d", "pkg.ui", "textual.app"]
    assert reaches(graph, "pkg.ledger", ("sqlite3",)) == ["pkg.ledger", "pkg.store.db", "sqlite3"]
    assert reaches(graph, "pkg.store", ("textual",)) is None
