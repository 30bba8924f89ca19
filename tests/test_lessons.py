"""Guided lessons: navigation through URL state, and answers that match what the page computes."""

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
    assert "0.079" in LESSONS["noise_schedule"][0].answer and round(lin.alphas_cumprod[499], 3) == 0.079
    assert "0.494" in LESSONS["noise_schedule"][1].answer and round(cos.alphas_cumprod[499], 3) == 0.494
    ve = S.contrast_coefficients("variance_exploding", 1000)
    assert "2501" in LESSONS["noise_schedule"][2].answer and ve.total_variance[-1] == pytest.approx(2501)
    assert S.contrast_coefficients("flow_matching", 1000).total_variance.min() == pytest.approx(0.5, abs=1e-5)


def test_sampling_answer_matches_the_model():
    from explainers import schedule_view as V
    from explainers.data2d import get_dataset
    from explainers.models import load_denoiser2d
    from explainers.state import read_url

    v = dict(read_url(V.PARAMS, {}).values)
    model, data = load_denoiser2d("ring8"), get_dataset("ring8")
    scores = {name: V.generate(model, data, V.build_schedule(name, v), "ddim", 10, 0.0, 0).score
              for name in ("linear", "cosine")}
    import re

    answer = LESSONS["noise_schedule"][5].answer.replace("−", "-")
    quoted = [float(x) for x in re.findall(r"≈ (-?\d+\.\d+)", answer)]  # cosine first, then linear
    assert quoted[0] == pytest.approx(scores["cosine"]["mean_log_density"], abs=0.15)
    assert quoted[1] == pytest.approx(scores["linear"]["mean_log_density"], abs=0.15)
    assert scores["cosine"]["mean_log_density"] > scores["linear"]["mean_log_density"] + 1


def test_backward_answers_match_the_model():
    from explainers import backward_view as V
    from explainers.frame_model import load_frame_model
    from explainers.state import read_url

    model = load_frame_model()
    v = {**dict(read_url(V.PARAMS, {}).values), "n_frames": 64}
    a = V.run_reading(model, "denoising_step", v)
    assert np.nanmean(a.position_error[:8]) < 4 and np.nanmean(a.position_error[-8:]) > 12  # "about 3 px to about 16"
    frozen = V.run_reading(model, "temporal_index", {**v, "n_frames": 32, "sigma_init": 0.05})
    assert np.nanmean(frozen.motion) < 0.15  # "about 0.08 pixels per frame"
    same = [V.run_reading(model, r, {**v, "n_frames": 16, "sigma_init": 1.0}) for r in ("denoising_step", "temporal_index")]
    np.testing.assert_array_equal(same[0].frames, same[1].frames)  # "They are identical"


def test_spectral_answers_match_the_model():
    from explainers import spectral as SN
    from explainers import spectral_view as V

    base = V.base_network("gan", 0)
    sig = SN.layer_sigmas(base)
    assert max(sig, key=sig.get) == "D.hidden1" and sig["D.hidden1"] == pytest.approx(3.5, abs=0.05)
    assert sig["D.out"] == pytest.approx(0.6, abs=0.05)
    trace, exact = V.power_trace(base, "D.hidden1", 0)
    assert 0.01 < (exact - trace[-1]) / exact < 0.1  # "still a few percent low"
