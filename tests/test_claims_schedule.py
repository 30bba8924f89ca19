"""One test per claim the noise-schedule page makes (explainers/prose/schedule.py CLAIMS), on random
cases where the claim is mathematical. A sentence on the page without a test here is reworded or removed."""

import inspect

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from explainers import data2d as D
from explainers import figures as F
from explainers import sampling
from explainers import schedules as S

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def schedules(draw, zero_terminal_snr=None):
    """A schedule of any family with random parameters inside the library's ranges (those that build)."""
    name = draw(st.sampled_from(S.SCHEDULES))
    T = draw(st.integers(S.T_RANGE[0], 3000))
    ztsnr = draw(st.booleans()) if zero_terminal_snr is None else zero_terminal_snr
    kw = {}
    if name in ("linear", "sigmoid", "scaled_linear"):
        a, b = sorted(draw(st.floats(*S.BETA_RANGE)) for _ in range(2))
        kw = dict(beta_start=a, beta_end=b)
    elif name == "cosine":
        kw = dict(s=draw(st.floats(*S.COSINE_S_RANGE)))
    else:
        lo, hi = sorted(draw(st.floats(*S.VP_SDE_BETA_RANGE)) for _ in range(2))
        kw = dict(beta_min=lo, beta_max=min(hi, T * 0.99))
        kw["beta_min"] = min(lo, kw["beta_max"])
    try:
        return S.make_schedule(name, T, zero_terminal_snr=ztsnr, **kw)
    except ValueError:
        from hypothesis import assume

        assume(False)


@FAST
@given(schedules())
def test_vp_total_variance_is_one(s):
    """Var[x_t] = ᾱ Var[x0] + (1 − ᾱ) = 1 when Var[x0] = 1, for every family, and on real samples."""
    c = S.vp_coefficients(s)
    assert np.allclose(c.total_variance, 1.0, atol=1e-12)
    x0 = D.get_dataset("ring8").sample(20_000, torch.Generator().manual_seed(0)).double().numpy()
    x0 = (x0 - x0.mean(0)) / x0.std(0)
    t = np.unique(np.linspace(0, s.T - 1, 5).round().astype(int))
    eps = np.random.default_rng(1).standard_normal(x0.shape)
    for i in t:
        xt = c.signal_coef[i] * x0 + c.noise_coef[i] * eps
        assert xt.var(0).mean() == pytest.approx(1.0, abs=0.04)


@FAST
@given(schedules())
def test_signal_and_noise_variance_sum_to_one(s):
    signal, noise = s.signal_coef**2, s.noise_coef**2
    assert np.all((signal >= 0) & (signal <= 1) & (noise >= 0) & (noise <= 1))
    assert np.allclose(signal + noise, 1.0, atol=1e-12)


@FAST
@given(schedules())
def test_alpha_bar_decreases(s):
    assert np.all(np.diff(s.alphas_cumprod) < 0)
    assert s.alphas_cumprod[0] < 1


@FAST
@given(schedules())
def test_alpha_bar_is_sigmoid_of_log_snr(s):
    finite = np.isfinite(s.log_snr)
    assert np.allclose(1 / (1 + np.exp(-s.log_snr[finite])), s.alphas_cumprod[finite], rtol=1e-9, atol=1e-300)


@FAST
@given(schedules(zero_terminal_snr=True))
def test_zero_terminal_snr_ends_at_exactly_zero(s):
    assert s.alphas_cumprod[-1] == 0.0 and np.isneginf(s.log_snr[-1]) and s.snr[-1] == 0.0
    assert np.all(s.alphas_cumprod[:-1] > 0)
    assert F.clip_log_snr(s.log_snr)[0][-1] == F.LOG_SNR_FLOOR == -20  # where figure 3 draws −∞ (lesson 5)


def test_linear_schedule_ends_near_but_not_at_zero():
    """'the linear schedule ends at ᾱ ≈ 4·10⁻⁵' (misconceptions)."""
    last = S.make_schedule("linear").alphas_cumprod[-1]
    assert last == pytest.approx(4e-5, rel=0.05) and last > 0


