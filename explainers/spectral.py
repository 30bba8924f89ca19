"""Spectral normalization, optionally per layer (Miyato et al. 2018, "Spectral Normalization for GANs").

A layer's spectral norm sigma(W) is its largest singular value: the most it can stretch any input,

    ||W x|| <= sigma(W) ||x||.

Spectral normalization replaces W by W_SN = W / sigma(W), so every normalized layer stretches by
at most 1. With 1-Lipschitz activations (ReLU, LeakyReLU(0.2), tanh) the whole network's
Lipschitz constant is then at most the product of its layers' sigmas.

Three ways of getting sigma appear here, because the page contrasts them:
- power iteration (cheap, an estimate; what torch.nn.utils.parametrizations.spectral_norm does),
- the exact largest singular value of the weight reshaped to a matrix (what SN *aims* for),
- for convolutions, the true operator norm (Sedghi et al. 2019), which the reshaped sigma is not.

Inputs ``W`` / ``kernel`` may be numpy arrays or torch tensors, in torch layout: a linear weight is
(out, in), a conv kernel (out, in, kh, kw). Functions return Python floats or numpy arrays.
"""

from __future__ import annotations

import copy
import math
from typing import Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm

from explainers.checks import check_int

EPS = 1e-12  # torch's spectral_norm eps: keeps normalize() finite for an all-zero vector
WARMUP_ITERATIONS = 15  # torch runs this many power iterations when SN is attached to a layer

MODES = ("off", "sn", "bsn", "optional")
N_POWER_ITERATIONS_RANGE = (1, 100)
THRESHOLD_RANGE = (1e-3, 1e3)
NORMALIZABLE = (nn.Linear, nn.Conv2d)
SILU_MAX_SLOPE = 1.0998  # max over x of d/dx [x * sigmoid(x)] (at x ~ 2.4): SiLU is not 1-Lipschitz



# ---------------------------------------------------------------------------------------------
# Measuring sigma: power iteration, reshaped sigma, conv operator norm.
# ---------------------------------------------------------------------------------------------


def _as_tensor(x, name: str) -> torch.Tensor:
    """A CPU tensor in the input's precision: float32 stays float32 (fast, enough for a plot),
    everything else becomes float64 (so the tests can compare with the references to 1e-7)."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        t = x if x.dtype in (torch.float32, torch.float64) else x.double()
    else:
        x = np.asarray(x)
        t = torch.as_tensor(x if x.dtype in (np.float32, np.float64) else x.astype(np.float64))
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must contain only finite numbers")
    return t


def reshape_to_matrix(weight: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Move axis `dim` to the front and flatten the rest, as torch's spectral_norm does.

    A conv kernel (out, in, kh, kw) becomes (out, in*kh*kw) for dim=0 and (in, out*kh*kw) for dim=1.
    """
    if not -weight.ndim <= dim < weight.ndim:
        raise ValueError(f"dim must be in [0, {weight.ndim - 1}] for a weight with {weight.ndim} axes, got {dim}")
    if dim != 0:
        weight = weight.movedim(dim, 0)
    return weight.flatten(1)


def _weight_matrix(W, name: str = "W") -> torch.Tensor:
    W = _as_tensor(W, name)
    if W.ndim < 2:
        raise ValueError(f"{name} must have at least 2 axes (a matrix or a conv kernel), got shape {tuple(W.shape)}")
    return reshape_to_matrix(W, 0)


def _check_n_iter(n_iter) -> None:
    check_int("n_iter", n_iter, 1, 10_000)


def power_iteration_trace(W, n_iter: int, v0=None) -> list[float]:
    """The power-iteration estimate of sigma(W) after each of n_iter iterations, starting from v0.

    Same update order as torch.nn.utils.parametrizations.spectral_norm:
        u = normalize(W v),   v = normalize(W^T u),   sigma = u . (W v).
    Each estimate is <= the true sigma (u and v are unit vectors) and climbs towards it; how fast
    depends on the gap between the two largest singular values. v0 defaults to a fixed random
    vector (seed 0); conv kernels are reshaped to (out, in*kh*kw) first.
    """
    _check_n_iter(n_iter)
    W = _weight_matrix(W)
    if v0 is None:
        v0 = torch.randn(W.shape[1], generator=torch.Generator().manual_seed(0))
    v = _as_tensor(v0, "v0").flatten().to(W.dtype)
    if v.numel() != W.shape[1]:
        raise ValueError(f"v0 must have {W.shape[1]} entries (the columns of W), got {v.numel()}")
    v = F.normalize(v, dim=0, eps=EPS)
    estimates = []
    for _ in range(n_iter):
        u = F.normalize(W @ v, dim=0, eps=EPS)
        v = F.normalize(W.T @ u, dim=0, eps=EPS)
        estimates.append(float(u @ (W @ v)))
    return estimates


