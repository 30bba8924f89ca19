"""The README's two commands are the ones that CI and a newcomer actually run."""

import re
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
            if line and not line.startswith("-"):  # options (-r, --extra-index-url) are not packages
                name = line.split("=")[0].split(">")[0].split("<")[0].strip().lower()
                assert f"`{name}`" in readme, f"README does not say why {name} is a dependency"


def test_readme_requirements_and_dockerfile_install_the_same_cpu_torch():
    # requirements.txt decides where torch comes from; the Dockerfile and the README follow it.
    lines = [line.split("#")[0].strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    indexes = [line.split()[1] for line in lines if line.startswith("--extra-index-url")]
    assert indexes == ["https://download.pytorch.org/whl/cpu"]
    assert not [line for line in lines if line.startswith(("--index-url", "-i ", "-f ", "--find-links"))]
    (pin,) = [line for line in lines if re.match(r"torch\s*==", line)]
    version = pin.split("==")[1].strip()

    dockerfile = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    pip_runs = [line.strip() for line in dockerfile.splitlines() if line.startswith("RUN") and "pip install" in line]
    assert pip_runs == ["RUN pip install -r requirements.txt"], "the image must install torch as requirements.txt says"

    readme = (ROOT / "README.md").read_text()
    assert f"pinned to {version}" in readme and f"`--extra-index-url {indexes[0]}`" in readme
    (gpu,) = [line for line in readme.splitlines() if "pip install torch==" in line]
    m = re.fullmatch(r"\.venv/bin/pip install torch==(\S+)\+(cu\d+) --index-url https://download\.pytorch\.org/whl/(cu\d+)",
                     gpu.strip())
    assert m and m[1] == version and m[2] == m[3], gpu