def test_cosine_keeps_more_signal_halfway_than_linear():
    """'the linear schedule destroys most of the signal early, the cosine schedule spreads it out' (Moderate)."""
    lin, cos = S.make_schedule("linear").alphas_cumprod, S.make_schedule("cosine").alphas_cumprod
    assert lin[499] == pytest.approx(0.079, rel=0.02) and cos[499] == pytest.approx(0.494, rel=0.02)
    # linear has lost half its signal variance by t = 250ish, cosine only by about t = 500
    assert np.argmax(lin < 0.5) < 0.3 * 1000 < 0.45 * 1000 < np.argmax(cos < 0.5)


def test_linear_betas_rise_in_equal_steps_on_a_log_panel():
    """Lesson 1: β_t rises in equal steps; figure 1 draws it on a log scale, where the ramp is a curve."""
    s = S.make_schedule("linear")
    assert np.allclose(np.diff(s.betas), (0.02 - 1e-4) / 999, rtol=1e-9)
    layout = F.schedule_curves(np.arange(1000), [("linear", s.betas, s.alphas_cumprod)]).to_plotly_json()["layout"]
    assert layout["yaxis"]["type"] == "log"
    log_b = np.log10(s.betas)
    assert np.diff(log_b)[0] > 10 * np.diff(log_b)[-1]  # on the log panel: steep first, flat later


@pytest.mark.parametrize("T", [10, 1000, 2000])
def test_ve_total_variance_is_one_plus_sigma_squared(T):
    ve = S.contrast_coefficients("variance_exploding", T)
    assert np.allclose(ve.total_variance, 1 + ve.noise_coef**2)
    assert ve.total_variance[-1] == pytest.approx(2501)  # lesson 3: 1 + 50²


@settings(max_examples=30, deadline=None)
@given(st.floats(1.0, 10.0), st.integers(10, 2000))
def test_flow_matching_variance_dips_to_half(shift, T):
    c = S.contrast_coefficients("flow_matching", T, shift)
    sigma = c.noise_coef
    assert np.allclose(c.total_variance, (1 - sigma) ** 2 + sigma**2)
    assert c.total_variance.min() >= 0.5 - 1e-12  # (1−σ)² + σ² ≥ 1/2, equality only at σ = 1/2
    assert S.flow_equivalent_alpha_bar(0.5) == 0.5
    assert (1 - 0.5) ** 2 + 0.5**2 == 0.5
    if T == 1000 and shift == 1.0:
        assert c.total_variance.min() == pytest.approx(0.5, abs=1e-5)


def test_a_schedule_is_a_fixed_function_of_its_parameters():
    """Not a learning-rate schedule: make_schedule takes no gradients, losses or training step, and the
    same arguments always give the same arrays."""
    params = set(inspect.signature(S.make_schedule).parameters)
    assert params == {"name", "T", "beta_start", "beta_end", "s", "beta_min", "beta_max", "zero_terminal_snr",
                      "sigma_min", "sigma_max", "rho", "knots"}
    a, b = S.make_schedule("cosine"), S.make_schedule("cosine")
    assert np.array_equal(a.betas, b.betas) and not a.betas.flags.writeable


def test_training_draws_noise_levels_at_random_every_step(monkeypatch):
    """Not a curriculum: every training step draws its noise levels at random over the whole range, and
    the first steps see the same spread of levels as the last."""
    from explainers import train2d

    drawn = []
    original = train2d.sample_log_snr

    def record(n, generator):
        out = original(n, generator)
        drawn.append(out.clone())
        return out

    monkeypatch.setattr(train2d, "sample_log_snr", record)
    train2d.train_denoiser2d("ring8", steps=40, config=train2d.TrainConfig(batch_size=256, hidden=16))
    assert len(drawn) == 40
    assert "step" not in inspect.signature(original).parameters
    early, late = torch.cat(drawn[:20]), torch.cat(drawn[20:])
    for batch in drawn[:3]:  # from the very first step: nearly pure noise and nearly clean inputs
        assert batch.min() < -10 and batch.max() > 10
    assert abs(float(early.mean() - late.mean())) < 0.5
    assert abs(float(early.std() - late.std())) < 0.5