def power_iteration(W, n_iter: int, v0=None) -> float:
    """The sigma estimate after n_iter power iterations from v0 (see power_iteration_trace).

    REFERENCE.md: W = [[3, 0], [4, 5]], v0 = [1, 0] gives 6.4031242, 6.7041185, 6.7081534 after
    1, 2, 3 iterations; the exact sigma is sqrt(45) = 6.7082039.
    """
    return power_iteration_trace(W, n_iter, v0)[-1]


def singular_values(W_or_kernel, dim: int = 0) -> np.ndarray:
    """All singular values of the weight reshaped around `dim`, largest first (for spectrum plots)."""
    W = _as_tensor(W_or_kernel, "W_or_kernel")
    if W.ndim < 2:
        raise ValueError(f"W_or_kernel must have at least 2 axes, got shape {tuple(W.shape)}")
    return torch.linalg.svdvals(reshape_to_matrix(W, dim)).numpy()


def reshaped_sigma(kernel, dim: int = 0) -> float:
    """Largest singular value of the kernel reshaped around `dim`: the sigma that SN divides by.

    For a conv layer this is NOT the operator norm of the convolution; see conv_operator_norm.
    """
    return float(singular_values(kernel, dim)[0])


def bsn_sigma(kernel) -> float:
    """Bidirectional SN (Lin et al. 2021): the mean of the sigmas of the two reshapes,
    (out, in*kh*kw) and (in, out*kh*kw). For a linear layer both are sigma(W), so BSN = SN."""
    return 0.5 * (reshaped_sigma(kernel, 0) + reshaped_sigma(kernel, 1))


def conv_operator_norm(kernel, n: int) -> float:
    """The true operator norm of a stride-1 convolution with circular padding on n x n inputs.

    Sedghi, Gupta & Long 2019, "The Singular Values of Convolutional Layers", Theorem 6: the
    convolution is block-diagonalised by the 2D Fourier transform, so its singular values are those
    of the n*n per-frequency (out x in) matrices FFT2(kernel zero-padded to n x n)[:, :, p, q].
    For a 1->1 all-ones 3x3 kernel this is 9, while the reshaped sigma is 3.
    """
    K = _as_tensor(kernel, "kernel")
    if K.ndim != 4:
        raise ValueError(f"kernel must have 4 axes (out, in, kh, kw), got shape {tuple(K.shape)}")
    kh, kw = K.shape[-2:]
    check_int("n", n, max(kh, kw), 512)  # at least the kernel size
    # rfft2: a real kernel's spectrum is conjugate-symmetric, K(-p, -q) = conj(K(p, q)), and a
    # matrix and its conjugate have the same singular values, so half the frequencies suffice.
    per_frequency = torch.fft.rfft2(K, s=(n, n)).permute(2, 3, 0, 1)  # (n, n//2 + 1, out, in)
    return float(torch.linalg.svdvals(per_frequency)[..., 0].max())


def dilate_kernel(kernel: torch.Tensor, dilation: int) -> torch.Tensor:
    """A dilated kernel written as the dense kernel with dilation - 1 zeros between its taps."""
    if dilation == 1:
        return kernel
    out_c, in_c, kh, kw = kernel.shape
    dense = kernel.new_zeros(out_c, in_c, (kh - 1) * dilation + 1, (kw - 1) * dilation + 1)
    dense[:, :, ::dilation, ::dilation] = kernel
    return dense


