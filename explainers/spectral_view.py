"""Everything the spectral-normalization page computes, as plain functions of its view (state.SpectralView)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from explainers import figures as F
from explainers import spectral as SN
from explainers.state import LEVEL, SEED, Param, SpectralView, as_view
from explainers.state import mode_key  # noqa: F401  (m_<layer>: the alias of SpectralView.modes)

MODELS = ("gan", "denoiser2d", "frame_model")
MODEL_LABELS = {"gan": "2D GAN", "denoiser2d": "2D denoiser", "frame_model": "frame model"}
# One line under the model control: what each model is and where else the app uses it.
MODEL_NOTES = {"gan": "A 2D GAN: generator and discriminator, trained live on this page.",
               "denoiser2d": "The 2D denoiser the schedule page samples with.",
               "frame_model": "The convolutions of the Eq. 1 page's frame model."}

def _layer_names() -> dict[str, tuple[str, ...]]:
    """Layer names as the models themselves list them (tiny models: building one costs ~1 ms)."""
    from explainers.frame_model import FrameDenoiser
    from explainers.models import Denoiser2D

    return {
        "gan": ("D.hidden1", "D.hidden2", "D.hidden3", "D.out", "G.hidden1", "G.hidden2", "G.out"),
        "denoiser2d": tuple(name for name, _ in Denoiser2D().linear_layers()),
        "frame_model": tuple(name for name, _ in FrameDenoiser().conv_layers()),
    }


LAYERS = _layer_names()
# The chain a signal x passes through, for the product-of-sigmas Lipschitz bound (per model).
CHAINS = {"gan": ("D.hidden1", "D.hidden2", "D.hidden3", "D.out"),
          "denoiser2d": ("in_x", "hidden1", "hidden2", "out"), "frame_model": ()}
SILU_MAX_SLOPE = SN.SILU_MAX_SLOPE
# What a person reads for each mode; the URL keeps the short value ("bsn", "optional").
MODE_LABELS = {"off": "off", "sn": "SN", "bsn": "bidirectional SN", "optional": "clip at threshold"}
CONV_INPUT_SIZE = 32
TRACE_ITERATIONS = 20


LAYER_PARAMS = tuple(Param(mode_key(layer), layer, "choice", "off", choices=SN.MODES, labels=tuple(MODE_LABELS.items()))
                     for layer in dict.fromkeys(sum(LAYERS.values(), ())))
PARAMS = (
    Param("model", "Model", "choice", "gan", choices=MODELS, labels=tuple(MODEL_LABELS.items())),
    Param("n_iter", "Power iterations per step", "int", 1, 1, 20, 1, valid=SN.N_POWER_ITERATIONS_RANGE),
    Param("threshold", "Threshold λ of the clip mode", "float", 1.0, 0.1, 10.0, 0.1, valid=SN.THRESHOLD_RANGE,
          help="The 'clip at threshold' mode (URL value optional) divides a layer's weight by max(1, σ/λ): a layer with σ ≤ λ is left as it is, one above is scaled to σ = λ. This is the app's own clip, as in the Lipschitz constraint of Gouk et al. (2021), not a published method, and the model decides nothing."),
    Param("trace_layer", "Layer for the power-iteration trace", "choice", "D.hidden1",
          choices=tuple(dict.fromkeys(sum(LAYERS.values(), ())))),
    Param("train_steps", "Training steps", "int", 1000, 100, 5000, 100),
    Param("lr", "Learning rate", "choice", "0.0002", choices=("5e-05", "0.0001", "0.0002", "0.0005", "0.001")),
    *LAYER_PARAMS,
    LEVEL,
    SEED,
)
PARAM = {p.key: p for p in PARAMS}


class GanPair(nn.Module):
    """D and G in one module, so their layers are named "D.hidden1", "G.out", ... in one list."""

    def __init__(self, generator: nn.Module, discriminator: nn.Module):
        super().__init__()
        self.D, self.G = discriminator, generator


def base_network(model: str, seed: int, device: str = "cpu") -> nn.Module:
    """The untouched network: a freshly initialised GAN (from the seed), or a shipped checkpoint."""
    if model == "gan":
        from explainers.gan import make_gan

        generator, discriminator = make_gan(seed, device=device)
        return GanPair(generator, discriminator)
    if model == "denoiser2d":
        from explainers.models import load_denoiser2d

        return load_denoiser2d("ring8", device=device)
    if model == "frame_model":
        from explainers.frame_model import load_frame_model

        return load_frame_model(device=device)
    raise ValueError(f"model must be one of {', '.join(MODELS)}; got {model!r}")


def modes_of(model: str, view: SpectralView) -> dict[str, str]:
    """The modes of `model`'s layers (the view holds every model's)."""
    v = as_view(SpectralView, view)
    return {layer: v.modes[layer] for layer in LAYERS[model]}


def normalized(base: nn.Module, modes: dict[str, str], n_iter: int, threshold: float, seed: int) -> nn.Module:
    """A normalized copy (the base is never touched), in eval mode: looking does not iterate."""
    return SN.apply_layer_modes(base, modes, n_power_iterations=n_iter, threshold=threshold, seed=seed).eval()


@dataclass(frozen=True)
class LayerSpectrum:
    layer: str
    mode: str
    shape: tuple
    before: np.ndarray  # singular values of the reshaped raw weight, largest first
    after: np.ndarray  # of the effective (normalized) weight


def spectra(base: nn.Module, norm: nn.Module, modes: dict[str, str]) -> list[LayerSpectrum]:
    raw, eff = SN.normalizable_layers(base), SN.normalizable_layers(norm)
    out = []
    for layer, mode in modes.items():
        w_raw = raw[layer].weight.detach()
        out.append(LayerSpectrum(layer, mode, tuple(w_raw.shape), SN.singular_values(w_raw),
                                 SN.singular_values(SN.effective_weight(eff[layer]))))
    return out


def power_trace(base: nn.Module, layer: str, seed: int, n_iter: int = TRACE_ITERATIONS) -> tuple[np.ndarray, float]:
    """Power-iteration estimates after 1..n_iter steps from a seeded random start, and the exact sigma."""
    weight = SN.normalizable_layers(base)[layer].weight.detach().double()
    matrix = SN.reshape_to_matrix(weight, 0)
    v0 = torch.randn(matrix.shape[1], generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    return np.asarray(SN.power_iteration_trace(matrix, n_iter, v0)), float(SN.singular_values(matrix)[0])


def lipschitz(model: str, sigmas: dict[str, float]) -> tuple[float | None, str]:
    """The product-of-sigmas bound along the model's chain, and a sentence saying what it bounds."""
    chain = CHAINS[model]
    if not chain:
        return None, ("No product bound: the frame model has residual connections and FiLM modulation, "
                      "so the product of layer sigmas does not bound it.")
    if model == "gan":
        return (SN.chain_lipschitz_bound(sigmas, chain),
                "Bound on the discriminator's Lipschitz constant (LeakyReLU(0.2) is 1-Lipschitz).")
    return SN.chain_lipschitz_bound(sigmas, chain, SILU_MAX_SLOPE), (f"Bound on the denoiser's Lipschitz constant in x at a fixed noise level, including SiLU's "
                   f"maximum slope {SILU_MAX_SLOPE} per activation.")


