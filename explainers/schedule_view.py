"""Everything the noise-schedule page computes, as plain functions of its view (state.ScheduleView).

The page reads its controls, calls these, and draws the results; the benchmark calls the same
functions, so what it times is what a student waits for. Each figure's builder sits here with the
caption that states its numbers (the `*_shown` functions), so a figure and the sentence about it are read
side by side; that is why this module runs past 400 lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
import torch

from explainers import figures as F
from explainers import schedules as S
from explainers.data2d import UNDER_DISPERSED
from explainers.image_data import procedural_image
from explainers.checks import check_int
from explainers.state import LEVEL, N_KNOTS, SEED, Param, ScheduleView, as_view, knot_key

DATASET_CHOICES = ("ring8", "moons", "swiss_roll", "checkerboard")
SAMPLERS = ("ddim", "ddpm")
N_POINTS = 2000  # 2D points forward-noised and generated
N_VARIANCE_TS = 25  # time points at which Var[x_t] is measured

# Choices as words in the controls, legends, captions and tables; the URL keeps the identifiers.
LABELS = {"scaled_linear": "scaled linear", "vp_sde": "VP SDE", "karras": "Karras (EDM)", "custom": "custom (knots)", "none": "none",
          "variance_exploding": "variance exploding", "flow_matching": "flow matching",
          "swiss_roll": "swiss roll", "ring8": "ring of 8", "ddim": "DDIM", "ddpm": "DDPM"}


# The page's sections, one open at a time (URL ?section=<id>): its figures are numbered across them, so a lesson
# or a caption can say "figure 5" and the tab that holds it reads "5 · …".
SECTIONS = {"schedule": "1–3 · Schedule and SNR", "measured": "4 · Measured variance", "forward": "5 · At step t",
            "generation": "6–7 · Generating", "own_data": "8 · Your data", "all": "All sections"}


def label(name: str) -> str:
    """How a choice reads on the page: words, not the identifier the URL and the library use."""
    return LABELS.get(name, name.replace("_", " "))


def _labels(choices) -> tuple[tuple[str, str], ...]:
    return tuple((c, label(c)) for c in choices)


PAGE_SCHEDULES = S.SCHEDULES + S.SIGMA_SCHEDULES + S.KNOT_SCHEDULES
_KNOT_WHERE = ("t = 0", "t = T/4", "t = T/2", "t = 3T/4", "t = T")

PARAMS = (
    Param("schedule", "Schedules (up to 3, overlaid)", "multi", ("cosine",), choices=PAGE_SCHEDULES, max_count=3,
          labels=_labels(PAGE_SCHEDULES)),
    # Sliders narrow the library's ranges (valid=) to what a student can move through.
    Param("T", "Diffusion steps T", "int", 1000, 10, 2000, 10, valid=S.T_RANGE),
    Param("beta_start", "beta_start (linear, sigmoid)", "float", 1e-4, 1e-5, 0.01, 1e-5, valid=S.BETA_RANGE),
    Param("beta_end", "beta_end (linear, sigmoid)", "float", 0.02, 1e-3, 0.05, 1e-3, valid=S.BETA_RANGE),
    Param("sl_beta_start", "beta_start (scaled linear)", "float", 0.00085, 1e-5, 0.01, 5e-5, valid=S.BETA_RANGE),
    Param("sl_beta_end", "beta_end (scaled linear)", "float", 0.012, 1e-3, 0.05, 1e-3, valid=S.BETA_RANGE),
    Param("cosine_s", "offset s (cosine)", "float", 0.008, 0.0, 0.1, 0.001, valid=S.COSINE_S_RANGE),
    Param("beta_min", "beta_min (VP SDE)", "float", 0.1, 0.01, 1.0, 0.01, valid=S.VP_SDE_BETA_RANGE),
    Param("beta_max", "beta_max (VP SDE)", "float", 20.0, 1.0, 50.0, 0.5, valid=S.VP_SDE_BETA_RANGE),
    Param("sigma_min", "σ_min (Karras)", "float", 0.002, 0.001, 1.0, 0.001, valid=S.SIGMA_RANGE),
    Param("sigma_max", "σ_max (Karras)", "float", 80.0, 1.0, 200.0, 1.0, valid=S.SIGMA_RANGE),
    Param("rho", "ρ (Karras)", "float", 7.0, 1.0, 20.0, 0.5, valid=S.RHO_RANGE),
    *(Param(knot_key(i), f"log-SNR at {_KNOT_WHERE[i]} (custom)", "float", S.DEFAULT_KNOTS[i], -20.0, 20.0, 0.5,
            valid=S.LOG_SNR_KNOT_RANGE) for i in range(N_KNOTS)),
    Param("ztsnr", "Zero terminal SNR (Lin et al. 2023)", "bool", False),
    Param("contrast", "Non-VP contrast", "choice", "none", choices=S.CONTRASTS, labels=_labels(S.CONTRASTS)),
    Param("shift", "Flow-matching time shift s", "float", 1.0, 1.0, 10.0, 0.5, valid=S.SHIFT_RANGE),
    Param("t", "Time step t", "int", 499, 0, 1999, 1),
    Param("dataset", "2D dataset", "choice", "ring8", choices=DATASET_CHOICES, labels=_labels(DATASET_CHOICES)),
    Param("sampler", "Sampler", "choice", "ddim", choices=SAMPLERS, labels=_labels(SAMPLERS)),
    Param("steps", "Sampling steps", "int", 50, 1, 1000, 1),
    Param("eta", "DDIM eta (0 = deterministic, 1 = as noisy as DDPM)", "float", 0.0, 0.0, 1.0, 0.05),
    Param("step", "Reverse step shown", "int", 50, 0, 1000, 1),
    LEVEL,
    SEED,
)
PARAM = {p.key: p for p in PARAMS}


def dependent_params(T: int, steps: int) -> dict[str, Param]:
    """Parameters whose valid range depends on others: t in [0, T-1], steps <= min(T, 1000), step <= steps."""
    for p, value in ((PARAM["T"], T), (PARAM["steps"], steps)):
        check_int(p.key, value, p.low, p.high)
    max_steps = min(T, int(PARAM["steps"].high))
    steps = min(steps, max_steps)
    return {
        "t": PARAM["t"].with_range(0, T - 1, default=min(499, T - 1)),
        # The default must lie in the narrowed range too, or Streamlit rejects the slider (T < 50).
        "steps": PARAM["steps"].with_range(1, max_steps, default=min(PARAM["steps"].default, max_steps)),
        "step": PARAM["step"].with_range(0, steps, default=steps),
    }


def build_schedule(name: str, view: ScheduleView) -> S.Schedule:
    """The schedule `name` with its family's parameters from the view (may raise ValueError)."""
    return S.make_schedule(name, **_family_kwargs(name, as_view(ScheduleView, view)))