def strided_conv_operator_norm(kernel, n: int, stride: int = 1, dilation: int = 1) -> float:
    """True operator norm of a convolution with circular padding on n x n inputs, any stride and dilation.

    Dilation: the same as the dense kernel with zeros between taps. Stride s keeps every s-th output
    pixel; in the Fourier domain that folds the s*s frequencies omega + j*n/s onto one (aliasing).
    For each of the (n/s)^2 output frequencies nu the map is then the (out x s^2*in) matrix
    A(nu) = [K(nu + j*n/s)]_j, and ||conv|| = max_nu sigma_max(A(nu)) / s. For s = 1 this is
    conv_operator_norm (Sedghi et al. 2019); n must be a multiple of s.
    """
    check_int("stride", stride, 1, 8)
    check_int("dilation", dilation, 1, 8)
    K = dilate_kernel(_as_tensor(kernel, "kernel"), int(dilation))
    if stride == 1:
        return conv_operator_norm(K, n)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n % stride or not max(K.shape[-2:]) <= n <= 512:
        raise ValueError(f"n must be a multiple of stride {stride} in [{max(K.shape[-2:])}, 512], got {n!r}")
    m = n // stride
    spectrum = torch.fft.fft2(K, s=(n, n))  # (out, in, n, n)
    # Put the aliases of each output frequency side by side: (m, m, out, s*s*in).
    aliases = spectrum.reshape(*spectrum.shape[:2], stride, m, stride, m).permute(3, 5, 0, 2, 4, 1)
    blocks = aliases.reshape(m, m, K.shape[0], stride * stride * K.shape[1])
    return float(torch.linalg.svdvals(blocks)[..., 0].max()) / stride


ZERO_PADDED_ITERATIONS = 500  # power iterations on A^T A: enough for 4 digits on the frame model's layers
ZERO_PADDED_RTOL = 1e-7  # stop earlier once an iteration changes the estimate by less than this