def test_sampling_walks_from_pure_noise_to_data():
    """Sampling runs the schedule backwards: the noisiest level first, ᾱ growing to 1 after the last step."""
    from explainers import schedule_view as V
    from explainers.models import load_denoiser2d
    from explainers.state import read_url

    v = dict(read_url(V.PARAMS, {}).values)
    g = V.generate(load_denoiser2d("ring8"), D.get_dataset("ring8"), V.build_schedule("cosine", v), "ddim", 20, 0.0, 0)
    assert np.all(np.diff(g.abar_steps) > 0) and g.abar_steps[0] < 1e-3
    start, end = g.trajectory[0], g.trajectory[-1]
    assert start.std() == pytest.approx(1.0, abs=0.05)
    assert D.quality_score(start, "ring8")["off_mode_fraction"] > 0.5
    assert g.score["off_mode_fraction"] < 0.1 and g.score["mode_coverage"] == 1.0
    assert end.std() == pytest.approx(1.0, abs=0.1)


def test_v_prediction_samples_at_zero_terminal_snr():
    """Hard level: v-prediction is well defined at ᾱ = 0, so sampling from the zero-terminal-SNR level works."""
    from explainers.models import load_denoiser2d

    s = S.make_schedule("linear", zero_terminal_snr=True)
    abar = sampling.step_alphas_cumprod(s.alphas_cumprod, 25)
    assert abar[0] == 0.0
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    for sampler in (sampling.sample_ddim, sampling.sample_ddpm):
        out = sampler(load_denoiser2d("ring8"), x, abar, generator=torch.Generator().manual_seed(1))
        assert torch.isfinite(out).all()
        assert D.quality_score(out, "ring8")["mode_coverage"] == 1.0


# ---- extreme betas: rejected by name, never a sampler error ----------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(name=st.sampled_from(S.SCHEDULES), T=st.integers(*S.T_RANGE), a=st.floats(*S.BETA_RANGE),
       b=st.floats(*S.BETA_RANGE), s=st.floats(*S.COSINE_S_RANGE), lo=st.floats(*S.VP_SDE_BETA_RANGE),
       hi=st.floats(*S.VP_SDE_BETA_RANGE), ztsnr=st.booleans(), steps=st.integers(1, 1000))
def test_extreme_betas_are_rejected_naming_the_parameter(name, T, a, b, s, lo, hi, ztsnr, steps):
    a, b = sorted((a, b))
    lo, hi = sorted((lo, hi))
    kw = dict(s=s, beta_min=lo, beta_max=hi, zero_terminal_snr=ztsnr)
    if name != "cosine":
        kw.update(beta_start=a, beta_end=b)
    try:
        sched = S.make_schedule(name, T, **kw)
    except ValueError as err:
        assert str(err).split()[0] in {"T", "beta_start", "beta_end", "s", "beta_min", "beta_max"}, err
        assert "[" in str(err) or "smaller" in str(err), err
        return
    abar = sampling.step_alphas_cumprod(sched.alphas_cumprod, min(steps, T))
    assert sampling._check_abar_steps(abar) is not None  # what sample_ddim/ddpm check first
    assert np.all(sched.alphas_cumprod[:-1] >= S.ALPHA_BAR_MIN) and (ztsnr or sched.alphas_cumprod[-1] > 0)


@pytest.mark.parametrize("kw,param,top", [
    (dict(name="linear", T=1000, beta_start=0.46, beta_end=0.6), "beta_end", 0.5366),
    (dict(name="sigmoid", T=5694, beta_start=0.2, beta_end=0.33), "beta_start", 0.1142),
])
def test_underflow_message_names_a_range_that_works(kw, param, top):
    with pytest.raises(ValueError, match=rf"^{param} must be in \[") as err:
        S.make_schedule(**kw)
    assert f"{top:.4g}" in str(err.value)
    fixed = {**kw, param: top, **({"beta_end": top} if param == "beta_start" else {})}
    S.make_schedule(**fixed)  # the edge it names builds
    S.make_schedule(**{**fixed, "zero_terminal_snr": True})


