"""Show the code: a short, runnable snippet that reproduces what a page plots, with the libraries people use.

`schedule_snippet(view, name)` builds the schedule `name` of the schedule page with diffusers
(``DDPMScheduler``'s ``beta_schedule`` names, ``rescale_betas_zero_snr``; ``EDMEulerScheduler`` for EDM's
levels) and binds ``alphas_cumprod``, the ᾱ the page plots. `spectral_snippet(view, model)` applies the
spectral page's per-layer modes with torch and binds ``sigma``, each changed layer's largest singular value
after its mode, as the page shows it. Every value in a snippet is written from the view, floats with
``repr`` (exact), so running the snippet gives the page's numbers: diffusers computes in float32, so a
schedule agrees with the page's float64 arrays to float32 precision.

A snippet imports only numpy, torch and diffusers, plus ``explainers.spectral_view.base_network`` for the
spectral page: its networks are the app's own (a shipped checkpoint, or a GAN initialised from the seed),
and a stand-in layer of the same shape would have other weights and so other singular values.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

from explainers import spectral_view as V
from explainers.schedule_view import build_schedule
from explainers.schedules import KNOT_POSITIONS
from explainers.state import ScheduleView, SpectralView, as_view

DIFFUSERS_COSINE_S = 0.008  # betas_for_alpha_bar's "cosine" hard-codes (t + 0.008) / 1.008
MAX_LINES = 15  # a snippet a student reads at a glance
WARMUP_ITERATIONS = 15  # torch's spectral_norm runs these when it is attached


@dataclass(frozen=True)
class Snippet:
    """Runnable Python a person can copy; running it binds `variable` to the array or values the page shows."""

    code: str
    library: str  # what the code uses to compute it: "diffusers", "diffusers + numpy", "torch"
    note: str  # how the library's computation relates to the page's, in a few sentences
    variable: str  # the name the code binds to the page's values ("alphas_cumprod", "sigma")


def _code(lines: list[str]) -> str:
    """The lines as a snippet; blank lines go, first ones first, while it is longer than MAX_LINES."""
    lines = list(lines)
    while len(lines) > MAX_LINES and "" in lines:
        lines.remove("")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Noise schedules.
# ---------------------------------------------------------------------------------------------

FLOAT32_NOTE = ("diffusers computes in float32 and the page in float64, so ᾱ agrees to float32 precision: about 1e-6 "
                "relative at the defaults, a few 1e-5 in the smallest values of long schedules (float32 has no ᾱ "
                "below about 1e-38, which only betas beyond the sliders reach).")
ZTSNR_NOTE = (" With zero terminal SNR diffusers' rescale divides by √ᾱ_0 − √ᾱ_(T−1) in float32, so a schedule that "
              "barely falls (few steps of small betas) loses more digits: up to about 1e-4 within the sliders.")


def _float32_note(zero_terminal_snr: bool) -> str:
    return FLOAT32_NOTE + (ZTSNR_NOTE if zero_terminal_snr else "")
ZTSNR = ("rescale_betas_zero_snr=True)  # Lin et al. 2023: the last ᾱ becomes exactly 0",
         "rescale_betas_zero_snr=False)")


def _ddpm(*args: str, zero_terminal_snr: bool) -> list[str]:
    """`scheduler = DDPMScheduler(...)`, one group of arguments a line, the zero-terminal-SNR switch last."""
    indent = " " * len("scheduler = DDPMScheduler(")
    rescale = ZTSNR[0] if zero_terminal_snr else ZTSNR[1]
    return [f"scheduler = DDPMScheduler({args[0]},", *(f"{indent}{a}," for a in args[1:]), f"{indent}{rescale}"]


ABAR_LINE = "alphas_cumprod = scheduler.alphas_cumprod.numpy()  # ᾱ_t = ∏_{i≤t} (1 − β_i), t = 0 … T−1"


def _pair_snippet(name: str, T: int, beta_start: float, beta_end: float, ztsnr: bool) -> Snippet:
    what = {
        "linear": ("DDPM's linear betas (Ho et al. 2020): β = linspace(beta_start, beta_end, T)",
                   'diffusers\' beta_schedule="linear" is this schedule.'),
        "scaled_linear": ("latent diffusion's betas: √β evenly spaced from √beta_start to √beta_end, then squared",
                          'diffusers\' beta_schedule="scaled_linear" is this schedule.'),
        "sigmoid": ("GeoDiff's betas (Xu et al. 2022): β = sigmoid(linspace(−6, 6, T)) (beta_end − beta_start) "
                    "+ beta_start", 'diffusers\' beta_schedule="sigmoid" is this schedule, the same formula.'),
    }[name]
    lines = ["from diffusers import DDPMScheduler", "", f"# {what[0]}",
             f"T, beta_start, beta_end = {T}, {beta_start!r}, {beta_end!r}",
             *_ddpm(f'num_train_timesteps=T, beta_schedule="{name}"', "beta_start=beta_start, beta_end=beta_end",
                    zero_terminal_snr=ztsnr), ABAR_LINE]
    return Snippet(_code(lines), "diffusers", f"{what[1]} {_float32_note(ztsnr)}", "alphas_cumprod")


def _cosine_snippet(T: int, s: float, ztsnr: bool) -> Snippet:
    if s == DIFFUSERS_COSINE_S:
        lines = ["from diffusers import DDPMScheduler", "",
                 "# the cosine schedule (Nichol & Dhariwal 2021) with s = 0.008, β capped at 0.999",
                 f"T = {T}", *_ddpm('num_train_timesteps=T, beta_schedule="squaredcos_cap_v2"', zero_terminal_snr=ztsnr),
                 ABAR_LINE]
        note = ('diffusers\' beta_schedule="squaredcos_cap_v2" is this schedule: the same ᾱ(t) = cos²(((t/T) + s) '
                '/ (1 + s) · π/2) with s = 0.008, the same β_i = 1 − ᾱ((i+1)/T) / ᾱ(i/T) capped at 0.999. '
                + _float32_note(ztsnr))
        return Snippet(_code(lines), "diffusers", note, "alphas_cumprod")
    lines = ["import numpy as np", "from diffusers import DDPMScheduler", "",
             "# the cosine schedule (Nichol & Dhariwal 2021); diffusers' \"squaredcos_cap_v2\" fixes s = 0.008,",
             "# so compute its betas here and hand them to diffusers",
             f"T, s = {T}, {s!r}",
             "t = np.arange(T + 1) / T",
             "alpha_bar = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2",
             "betas = np.minimum(1 - alpha_bar[1:] / alpha_bar[:-1], 0.999)  # capped, as diffusers does",
             *_ddpm("num_train_timesteps=T, trained_betas=betas", zero_terminal_snr=ztsnr), ABAR_LINE]
    note = (f"diffusers' \"squaredcos_cap_v2\" hard-codes s = 0.008 (betas_for_alpha_bar takes no s), so with "
            f"s = {s!r} its ᾱ would differ from the page's; the snippet computes the cosine betas in numpy (float64, "
            "the page's formula) and passes them as trained_betas, and diffusers applies the rescale and the "
            "cumulative product. " + _float32_note(ztsnr))
    return Snippet(_code(lines), "diffusers + numpy", note, "alphas_cumprod")


def _vp_sde_snippet(T: int, beta_min: float, beta_max: float, ztsnr: bool) -> Snippet:
    lines = ["from diffusers import DDPMScheduler", "",
             "# the VP SDE (Song et al. 2021), β(t) = beta_min + t (beta_max − beta_min), on T steps:",
             "# β_i = linspace(beta_min / T, beta_max / T, T), diffusers' \"linear\" schedule with those ends",
             f"T, beta_min, beta_max = {T}, {beta_min!r}, {beta_max!r}",
             *_ddpm('num_train_timesteps=T, beta_schedule="linear"', "beta_start=beta_min / T, beta_end=beta_max / T",
                    zero_terminal_snr=ztsnr),
             ABAR_LINE]
    note = ("diffusers has no VP-SDE schedule by name, but the page's discretisation β_i = linspace(β_min/T, "
            "β_max/T, T) is diffusers' \"linear\" with beta_start = β_min/T and beta_end = β_max/T: the same array. "
            + _float32_note(ztsnr))
    return Snippet(_code(lines), "diffusers", note, "alphas_cumprod")


def _karras_snippet(T: int, sigma_min: float, sigma_max: float, rho: float, ztsnr: bool) -> Snippet:
    lines = ["import numpy as np", f"from diffusers import {'DDPMScheduler, ' if ztsnr else ''}EDMEulerScheduler", "",
             "# EDM's noise levels (Karras et al. 2022, Eq. 5), evenly spaced in σ^(1/ρ), σ_max first",
             f"T, sigma_min, sigma_max, rho = {T}, {sigma_min!r}, {sigma_max!r}, {rho!r}",
             "scheduler = EDMEulerScheduler(sigma_min=sigma_min, sigma_max=sigma_max, rho=rho)",
             "scheduler.set_timesteps(T)  # T levels, then a final 0 that samplers step to",
             "sigmas = scheduler.sigmas[:-1].flip(0).numpy().astype(np.float64)  # no 0; t = 0 is the least noisy",
             "alphas_cumprod = 1 / (1 + sigmas**2)  # the VP ᾱ with the same SNR, 1 / σ²"]
    if ztsnr:
        lines += ["betas = 1 - alphas_cumprod / np.concatenate([[1.0], alphas_cumprod[:-1]])",
                  *_ddpm("num_train_timesteps=T, trained_betas=betas", zero_terminal_snr=True), ABAR_LINE]
    note = ("diffusers' EDMEulerScheduler.set_timesteps(T) gives EDM's T levels from σ_max down (in float32, then a "
            "trailing 0 the snippet drops); the page lists them from σ_min up along t and plots ᾱ = 1 / (1 + σ²). "
            + ("For zero terminal SNR the snippet hands the betas of that ᾱ to DDPMScheduler, which rescales them. "
               if ztsnr else "") + _float32_note(ztsnr))
    return Snippet(_code(lines), "diffusers + numpy", note, "alphas_cumprod")


def _custom_snippet(T: int, knots: tuple[float, ...], ztsnr: bool) -> Snippet:
    lines = ["import numpy as np", "from scipy.interpolate import PchipInterpolator",
             *(["from diffusers import DDPMScheduler"] if ztsnr else []), "",
             "# diffusers has no schedule drawn through log-SNR knots: numpy + scipy's monotone cubic (PCHIP)",
             f"T, knots = {T}, {tuple(float(k) for k in knots)!r}  # log-SNR at 0, ¼, ½, ¾, 1 of the way",
             f"u = np.arange(T) / (T - 1)",
             f"log_snr = PchipInterpolator({KNOT_POSITIONS!r}, knots)(u)",
             "alphas_cumprod = 1 / (1 + np.exp(-log_snr))  # ᾱ = sigmoid(log-SNR)"]
    if ztsnr:
        lines += ["betas = 1 - alphas_cumprod / np.concatenate([[1.0], alphas_cumprod[:-1]])",
                  *_ddpm("num_train_timesteps=T, trained_betas=betas", zero_terminal_snr=True), ABAR_LINE]
    note = ("No diffusers scheduler takes log-SNR knots, so this is plain numpy with scipy's PchipInterpolator, the "
            "same monotone cubic the page uses (explainers.schedules.monotone_cubic), in float64"
            + (", then diffusers' zero-terminal-SNR rescale of the betas. " + _float32_note(True) if ztsnr else "."))
    return Snippet(_code(lines), "numpy + scipy" + (" + diffusers" if ztsnr else ""), note, "alphas_cumprod")


def schedule_snippet(view: ScheduleView, name: str | None = None) -> Snippet:
    """The code that builds schedule `name` (default: the view's first) with diffusers, as the page plots it.

    Its parameters are the view's (`build_schedule`'s); "karras", which the page does not offer, takes
    make_schedule's default EDM levels. Invalid parameters raise the ValueError the page shows for them.
    """
    v = as_view(ScheduleView, view)
    name = v.schedules[0] if name is None else name
    schedule = build_schedule(name, v)  # validates: a schedule the page cannot build has no snippet
    p, ztsnr = schedule.params, v.zero_terminal_snr
    if name in ("linear", "scaled_linear", "sigmoid"):
        return _pair_snippet(name, v.T, p["beta_start"], p["beta_end"], ztsnr)
    if name == "cosine":
        return _cosine_snippet(v.T, p["s"], ztsnr)
    if name == "vp_sde":
        return _vp_sde_snippet(v.T, p["beta_min"], p["beta_max"], ztsnr)
    if name == "custom":
        return _custom_snippet(v.T, p["knots"], ztsnr)
    return _karras_snippet(v.T, p["sigma_min"], p["sigma_max"], p["rho"], ztsnr)


def schedule_snippets(view: ScheduleView) -> tuple[Snippet, ...]:
    """One snippet per schedule the view selects, in its order (each may raise ValueError)."""
    v = as_view(ScheduleView, view)
    return tuple(schedule_snippet(v, name) for name in v.schedules)


# ---------------------------------------------------------------------------------------------
# Spectral normalization, per layer.
# ---------------------------------------------------------------------------------------------

SPECTRAL_NOTE = ("The page seeds torch with its seed, attaches the modes layer by layer in this order and shows the "
                 "network in eval mode, so each layer is divided by spectral_norm's estimate σ̂ as it stands after "
                 "attaching, not by the exact σ: SN's 'after' is close to 1, not 1. Attaching runs 15 power "
                 "iterations from a random start, and on a network in training mode (the GAN) torch's check forward "
                 "runs n_power_iterations more; the shipped checkpoints load in eval mode and get the 15 only. Run it "
                 "from the repository root: on the CPU it gives the page's numbers (on a GPU the random start comes "
                 "from CUDA's generator).")


@lru_cache(maxsize=None)
def _network_facts(model: str) -> tuple[bool, bool]:
    """(every layer a mode can be set on is a Conv2d, the network is built in training mode) for `model`."""
    from torch import nn

    from explainers.spectral import normalizable_layers

    net = V.base_network(model, 0)
    layers = normalizable_layers(net)
    return all(isinstance(layers[name], nn.Conv2d) for name in V.LAYERS[model]), net.training


def _literal(value) -> str:
    """A list or dict of names as Python source, in double quotes like the rest of the snippet."""
    return json.dumps(value)


def _network(model: str, seed: int) -> tuple[str, str]:
    """The call that builds the page's network, and what it is (the page seeds only the GAN's weights)."""
    if model == "gan":
        return f'base_network("gan", seed={seed})', "the page's GAN, initialised from the seed"
    return f'base_network("{model}", seed=0)', "the page's network: the shipped checkpoint"


def _sn_like(mode: str, model: str) -> bool:
    """SN, or bidirectional SN of a linear layer: its two reshapes are W and Wᵀ, one σ, so it is SN."""
    return mode == "sn" or (mode == "bsn" and not _network_facts(model)[0])


def _all_off_spectral(model: str, v: SpectralView) -> Snippet:
    network, what = _network(model, v.seed)
    lines = ["import torch", "from explainers.spectral_view import base_network", "",
             f"layers = dict({network}.named_modules())  # {what}",
             f"names = {_literal(list(V.LAYERS[model]))}  # every one off",
             "sigma = {name: torch.linalg.matrix_norm(layers[name].weight.flatten(1), 2).item() for name in names}"]
    return Snippet(_code(lines), "torch", "No mode is on, so the page's 'after' is each raw weight's σ, its "
                   "largest singular value (a conv kernel reshaped to (out, in·kh·kw)).", "sigma")


def _builtin_spectral(model: str, v: SpectralView, names: list[str]) -> Snippet:
    """Every changed layer is SN (or bidirectional SN of a linear layer): torch's built-in spectral_norm."""
    network, what = _network(model, v.seed)
    lines = ["import torch", "from torch.nn.utils.parametrizations import spectral_norm",
             "from explainers.spectral_view import base_network", "",
             f"net = {network}  # {what}",
             "layers = dict(net.named_modules())",
             f"names = {_literal(names)}  # the layers set to SN, in the page's order",
             f"torch.manual_seed({v.seed})  # the page's seed: where each power iteration starts",
             "for name in names:",
             f"    spectral_norm(layers[name], n_power_iterations={v.n_power_iterations})  # weight → W / σ̂",
             "net.eval()  # keep the stored u, v: a forward in training mode runs n_power_iterations more",
             "sigma = {name: torch.linalg.matrix_norm(layers[name].weight.flatten(1), 2).item() for name in names}"]
    bsn = (" Bidirectional SN of a linear layer is plain SN (its two reshapes are W and Wᵀ, with one σ), as on "
           "the page." if any(V.modes_of(model, v)[n] == "bsn" for n in names) else "")
    return Snippet(_code(lines), "torch", "torch.nn.utils.parametrizations.spectral_norm is the page's SN." + bsn
                   + " " + SPECTRAL_NOTE, "sigma")