def zero_padded_conv_operator_norm(kernel, n: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                                   n_iter: int = ZERO_PADDED_ITERATIONS, seed: int = 0) -> float:
    """Operator norm of the convolution exactly as a layer applies it, with its own zero padding, stride
    and dilation, on n x n inputs: power iteration on A^T A, with A = conv2d and A^T = conv_transpose2d.

    Zero padding breaks the Fourier diagonalisation that conv_operator_norm relies on (a pixel near the
    border meets zeros, not the opposite edge), so the circular norm is only an approximation of the real
    layer; this one iterates the real layer. The result, ||A x|| for a unit x, is a lower bound that
    climbs to the norm; float64, from a seeded random start.
    """
    K = _as_tensor(kernel, "kernel").double()
    if K.ndim != 4:
        raise ValueError(f"kernel must have 4 axes (out, in, kh, kw), got shape {tuple(K.shape)}")
    for name, value, low in (("stride", stride, 1), ("dilation", dilation, 1), ("padding", padding, 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not low <= value <= 8:
            raise ValueError(f"{name} must be an integer in [{low}, 8], got {value!r}")
    reach = dilation * (max(K.shape[-2:]) - 1) + 1  # the extent of one receptive field
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not max(reach - 2 * padding, 1) <= n <= 512:
        raise ValueError(f"n must be an integer in [{max(reach - 2 * padding, 1)}, 512] (the input must hold one "
                         f"receptive field), got {n!r}")
    _check_n_iter(n_iter)

    def forward(x):
        return F.conv2d(x, K, stride=stride, padding=padding, dilation=dilation)

    out_size = forward(K.new_zeros(1, K.shape[1], n, n)).shape[-2:]
    # conv_transpose2d with the same settings is the adjoint; output_padding restores the n x n size
    # that the stride's floor division lost.
    extra = [n - ((o - 1) * stride - 2 * padding + dilation * (k - 1) + 1) for o, k in zip(out_size, K.shape[-2:])]

    def adjoint(y):
        return F.conv_transpose2d(y, K, stride=stride, padding=padding, dilation=dilation, output_padding=tuple(extra))

    x = torch.randn(1, K.shape[1], n, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    x = x / torch.linalg.vector_norm(x).clamp_min(EPS)
    sigma = 0.0
    for _ in range(n_iter):
        y = forward(x)
        estimate = float(torch.linalg.vector_norm(y))  # ||A x||, x a unit vector: never above the norm
        x = adjoint(y)
        x = x / torch.linalg.vector_norm(x).clamp_min(EPS)
        if estimate - sigma <= ZERO_PADDED_RTOL * estimate:
            return max(sigma, estimate)
        sigma = estimate
    return max(sigma, float(torch.linalg.vector_norm(forward(x))))


def conv_norm_upper_bound(kernel) -> float:
    """sqrt(kh*kw) * reshaped sigma: an upper bound on ||conv|| for stride 1 and any padding,
    because each input pixel appears in at most kh*kw of the patches the reshaped kernel multiplies."""
    K = _as_tensor(kernel, "kernel")
    kh, kw = K.shape[-2:] if K.ndim == 4 else (1, 1)
    return math.sqrt(kh * kw) * reshaped_sigma(K, 0)


# ---------------------------------------------------------------------------------------------
# Per-layer normalization as torch parametrizations: "off", "sn", "bsn", "optional".
# ---------------------------------------------------------------------------------------------


class PowerIterationSigma(nn.Module):
    """A running power-iteration estimate of sigma(W reshaped around dim), as in torch's spectral_norm.

    Keeps the vectors u, v between calls (so one iteration per training step is enough once W
    changes slowly); iterates only in training mode; 15 warm-up iterations at construction.
    """

    def __init__(self, weight: torch.Tensor, dim: int = 0, n_power_iterations: int = 1):
        super().__init__()
        self.dim = dim
        self.n_power_iterations = n_power_iterations
        weight_mat = reshape_to_matrix(weight.detach(), dim)
        h, w = weight_mat.shape
        self.register_buffer("_u", F.normalize(weight_mat.new_empty(h).normal_(), dim=0, eps=EPS))
        self.register_buffer("_v", F.normalize(weight_mat.new_empty(w).normal_(), dim=0, eps=EPS))
        self._power_method(weight_mat, WARMUP_ITERATIONS)

    @torch.no_grad()
    def _power_method(self, weight_mat: torch.Tensor, n_iterations: int) -> None:
        # In place, so the vectors persist in the buffers from one step to the next.
        for _ in range(n_iterations):
            self._u.copy_(F.normalize(weight_mat @ self._v, dim=0, eps=EPS))
            self._v.copy_(F.normalize(weight_mat.mH @ self._u, dim=0, eps=EPS))

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        weight_mat = reshape_to_matrix(weight, self.dim)
        if self.training:
            self._power_method(weight_mat.detach(), self.n_power_iterations)
        # Clones: a GAN step backpropagates through several forwards, and the buffers change in between.
        u, v = self._u.clone(), self._v.clone()
        return torch.dot(u, weight_mat @ v)  # gradient flows through W, as in SN-GAN


class BidirectionalSpectralNorm(nn.Module):
    """W / ((sigma(out, in*kh*kw) + sigma(in, out*kh*kw)) / 2)   (Lin et al. 2021, "Why Spectral
    Normalization Stabilizes GANs: Analysis and Improvements"). Both sigmas by power iteration."""

    def __init__(self, weight: torch.Tensor, n_power_iterations: int = 1):
        super().__init__()
        self.sigma_out = PowerIterationSigma(weight, 0, n_power_iterations)
        self.sigma_in = PowerIterationSigma(weight, 1, n_power_iterations)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / (0.5 * (self.sigma_out(weight) + self.sigma_in(weight)))


class OptionalSpectralNorm(nn.Module):
    """W / max(1, sigma(W) / threshold): leaves the layer alone while sigma <= threshold and
    pulls sigma back down to the threshold once it exceeds it (threshold 1 = SN only when needed)."""

    def __init__(self, weight: torch.Tensor, threshold: float = 1.0, n_power_iterations: int = 1):
        super().__init__()
        self.threshold = threshold
        self.sigma = PowerIterationSigma(weight, 0, n_power_iterations)

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight / torch.clamp(self.sigma(weight) / self.threshold, min=1.0)


def _check_settings(n_power_iterations, threshold) -> None:
    low, high = N_POWER_ITERATIONS_RANGE
    if isinstance(n_power_iterations, bool) or not isinstance(n_power_iterations, (int, np.integer)) \
            or not low <= n_power_iterations <= high:
        raise ValueError(f"n_power_iterations must be an integer in [{low}, {high}], got {n_power_iterations!r}")
    low, high = THRESHOLD_RANGE
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.integer, np.floating)) \
            or not math.isfinite(threshold) or not low <= threshold <= high:
        raise ValueError(f"threshold must be a number in [{low:g}, {high:g}], got {threshold!r}")


def normalizable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The layers a mode can be set on (Linear and Conv2d), by their names in model.named_modules()."""
    return {name: m for name, m in model.named_modules() if isinstance(m, NORMALIZABLE) and name}


def _set_mode(layer: nn.Module, mode: str, n_power_iterations: int, threshold: float) -> None:
    # A mode replaces whatever the layer had before, so "off" really means the raw weight again.
    if parametrize.is_parametrized(layer, "weight"):
        parametrize.remove_parametrizations(layer, "weight", leave_parametrized=False)
    if mode == "sn" or (mode == "bsn" and isinstance(layer, nn.Linear)):
        # For a linear layer the two reshapes are W and W^T, with the same sigma: BSN is SN.
        spectral_norm(layer, n_power_iterations=n_power_iterations, eps=EPS)
    elif mode == "bsn":
        parametrize.register_parametrization(layer, "weight", BidirectionalSpectralNorm(layer.weight, n_power_iterations))
    elif mode == "optional":
        parametrize.register_parametrization(
            layer, "weight", OptionalSpectralNorm(layer.weight, threshold, n_power_iterations))


def apply_layer_modes(model: nn.Module, modes: Mapping[str, str], n_power_iterations: int = 1,
                      threshold: float = 1.0, seed: int = 0) -> nn.Module:
    """A NEW deep copy of `model` with each named layer's normalization set to its mode.

    modes maps layer names (see normalizable_layers) to "off" | "sn" | "bsn" | "optional"; layers
    not named keep what they have. The input model is never touched: shared, cached models stay
    as they are. The random start vectors of the power iterations come from `seed`, so the same
    call gives the same model, and the global random state is left as it was.
    """
    _check_settings(n_power_iterations, threshold)
    layers = normalizable_layers(model)
    for name, mode in modes.items():
        if name not in layers:
            raise ValueError(f"modes: unknown layer {name!r}; valid layer names are {', '.join(layers) or '(none)'}")
        if mode not in MODES:
            raise ValueError(f"modes[{name!r}] must be one of {', '.join(MODES)}; got {mode!r}")
    model = copy.deepcopy(model)
    layers = normalizable_layers(model)
    devices = sorted({p.device.index or 0 for p in model.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for name, mode in modes.items():
            _set_mode(layers[name], mode, n_power_iterations, threshold)
    return model


def effective_weight(layer: nn.Module) -> torch.Tensor:
    """The weight the layer actually multiplies by (after its parametrization), without running a
    power iteration: the parametrization is evaluated as in eval mode, then put back as it was.
    (That brief flag flip is why normalized layers belong to per-session copies, never shared models.)"""
    if not parametrize.is_parametrized(layer, "weight"):
        return layer.weight.detach()
    chain = layer.parametrizations.weight
    was_training = [m.training for m in chain.modules()]
    chain.eval()
    try:
        with torch.no_grad():
            return layer.weight.detach()
    finally:
        for m, flag in zip(chain.modules(), was_training):
            m.training = flag


def layer_sigmas(model: nn.Module) -> dict[str, float]:
    """Exact sigma of every Linear/Conv2d layer's effective weight (conv kernels reshaped to
    (out, in*kh*kw), the matrix SN controls), by its largest singular value."""
    sigmas = {}
    for name, layer in normalizable_layers(model).items():
        weight_mat = reshape_to_matrix(effective_weight(layer).double(), 0)
        sigmas[name] = float(torch.linalg.matrix_norm(weight_mat, ord=2))
    return sigmas


def lipschitz_bound(model: nn.Module, sigmas: Mapping[str, float] | None = None) -> float:
    """Upper bound on the Lipschitz constant: the product of the layers' sigmas.

    Valid only for a plain chain of layers with 1-Lipschitz activations in between (ReLU,
    LeakyReLU(0.2), tanh; no residual connections, no normalization layers), since then
    Lip(f o g) <= Lip(f) Lip(g). A conv layer contributes sqrt(kh*kw) * its reshaped sigma,
    a bound on its operator norm for stride 1 and any padding. Pass `sigmas` (from layer_sigmas)
    to reuse them.
    """
    layers = normalizable_layers(model)
    sigmas = layer_sigmas(model) if sigmas is None else sigmas
    bound = 1.0
    for name, layer in layers.items():
        kernel_area = layer.kernel_size[0] * layer.kernel_size[1] if isinstance(layer, nn.Conv2d) else 1
        bound *= math.sqrt(kernel_area) * sigmas[name]
    return bound


def chain_lipschitz_bound(sigmas: Mapping[str, float], chain: Sequence[str], activation_slope: float = 1.0) -> float:
    """Upper bound on the Lipschitz constant of a chain of linear layers with an activation between
    each pair: the product of the layers' sigmas times activation_slope ** (len(chain) - 1), the
    activation's largest slope (1 for ReLU and LeakyReLU(0.2), SILU_MAX_SLOPE for SiLU)."""
    if not chain:
        raise ValueError("chain must name at least one layer")
    missing = [name for name in chain if name not in sigmas]
    if missing:
        raise ValueError(f"chain: no sigma for layer(s) {', '.join(missing)}; known layers are {', '.join(sigmas)}")
    return math.prod(sigmas[name] for name in chain) * activation_slope ** (len(chain) - 1)
