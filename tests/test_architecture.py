"""The shape of the package: a pure domain, no work at import time."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "credit_usage"
DOMAIN_FILES = sorted((SRC / "domain").glob("*.py")) + sorted((SRC / "reports").glob("*.py"))
FORBIDDEN = ("sqlalchemy", "credit_usage.adapters", "credit_usage.service", "smtplib", "socket")


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_domain_imports_no_infrastructure(path: Path) -> None:
    """Domain and report modules never import SQLAlchemy, adapters, the service or I/O."""
    bad = {m for m in imported_modules(path) if m.startswith(FORBIDDEN)}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_importing_the_package_connects_to_nothing() -> None:
    """``import credit_usage`` creates no engine and opens no socket."""
    code = (
        "import socket\n"
        "def refuse(*a, **k): raise AssertionError('network used at import time')\n"
        "socket.socket.connect = refuse\n"
        "import credit_usage, credit_usage.testing\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
