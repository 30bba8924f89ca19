"""Guided lessons: navigation through URL state, and answers that match what the page computes."""

import re

import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from explainers import schedules as S
from explainers.lessons import LESSONS
from explainers.schedule_view import PARAM as SCHEDULE_PARAM
from explainers.backward_view import PARAM as BACKWARD_PARAM
from explainers.spectral_view import PARAM as SPECTRAL_PARAM

PAGE_PARAMS = {"noise_schedule": SCHEDULE_PARAM, "backward_noise_init": BACKWARD_PARAM, "spectral_norm": SPECTRAL_PARAM}


@pytest.mark.parametrize("page", list(LESSONS))
def test_every_step_is_well_formed_and_sets_valid_values(page):
    steps = LESSONS[page]
    assert 4 <= len(steps) <= 8
    for step in steps:
        assert step.question.endswith("?") and step.answer and step.notice
        assert 1 <= step.notice.count(".") <= 4  # two or three sentences
        for key, value in step.params.items():
            p = PAGE_PARAMS[page][key]
            raw = p.to_url(value)
            parsed, notice = p.parse(raw)
            assert notice is None and parsed == value, (page, key, value)


def page_at(page: str, query: dict) -> AppTest:
    at = AppTest.from_file(f"../pages/{page}.py", default_timeout=180)
    for k, v in query.items():
        at.query_params[k] = v
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def lesson_heading(at: AppTest) -> str:
    return next(m.value for m in at.markdown if m.value.startswith("**Lesson · step"))


def test_next_and_previous_move_through_steps_and_set_controls():
    at = page_at("noise_schedule", {"lesson": "1"})
    assert lesson_heading(at).startswith("**Lesson · step 1 of 6")
    assert at.multiselect(key="schedule").value == ["linear"]
    at.button(key="_lesson_next_noise_schedule").click().run()
    assert lesson_heading(at).startswith("**Lesson · step 2 of 6")
    assert at.multiselect(key="schedule").value == ["linear", "cosine"]
    assert at.query_params["lesson"] == ["2"] or at.query_params["lesson"] == "2"
    at.button(key="_lesson_next_noise_schedule").click().run()
    assert at.selectbox(key="contrast").value == "variance_exploding"
    at.button(key="_lesson_prev_noise_schedule").click().run()
    assert lesson_heading(at).startswith("**Lesson · step 2 of 6") and at.selectbox(key="contrast").value == "none"
    at.button(key="_lesson_end_noise_schedule").click().run()
    assert not any(m.value.startswith("**Lesson · step") for m in at.markdown)


def test_link_to_a_step_opens_it_and_explicit_url_values_win():
    at = page_at("spectral_norm", {"lesson": "3", "n_iter": "5"})
    assert lesson_heading(at).startswith("**Lesson · step 3 of 7")
    assert at.segmented_control(key="m_D.out").value == "sn"
    assert at.slider(key="n_iter").value == 5  # written in the link: kept


def test_bad_lesson_number_is_noticed():
    at = page_at("backward_noise_init", {"lesson": "99"})
    assert any("'lesson'" in w.value and "[1, 5]" in w.value for w in at.warning)


def test_schedule_answers_match_the_library():
    lin, cos = S.make_schedule("linear"), S.make_schedule("cosine")
    steps = LESSONS["noise_schedule"]
    assert "ᾱ₄₉₉ ≈ 0.079" in steps[0].answer and lin.alphas_cumprod[499] == pytest.approx(0.079, rel=0.01)
    assert "about 8%" in steps[0].answer and round(100 * lin.alphas_cumprod[499]) == 8
    assert "92% is noise" in steps[0].answer and round(100 * (1 - lin.alphas_cumprod[499])) == 92
    # Lesson 1's notice: β from 0.0001 to 0.02 in equal steps, on a log-scale panel
    assert "from 0.0001 to 0.02" in steps[0].notice and "log scale" in steps[0].notice
    assert lin.betas[0] == 1e-4 and lin.betas[-1] == 0.02 and np.ptp(np.diff(lin.betas)) < 1e-15
    assert "0.494 against 0.079" in steps[1].answer
    assert cos.alphas_cumprod[499] == pytest.approx(0.494, rel=0.01)
    ve = S.contrast_coefficients("variance_exploding", 1000)
    assert "1 + 50² = 2501" in steps[2].answer and ve.total_variance[-1] == pytest.approx(2501, rel=1e-6)
    assert "0.5" in steps[3].answer
    assert S.contrast_coefficients("flow_matching", 1000).total_variance.min() == pytest.approx(0.5, abs=1e-5)
    from explainers.figures import LOG_SNR_FLOOR

    assert "drawn at −20" in steps[4].question and "clipped to −20" in steps[4].answer and LOG_SNR_FLOOR == -20