@dataclass(frozen=True)
class ConvNorms:
    layer: str
    reshaped: float  # sigma of (out, in*kh*kw): what torch's SN divides by
    reshaped_t: float  # sigma of (in, out*kh*kw)
    bsn: float
    operator: float  # true operator norm, circular padding, at the layer's input size
    zero_padded: float  # operator norm of the real layer (its zero padding, stride, dilation), same size
    input_size: int
    stride: int
    bound: float  # sqrt(kh*kw) * reshaped


def conv_input_sizes(net: nn.Module, n: int = CONV_INPUT_SIZE) -> dict[str, int]:
    """The spatial size each conv layer sees in a forward pass on n x n frames (recorded by hooks)."""
    sizes, hooks = {}, []
    for name, conv in SN.normalizable_layers(net).items():
        if isinstance(conv, nn.Conv2d):
            hooks.append(conv.register_forward_hook(lambda m, inp, out, name=name: sizes.__setitem__(name, inp[0].shape[-1])))
    try:
        with torch.no_grad():
            net(torch.zeros(1, 1, n, n), torch.zeros(1, 2, n, n), 0.5)
    finally:
        for h in hooks:
            h.remove()
    return sizes


def zero_padded_norms(net: nn.Module, n: int = CONV_INPUT_SIZE) -> dict[str, float]:
    """The operator norm of every conv layer exactly as the model runs it (zero padding, stride, dilation),
    at the input size the layer really sees, by power iteration on the layer's own convolution."""
    sizes = conv_input_sizes(net, n)
    return {layer: SN.zero_padded_conv_operator_norm(SN.effective_weight(conv), sizes[layer], conv.stride[0],
                                                     conv.padding[0], conv.dilation[0])
            for layer, conv in SN.normalizable_layers(net).items() if isinstance(conv, nn.Conv2d)}


