"""Predict, then reveal: every lesson question has a prediction, its measured answer agrees with the
lesson's written answer, and answers are checked and binned as the presenter's histogram shows them."""

import math

import pytest
from hypothesis import given, strategies as st

from explainers.lessons import LESSONS
from explainers.predictions import N_NUMBER_BINS, PREDICTIONS, Measured, Prediction, measure, prediction, question_id

# Per step: the answer the model gives (measured now), and the words of the lesson's written answer that say
# the same. A model or a lesson that changes one without the other fails here.
AGREES = {
    "noise_schedule": [("0.08", "ᾱ₄₉₉ ≈ 0.079"), ("cosine", "Cosine:"), ("2501", "= 2501"), ("0.50", "= 0.5"),
                       ("−∞", "−∞, because"), ("cosine", "Cosine: its mean log-density")],
    "backward_noise_init": [("σ = 1, pure noise", "σ = 1 (pure noise)"), ("1", "One:"),
                            ("much slower: it stalls", "the motion stagnates"), ("identical", "They are identical"),
                            ("it grows", "It grows")],
    "spectral_norm": [("D.hidden1", "D.hidden1, σ ≈ 3.5"), ("1.0", "σ ≈ 1"), ("1.0", "About 1."),
                      ("no, still below it", "No: it is still a few percent low"),
                      ("no: the operator norm is larger", "Every layer here lies above its reshaped σ"),
                      ("SN on both counts", "the run with SN covers all 8 modes"),
                      ("only hidden1 + hidden2", "Fully normalized: no")],
}


def test_every_lesson_question_has_a_prediction():
    assert {page: len(steps) for page, steps in LESSONS.items()} == {p: len(v) for p, v in PREDICTIONS.items()}
    for page, predictions in PREDICTIONS.items():
        for p in predictions:
            assert p.kind == "number" or len(set(p.choices)) == len(p.choices) >= 2
            assert p.kind == "choice" or (p.low < p.high and 0 < p.step <= p.high - p.low and p.unit)


@pytest.mark.parametrize("page, step", [(page, k + 1) for page, s in LESSONS.items() for k in range(len(s))
                                         if (page, k + 1) != ("spectral_norm", 6)])
def test_the_measured_answer_agrees_with_the_lessons_written_answer(page, step):
    measured = measure(page, step)
    expected, words = AGREES[page][step - 1]
    assert measured.answer == expected, measured.detail
    assert words in LESSONS[page][step - 1].answer
    p = prediction(page, step)
    assert p.kind == "choice" or p.check(measured.value) == measured.answer  # the number as a student would enter it


def test_the_training_question_is_measured_by_training_both_runs():
    # Two 3,000-step GAN runs: the same runs tests/test_claims_spectral.py checks number by number.
    measured = measure("spectral_norm", 6)
    assert measured.answer == AGREES["spectral_norm"][5][0], measured.detail
    assert "mode coverage with SN 1.00, without 0.75" in measured.detail


def test_bad_page_or_step_names_the_argument():
    with pytest.raises(ValueError, match="page"):
        prediction("spectral", 1)
    for bad in (0, 7, True, 1.0, "1"):
        with pytest.raises(ValueError, match="step"):
            question_id("noise_schedule", bad)
    assert question_id("spectral_norm", 7) == "spectral_norm/7"


def test_choice_answers_must_be_one_of_the_choices():
    p = Prediction(choices=("linear", "cosine"))
    assert p.check("cosine") == "cosine"
    for bad in ("Cosine", "", None, 3, "linear; DROP TABLE answers"):
        with pytest.raises(ValueError, match="answer must be one of linear, cosine"):
            p.check(bad)


@given(st.floats(allow_nan=True, allow_infinity=True))
def test_number_answers_snap_to_the_slider_grid_or_are_refused(x):
    p = Prediction(low=0.0, high=4.0, step=0.1, unit="σ")
    if math.isfinite(x) and 0 <= x <= 4:
        stored = p.check(x)
        assert abs(float(stored) - x) <= 0.05 + 1e-9 and stored == p.check(stored)  # on the grid, and stays there
    else:
        with pytest.raises(ValueError, match=r"answer must be a number in \[0.0, 4.0\]"):
            p.check(x)


def test_a_number_histogram_counts_every_answer_in_range_once():
    p = Prediction(low=0.0, high=1.0, step=0.01, unit="ᾱ")
    labels, counts = p.histogram({"0.00": 2, "0.08": 5, "0.10": 1, "1.00": 3, "oops": 9, "1.50": 4})
    assert len(labels) == len(counts) == N_NUMBER_BINS and sum(counts) == 11
    assert counts[0] == 7 and counts[1] == 1 and counts[-1] == 3 and labels[0] == "0.00–0.10"
    choice = Prediction(choices=("a", "b", "c"))
    assert choice.histogram({"b": 4, "z": 1}) == (["a", "b", "c"], [0, 4, 0])


def test_who_predicted_it():
    number = Prediction(low=0.0, high=1.0, step=0.01, unit="ᾱ")
    measured = Measured("0.08", "", 0.079)
    assert number.right("0.10", measured) and number.right("0.05", measured) and not number.right("0.20", measured)
    choice = Prediction(choices=("linear", "cosine"))
    assert choice.right("cosine", Measured("cosine", "")) and not choice.right("linear", Measured("cosine", ""))
