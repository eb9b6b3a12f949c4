"""ui/ is light to import and goes through the front door only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

UI = Path(__file__).resolve().parent.parent / "ui"


def test_importing_ui_app_loads_no_model_and_no_gradio() -> None:
    code = (
        "import sys, ui.app\n"
        "names = ('torch', 'gradio', 'faiss', 'sentence_transformers', 'transformers')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=UI.parent)


def test_ui_imports_only_the_rag_front_door() -> None:
    offenders = []
    for path in UI.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag."):
                offenders.append(f"{path.name}: from {node.module}")
            if isinstance(node, ast.Import):
                offenders += [f"{path.name}: import {a.name}" for a in node.names if a.name.startswith("rag.")]
    assert not offenders, offenders