def conv_norms(net: nn.Module, n: int = CONV_INPUT_SIZE, base: nn.Module | None = None,
               base_zero_padded: dict[str, float] | None = None) -> list[ConvNorms]:
    """Reshaped, bidirectional and true operator norms of every conv layer's effective kernel, each at
    the input size the layer really sees (strided and dilated convolutions included).

    The zero-padded norm costs hundreds of convolutions per layer. Every mode divides the raw kernel by
    one number, and a norm scales with its kernel, so given `base` (the raw network) and its
    `base_zero_padded` norms the normalized layer's is the raw one times reshaped σ after / before."""
    sizes = conv_input_sizes(net, n)
    raw = SN.normalizable_layers(base) if base is not None else {}
    zero_padded = zero_padded_norms(net, n) if base_zero_padded is None else None
    rows = []
    for layer, conv in SN.normalizable_layers(net).items():
        if not isinstance(conv, nn.Conv2d):
            continue
        k = SN.effective_weight(conv).float()
        size, stride = sizes[layer], conv.stride[0]
        reshaped = SN.reshaped_sigma(k, 0)
        if zero_padded is None:
            zp = base_zero_padded[layer] * reshaped / SN.reshaped_sigma(raw[layer].weight.detach().float(), 0)
        else:
            zp = zero_padded[layer]
        rows.append(ConvNorms(layer=layer, reshaped=reshaped, reshaped_t=SN.reshaped_sigma(k, 1),
                              bsn=SN.bsn_sigma(k), input_size=size, stride=stride,
                              operator=SN.strided_conv_operator_norm(k, size, stride, conv.dilation[0]),
                              zero_padded=zp, bound=SN.conv_norm_upper_bound(k)))
    return rows


def conv_caption(rows: list[ConvNorms]) -> str:
    """Section 4's caption: every layer's numbers, and the input sizes, from the computation."""
    sizes = " or ".join(f"{n}×{n}" for n in sorted({r.input_size for r in rows}, reverse=True))
    worst = max(rows, key=lambda r: abs(r.operator - r.zero_padded) / r.zero_padded)
    return ("The frame model's conv layers with their modes from this page (choose 'frame model convs' to toggle "
            "them): reshaped σ, operator norm with circular padding, operator norm of the real zero-padded layer: "
            + "; ".join(f"{r.layer} {r.reshaped:.3g}, {r.operator:.3g}, {r.zero_padded:.3g}" for r in rows)
            + f". Both operator norms at each layer's real input size ({sizes}), with its stride and dilation; the "
            f"circular one exactly from the kernel's 2D FFT, the zero-padded one by power iteration on the layer's "
            f"own convolution. The model pads with zeros; the circular formula misses its norm by up to "
            f"{100 * abs(worst.operator - worst.zero_padded) / worst.zero_padded:.1f}% ({worst.layer}). Every operator "
            f"norm is at least the reshaped σ.")


N_MODES = 8  # the ring of 8 Gaussians both trainable models learn


def modes_covered(coverage) -> np.ndarray:
    """Mode coverage (a fraction of the 8 modes) as the count of modes, for a whole-number axis."""
    return np.rint(N_MODES * np.asarray(coverage, dtype=np.float64))


