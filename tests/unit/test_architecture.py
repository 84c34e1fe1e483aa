"""What import-linter cannot check (.importlinter has the rest): config.py is a top-level module,
not a package, so the contract "config imports no feature" is checked here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_config_imports_nothing_from_the_app_or_the_indexer():
    tree = ast.parse((ROOT / "config.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):  # function-level imports included
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
    assert imported, "the scan found no import at all: it is not reading config.py"
    assert not {name for name in imported if name.split(".")[0] in ("webapp", "indexer", "tests")}
