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