def _numbers(text: str) -> list[float]:
    return [float(x) for x in re.findall(r"-?\d+(?:\.\d+)?", text.replace("−", "-"))]


def test_sampling_answer_matches_the_model():
    from explainers import schedule_view as V
    from explainers.data2d import get_dataset
    from explainers.models import load_denoiser2d
    from explainers.state import read_url

    step = LESSONS["noise_schedule"][5]
    v = dict(read_url(V.PARAMS, {}).values)
    model, data = load_denoiser2d("ring8"), get_dataset("ring8")
    s = {name: V.generate(model, data, V.build_schedule(name, v), "ddim", step.params["steps"], 0.0, 0).score
         for name in ("linear", "cosine")}
    # Every number in the answer, in order, from the model: within 5% (a stale value fails).
    expected = [s["cosine"]["mean_log_density"], s["cosine"]["log_density_gap"], s["cosine"]["data_log_density"],
                s["linear"]["mean_log_density"], s["linear"]["log_density_gap"],
                100 * s["linear"]["off_mode_fraction"], 100 * s["cosine"]["off_mode_fraction"],
                100 * s["cosine"]["spread_ratio"]]
    quoted = _numbers(step.answer)
    assert len(quoted) == len(expected), quoted
    for q, e in zip(quoted, expected):
        assert q == pytest.approx(e, rel=0.05, abs=0.006), (quoted, expected)
    assert s["cosine"]["log_density_gap"] < s["linear"]["log_density_gap"] - 1
    assert s["cosine"]["under_dispersed"] and not s["linear"]["under_dispersed"]


def test_backward_answers_match_the_model():
    """Every number a backward lesson quotes, recomputed; measured ones within 5 % (0.08 for 0.096 fails)."""
    from explainers import backward_init as B
    from explainers import backward_view as V
    from explainers.frame_model import load_frame_model
    from explainers.lessons import BACKWARD_DEFAULTS
    from explainers.state import read_url
    from explainers.train_video import TrainConfig
    from explainers.video_data import SPEED_RANGE

    steps = LESSONS["backward_noise_init"]
    sigmas = B.shifted_sigmas(4, 5.0)
    assert _numbers(steps[0].answer)[:4] == pytest.approx(sigmas, abs=5e-5)  # "1, 0.9375, 0.8333 and 0.625"
    # Step 2: frame 3 at sigma_init 0.5 takes exactly one step, at 0.5, and every list level is above 0.5.
    row = B.noise_level_matrix("temporal_index", 4, sigmas, 0.5)[3]
    assert row[~np.isnan(row)].tolist() == [0.5] and (sigmas > 0.5).all()
    assert _numbers(steps[1].answer)[:4] == pytest.approx(sigmas, abs=5e-5)

    model = load_frame_model()
    v = {**dict(read_url(V.PARAMS, {}).values), **BACKWARD_DEFAULTS}
    frozen = V.run_reading(model, "temporal_index", {**v, **steps[2].params})
    truth = V.truth({**v, **steps[2].params})
    quoted = _numbers(steps[2].answer)  # rollout speed, true video speed, training range
    assert quoted[0] == pytest.approx(np.nanmean(frozen.motion), rel=0.05)
    assert quoted[1] == pytest.approx(np.nanmean(truth.motion), rel=0.05)
    assert quoted[2:4] == list(SPEED_RANGE)

    same = [V.run_reading(model, r, {**v, **steps[3].params, "n_frames": 16}) for r in ("denoising_step", "temporal_index")]
    np.testing.assert_array_equal(same[0].frames, same[1].frames)  # "They are identical"

    long = V.run_reading(model, "denoising_step", {**v, **steps[4].params})
    first, last = np.nanmean(long.position_error[:V.HORIZON]), np.nanmean(long.position_error[-V.HORIZON:])
    assert _numbers(steps[4].answer)[:2] == [pytest.approx(first, rel=0.05), pytest.approx(last, rel=0.05)]
    assert V.HORIZON == TrainConfig().horizon == 8 and "8-frame" in steps[4].notice  # "trained on 8-frame clips"


