"""Every qualitative claim a page makes, and the test that checks it.

A sentence on a page that says how the mathematics or the models behave ("the operator norm is never
below the reshaped σ", "VP keeps the total variance at 1") is a claim. Each prose module lists its
claims in a `CLAIMS` tuple next to the text that makes them; each claim names the test that would fail
if the sentence became false. `tests/test_claims.py` checks that every named test exists and that
docs/CLAIMS.md lists every claim, so a new sentence without a test, or a test
removed from under a sentence, fails the suite.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Claim:
    says: str  # the claim in one short line, as docs/CLAIMS.md shows it
    test: str  # "tests/<file>.py::<test function>" that fails if the claim is false
    where: str = ""  # where the page makes it: "Hard level", "misconceptions", "lesson step 5", a figure caption…


def all_claims() -> dict[str, tuple[Claim, ...]]:
    """Every page's claims, by page, in the order the pages list them."""
    from explainers.prose import backward_init, schedule, spectral

    return {"noise_schedule": schedule.CLAIMS, "backward_noise_init": backward_init.CLAIMS,
            "spectral_norm": spectral.CLAIMS}


TITLES = {"noise_schedule": "VP noise schedules", "backward_noise_init": "Backward noise initialization",
          "spectral_norm": "Spectral normalization"}


def claims_page() -> str:
    """docs/CLAIMS.md: every claim by page, with its test."""
    lines = ["# What the pages claim, and where each is checked", "",
             "Every sentence a page shows about how the mathematics or the models behave is listed here with the",
             "test that fails if it stops being true. The list lives in `CLAIMS` in `explainers/prose/*.py`, beside",
             "the text that makes each claim; `tests/test_claims.py` checks that every named test exists and that",
             "this page lists every claim (write it again with `.venv/bin/python -m explainers.claims`). Numbers in",
             "the text are formatted from the computation, or pinned by `tests/test_lessons.py` to within a few",
             "percent.", ""]
    for page, claims in all_claims().items():
        lines += [f"## {TITLES[page]}", "", "| the page says | checked by |", "|---|---|"]
        lines += [f"| {c.says} | `{c.test.removeprefix('tests/')}` |" for c in claims]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    from pathlib import Path

    out = Path(__file__).resolve().parents[1] / "docs" / "CLAIMS.md"
    out.write_text(claims_page())
    print("wrote", out)