def gan_config(view: SpectralView):
    from explainers.spectral_training import GanConfig

    v = as_view(SpectralView, view)
    modes = modes_of("gan", v)
    return GanConfig(d_modes={k[2:]: m for k, m in modes.items() if k.startswith("D.")},
                     g_modes={k[2:]: m for k, m in modes.items() if k.startswith("G.")},
                     n_power_iterations=v.n_power_iterations, threshold=v.threshold, lr=float(v.lr))


def mode_summary(modes: dict[str, str]) -> str:
    on = [f"{layer}={MODE_LABELS[m]}" for layer, m in modes.items() if m != "off"]
    return ", ".join(on) if on else "all off"


def compare_line(modes: dict[str, str], sig_before: dict, sig_after: dict, bound_before, bound_after) -> str:
    """A (the chosen modes) against B (every layer off), in one line."""
    changed = [f"{layer} σ {sig_before[layer]:.2f} → {sig_after[layer]:.2f}" for layer, m in modes.items() if m != "off"]
    if not changed:
        return "every layer is off, so A (these modes) and B (all off) are the same network."
    line = f"A = {mode_summary(modes)} against B = all off: " + ", ".join(changed)
    if bound_before is not None:
        line += f"; Lipschitz bound {bound_after:.3g} (A) against {bound_before:.3g} (B)"
    return line + "."


TRAINABLE = ("gan", "denoiser2d")  # models with a live run in section 5
DENOISER_DATASET = "ring8"
N_EVAL_SAMPLES = 1000
EVAL_STEPS = 50


def mode_centres(model: str) -> np.ndarray:
    """The 8 true mode centres of the data a trainable model learns, (8, 2): the GAN's ring has radius 2,
    the denoiser's (explainers.data2d, standardised to unit variance) radius 1.407."""
    if model == "gan":
        from explainers.gan import ring8_centers

        return ring8_centers()
    from explainers.data2d import get_dataset

    return get_dataset(DENOISER_DATASET).means.numpy()


def finetune_config(view: SpectralView):
    from explainers.spectral_training import FinetuneConfig

    v = as_view(SpectralView, view)
    return FinetuneConfig(modes=modes_of("denoiser2d", v), n_power_iterations=v.n_power_iterations,
                          threshold=v.threshold, lr=float(v.lr), dataset=DENOISER_DATASET,
                          n_eval_samples=N_EVAL_SAMPLES, eval_steps=EVAL_STEPS)


@dataclass(frozen=True)
class DenoiserSamples:
    points: np.ndarray  # (n, 2) float32
    coverage: float
    energy_distance: float


def denoiser_samples(net: nn.Module, seed: int, n: int = N_EVAL_SAMPLES, steps: int = EVAL_STEPS) -> DenoiserSamples:
    """n samples from a (normalized) denoiser: DDIM (eta = 0), `steps` steps of the cosine schedule,
    from seeded noise, scored against the ring of 8 Gaussians. The same noise as the fine-tune's
    snapshots, so its step-0 picture is this one."""
    from explainers.data2d import quality_score
    from explainers.sampling import sample_ddim, step_alphas_cumprod
    from explainers.schedules import make_schedule

    abar_steps = step_alphas_cumprod(make_schedule("cosine", T=1000).alphas_cumprod, steps)
    device = next(net.parameters()).device
    z = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed + 10_000)).to(device)
    with torch.no_grad():
        points = sample_ddim(net.eval(), z, abar_steps).cpu().numpy().astype(np.float32)
    scores = quality_score(points, DENOISER_DATASET)
    return DenoiserSamples(points, scores["mode_coverage"], scores["energy_distance"])


def progress_detail(model: str, record: dict) -> str:
    """The numbers the progress bar shows beside the step count while a run trains."""
    if model == "gan":
        return f"D loss {record['d_loss']:.3f}, D Lipschitz bound {record['d_lipschitz_bound']:.3g}"
    return f"loss {record['loss']:.3f}, Lipschitz bound {record['lipschitz_bound']:.3g}"


