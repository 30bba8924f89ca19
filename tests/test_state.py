"""URL state: valid values parse, every bad value falls back with a notice naming it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from explainers import schedule_view as V
from explainers.state import read_url, to_query_string


def test_defaults_when_url_is_empty():
    state = read_url(V.PARAMS, {})
    assert state.notices == ()
    assert state.values["schedule"] == ("cosine",) and state.values["T"] == 1000


def test_valid_values_are_read():
    q = {"schedule": ["cosine", "linear"], "T": ["500"], "ztsnr": ["true"], "eta": ["0.5"]}
    state = read_url(V.PARAMS, q)
    assert state.notices == ()
    assert state.values["schedule"] == ("cosine", "linear")
    assert state.values["T"] == 500 and state.values["ztsnr"] is True and state.values["eta"] == 0.5


def test_bad_values_fall_back_with_notices_naming_parameter_and_range():
    q = {"T": ["99999"], "eta": ["nan"], "schedule": ["zigzag"], "sampler": ["<script>alert(1)</script>"],
         "bogus": ["1"]}
    state = read_url(V.PARAMS, q)
    assert state.values["T"] == 1000 and state.values["eta"] == 0.0
    assert state.values["schedule"] == ("cosine",) and state.values["sampler"] == "ddim"
    text = "\n".join(state.notices)
    assert "'T'" in text and "[10, 2000]" in text
    assert "'eta'" in text and "[0, 1]" in text
    assert "'schedule'" in text and "cosine" in text
    assert "Unknown URL parameter `bogus`" in text
    assert len(state.notices) == 5


def test_query_string_round_trip():
    values = {**read_url(V.PARAMS, {}).values, "schedule": ("linear", "cosine"), "T": 200, "ztsnr": True}
    qs = to_query_string(V.PARAMS, values)
    assert qs == "schedule=linear&schedule=cosine&T=200&ztsnr=true"
    from urllib.parse import parse_qs

    assert read_url(V.PARAMS, parse_qs(qs)).values == values


def test_dependent_ranges():
    dep = V.dependent_params(T=100, steps=500)
    assert dep["t"].high == 99 and dep["steps"].high == 100 and dep["step"].high == 100


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from([p.key for p in V.PARAMS] + ["x", "embed"]),
                       st.lists(st.text(max_size=30), min_size=1, max_size=4)))
def test_any_query_never_raises_and_values_stay_valid(query):
    state = read_url(V.PARAMS, query)
    for p in V.PARAMS:
        value = state.values[p.key]
        if p.kind in ("int", "float"):
            assert p.low <= value <= p.high
        elif p.kind == "choice":
            assert value in p.choices
        elif p.kind == "multi":
            assert 1 <= len(value) <= p.max_count and set(value) <= set(p.choices)


def test_a_repeated_key_says_which_value_is_used():
    """?T=10&T=20 used 20 silently."""
    from explainers.schedule_view import PARAMS

    state = read_url(PARAMS, {"T": ["10", "20"]})
    assert state.values["T"] == 20
    assert state.notices == ("URL parameter 'T' (Diffusion steps T) was given 2 times; the last, 20, is used.",)
    assert read_url(PARAMS, {"T": ["20"]}).notices == ()  # given once: nothing to say
    assert read_url(PARAMS, {"schedule": ["linear", "cosine"]}).notices == ()  # a multi key repeats by design


def test_a_value_above_a_narrowed_range_names_the_largest_valid_value():
    """?T=10&t=500 said 'the default 9 is used': 9 is the largest valid t, and the control shows it."""
    from explainers.schedule_view import dependent_params

    t = dependent_params(10, 10)["t"]
    value, notice = t.parse(["500"])
    assert value == 9 == t.high
    assert notice.endswith("got `500`, so the largest valid value, 9, is used.") and "[0, 9]" in notice
    assert "default" not in notice
    # Where the control's default is not the end of the range, the notice says the default, truthfully.
    wide = dependent_params(1000, 50)["t"]
    value, notice = wide.parse(["1500"])
    assert value == 499 and notice.endswith("so the default 499 is used.") and "with the current settings" in notice
    step = dependent_params(1000, 20)["step"]
    assert step.parse(["30"]) == (20, step.parse(["30"])[1]) and "largest valid value, 20" in step.parse(["30"])[1]
    assert wide.parse(["abc"])[1].endswith("so the default 499 is used.")  # not a number at all: as before


def test_views_carry_library_names_through_the_one_alias_table():
    from explainers import backward_view, spectral_view
    from explainers.state import BackwardView, ScheduleView, SpectralView, build_view, url_key

    v = build_view(ScheduleView, read_url(V.PARAMS, {"ztsnr": ["true"], "cosine_s": ["0.02"],
                                                     "sl_beta_start": ["0.001"]}).values)
    assert v.zero_terminal_snr is True and v.s == 0.02 and v.scaled_linear_beta_start == 0.001
    assert url_key("zero_terminal_snr") == "ztsnr" and url_key("T") == "T"
    empty = build_view(ScheduleView, {**read_url(V.PARAMS, {}).values, "schedule": ()})
    assert empty.schedules == ("cosine",) and "Pick at least one schedule" in empty.notices[-1]
    b = build_view(BackwardView, read_url(backward_view.PARAMS, {"n_frames": ["16"]}).values)
    assert b.n_frames == 16 and b.sigma_init == 0.5
    s = build_view(SpectralView, read_url(spectral_view.PARAMS, {"m_D.hidden1": ["sn"], "n_iter": ["3"]}).values)
    assert s.modes["D.hidden1"] == "sn" and s.modes["G.out"] == "off" and s.n_power_iterations == 3
    assert hash(s) == hash(build_view(SpectralView, read_url(spectral_view.PARAMS, {"m_D.hidden1": ["sn"],
                                                                                  "n_iter": ["3"]}).values))


def test_a_slider_range_lies_inside_the_library_range_it_narrows():
    import pytest

    from explainers import schedules as S
    from explainers.state import Param

    assert V.PARAM["T"].valid == S.T_RANGE and (V.PARAM["T"].low, V.PARAM["T"].high) == (10, 2000)
    assert Param("s", "s", "float", 0.008, valid=S.COSINE_S_RANGE).high == S.COSINE_S_RANGE[1]
    with pytest.raises(ValueError, match="inside the library's"):
        Param("T", "T", "int", 10, 1, 20_000, 1, valid=S.T_RANGE)
