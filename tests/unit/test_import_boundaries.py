"""Imports flow one way: bot, chaos, eval and reports import core; core imports
none of them and no chat SDK. Checked statically (every import statement in
core/) and dynamically (importing every core module pulls none of them in)."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {"bot", "chaos", "eval", "reports", "slack_bolt", "slack_sdk", "discord"}


def _dynamic_import_target(call: ast.Call) -> str:
    """The module name in `importlib.import_module("x")` / `__import__("x")`, else ''."""
    name = getattr(call.func, "attr", getattr(call.func, "id", ""))
    if name in {"import_module", "__import__"} and call.args:
        arg = call.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            return arg.value
    return ""


def _imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and _dynamic_import_target(node):
            roots.add(_dynamic_import_target(node).split(".")[0])
    return roots


def test_core_source_never_imports_outer_packages_or_chat_sdks() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(_imported_roots(p) & FORBIDDEN) for p in sorted((ROOT / "core").rglob("*.py"))
    }
    offenders = {k: v for k, v in offenders.items() if v}
    assert offenders == {}, f"core must not import {sorted(FORBIDDEN)}: {offenders}"


def test_the_static_check_catches_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nfrom slack_bolt import App\nimport importlib\nimportlib.import_module('chaos.sim')\n")
    assert _imported_roots(bad) & FORBIDDEN == {"slack_bolt", "chaos"}


def test_importing_all_of_core_loads_no_outer_package() -> None:
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys, core
        for m in pkgutil.walk_packages(core.__path__, "core."):
            if ".migrations" in m.name:
                continue
            importlib.import_module(m.name)
        bad = sorted(n for n in sys.modules if n.split(".")[0] in {FORBIDDEN!r})
        print(",".join(bad))
        """
    )
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "HF_HUB_OFFLINE": "1", "DEEPEVAL_TELEMETRY_OPT_OUT": "YES"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip() == "", f"core pulled in: {out.stdout.strip()}"