def run_row(model: str, number: int, label: str, view: SpectralView, history) -> dict:
    """One row of the session's run-history table."""
    v = as_view(SpectralView, view)
    # A run stopped before its first step has no numbers: its row says so instead of failing.
    def last(values, digits):
        return round(values[-1], digits) if values else None

    row = {"run": number, "modes": label, "power its": v.n_power_iterations, "lr": v.lr, "seed": v.seed,
           "steps": history.step[-1] if history.step else 0, "ended": history.stopped,
           "mode coverage": last(history.coverage, 3)}
    if model == "gan":
        row["max D Lipschitz bound"] = round(max(history.d_lipschitz_bound), 3) if history.d_lipschitz_bound else None
    else:
        row["coverage before"] = round(history.coverage[0], 3) if history.coverage else None
        row["energy distance"] = last(history.energy_distance, 4)
        row["Lipschitz bound"] = last(history.lipschitz_bound, 3)
    row["seconds"] = round(history.elapsed_s, 1)
    return row


def curve_panels(model: str, history) -> tuple[list, str]:
    """The training-curve panels (title, [(name, values)], log y) and the caption's numbers."""
    if model == "gan":
        bound = history.d_lipschitz_bound
        return [("losses", [("D loss", history.d_loss), ("G loss", history.g_loss)], False),
                ("gradient norms", [("D grad", history.d_grad_norm), ("G grad", history.g_grad_norm)], True),
                ("D layer σ", list(history.d_sigmas.items()), True),
                ("D Lipschitz bound", [("bound", bound)], True)], (
            f"Per step. D Lipschitz bound: max {max(bound):.3g}, final {bound[-1]:.3g}. "
            f"Final D loss {history.d_loss[-1]:.3f}, G loss {history.g_loss[-1]:.3f}.")
    bound = history.lipschitz_bound
    return [("v-prediction loss", [("loss", history.loss)], True),
            ("gradient norm (before clipping at 1)", [("grad", history.grad_norm)], True),
            ("layer σ", list(history.sigmas.items()), True),
            ("Lipschitz bound in x", [("bound", bound)], True)], (
        f"Per step. Loss first {history.loss[0]:.3f}, last {history.loss[-1]:.3f} (each step a fresh batch of "
        f"512, so it is noisy). Lipschitz bound in x: first {bound[0]:.3g}, last {bound[-1]:.3g}.")


def runs_line(model: str, a: dict, b: dict) -> str:
    """The last two training runs of this session, in one line (a run stopped before its first step
    has no numbers: "none")."""
    def pair(column: str, spec: str) -> str:
        return " vs ".join("none" if r[column] is None else format(r[column], spec) for r in (a, b))

    line = (f"run {a['run']} ({a['modes']}) against run {b['run']} ({b['modes']}): "
            f"mode coverage {pair('mode coverage', '.2f')}")
    if model == "gan":
        return line + f", max D Lipschitz bound {pair('max D Lipschitz bound', '.3g')}."
    return line + f", energy distance {pair('energy distance', '.3g')}."


def last_run_shown(model: str, label: str, history) -> tuple[str, F.Shown | None, F.Shown, F.Shown]:
    """The last training run: a summary line, its curves (None before the first step), its final samples
    and its mode coverage over the run. Needs at least one snapshot (history.coverage not empty)."""
    summary = (f"**Last run:** {label}; {history.step[-1] if history.step else 0} steps ({history.stopped}), "
               f"{history.elapsed_s:.1f} s, mode coverage {history.coverage[0]:.2f} at the first snapshot, "
               f"{history.coverage[-1]:.2f} at the last.")
    curves = None
    if history.step:
        panels, numbers = curve_panels(model, history)
        curves = F.Shown(F.training_curves(np.asarray(history.step), panels), numbers)
    who = "generator" if model == "gan" else "denoiser"
    samples = F.Shown(
        F.scatter_2d(history.samples[-1], "generated samples", reference=mode_centres(model), limit=3.0,
                     reference_name="the 8 true mode centres"),
        f"{len(history.samples[-1]):,} {who} samples at step {history.sample_steps[-1]} (blue) and the "
        f"8 true modes (grey); mode coverage {history.coverage[-1]:.2f}.")
    coverage = F.Shown(
        F.coverage_curve(np.asarray(history.sample_steps), modes_covered(history.coverage), N_MODES),
        "How many of the 8 modes get at least a quarter of their fair share of the samples, every 100 steps "
        "(mode coverage in the table is this count / 8)"
        + (" (step 0: the normalized denoiser before fine-tuning)." if model != "gan" else "."))
    return summary, curves, samples, coverage


