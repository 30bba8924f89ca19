"""Every claim a page makes names a test that exists, docs/CLAIMS.md lists every claim, and the README's
short table counts them right."""

import ast
from pathlib import Path

import pytest

from explainers.claims import all_claims

ROOT = Path(__file__).resolve().parents[1]
CLAIMS = [(page, c) for page, claims in all_claims().items() for c in claims]


def test_every_page_makes_claims():
    assert {page for page, _ in CLAIMS} == {"noise_schedule", "backward_noise_init", "spectral_norm"}


@pytest.mark.parametrize("page,claim", CLAIMS, ids=[c.says[:50] for _, c in CLAIMS])
def test_each_claim_names_a_test_that_exists(page, claim):
    path, _, name = claim.test.partition("::")
    file = ROOT / path
    assert path.startswith("tests/test_") and file.exists(), claim.test
    tree = ast.parse(file.read_text())
    functions = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assert name in functions and name.startswith("test_"), f"{claim.test} is not a test function"


def test_docs_list_every_claim_with_its_test():
    listed = (ROOT / "docs" / "CLAIMS.md").read_text()
    for _, claim in CLAIMS:
        assert claim.says in listed and claim.test.split("::")[1] in listed, \
            f"{claim.says}: write docs/CLAIMS.md again with .venv/bin/python -m explainers.claims"


def test_readme_counts_each_pages_claims_and_points_to_the_list():
    readme = (ROOT / "README.md").read_text()
    table = readme[readme.index("## What the pages claim"):readme.index("## Teaching with it")]
    assert "docs/CLAIMS.md" in table
    for title, claims in zip(("VP noise schedules", "Backward noise initialization", "Spectral normalization"),
                             all_claims().values()):
        row = next(line for line in table.splitlines() if line.startswith(f"| {title} |"))
        assert row.split("|")[2].strip() == str(len(claims)), row
        assert claims[0].says in row and claims[0].test.split("::")[1] in row, row