def fallback_schedule(view: ScheduleView) -> S.Schedule:
    """What the page shows when no selected schedule can be built: cosine at the default offset."""
    return build_schedule("cosine", replace(view, s=PARAM["cosine_s"].default))


def build_schedules(view: ScheduleView) -> tuple[list[S.Schedule], list[str]]:
    """Every selected schedule that can be built, and an error line for each that cannot."""
    v = as_view(ScheduleView, view)
    built, errors = [], []
    for name in v.schedules:
        try:
            built.append(build_schedule(name, v))
        except ValueError as err:
            errors.append(f"{name}: {err}")
    return built, errors


def contrast_of(view: ScheduleView) -> S.Coefficients | None:
    v = as_view(ScheduleView, view)
    if v.contrast == "none":
        return None
    return S.contrast_coefficients(v.contrast, v.T, v.shift)


# ---------------------------------------------------------------------------------------------
# Measured variance: the theory is Var[x_t] = a_t^2 Var[x0] + b_t^2; here it is checked on data.
# ---------------------------------------------------------------------------------------------


def standardise(x: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance per coordinate, so the VP promise Var[x_t] = 1 is testable."""
    return (x - x.mean(axis=0)) / x.std(axis=0)


def variance_time_points(T: int, n: int = N_VARIANCE_TS) -> np.ndarray:
    return np.unique(np.linspace(0, T - 1, n).round().astype(int))


def measured_variance(signal: np.ndarray, noise: np.ndarray, x0: np.ndarray, seed: int) -> np.ndarray:
    """Var of x = signal * x0 + noise * eps over the sample, averaged over coordinates, per time point.

    `x0` has shape (n, d) and is standardised; one fresh eps per time point, drawn from `seed`.
    """
    rng = np.random.default_rng(seed)
    out = np.empty(len(signal))
    for i, (a, b) in enumerate(zip(signal, noise)):
        x = a * x0 + b * rng.standard_normal(x0.shape)
        out[i] = x.var(axis=0).mean()
    return out


@dataclass(frozen=True)
class VarianceCheck:
    t: np.ndarray  # time indices
    theory: np.ndarray  # a^2 + b^2
    measured_2d: np.ndarray
    measured_image: np.ndarray


def variance_check(coefs: S.Coefficients, x0_2d: np.ndarray, seed: int) -> VarianceCheck:
    """Measure Var[x_t] on standardised 2D points and on the pixels of the procedural image."""
    t = variance_time_points(len(coefs.u))
    a, b = coefs.signal_coef[t], coefs.noise_coef[t]
    pixels = procedural_image().reshape(-1, 1)
    return VarianceCheck(
        t=t,
        theory=a**2 + b**2,
        measured_2d=measured_variance(a, b, standardise(x0_2d), seed),
        measured_image=measured_variance(a, b, pixels, seed + 1),
    )


def clean_points(dataset: str, seed: int, n: int = N_POINTS) -> np.ndarray:
    """n clean 2D points of `dataset`, drawn from `seed`, as float64 numpy."""
    from explainers.data2d import get_dataset

    g = torch.Generator().manual_seed(seed)
    return np.asarray(get_dataset(dataset).sample(n, g), dtype=np.float64)


def density_grid(dataset: str, limit: float = 4.0, n: int = 90) -> tuple[np.ndarray, np.ndarray]:
    """The true log-density of `dataset` on an n x n grid over [-limit, limit]^2 (for contours)."""
    from explainers.data2d import get_dataset

    grid = np.linspace(-limit, limit, n)
    xx, yy = np.meshgrid(grid, grid)
    pts = torch.tensor(np.stack([xx.ravel(), yy.ravel()], 1), dtype=torch.float32)
    logp = np.asarray(get_dataset(dataset).log_prob(pts), dtype=np.float64).reshape(n, n)
    return grid, logp


def forward_at(signal: float, noise: float, x0: np.ndarray, seed: int) -> np.ndarray:
    """One draw of x_t = signal * x0 + noise * eps (Eq. 4 of Ho et al. 2020) for any array x0."""
    eps = np.random.default_rng(seed).standard_normal(x0.shape)
    return signal * x0 + noise * eps


# ---------------------------------------------------------------------------------------------
# Reverse generation with the chosen schedule.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generation:
    schedule: str
    trajectory: np.ndarray  # (steps + 1, n, 2) float32: the noise, then the state after each step
    x0_hat: np.ndarray  # (steps, n, 2) float32: the model's clean guess at each step
    abar_steps: np.ndarray  # the noise levels visited, noisiest first
    score: dict


def generate(model, dataset, schedule: S.Schedule, sampler: str, steps: int, eta: float,
             seed: int, n: int = N_POINTS, device: str | torch.device = "cpu") -> Generation:
    """Sample n points with `schedule` (DDIM or DDPM), recording every intermediate state."""
    from explainers import data2d, sampling  # the 2D stack loads torch models; import when used

    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {', '.join(SAMPLERS)}; got {sampler!r}")
    abar_steps = sampling.step_alphas_cumprod(schedule.alphas_cumprod, steps)
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(n, 2, generator=g).to(device)
    states, guesses = [x.float().cpu().numpy()], []

    def record(info):
        states.append(info["x"].float().cpu().numpy())
        guesses.append(info["x0_hat"].float().cpu().numpy())

    if sampler == "ddim":
        out = sampling.sample_ddim(model, x, abar_steps, eta=eta, generator=g, callback=record)
    else:
        out = sampling.sample_ddpm(model, x, abar_steps, generator=g, callback=record)
    samples = out.float().cpu()
    score = data2d.quality_score(samples, dataset)
    return Generation(schedule.name, np.stack(states), np.stack(guesses), np.asarray(abar_steps), score)


# The view's fields a generation depends on, besides the schedule's name and the device.
GENERATION_FIELDS = ("T", "zero_terminal_snr", "beta_start", "beta_end", "scaled_linear_beta_start",
                     "scaled_linear_beta_end", "s", "beta_min", "beta_max", "sigma_min", "sigma_max", "rho", "knots",
                     "dataset", "sampler", "steps", "eta", "seed")


def generation_values(view: ScheduleView) -> dict:
    """The fields a generation depends on, and nothing else: its cache key then does not change
    when t, the reverse step shown or the explanation level move, so those never re-sample."""
    v = as_view(ScheduleView, view)
    return {name: getattr(v, name) for name in GENERATION_FIELDS}


def generate_view(model, dataset, schedule_name: str, generation: dict, device: str | torch.device = "cpu"):
    """generate() for the schedule `schedule_name` with the fields in generation_values(view)."""
    g = SimpleNamespace(**generation)
    schedule = S.make_schedule(schedule_name, **_family_kwargs(schedule_name, g))
    return generate(model, dataset, schedule, g.sampler, g.steps, g.eta, g.seed, device=device)


def _family_kwargs(name: str, v) -> dict:
    """make_schedule's keyword arguments for the family `name`, from a view (or generation_values)."""
    kwargs = dict(T=v.T, zero_terminal_snr=v.zero_terminal_snr)
    if name in ("linear", "sigmoid"):
        kwargs.update(beta_start=v.beta_start, beta_end=v.beta_end)
    elif name == "scaled_linear":
        kwargs.update(beta_start=v.scaled_linear_beta_start, beta_end=v.scaled_linear_beta_end)
    elif name == "cosine":
        kwargs.update(s=v.s)
    elif name == "karras":
        kwargs.update(sigma_min=v.sigma_min, sigma_max=v.sigma_max, rho=v.rho)
    elif name == "custom":
        kwargs.update(knots=tuple(v.knots))
    else:
        kwargs.update(beta_min=v.beta_min, beta_max=v.beta_max)
    return kwargs


TRUE_DATA_SEED = 1  # the fresh true samples the table compares against (not the page's seed: fixed)
TRUE_DATA_MASS = 0.95  # figure 6's line encloses this share of the true data


def true_data_score(dataset: str, n: int = N_POINTS) -> dict:
    """quality_score of n fresh true samples: the row every generation is measured against."""
    from explainers import data2d

    data = data2d.get_dataset(dataset)
    return data2d.quality_score(data.sample(n, torch.Generator().manual_seed(TRUE_DATA_SEED)), data)


def density_level(dataset: str, mass: float = TRUE_DATA_MASS) -> float:
    """The log-density whose level line encloses `mass` of the true data (a quantile of log p over
    fresh true samples): figure 6 draws this line, so the data's extent stays visible under the points."""
    from explainers import data2d

    data = data2d.get_dataset(dataset)
    x = data.sample(20_000, torch.Generator().manual_seed(data2d.ENTROPY_SEED))
    return float(np.quantile(np.asarray(data.log_prob(x)), 1.0 - mass))


def inside_share(points: np.ndarray, dataset: str, level: float) -> float:
    """The share of `points` inside the level line log p = `level` (TRUE_DATA_MASS for the data itself)."""
    from explainers import data2d

    logp = np.asarray(data2d.get_dataset(dataset).log_prob(np.asarray(points, dtype=np.float64)))
    return float(np.mean(logp >= level))


# The lead number first: the log-density gap is 0 for the data itself and grows both for samples that
# are too spread out and for samples squeezed onto the modes; the raw mean log-density rewards the latter.
SCORE_COLUMNS = (("log_density_gap", "log-density gap ↓"), ("mean_log_density", "mean log-density"),
                 ("spread_ratio", "spread ÷ data's"), ("mode_coverage", "mode coverage ↑"),
                 ("off_mode_fraction", "off the modes ↓"), ("energy_distance", "energy distance ↓"))


def _row(name: str, score: dict) -> str:
    cells = [f"{score[k]:.4f}" if k == "energy_distance" else f"{score[k]:.3f}" for k, _ in SCORE_COLUMNS]
    if score["under_dispersed"]:
        cells[2] += " (too tight)"
    return f"| {name} | " + " | ".join(cells) + " |"


def score_table(gens: list[Generation], true_score: dict | None = None) -> str:
    """The quality scores of each schedule's samples as a Markdown table, with the true data's own row."""
    head = "| samples | " + " | ".join(label for _, label in SCORE_COLUMNS) + " |"
    rule = "|---|" + "---:|" * len(SCORE_COLUMNS)
    rows = [_row(label(g.schedule), g.score) for g in gens]
    if true_score is not None:
        rows.append(_row(f"true data ({N_POINTS:,} fresh samples)", true_score))
    return "\n".join([head, rule, *rows])


def dispersion_line(gens: list[Generation]) -> str:
    """Names under-dispersion, with numbers, for every generation whose samples sit too tight; '' if none."""
    lines = []
    for g in gens:
        s = g.score
        if not s["under_dispersed"]:
            continue
        line = (f"{label(g.schedule)}'s samples are under-dispersed: their median distance to the nearest mode centre "
                f"is {100 * s['spread_ratio']:.0f}% of the data's.")
        if s["mean_log_density"] > s["data_log_density"]:
            line += (f" Squeezed onto the modes, they score a mean log-density of {s['mean_log_density']:.2f}, "
                     f"above the data's own {s['data_log_density']:.2f}: higher is not better, so the table "
                     f"leads with the gap from the data's value.")
        lines.append(line)
    return " ".join(lines)


def compare_line(gens: list[Generation]) -> str:
    """One line that says how the generations of two or more schedules differ, with numbers."""
    best = min(gens, key=lambda g: g.score["log_density_gap"])
    parts = [f"{label(g.schedule)}: log-density gap {g.score['log_density_gap']:.2f}, "
             f"{100 * g.score['off_mode_fraction']:.0f}% of points off the modes" for g in gens]
    return "; ".join(parts) + f". Same noise, same model: {label(best.schedule)} is closest to the data."


# ---- figures and their captions, in page order ---------------------------------------------------

def schedule_shown(built: list[S.Schedule]) -> F.Shown:
    """Figure 1: β_t and ᾱ_t of every schedule, with ᾱ halfway and at the end in the caption."""
    T = built[0].T
    t_axis = np.arange(T)
    return F.Shown(
        F.schedule_curves(t_axis, [(label(s.name), s.betas, s.alphas_cumprod) for s in built]),
        "β_t is the noise added at step t; ᾱ_t is the share of signal variance left. "
        + "; ".join(f"{label(s.name)}: ᾱ at t = {T // 2 - 1} is {s.alphas_cumprod[T // 2 - 1]:.4f}, "
                    f"at t = {T - 1} {s.alphas_cumprod[-1]:.3g}" for s in built) + ".")


def variance_split_shown(primary: S.Schedule, contrast: S.Coefficients | None) -> F.Shown:
    """Figure 2: signal + noise variance of the first schedule stacked to 1, and the non-VP contrast's total."""
    signal, noise = primary.alphas_cumprod, 1 - primary.alphas_cumprod
    total = signal + noise
    caption = (f"Stacked: signal variance ᾱ_t and noise variance 1 − ᾱ_t of {label(primary.name)}; their sum stays "
               f"between {total.min():.6f} and {total.max():.6f}.")
    contrast_tuple = None
    if contrast is not None:
        contrast_tuple = (label(contrast.name), contrast.signal_coef**2, contrast.noise_coef**2)
        tv = contrast.total_variance
        caption += (f" The {label(contrast.name)} contrast is not VP: its total variance runs from "
                    f"{tv.min():.3g} to {tv.max():.3g}.")
    return F.Shown(F.variance_split(np.arange(primary.T), label(primary.name), signal, noise, contrast_tuple), caption)


def snr_shown(built: list[S.Schedule], contrast: S.Coefficients | None) -> F.Shown:
    """Figure 3: log-SNR of every schedule (−∞ clipped and marked) and of the contrast."""
    series = [(label(s.name), s.log_snr) for s in built]
    if contrast is not None:
        series.append((f"{label(contrast.name)} (not VP)", contrast.log_snr, F.CONTRAST))
    caption = "log-SNR falls from " + "; ".join(
        f"{label(s.name)} {s.log_snr[0]:.2f} to {F.clip_log_snr(s.log_snr)[0][-1]:.2f}" for s in built) + "."
    if any(np.isneginf(s.log_snr).any() for s in built):
        caption += (f" With zero terminal SNR the last step has SNR 0, log-SNR = −∞; it is drawn at "
                    f"{F.LOG_SNR_FLOOR:g} with a ▼ marker.")
    return F.Shown(F.snr_curves(np.arange(built[0].T), series), caption)


def variance_checks(built: list[S.Schedule], contrast: S.Coefficients | None, x0: np.ndarray,
                    seed: int) -> tuple[list[tuple[str, VarianceCheck]], tuple[str, VarianceCheck] | None]:
    """Var[x_t] measured for every schedule, and for the contrast (None without one)."""
    vp = [(label(s.name), variance_check(S.vp_coefficients(s), x0, seed)) for s in built]
    other = None if contrast is None else (f"{label(contrast.name)} (not VP)", variance_check(contrast, x0, seed))
    return vp, other


def measured_shown(T: int, vp: list[tuple[str, VarianceCheck]], contrast: S.Coefficients | None,
                   other: tuple[str, VarianceCheck] | None) -> F.Shown:
    """Figure 4: measured Var[x_t] markers on the theory lines (1 for VP; the contrast's own total)."""
    theory = [(name, np.ones(T)) for name, _ in vp]
    points = [row for name, c in vp for row in ((f"{name}, 2D points", c.t, c.measured_2d),
                                                 (f"{name}, image pixels", c.t, c.measured_image))]
    if other is not None:
        name, c = other
        theory.append((name, contrast.total_variance, F.CONTRAST))
        points += [(f"{name}, 2D points", c.t, c.measured_2d, F.CONTRAST),
                   (f"{name}, image pixels", c.t, c.measured_image, F.CONTRAST)]
    worst = max(abs(c.measured_2d - c.theory).max() for _, c in vp)
    return F.Shown(F.measured_vs_theory(np.arange(T), theory, points, log_y=other is not None),
                   f"Markers: variance measured on {N_POINTS} standardised 2D points and on the image's pixels "
                   f"after forward noising; lines: theory. For VP the measured variance stays within {worst:.3f} of 1.")


def forward_shown(schedule: S.Schedule, t: int, x0: np.ndarray, seed: int) -> tuple[str, F.Shown, F.Shown]:
    """Figure 5 at step t: the equation with its numbers, the noised 2D points and the noised image."""
    a, b = float(schedule.signal_coef[t]), float(schedule.noise_coef[t])
    xt = forward_at(a, b, standardise(x0), seed)
    img_t = forward_at(a, b, procedural_image(), seed)
    line = (f"**{label(schedule.name)}, t = {t}:** x_t = {a:.3f}·x₀ + {b:.3f}·ε  (ᾱ_t = {a * a:.4f}, "
            f"SNR = {a * a / max(b * b, 1e-300):.3g})")
    points = F.Shown(F.scatter_2d(xt, f"2D points at t = {t}", reference=standardise(x0)),
                     f"Grey: clean points; blue: the same points at t = {t}. Their variance is "
                     f"{xt.var(axis=0).mean():.3f} (VP theory: 1).")
    image = F.Shown(F.image(img_t, f"Image at t = {t}"),
                    f"The procedural image at t = {t}: {100 * a * a:.1f}% of its variance is signal, "
                    f"{100 * b * b:.1f}% noise.")
    return line, points, image


def generation_shown(gens: list[Generation], view: ScheduleView, step: int, density, level: float) -> F.Shown:
    """Figure 6: every schedule's samples at reverse step `step`, and the share inside the true-data line."""
    panels = [(f"{label(g.schedule)} · step {step}/{view.steps}", g.trajectory[step]) for g in gens]
    inside = "; ".join(f"{label(g.schedule)} {100 * inside_share(g.trajectory[step], view.dataset, level):.0f}%"
                       for g in gens)
    return F.Shown(F.generation_panels(panels, density=density, level=level),
                   f"{view.sampler.upper()} with {view.steps} steps from the same noise (seed {view.seed}), one panel "
                   f"per schedule. The black line encloses {100 * TRUE_DATA_MASS:.0f}% of the true data; inside it "
                   f"at step {step}: {inside}. Move 'Reverse step shown' to replay the trajectory.")


def quality_caption(truth: dict) -> str:
    """What the score table's numbers mean, with the true data's own values."""
    return (f"Sample quality against the true data. The log-density gap is the distance of the samples' mean "
            f"log-density from the data's own value, {truth['data_log_density']:.2f}: 0 means as the data, and "
            f"{N_POINTS:,} fresh true samples score {truth['log_density_gap']:.3f}. A higher mean log-density "
            f"is not better: samples squeezed onto the modes score above the data. Spread: the median distance "
            f"to the nearest mode centre, divided by the data's (below {UNDER_DISPERSED:g}: too tight). "
            f"Higher mode coverage, fewer points off the modes and a lower energy distance are better.")


def key_numbers(built: list[S.Schedule]) -> list[tuple[str, object, str]]:
    """The numbers the pin-and-compare table sets side by side, by position in the list of schedules (so
    A's linear meets B's cosine): each schedule's name and its ᾱ halfway."""
    rows = []
    for i, s in enumerate(built, 1):
        rows += [(f"schedule {i}", label(s.name), ""),
                 (f"ᾱ at t = T/2, schedule {i}", float(s.alphas_cumprod[s.T // 2]), ".4f")]
    return rows


def generation_numbers(gens: list[Generation]) -> list[tuple[str, float, str]]:
    """Figure 6's score for the pin-and-compare table, by position in the list of schedules."""
    return [(f"log-density gap to the data, schedule {i}", float(g.score["log_density_gap"]), ".3f")
            for i, g in enumerate(gens, 1)]


def spectrum_shown(schedule: S.Schedule, t: int, contrast: S.Coefficients | None) -> F.Shown:
    """Figure 5b: which frequencies of the image the noise has overtaken at step t (explainers/spectrum.py).
    Each process as x_t = a·x₀ + b·ε: signal power a²P(k), noise power b², crossover where they meet."""
    from explainers import spectrum

    freqs, power = spectrum.radial_power_spectrum(procedural_image())
    processes = [(label(schedule.name), float(schedule.signal_coef[t]), float(schedule.noise_coef[t]), F.SERIES)]
    if contrast is not None:
        processes.append((label(contrast.name), float(contrast.signal_coef[t]), float(contrast.noise_coef[t]),
                          F.CONTRAST))
    series, said = [], []
    for name, a, b, role in processes:
        abar = a * a / (a * a + b * b)  # the VP ᾱ with the same SNR: the crossover only depends on a²/b²
        cross = spectrum.crossover_frequency(freqs, power, abar)
        series.append((name, a * a * power, b * b, cross, role))
        said.append(f"{name}: " + (f"k* = {cross:.1f}" if cross is not None else _no_crossover(freqs, power, abar)))
    caption = (f"Radially averaged power of the image's part a²P(k) (solid) and of the noise's b² (dashed, flat: "
               f"white noise) at t = {t}; dotted: the crossover k*, above which every frequency is below the "
               f"noise. " + "; ".join(said) + ".")
    return F.Shown(F.frequency_power(freqs, series, t), caption)


def _no_crossover(freqs, power, abar: float) -> str:
    from explainers import spectrum

    snr = spectrum.snr_per_frequency(power, abar)
    return "the finest frequency still above the noise" if snr[-1] >= 1 else "every frequency below the noise"


def spectrum_text(level: str) -> str | None:
    """Figure 5b's short explanation at Moderate and Hard (with the image's measured slope), else None."""
    from explainers import spectrum

    if level not in spectrum.TEXTS:
        return None
    return spectrum.page_text(level, *spectrum.radial_power_spectrum(procedural_image()))


# ---- the exact answer beside the model (explainers/oracle.py) ---------------------------------------------

SCORE_GRID = 15  # arrows per side
ERROR_GRID = 41  # heatmap cells per side
FIELD_LIMIT = 3.0  # x_t has unit variance under VP: ±3 holds nearly all of it


@dataclass(frozen=True)
class ScoreField:
    t: int
    abar: float
    arrows: np.ndarray  # (SCORE_GRID², 2) grid points
    model: np.ndarray  # the model's score there
    exact: np.ndarray  # the exact score there
    grid: np.ndarray  # ERROR_GRID coordinates
    eps_error: np.ndarray  # (ERROR_GRID, ERROR_GRID): ‖ε̂_model − ε̂_exact‖
    weighted_error: float  # its mean weighted by the exact p_t: the error where the points are


def model_score(model, x: np.ndarray, abar: float) -> np.ndarray:
    """The model's score: ∇ log p_t(x) ≈ −ε̂ / √(1−ᾱ), with ε̂ from its v̂ (sampling.predicted_eps)."""
    from explainers.sampling import predicted_eps

    device = next(model.parameters()).device
    xt = torch.as_tensor(x, dtype=torch.float32, device=device)
    with torch.inference_mode():
        v_hat = model(xt, torch.tensor([float(S.log_snr_of(np.array([abar]))[0])], device=device))
        eps_hat = predicted_eps(xt, v_hat, abar)
    return -eps_hat.double().cpu().numpy() / math.sqrt(1.0 - abar)


def score_field(model, dataset: str, schedule: S.Schedule, t: int) -> ScoreField:
    """The model's score and the exact one at step t on a grid, and the model's error in ε̂ on a finer one."""
    from explainers import oracle

    abar = float(schedule.alphas_cumprod[t])
    g = np.linspace(-FIELD_LIMIT, FIELD_LIMIT, SCORE_GRID)
    arrows = np.stack(np.meshgrid(g, g), axis=-1).reshape(-1, 2)
    fine = np.linspace(-FIELD_LIMIT, FIELD_LIMIT, ERROR_GRID)
    cells = np.stack(np.meshgrid(fine, fine), axis=-1).reshape(-1, 2)
    if abar >= 1.0:  # no noise at all: the score is undefined; show no error rather than divide by zero
        zeros = np.zeros_like(arrows)
        return ScoreField(t, abar, arrows, zeros, zeros, fine, np.zeros((ERROR_GRID, ERROR_GRID)), 0.0)
    def exact(x: np.ndarray) -> np.ndarray:
        # ᾱ = 0 (zero terminal SNR): x_t is pure noise N(0, I), whose score is −x.
        return -x if abar <= 0.0 else oracle.exact_score(dataset, x, abar)

    model_s, exact_s = model_score(model, arrows, abar), exact(arrows)
    sd = math.sqrt(1.0 - abar)
    error = np.linalg.norm(sd * (model_score(model, cells, abar) - exact(cells)), axis=1)
    log_p = -0.5 * (cells**2).sum(1) if abar <= 0.0 else oracle.exact_log_density(dataset, cells, abar)
    weight = np.exp(log_p - log_p.max())
    return ScoreField(t, abar, arrows, model_s, exact_s, fine, error.reshape(ERROR_GRID, ERROR_GRID),
                      float(np.sum(error * weight) / np.sum(weight)))


def score_field_shown(field: ScoreField) -> F.Shown:
    """Figure 5c: both score fields as arrows over the model's ε̂ error."""
    top = max(float(np.linalg.norm(field.exact, axis=1).max()), 1e-12)
    scale = 0.9 * (2 * FIELD_LIMIT / (SCORE_GRID - 1)) / top  # the longest exact arrow spans 0.9 grid cells
    fig = F.score_fields(field.arrows[:, 0], field.arrows[:, 1],
                         [("exact score", field.exact * scale, F.REFERENCE), ("model's score", field.model * scale, F.SERIES)],
                         (field.grid, field.eps_error), "‖ε̂ error‖", FIELD_LIMIT)
    return F.Shown(fig, (
        f"The score ∇ log p_t(x) at t = {field.t} (ᾱ = {field.abar:.4f}) on a {SCORE_GRID}×{SCORE_GRID} grid: "
        f"the exact one (wide grey, from the dataset's known density) and the model's (blue, −ε̂/√(1−ᾱ)), both "
        f"drawn at the same scale. Colour: the model's error in the noise it predicts, ‖ε̂_model − ε̂_exact‖; "
        f"largest on the grid {field.eps_error.max():.3f}, {field.weighted_error:.3f} on average where the "
        f"noisy points are (weighted by the exact p_t)."))


def generate_exact_view(dataset: str, schedule_name: str, generation: dict) -> Generation:
    """generate() with the exact denoiser in place of the model: the same schedule, sampler, steps and noise.
    Runs on the CPU in float64 inside the oracle, whatever device the model uses."""
    from explainers import data2d
    from explainers.oracle import ExactModel

    g = SimpleNamespace(**generation)
    schedule = S.make_schedule(schedule_name, **_family_kwargs(schedule_name, g))
    return generate(ExactModel(dataset), data2d.get_dataset(dataset), schedule, g.sampler, g.steps, g.eta, g.seed)


def gap_split(model_gen: Generation, exact_gen: Generation) -> dict:
    """Where a schedule's quality gap comes from, in mean log-density (signed, so the parts add up):
    total = model − data, from the step count = exact − data, from the model = model − exact."""
    data = model_gen.score["data_log_density"]
    m, e = model_gen.score["mean_log_density"], exact_gen.score["mean_log_density"]
    return {"total": m - data, "steps": e - data, "model": m - e}


def exact_shown(model_gens: list[Generation], exact_gens: list[Generation], view: ScheduleView, step: int,
                density, level: float) -> tuple[F.Shown, str]:
    """Figure 7: the first schedule's samples with the model and with the exact denoiser, side by side, and
    the quality gap of every schedule split into what the step count costs and what the model costs."""
    v = as_view(ScheduleView, view)
    first, exact = model_gens[0], exact_gens[0]
    panels = [(f"{label(first.schedule)} · model", first.trajectory[step]),
              (f"{label(first.schedule)} · exact denoiser", exact.trajectory[step])]
    shown = F.Shown(F.generation_panels(panels, density=density, level=level), (
        f"The same noise (seed {v.seed}), schedule, {v.sampler.upper()} and {v.steps} steps, once with the model "
        f"and once with the exact denoiser E[x₀ | x_t] of the known density, at reverse step {step}. What the "
        f"exact run gets wrong comes from the sampler's step count alone."))
    lines = ["| schedule | mean log-density gap to the data | from the step count (exact − data) | "
             "from the model (model − exact) |", "|---|---:|---:|---:|"]
    for mg, eg in zip(model_gens, exact_gens):
        split = gap_split(mg, eg)
        lines.append(f"| {label(mg.schedule)} | {split['total']:+.3f} | {split['steps']:+.3f} | {split['model']:+.3f} |")
    return shown, "\n".join(lines)


def score_field_view(model, schedule_name: str, generation: dict, t: int) -> ScoreField:
    """score_field for the schedule `schedule_name` with the fields in generation_values(view) (a cache key)."""
    g = SimpleNamespace(**generation)
    return score_field(model, g.dataset, S.make_schedule(schedule_name, **_family_kwargs(schedule_name, g)), t)


GAP_SPLIT_NOTE = ("Mean log-density of the samples under the true density, minus the data's own (signed: + is "
                  "squeezed onto the modes, − is spread off them). The exact denoiser has no model error, so its "
                  "gap is what the sampler costs: its step count (and, unless the schedule ends at zero SNR, "
                  "starting from pure noise rather than the data noised to the first level). The rest is the "
                  "model's. The two parts add up to the total.")


def split_numbers(model_gens: list[Generation], exact_gens: list[Generation]) -> list[tuple[str, float, str]]:
    """The gap split for the pin-and-compare table, by position in the list of schedules."""
    rows = []
    for i, (mg, eg) in enumerate(zip(model_gens, exact_gens), 1):
        split = gap_split(mg, eg)
        rows += [(f"gap from the step count, schedule {i}", split["steps"], "+.3f"),
                 (f"gap from the model, schedule {i}", split["model"], "+.3f")]
    return rows


def snippets(view: ScheduleView, built: list[S.Schedule]):
    """'Show the code' for the schedules on screen (explainers/snippets.py): diffusers where it has them."""
    from explainers.snippets import schedule_snippet

    return [schedule_snippet(view, s.name) for s in built]


KNOT_KEYS = tuple(knot_key(i) for i in range(N_KNOTS))


def step_rug_shown(gens: list[Generation], view: ScheduleView) -> F.Shown:
    """Figure 6b: where each schedule's sampling steps land in log-SNR, with each schedule's score."""
    v = as_view(ScheduleView, view)
    rows = [(label(g.schedule), S.log_snr_of(g.abar_steps), f"gap {g.score['log_density_gap']:.3f}") for g in gens]
    spread = "; ".join(
        f"{label(g.schedule)}: {int(np.sum(S.log_snr_of(g.abar_steps) > 0))} of {len(g.abar_steps)} steps above "
        f"log-SNR 0 (more signal than noise)" for g in gens)
    return F.Shown(F.step_rug(rows), (
        f"Each tick is one of the {v.steps} levels {v.sampler.upper()} visits, by log-SNR (−∞ drawn at "
        f"{F.LOG_SNR_FLOOR:g}); beside each schedule its log-density gap to the data (figure 6's table). "
        f"{spread}. Where the steps land is what the sampler sees of a schedule."))
