"""The README's two commands are the ones that CI and a newcomer actually run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def command_lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("python3 -m venv .venv")]


def test_ci_runs_the_readme_test_command_verbatim():
    readme = command_lines((ROOT / "README.md").read_text())
    ci = command_lines((ROOT / ".ci" / "run").read_text())
    assert len(ci) == 1
    assert ci[0] in readme


def test_readme_start_command_starts_the_app():
    readme = command_lines((ROOT / "README.md").read_text())
    start = [c for c in readme if "streamlit run app.py" in c]
    assert len(start) == 1 and "requirements.txt" in start[0]


def test_every_requirement_is_explained_in_the_readme():
    readme = (ROOT / "README.md").read_text().lower()
    for req in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / req).read_text().splitlines():
            line = line.split("#")[0].strip()
            if line and not line.startswith("-r"):
                name = line.split("=")[0].split(">")[0].split("<")[0].strip().lower()
                assert f"`{name}`" in readme, f"README does not say why {name} is a dependency"
