"""Predict, then reveal: what a class can predict for each lesson question, and the answer the model gives.

Each lesson question (explainers/lessons.py) gets a `Prediction`: a few choices, or a number on a slider.
Students submit before the answer opens; the presenter then reveals the *measured* answer, computed here
by the same library the page uses, beside the class's predictions. `measure(page, step)` recomputes it, so
the revealed answer can never disagree with what the figures show (tests/test_predictions.py checks
that each lesson's written answer says the same).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

N_NUMBER_BINS = 10  # a number prediction's histogram: this many equal bins over the slider's range


@dataclass(frozen=True)
class Prediction:
    """What a student may answer: one of `choices`, or (no choices) a number in [low, high] on a `step` grid."""

    choices: tuple[str, ...] = ()
    low: float = 0.0
    high: float = 1.0
    step: float = 0.01
    unit: str = ""

    @property
    def kind(self) -> str:
        return "choice" if self.choices else "number"

    @property
    def decimals(self) -> int:
        return max(0, -math.floor(math.log10(self.step))) if self.step < 1 else 0

    def format(self, x: float) -> str:
        return f"{x:.{self.decimals}f}"

    def check(self, answer) -> str:
        """The answer as stored (a choice, or the number on the grid as text); ValueError naming `answer` else."""
        if self.kind == "choice":
            if answer not in self.choices:
                raise ValueError(f"answer must be one of {', '.join(self.choices)}; got {answer!r}")
            return answer
        try:
            x = float(answer)
        except (TypeError, ValueError):
            raise ValueError(f"answer must be a number in [{self.format(self.low)}, {self.format(self.high)}]; "
                             f"got {answer!r}") from None
        if not (math.isfinite(x) and self.low <= x <= self.high):
            raise ValueError(f"answer must be a number in [{self.format(self.low)}, {self.format(self.high)}]; "
                             f"got {answer!r}")
        return self.format(round((x - self.low) / self.step) * self.step + self.low)

    def histogram(self, tally: dict[str, int]) -> tuple[list[str], list[int]]:
        """Bars of the class's answers: every choice in order, or N_NUMBER_BINS equal bins of the range.
        Stored answers that no longer fit (a lesson edited mid-class) are left out."""
        if self.kind == "choice":
            return list(self.choices), [tally.get(c, 0) for c in self.choices]
        edges = np.linspace(self.low, self.high, N_NUMBER_BINS + 1)
        counts = [0] * N_NUMBER_BINS
        for answer, n in tally.items():
            try:
                x = float(answer)
            except ValueError:
                continue
            if self.low <= x <= self.high:
                counts[min(int(np.searchsorted(edges, x, side="right")) - 1, N_NUMBER_BINS - 1)] += n
        labels = [f"{self.format(a)}–{self.format(b)}" for a, b in zip(edges[:-1], edges[1:])]
        return labels, counts

    def tolerance(self) -> float:
        """How close a number prediction must be to count as right: a twentieth of the range."""
        return (self.high - self.low) / 20

    def right(self, answer: str, measured: "Measured") -> bool:
        if self.kind == "choice":
            return answer == measured.answer
        try:
            return abs(float(answer) - measured.value) <= self.tolerance()
        except (TypeError, ValueError):
            return False


@dataclass(frozen=True)
class Measured:
    """The answer the model gives: the right choice (or the number, formatted) and one line of what was computed."""

    answer: str
    detail: str
    value: float | None = None  # the number, for a number question


# ---------------------------------------------------------------------------------------------
# The predictions, lesson by lesson (same order as explainers/lessons.py)
# ---------------------------------------------------------------------------------------------

PREDICTIONS: dict[str, tuple[Prediction, ...]] = {
    "noise_schedule": (
        Prediction(low=0.0, high=1.0, step=0.01, unit="ᾱ₄₉₉"),
        Prediction(choices=("linear", "cosine", "about the same")),
        Prediction(choices=("1, as for VP", "51", "2501")),
        Prediction(low=0.0, high=1.0, step=0.05, unit="lowest total variance"),
        Prediction(choices=("0", "−20", "−∞")),
        Prediction(choices=("linear", "cosine", "about the same")),
    ),
    "backward_noise_init": (
        Prediction(choices=("σ = 1, pure noise", "σ = σ_init = 0.5", "a different σ for each frame")),
        Prediction(low=0, high=4, step=1, unit="denoising steps"),
        Prediction(choices=("about as fast", "much slower: it stalls", "faster")),
        Prediction(choices=("identical", "similar, not identical", "very different")),
        Prediction(choices=("it shrinks", "about the same", "it grows")),
    ),
    "spectral_norm": (
        Prediction(choices=("D.hidden1", "D.hidden2", "D.hidden3", "D.out")),
        Prediction(low=0.0, high=4.0, step=0.1, unit="σ of D.hidden1"),
        Prediction(low=0.0, high=4.0, step=0.1, unit="Lipschitz bound"),
        Prediction(choices=("yes, exactly", "no, still below it", "no, above it")),
        Prediction(choices=("yes", "no: the operator norm is larger", "no: the operator norm is smaller")),
        Prediction(choices=("SN on both counts", "no SN on both counts", "SN keeps the bound, no SN covers more")),
        Prediction(choices=("both win their modes back", "only hidden1 + hidden2", "neither")),
    ),
}


def prediction(page: str, step: int) -> Prediction:
    """The prediction of lesson step `step` (1-based) of `page`; ValueError naming the bad argument."""
    if page not in PREDICTIONS:
        raise ValueError(f"page must be one of {', '.join(PREDICTIONS)}; got {page!r}")
    steps = PREDICTIONS[page]
    if isinstance(step, bool) or not isinstance(step, int) or not 1 <= step <= len(steps):
        raise ValueError(f"step must be an integer in [1, {len(steps)}] for {page}; got {step!r}")
    return steps[step - 1]


def question_id(page: str, step: int) -> str:
    """How a class store names one question: stable while the lesson keeps its order."""
    prediction(page, step)
    return f"{page}/{step}"


def measure(page: str, step: int) -> Measured:
    """The answer the library computes for lesson step `step` of `page` (seed 0, the step's own settings).
    A few take seconds (the training questions); the app caches them per process."""
    p = prediction(page, step)
    measured = _MEASURES[page][step - 1]()
    if p.kind == "choice":
        assert measured.answer in p.choices, (page, step, measured.answer)
    return measured


def _step_view(page: str, step: int) -> dict:
    """The page's URL values with the lesson step's settings: what the page computes at that step."""
    from explainers.lessons import LESSONS
    from explainers.state import read_url

    params = {"noise_schedule": "explainers.schedule_view", "backward_noise_init": "explainers.backward_view",
              "spectral_norm": "explainers.spectral_view"}[page]
    import importlib

    view = importlib.import_module(params)
    return {**dict(read_url(view.PARAMS, {}).values), **LESSONS[page][step - 1].params}


def _nearest(choices: tuple[str, ...], values: tuple[float, ...], x: float) -> str:
    return choices[int(np.argmin([abs(v - x) for v in values]))]


def _larger(names: tuple[str, str], a: float, b: float, rel: float = 0.05) -> str:
    """Which of two is larger, or "about the same" within `rel`."""
    if abs(a - b) <= rel * max(abs(a), abs(b)):
        return "about the same"
    return names[0] if a > b else names[1]


# ---- noise schedule -------------------------------------------------------------------------------

def _schedule_1() -> Measured:
    from explainers.schedules import make_schedule

    abar = float(make_schedule("linear", T=1000).alphas_cumprod[499])
    return Measured(f"{abar:.2f}", f"linear schedule, T = 1000: ᾱ₄₉₉ = {abar:.3f}", abar)


def _schedule_2() -> Measured:
    from explainers.schedules import make_schedule

    lin, cos = (float(make_schedule(n, T=1000).alphas_cumprod[499]) for n in ("linear", "cosine"))
    return Measured(_larger(("linear", "cosine"), lin, cos), f"ᾱ₄₉₉: linear {lin:.3f}, cosine {cos:.3f}")


def _schedule_3() -> Measured:
    from explainers.schedules import contrast_coefficients

    total = float(contrast_coefficients("variance_exploding", 1000).total_variance[-1])
    choices = PREDICTIONS["noise_schedule"][2].choices
    return Measured(_nearest(choices, (1.0, 51.0, 2501.0), total),
                    f"variance exploding, x = x₀ + σ ε at the last step: total variance {total:.0f}", total)


def _schedule_4() -> Measured:
    from explainers.schedules import contrast_coefficients

    c = contrast_coefficients("flow_matching", 1000)
    lowest = float(c.total_variance.min())
    t = int(np.argmin(c.total_variance))
    return Measured(f"{lowest:.2f}", f"flow matching: lowest total variance {lowest:.3f}, at t = {t} of 1000", lowest)


def _schedule_5() -> Measured:
    from explainers.schedules import make_schedule

    last = float(make_schedule("linear", T=1000, zero_terminal_snr=True).log_snr[-1])
    answer = "−∞" if last == -math.inf else _nearest(("0", "−20"), (0.0, -20.0), last)
    return Measured(answer, f"linear with zero terminal SNR: ᾱ at the last step is 0, log-SNR = {last}")


def _schedule_6() -> Measured:
    from explainers import schedule_view as V
    from explainers.data2d import get_dataset
    from explainers.models import load_denoiser2d

    v = _step_view("noise_schedule", 6)
    model, data = load_denoiser2d(v["dataset"]), get_dataset(v["dataset"])
    gap = {name: V.generate(model, data, V.build_schedule(name, v), v["sampler"], v["steps"], v["eta"], 0)
           .score["log_density_gap"] for name in ("linear", "cosine")}
    # Closer to the data = the smaller gap, so compare the negated gaps.
    answer = _larger(("linear", "cosine"), -gap["linear"], -gap["cosine"], rel=0.1)
    return Measured(answer, f"{v['steps']} DDIM steps: mean log-density gap to the data, linear "
                            f"{gap['linear']:.2f}, cosine {gap['cosine']:.2f} (smaller is closer)")


# ---- backward noise initialization ---------------------------------------------------------------------

def _backward_1() -> Measured:
    from explainers import backward_init as B
    from explainers import backward_view as V

    v = _step_view("backward_noise_init", 1)
    levels = B.noise_level_matrix(v["reading"], v["n_frames"], V.sigma_list(v), v["sigma_init"])
    starts = {round(float(row[~np.isnan(row)][0]), 4) for row in levels}
    choices = PREDICTIONS["backward_noise_init"][0].choices
    if len(starts) > 1:
        return Measured(choices[2], f"frames start at {len(starts)} different σ")
    (start,) = starts
    return Measured(choices[0] if start == 1.0 else choices[1], f"all {v['n_frames']} frames start at σ = {start:g}")


def _backward_2() -> Measured:
    from explainers import backward_init as B
    from explainers import backward_view as V

    v = _step_view("backward_noise_init", 2)
    row = B.noise_level_matrix(v["reading"], v["n_frames"], V.sigma_list(v), v["sigma_init"])[3]
    n = int(np.sum(~np.isnan(row)))
    return Measured(str(n), f"frame 3 takes {n} step(s), at σ = "
                            + ", ".join(f"{s:g}" for s in row[~np.isnan(row)]), float(n))


def _backward_3() -> Measured:
    from explainers import backward_view as V
    from explainers.frame_model import load_frame_model

    v = _step_view("backward_noise_init", 3)
    speed = float(np.nanmean(V.run_reading(load_frame_model(), v["reading"], v).motion))
    true = float(np.nanmean(V.truth(v).motion))
    choices = PREDICTIONS["backward_noise_init"][2].choices
    answer = choices[1] if speed < 0.5 * true else choices[2] if speed > 1.5 * true else choices[0]
    return Measured(answer, f"the rollout's ball moves {speed:.3f} px/frame, the true video's {true:.2f}")


def _backward_4() -> Measured:
    from explainers import backward_view as V
    from explainers.frame_model import load_frame_model

    v = _step_view("backward_noise_init", 4)
    model = load_frame_model()
    a, b = (V.run_reading(model, r, v).frames for r in ("denoising_step", "temporal_index"))
    gap = float(np.abs(a - b).max())
    choices = PREDICTIONS["backward_noise_init"][3].choices
    answer = choices[0] if gap == 0 else choices[1] if gap < 0.5 else choices[2]
    return Measured(answer, f"largest pixel difference between the two rows: {gap:.3g} (pixels span −1 to 1)")


def _backward_5() -> Measured:
    from explainers import backward_view as V
    from explainers.frame_model import load_frame_model

    v = _step_view("backward_noise_init", 5)
    error = V.run_reading(load_frame_model(), v["reading"], v).position_error
    first, last = float(np.nanmean(error[:V.HORIZON])), float(np.nanmean(error[-V.HORIZON:]))
    choices = PREDICTIONS["backward_noise_init"][4].choices
    answer = _larger((choices[2], choices[0]), last, first, rel=0.2)
    answer = choices[1] if answer == "about the same" else answer
    return Measured(answer, f"mean position error: first {V.HORIZON} frames {first:.1f} px, last {V.HORIZON} {last:.1f} px")


# ---- spectral normalization -------------------------------------------------------------------------------

def _gan_sigmas(modes: dict | None = None) -> dict[str, float]:
    from explainers import spectral as SN
    from explainers import spectral_view as V

    base = V.base_network("gan", 0)
    return SN.layer_sigmas(base if modes is None else V.normalized(base, modes, 1, 1.0, 0))


def _spectral_1() -> Measured:
    sig = {k: s for k, s in _gan_sigmas().items() if k.startswith("D.")}
    top = max(sig, key=sig.get)
    return Measured(top, "largest σ: " + ", ".join(f"{k} {s:.2f}" for k, s in sig.items()))


def _spectral_2() -> Measured:
    s = _gan_sigmas({"D.hidden1": "sn"})["D.hidden1"]
    return Measured(f"{s:.1f}", f"D.hidden1 after SN (1 power iteration): σ = {s:.3f}", s)


def _spectral_3() -> Measured:
    from explainers import spectral_view as V

    modes = {f"D.{k}": "sn" for k in ("hidden1", "hidden2", "hidden3", "out")}
    bound = V.lipschitz("gan", _gan_sigmas(modes))[0]
    return Measured(f"{bound:.1f}", f"SN on every D layer: Lipschitz bound {bound:.3f}", bound)


def _spectral_4() -> Measured:
    from explainers import spectral_view as V

    trace, exact = V.power_trace(V.base_network("gan", 0), "D.hidden1", 0)
    last = float(trace[-1])
    choices = PREDICTIONS["spectral_norm"][3].choices
    answer = choices[0] if abs(last - exact) <= 1e-6 * exact else choices[1] if last < exact else choices[2]
    return Measured(answer, f"after {len(trace)} iterations: {last:.4f}, exact σ = {exact:.4f}")


def _spectral_5() -> Measured:
    from explainers import spectral_view as V

    rows = V.conv_norms(V.base_network("frame_model", 0))
    larger = sum(r.zero_padded > r.reshaped * (1 + 1e-6) for r in rows)
    smaller = sum(r.zero_padded < r.reshaped * (1 - 1e-6) for r in rows)
    choices = PREDICTIONS["spectral_norm"][4].choices
    answer = choices[1] if larger and not smaller else choices[2] if smaller and not larger else choices[0]
    return Measured(answer, f"{larger} of {len(rows)} conv layers: operator norm (zero padding) above the reshaped σ")


def _spectral_6() -> Measured:
    from explainers import spectral_view as V
    from explainers.spectral_training import train_gan

    v = _step_view("spectral_norm", 6)
    runs = {}
    for mode in ("sn", "off"):
        view = {**v, **{V.mode_key(layer): mode for layer in V.CHAINS["gan"]}}
        runs[mode] = train_gan(V.gan_config(view), 0, v["train_steps"])
    sn, off = runs["sn"], runs["off"]
    bound_sn, bound_off = max(sn.d_lipschitz_bound), max(off.d_lipschitz_bound)
    choices = PREDICTIONS["spectral_norm"][5].choices
    keeps = bound_sn < bound_off
    covers = sn.coverage[-1] >= off.coverage[-1]
    answer = choices[0] if keeps and covers else choices[2] if keeps else choices[1]
    return Measured(answer, f"{v['train_steps']} steps: max D bound with SN {bound_sn:.2f}, without {bound_off:.0f}; "
                            f"mode coverage with SN {sn.coverage[-1]:.2f}, without {off.coverage[-1]:.2f}")


def _spectral_7() -> Measured:
    from explainers import spectral_view as V
    from explainers.spectral_training import finetune_denoiser

    v = _step_view("spectral_norm", 7)
    base = V.base_network("denoiser2d", 0)
    every = {layer: "sn" for layer in V.LAYERS["denoiser2d"]}
    some = {layer: ("sn" if layer in ("hidden1", "hidden2") else "off") for layer in V.LAYERS["denoiser2d"]}
    coverage = {}
    for name, modes in (("every", every), ("some", some)):
        view = {**v, **{V.mode_key(layer): mode for layer, mode in modes.items()}}
        coverage[name] = finetune_denoiser(V.finetune_config(view), 0, v["train_steps"], model=base).coverage[-1]
    choices = PREDICTIONS["spectral_norm"][6].choices
    won = {name: c >= 1.0 for name, c in coverage.items()}
    answer = choices[0] if all(won.values()) else choices[1] if won["some"] else choices[2]
    return Measured(answer, f"after {v['train_steps']} fine-tune steps: mode coverage, every layer SN "
                            f"{coverage['every']:.2f}; hidden1 + hidden2 SN {coverage['some']:.2f}")


_MEASURES: dict[str, tuple[Callable[[], Measured], ...]] = {
    "noise_schedule": (_schedule_1, _schedule_2, _schedule_3, _schedule_4, _schedule_5, _schedule_6),
    "backward_noise_init": (_backward_1, _backward_2, _backward_3, _backward_4, _backward_5),
    "spectral_norm": (_spectral_1, _spectral_2, _spectral_3, _spectral_4, _spectral_5, _spectral_6, _spectral_7),
}
