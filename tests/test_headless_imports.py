"""store/, money.py, codes.py and the headless commands never import Textual.

Each check runs in a fresh interpreter (this test process may well have Textual loaded by other
tests) and then looks at ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "tui_billing"


REPORT = """
import json, sys
loaded = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual."))
print(json.dumps({"textual": loaded, "store": "tui_billing.store" in sys.modules}))
"""


def _run(script: str, tmp_path: Path) -> dict:
    """Run a script in a fresh interpreter, then report which textual modules it loaded (JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUI_BILLING_")}
    env.update(TUI_BILLING_TODAY="2026-11-16", TUI_BILLING_OPERATOR="tester", PYTHONPATH=str(ROOT),
               XDG_DATA_HOME=str(tmp_path / "xdg"))
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(script) + REPORT], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])




def test_store_money_codes_import_without_textual(tmp_path):
    out = _run("""
        import tui_billing.store, tui_billing.store.check, tui_billing.store.summary, tui_billing.store.backup
        import tui_billing.store.models
        from tui_billing import money, codes
        codes.validate_icd10("J06.9")          # loads the ICD-10-CM tables too
        money.parse_cents("$1,250.00")
        from tui_billing.store import open_database, operations, run_check
        open_database("books.db")
        operations.seed_standard_reasons()
        assert run_check().ok
    """, tmp_path)
    assert out == {"textual": [], "store": True}


@pytest.mark.parametrize("calls", [
    [["--help"]],
    [["init", "--help"], ["check", "--help"], ["backup", "--help"]],
    [["--db", "cli.db", "init", "--practice", "Test Practice"], ["--db", "cli.db", "check"],
     ["--db", "cli.db", "backup", "copy.db"], ["--db", "cli.db", "check", "--quick"]],
], ids=["help", "subcommand-help", "init-check-backup"])
def test_cli_commands_never_import_textual(tmp_path, calls):
    out = _run(f"""
        import sys
        from tui_billing.cli import main
        for args in {calls!r}:
            try:
                main.main(args, prog_name="tui-billing", standalone_mode=False)
            except SystemExit as exc:
                assert not exc.code, (args, exc.code)
    """, tmp_path)
    assert out["textual"] == []


def test_python_dash_m_entry_point_headless(tmp_path):
    """The real entry point (`python -m tui_billing check`) through runpy, as a user runs it."""
    out = _run("""
        import runpy, sys
        for args in (["--db", "m.db", "init"], ["--db", "m.db", "check"]):
            sys.argv = ["tui-billing", *args]
            try:
                runpy.run_module("tui_billing", run_name="__main__")
            except SystemExit as exc:
                assert not exc.code, (args, exc.code)
    """, tmp_path)
    assert out["textual"] == []


HEADLESS = ["store", "money.py", "codes.py", "cli.py", "reports"]


def _modules() -> list[Path]:
    out = []
    for name in HEADLESS:
        path = PACKAGE / name
        out.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path] if path.exists() else [])
    return out


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_top_level_textual_import_in_source(path):
    """A static second line of defence: no module-level `import textual` in headless code."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] if node.level == 0 else []
            if node.level and (node.module.startswith("app") or node.module.startswith("screens")
                               or node.module.startswith("widgets")):
                names = [node.module]
        for name in names:
            assert not name.startswith(("textual", "app", "tui_billing.app", "tui_billing.screens",
                                        "tui_billing.widgets")), f"{path.name} imports {name} at module level"
