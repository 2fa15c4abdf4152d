"""STYLE.md rule 4: kernel <- signing <- escrow <- bidding <- remote_review, collusion <- ebid.

Reads every module's imports (statically, so a lazy import inside a function counts too) and
fails on an import that points the wrong way, on a domain reaching into another domain's
models, and on anything importing the app package.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# What each package may import (besides itself and third-party code).
ALLOWED = {
    "kernel": set(),
    "signing": {"kernel"},
    "escrow": {"kernel", "signing"},
    "bidding": {"kernel", "signing", "escrow"},
    "remote_review": {"kernel", "signing", "escrow", "bidding"},
    "collusion": {"kernel", "signing", "escrow", "bidding"},
    "ebid": {"kernel", "signing", "escrow", "bidding", "remote_review", "collusion"},
}
DOMAINS = {"signing", "escrow", "bidding", "remote_review", "collusion"}


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations() -> list[str]:
    problems = []
    for package, allowed in ALLOWED.items():
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            for line, module in _imports(path):
                top = module.split(".")[0]
                where = f"{path.relative_to(ROOT)}:{line} imports {module}"
                if top not in ALLOWED or top == package:
                    continue
                if top not in allowed:
                    problems.append(f"{where} (against the direction of dependencies)")
                elif top in DOMAINS and package in DOMAINS and ".models" in module:
                    problems.append(f"{where} (reach another domain through its services)")
    return problems


def test_imports_point_one_way() -> None:
    assert violations() == []


def test_the_checker_catches_a_wrong_import(tmp_path: Path, monkeypatch) -> None:
    bad = ROOT / "kernel" / "_layering_probe.py"
    bad.write_text("from bidding import services\n", encoding="utf-8")
    try:
        assert any("_layering_probe" in v for v in violations())
    finally:
        bad.unlink()


def test_nothing_imports_the_app_package() -> None:
    for package in ALLOWED:
        if package == "ebid":
            continue
        for path in (ROOT / package).rglob("*.py"):
            assert not any(m.split(".")[0] == "ebid" for _, m in _imports(path)), path