def numbers_in(text: str) -> list[str]:
    """Every number a sentence states, as written ("3.5", "3,000", "0.75"), in order."""
    import re

    text = re.sub(r"[Ss]ections? \d( and \d)?", "", text)  # "section 4" points at a figure, it states nothing
    return [m.replace(",", "") for m in re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text)]


def test_spectral_answers_match_the_model():
    """Every number in the spectral lesson is either recomputed here (±5 % relative) or named with the test that
    checks it, so a new or stale number fails."""
    from explainers import spectral as SN
    from explainers import spectral_view as V

    base = V.base_network("gan", 0)
    sig = SN.layer_sigmas(base)
    trace, exact = V.power_trace(base, "D.hidden1", 0)
    d_sn = V.normalized(base, {f"D.{k}": "sn" for k in ("hidden1", "hidden2", "hidden3", "out")}, 1, 1.0, 0)
    denoiser = V.base_network("denoiser2d", 0)
    all_sn = V.normalized(denoiser, {k: "sn" for k in V.LAYERS["denoiser2d"]}, 1, 1.0, 0)
    conv = dict(V.base_network("frame_model", 0).conv_layers())["conv_inner1"]
    kernel_area = conv.kernel_size[0] * conv.kernel_size[1]
    assert max(sig, key=sig.get) == "D.hidden1" and 0.01 < (exact - trace[-1]) / exact < 0.1  # "a few percent low"
    lesson6 = "tests/test_claims_spectral.py::test_lesson_train_with_and_without_shows_the_difference"
    computed = [  # per step: (number as written, the value the page computes, or the test that checks it)
        [("3.5", sig["D.hidden1"]), ("2", base.D.hidden1.in_features), ("64", base.D.hidden1.out_features)],
        [("1", SN.layer_sigmas(V.normalized(base, {"D.hidden1": "sn"}, 1, 1.0, 0))["D.hidden1"])],
        [("0.2", 0.2), ("1", 1.0), ("1", V.lipschitz("gan", SN.layer_sigmas(d_sn))[0]), ("0.6", sig["D.out"]),
         ("1", SN.layer_sigmas(d_sn)["D.out"]), ("1", SN.layer_sigmas(d_sn)["D.out"])],
        [("20", V.TRACE_ITERATIONS), ("20", V.TRACE_ITERATIONS)],
        [("9", kernel_area), ("3", math.sqrt(kernel_area)), ("3", conv.kernel_size[0]), ("3", conv.kernel_size[1]),
         ("1", 1.0)],
        [(n, lesson6) for n in ("3000", "1", "8", "1", "1.3", "100", "3000", "8", "1.00", "6", "0.75", "1000", "0.00")],
        [("8", V.N_MODES),
         ("1.4", V.lipschitz("denoiser2d", SN.layer_sigmas(all_sn))[0]),
         ("340", V.lipschitz("denoiser2d", SN.layer_sigmas(denoiser))[0]),
         ("1", V.denoiser_samples(all_sn, 0).coverage * V.N_MODES), ("8", V.N_MODES), ("8", V.N_MODES)],
    ]
    for step, expected in zip(LESSONS["spectral_norm"], computed):
        written = numbers_in(" ".join((step.notice, step.question, step.answer)))
        assert written == [n for n, _ in expected], (step.title, written)
        for number, value in expected:
            if isinstance(value, str):
                path, _, name = value.partition("::")
                assert name in open(path).read(), value
            else:
                assert float(number) == pytest.approx(value, rel=0.05), (step.title, number, value)


def test_spectral_misconception_numbers_match_the_model():
    from explainers import spectral as SN
    from explainers import spectral_view as V
    from explainers.prose import spectral as text

    denoiser = V.base_network("denoiser2d", 0)
    all_sn = V.normalized(denoiser, {k: "sn" for k in V.LAYERS["denoiser2d"]}, 1, 1.0, 0)
    said = dict(text.MISCONCEPTIONS)["“If SN helps, put it on every layer.”"]
    assert "near 1.4" in said and V.lipschitz("denoiser2d", SN.layer_sigmas(all_sn))[0] == pytest.approx(1.4, rel=0.05)
    assert "in the hundreds" in said and 100 <= V.lipschitz("denoiser2d", SN.layer_sigmas(denoiser))[0] < 1000
    assert "1 mode of 8" in said and V.denoiser_samples(all_sn, 0).coverage == 1 / 8