def key_numbers(sig_after: dict[str, float], bound_after: float | None) -> list[tuple[str, float, str]]:
    """The numbers the pin-and-compare table sets side by side: each layer's σ with its mode, and the bound."""
    rows = [(f"σ of {layer}, with its mode", float(sigma), ".3f") for layer, sigma in sig_after.items()]
    if bound_after is not None:
        rows.append(("Lipschitz bound, with these modes", float(bound_after), ".3g"))
    return rows


def snippet(view: SpectralView, model: str):
    """'Show the code' for these modes: torch's spectral_norm where it applies (explainers/snippets.py)."""
    from explainers.snippets import spectral_snippet

    return spectral_snippet(view, model)


def surface_shown(snapshot: dict, bound: float | None, where: str) -> F.Shown:
    """The GAN at one snapshot: D's surface over the plane, G's samples, the true modes, and the numbers
    that make "SN flattens D" checkable: the mean and largest ‖∇ₓ D‖ over the plane against the bound."""
    from explainers.spectral_training import SURFACE_GRID, SURFACE_LIMIT

    grid = np.linspace(-SURFACE_LIMIT, SURFACE_LIMIT, SURFACE_GRID)
    fig = F.discriminator_surface(grid, snapshot["surface"], snapshot["samples"], mode_centres("gan"),
                                  f"D(x) and G's samples, {where}")
    bound_text = f"; D's Lipschitz bound {bound:.3g}, which no gradient can exceed" if bound is not None else ""
    return F.Shown(fig, (
        f"Colour: the discriminator's score D(x) (vermillion: 'real', blue: 'fake'); black: {len(snapshot['samples']):,} "
        f"generated points; circles: the 8 true modes. ‖∇ₓ D‖ over the plane: mean {snapshot['d_grad_mean']:.3g}, "
        f"largest {snapshot['d_grad_max']:.3g}{bound_text}. Mode coverage {snapshot['coverage']:.2f}."))


def live_shown(model: str, run) -> list[F.Shown]:
    """What a live run shows between steps: the GAN's surface and samples (or the denoiser's samples), and the
    curves so far."""
    now = run.current()
    history = run.history
    shown = []
    if model == "gan":
        bound = history.d_lipschitz_bound[-1] if history.d_lipschitz_bound else None
        shown.append(surface_shown(now, bound, f"step {now['step']}"))
    else:
        shown.append(F.Shown(F.scatter_2d(now["samples"], f"denoiser samples, step {now['step']}",
                                          reference=mode_centres(model), limit=3.0,
                                          reference_name="the 8 true mode centres"),
                             f"Step {now['step']}: mode coverage {now['coverage']:.2f}."))
    if history.step:
        panels, numbers = curve_panels(model, history)
        shown.append(F.Shown(F.training_curves(np.asarray(history.step), panels[:1] + panels[-1:]), numbers))
    return shown


def replay_shown(model: str, history, index: int) -> F.Shown:
    """A finished run at snapshot `index`, the scrubber's picture: the GAN's surface and samples, or the
    fine-tuned denoiser's samples."""
    step = history.sample_steps[index]
    snapshot = {key: getattr(history, key)[index] for key in history.PER_SNAPSHOT}
    if model == "gan":
        bound = history.d_lipschitz_bound[history.step.index(step)] if step in history.step else None
        return surface_shown(snapshot, bound, f"step {step}")
    return F.Shown(F.scatter_2d(snapshot["samples"], f"denoiser samples, step {step}", reference=mode_centres(model),
                                limit=3.0, reference_name="the 8 true mode centres"),
                   f"The fine-tuned denoiser's {len(snapshot['samples']):,} samples at step {step} (step 0: before "
                   f"fine-tuning); mode coverage {snapshot['coverage']:.2f}, energy distance to the data "
                   f"{snapshot['energy_distance']:.3g}.")
