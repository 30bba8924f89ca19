"""Pin and compare without a browser: the A/B table's numbers, and a hand-edited `pin=` that gets a notice."""

import pytest

from devtools import run_page_file


def markdown_with(at, text):
    return next(m.value for m in at.markdown if text in m.value)


def test_pinning_then_moving_compares_the_two_views():
    at = run_page_file("spectral_norm")
    at.button(key="_pin_spectral_norm").click().run()
    at.segmented_control(key="m_D.hidden1").set_value("sn").run()
    assert not at.exception
    table = markdown_with(at, "| key number |")
    row = next(line for line in table.splitlines() if line.startswith("| σ of D.hidden1"))
    a, b, diff = (cell.strip() for cell in row.split("|")[2:5])
    assert float(b) == pytest.approx(1.0, abs=1e-3) and float(a) > 3  # SN divides D.hidden1 by its σ ≈ 3.5
    assert float(diff) == pytest.approx(float(b) - float(a), abs=2e-3)
    at.button(key="_unpin_spectral_norm").click().run()
    assert not any("| key number |" in m.value for m in at.markdown) and "pin" not in at.query_params


@pytest.mark.parametrize("pin, says", [
    ("T=abc", "Pinned view A (URL parameter 'pin'): "),
    ("bogus=1", "Pinned view A (URL parameter 'pin'): Unknown URL parameter"),
    ("T=" + "9" * 3000, "longer than 2000 characters"),
])
def test_a_hand_edited_pin_is_a_notice_not_a_crash(pin, says):
    at = run_page_file("noise_schedule", {"pin": pin})
    assert any(says in w.value for w in at.warning), [w.value for w in at.warning]


def test_a_pinned_link_on_the_schedule_page_compares_every_key_number():
    at = run_page_file("noise_schedule", {"schedule": "sigmoid", "pin": "schedule=linear", "section": "all"})
    table = markdown_with(at, "| key number |")
    assert "| schedule 1 | linear | sigmoid | — |" in table
    for label in ("ᾱ at t = T/2, schedule 1", "log-density gap to the data, schedule 1",
                  "gap from the step count, schedule 1", "gap from the model, schedule 1"):
        row = next(line for line in table.splitlines() if line.startswith(f"| {label} |"))
        a, b, diff = (cell.strip() for cell in row.split("|")[2:5])
        assert float(diff) == pytest.approx(float(b) - float(a), abs=2e-3), row


def test_a_section_opened_after_pinning_draws_a_under_b_too():
    """A pinned link draws A for the open section; opening another section draws A for its charts as well."""
    from devtools import chart_specs

    at = run_page_file("noise_schedule", {"schedule": "sigmoid", "pin": "schedule=linear"})
    assert all(any(t.get("name", "").startswith("A: ") for t in spec["data"]) for spec in chart_specs(at))
    at.session_state["_section_wanted_noise_schedule"] = "generation"  # what a click on the tab does
    at.run()
    specs = chart_specs(at)
    assert len(specs) == 3  # figures 6 and 7: the samples, the step rug, the exact sampling
    assert all(any(t.get("name", "").startswith("A: ") for t in spec["data"]) for spec in specs)
    table = markdown_with(at, "| key number |")
    assert "| log-density gap to the data, schedule 1 |" in table
