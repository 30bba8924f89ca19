"""The layering contract of DESIGN.md: explainers/ is pure, pages are thin."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_explainers_never_import_streamlit():
    files = list((ROOT / "explainers").rglob("*.py"))
    assert len(files) >= 5
    offenders = [str(f.relative_to(ROOT)) for f in files if "streamlit" in imported_modules(f)]
    assert offenders == []


def test_pages_do_no_tensor_math():
    # Pages may import torch only to build a seeded Generator for cached loaders; no torch.<op>.
    for page in (ROOT / "pages").glob("*.py"):
        tree = ast.parse(page.read_text())
        calls = {ast.unparse(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        tensor_ops = {c for c in calls if c.startswith("torch.") and c not in {"torch.Generator", "torch.tensor"}}
        assert tensor_ops == set(), f"{page.name} does tensor math: {tensor_ops}"