# ---- the quality score: the true data is the best possible value ---------------------------------------------------

def _shrunk(x: torch.Tensor, data, factor: float) -> torch.Tensor:
    """Every point moved toward its nearest centre: factor 1 leaves the data, 0 puts it on the centres."""
    c = D.centres(data)
    nearest = c[torch.cdist(x.double(), c).argmin(dim=1)]
    return nearest + factor * (x.double() - nearest)


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(D.DATASETS), factor=st.floats(0.0, 0.85), seed=st.integers(0, 10_000))
def test_true_data_scores_best_on_the_quality_score(name, factor, seed):
    """Samples squeezed toward the modes (factor 0: all on the centres) score worse than the data they came
    from on the lead number, are named under-dispersed, and still score *higher* on raw log-density."""
    data = D.get_dataset(name)
    x = data.sample(2000, torch.Generator().manual_seed(seed))
    true, tight = D.quality_score(x, data), D.quality_score(_shrunk(x, data, factor), data)
    assert tight["log_density_gap"] > true["log_density_gap"]
    assert tight["under_dispersed"] and not true["under_dispersed"]
    assert tight["mean_log_density"] > true["mean_log_density"]  # why raw log-density cannot lead


@settings(max_examples=8, deadline=None)
@given(frozen=st.floats(-20.0, 20.0))
def test_a_sampler_with_log_snr_frozen_never_beats_the_true_data(frozen):
    from explainers.models import load_denoiser2d

    model = load_denoiser2d("ring8")
    abar = sampling.step_alphas_cumprod(S.make_schedule("cosine").alphas_cumprod, 50)
    x = torch.randn(2000, 2, generator=torch.Generator().manual_seed(0))
    out = sampling.sample_ddim(lambda x, log_snr: model(x, torch.full_like(log_snr, frozen)), x, abar)
    from explainers import schedule_view as V

    true = V.true_data_score("ring8")
    assert D.quality_score(out, "ring8")["log_density_gap"] > true["log_density_gap"] + 0.1


def test_the_shipped_samples_at_the_default_view_are_closer_than_broken_but_not_better_than_data():
    from explainers import schedule_view as V
    from explainers.models import load_denoiser2d
    from explainers.state import read_url

    v = dict(read_url(V.PARAMS, {}).values)
    g = V.generate(load_denoiser2d("ring8"), D.get_dataset("ring8"), V.build_schedule("cosine", v), "ddim", 50, 0.0, 0)
    true = V.true_data_score("ring8")
    assert true["log_density_gap"] < g.score["log_density_gap"] < 0.2
    assert g.score["mean_log_density"] > true["mean_log_density"] and g.score["under_dispersed"]
    assert "under-dispersed" in V.dispersion_line([g])


def test_density_line_encloses_the_stated_share():
    """Figure 6: 'the black line encloses 95% of the true data'."""
    from explainers import schedule_view as V

    for name in D.DATASETS:
        level = V.density_level(name)
        fresh = D.get_dataset(name).sample(4000, torch.Generator().manual_seed(123)).numpy()
        assert V.inside_share(fresh, name, level) == pytest.approx(V.TRUE_DATA_MASS, abs=0.015)


def test_misconceptions_name_and_correct_the_seed_misreadings():
    from explainers.prose import schedule as text

    said = " ".join(claim + " " + truth for claim, truth in text.MISCONCEPTIONS)
    assert "Proportional" in said and "preserving" in said
    assert "curriculum" in said and "random" in said
    assert "learning-rate" in said