def _custom_spectral(model: str, v: SpectralView, modes: dict[str, str]) -> Snippet:
    """A layer clipped at λ, or a conv with bidirectional SN: torch has neither, so σ̂ is written out."""
    network, what = _network(model, v.seed)
    conv, training = _network_facts(model)
    used = set(modes.values())
    sn_like = sorted({m for m in used if _sn_like(m, model)}, reverse=True)  # "sn" before "bsn"
    loop = "u = normalize(M @ v, dim=0); v = normalize(M.T @ u, dim=0)"
    if training:
        iterations = ["    # 15 when attached, then n_power_iterations in the forward torch runs to check it (training mode)",
                      f"    for _ in range({WARMUP_ITERATIONS} + {v.n_power_iterations}): {loop}"]
    else:
        iterations = [f"    for _ in range({WARMUP_ITERATIONS}): {loop}  # when attached (eval mode)"]
    branches = []
    if sn_like == ["sn"]:
        branches.append('    if mode == "sn": return W / sigma_hat(W.flatten(1))  # = torch\'s spectral_norm(layer)')
    elif sn_like:
        test = f'mode == "{sn_like[0]}"' if len(sn_like) == 1 else 'mode in ("sn", "bsn")'
        branches.append(f"    if {test}: return W / sigma_hat(W.flatten(1))  # SN; bidirectional SN of a linear "
                        "layer is SN")
    if "bsn" in used and conv:
        branches.append('    if mode == "bsn": return W / ((sigma_hat(W.flatten(1)) '
                        '+ sigma_hat(W.transpose(0, 1).flatten(1))) / 2)')
    if "optional" in used:
        branches.append(f'    if mode == "optional": return W / max(1.0, sigma_hat(W.flatten(1)) / {v.threshold!r})'
                        "  # W / max(1, σ̂/λ)")
    lines = ["import torch", "from torch.nn.functional import normalize",
             "from explainers.spectral_view import base_network", "",
             "def sigma_hat(M):  # σ as torch's spectral_norm estimates it: from random unit u, v, power iterations",
             "    u, v = normalize(torch.randn(M.shape[0]), dim=0), normalize(torch.randn(M.shape[1]), dim=0)",
             *iterations,
             "    return u @ (M @ v)",
             "def after(W, mode):  # the weight W after its mode, as the page has it (eval mode)",
             *branches, "",
             f"layers = dict({network}.named_modules())  # {what}",
             f"modes = {_literal(modes)}  # the layers not off, in the page's order",
             f"torch.manual_seed({v.seed})  # the page's seed: where each power iteration starts",
             "sigma = {name: torch.linalg.matrix_norm(after(layers[name].weight.detach(), mode).flatten(1), 2).item()"
             " for name, mode in modes.items()}"]
    parts = []
    if "optional" in used:
        parts.append(f"The clip W / max(1, σ̂/λ), λ = {v.threshold!r}, is the app's own (the constraint of Gouk et "
                     "al. 2021); torch has no built-in for it.")
    if "bsn" in used and conv:
        parts.append("Bidirectional SN (Lin et al. 2021) divides by the mean σ̂ of the (out, in·kh·kw) and "
                     "(in, out·kh·kw) reshapes; torch has no built-in for it.")
    parts.append("sigma_hat is spectral_norm's estimate written out, with its random draws in its order and its "
                 "number of iterations, so an SN layer here is what spectral_norm(layer) gives and every σ is the "
                 "page's. The exact σ "
                 "(torch.linalg.matrix_norm(W, 2)) instead would give other numbers (a few percent apart where 15 "
                 "iterations have not converged) and shift every later layer's random start. To train with these "
                 "modes, make them torch.nn.utils.parametrize parametrizations that keep u, v and iterate, as "
                 "explainers/spectral.py does.")
    return Snippet(_code(lines), "torch", " ".join(parts) + " " + SPECTRAL_NOTE, "sigma")


def spectral_snippet(view: SpectralView, model: str) -> Snippet:
    """The code that applies the view's modes to `model`'s layers with torch and binds `sigma` to
    {layer: σ after its mode} for every layer whose mode is not off (every layer when all are off): the largest
    singular values spectral_view.spectra gives the page as 'after'."""
    v = as_view(SpectralView, view)
    if model not in V.MODELS:
        raise ValueError(f"model must be one of {', '.join(V.MODELS)}; got {model!r}")
    modes = {layer: mode for layer, mode in V.modes_of(model, v).items() if mode != "off"}
    if not modes:
        return _all_off_spectral(model, v)
    if all(_sn_like(m, model) for m in modes.values()):
        return _builtin_spectral(model, v, list(modes))
    return _custom_spectral(model, v, modes)
