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


def test_explainers_and_classroom_never_import_streamlit():
    files = list((ROOT / "explainers").rglob("*.py")) + list((ROOT / "classroom").rglob("*.py"))
    assert len(files) >= 5 and any(f.parent.name == "classroom" for f in files)
    offenders = [str(f.relative_to(ROOT)) for f in files if "streamlit" in imported_modules(f)]
    assert offenders == []


ARRAY_LIBRARIES = {"numpy", "torch", "scipy", "pandas"}


def test_pages_do_no_array_or_tensor_math():
    # A page reads its view, calls explainers/*_view.py and shows figures with their captions: any array
    # maths belongs in the view module, where the tests and the benches call it too.
    pages = list((ROOT / "pages").glob("*.py"))
    assert len(pages) == 3
    for page in pages:
        assert imported_modules(page) & ARRAY_LIBRARIES == set(), f"{page.name} imports an array library"


def test_the_page_check_catches_array_maths(tmp_path):
    page = tmp_path / "page.py"
    page.write_text("import numpy as np\nids = np.linspace(0, 1, 12)\n")
    assert imported_modules(page) & ARRAY_LIBRARIES == {"numpy"}


def imports_of(path: Path) -> set[str]:
    """Every module path a file imports, in full ("server.slots", "ui")."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def python_files(*folders: str) -> list[Path]:
    return [f for folder in folders for f in (ROOT / folder).rglob("*.py")]


def test_only_app_and_the_ui_bridge_import_the_server_package():
    # A page file can run without app.py (first deep link on a fresh server, AppTest), so ui/process.py
    # is the one place a page reaches the process's device, training slots and first-run fix.
    allowed = {ROOT / "app.py", ROOT / "ui" / "process.py"}
    files = [ROOT / "app.py", *python_files("pages", "ui", "explainers", "server")]
    offenders = [str(f.relative_to(ROOT)) for f in files if f not in allowed and f.parent != ROOT / "server"
                 and any(m == "server" or m.startswith("server.") for m in imports_of(f))]
    assert offenders == []


def test_explainers_and_classroom_never_import_ui_or_server():
    offenders = [str(f.relative_to(ROOT)) for f in python_files("explainers", "classroom")
                 if imported_modules(f) & {"streamlit", "ui", "server", "pages"}]
    assert offenders == []


def test_tests_benches_and_scripts_share_devtools_and_import_no_test_file():
    # Shared helpers live in devtools/: a test file is never a library (not even tests/conftest.py, which
    # pytest loads itself), and bench/ and docs/ never reach into tests/ for them.
    def sys_path_lines(path: Path) -> list[str]:
        return [ast.unparse(n) for n in ast.walk(ast.parse(path.read_text()))
                if isinstance(n, (ast.Expr, ast.Assign, ast.AugAssign)) and "sys.path" in ast.unparse(n)]

    test_like = lambda m: m == "conftest" or m.startswith("test_")  # noqa: E731
    tests = sorted((ROOT / "tests").rglob("*.py"))
    others = sorted([*(ROOT / "bench").rglob("*.py"), *(ROOT / "docs").rglob("*.py")])
    assert tests and others
    offenders = [str(f.relative_to(ROOT)) for f in [*tests, *others] if any(map(test_like, imported_modules(f)))]
    assert offenders == [], "import devtools instead of a test file"
    reach_into_tests = [f"{f.relative_to(ROOT)}: {line}" for f in others for line in sys_path_lines(f)
                        if "tests" in line]
    assert reach_into_tests == []
    # The benches and the screenshot script that drive a server or a browser get them from devtools.
    for name in ("docs/make_screenshots.py", "bench/bench_schedule_page.py", "bench/load/app_server.py",
                 "bench/load/chromium_client.py"):
        assert "devtools" in imported_modules(ROOT / name), name