def test_the_frequency_figure_marks_the_crossover_its_caption_states():
    """Figure 5's frequency panel: the dotted line sits at the k* the caption gives, both from the library."""
    from explainers import schedule_view as V
    from explainers import spectrum
    from explainers.image_data import procedural_image

    freqs, power = spectrum.radial_power_spectrum(procedural_image())
    s = S.make_schedule("cosine", T=1000)
    crossing = 0
    for t in range(0, 1000, 50):
        shown = V.spectrum_shown(s, t, None)
        k = spectrum.crossover_frequency(freqs, power, float(s.alphas_cumprod[t]))
        if k is None:
            assert "k* =" not in shown.caption and not shown.figure.layout.shapes
            continue
        crossing += 1
        assert f"k* = {k:.1f}" in shown.caption
        (line,) = shown.figure.layout.shapes
        assert line.x0 == pytest.approx(k)
        noise = shown.figure.data[1].y
        assert noise[0] == pytest.approx(1 - s.alphas_cumprod[t], rel=1e-6)  # white noise: flat at 1 − ᾱ
    assert crossing >= 5


def test_the_models_score_matches_the_exact_one_where_the_points_are():
    """Figure 5's score field: weighted by the exact p_t, the model's ε̂ is within 0.1 of the exact ε̂ at every
    step shown (ε̂ has unit scale), for every dataset's shipped model; and the caption states that number."""
    from explainers import schedule_view as V
    from explainers.models import load_denoiser2d

    s = S.make_schedule("cosine", T=1000)
    for name in D.DATASETS:
        model = load_denoiser2d(name)
        for t in (50, 300, 600, 900):
            field = V.score_field(model, name, s, t)
            assert field.weighted_error < 0.1, (name, t, field.weighted_error)
            assert f"{field.weighted_error:.3f} on average where the noisy points are" in V.score_field_shown(field).caption


def test_the_score_field_at_zero_terminal_snr_is_the_score_of_pure_noise():
    from explainers import schedule_view as V
    from explainers.models import load_denoiser2d

    s = S.make_schedule("linear", T=500, zero_terminal_snr=True)
    field = V.score_field(load_denoiser2d("ring8"), "ring8", s, 499)
    assert field.abar == 0.0 and np.allclose(field.exact, -field.arrows)
    assert np.isfinite(field.eps_error).all() and field.weighted_error < 0.1


def test_a_sampler_sees_a_schedule_only_where_its_steps_land():
    """Figure 6b: two schedules that agree at the levels the sampler visits and differ everywhere else give the
    same samples (up to round-off), so where the steps land is all a sampler sees of a schedule."""
    from explainers import schedule_view as V
    from explainers.models import load_denoiser2d

    a = S.make_schedule("linear", T=1000)
    visited = sampling.step_timesteps(1000, 20)[::-1]  # 49, 99, …, 999
    t = np.arange(1000)
    # b: the same ᾱ at the visited levels, straight lines in log ᾱ between them, and √ᾱ before the first.
    log_abar = np.interp(t, visited, np.log(a.alphas_cumprod[visited]))
    log_abar[:visited[0]] = 0.5 * np.log(a.alphas_cumprod[:visited[0]])
    b = S._schedule_from_alpha_bar("linear", np.exp(log_abar), {"T": 1000}, False)
    assert not np.allclose(a.alphas_cumprod, b.alphas_cumprod)
    model, data = load_denoiser2d("ring8"), D.get_dataset("ring8")
    ga, gb = (V.generate(model, data, s, "ddim", 20, 0.0, 0) for s in (a, b))
    np.testing.assert_allclose(ga.abar_steps, gb.abar_steps, rtol=1e-12)  # equal up to float64 round-off
    np.testing.assert_allclose(ga.trajectory, gb.trajectory, rtol=1e-5, atol=1e-6)


def test_the_exact_denoiser_misses_with_few_steps_and_lands_with_many():
    from explainers import schedule_view as V
    from explainers.state import read_url

    settings = V.generation_values(dict(read_url(V.PARAMS, {}).values))
    gap = {steps: V.generate_exact_view("ring8", "linear", {**settings, "steps": steps}).score["log_density_gap"]
           for steps in (10, 200)}
    assert gap[10] > 1.0 and gap[200] < 0.2 and gap[200] < gap[10] / 5
