"""A small denoiser for 2D points, conditioned on the noise level through log-SNR.

The network predicts v (Salimans & Ho 2022, "Progressive Distillation", section 4):

    v = sqrt(abar) * eps - sqrt(1 - abar) * x0.

Why v and not eps: at zero terminal SNR (abar = 0, Lin et al. 2023) the input is pure noise, so
predicting eps is trivial and tells nothing about x0, and x0 = (x - sqrt(1 - abar) eps) / sqrt(abar)
divides by zero. v stays well defined (v = -x0 there) and both x0 and eps follow from it without
any division (see explainers.sampling).

Why log-SNR and not an integer step: one trained model then serves every schedule the sliders can
build, because any schedule is just a path through log-SNR values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

LOG_SNR_CLIP = 20.0  # log-SNR is clipped to [-20, 20]: covers abar from 2e-9 to 1 - 2e-9, and +-inf


class Denoiser2D(nn.Module):
    """MLP v-predictor: (x_t (n, 2), log_snr) -> v_hat (n, 2). Three hidden layers, SiLU.

    The noise level enters as Fourier features of the clipped log-SNR (Tancik et al. 2020; the
    sinusoidal embedding of Vaswani et al. 2017 / Ho et al. 2020), projected by ``in_noise`` and
    added to the bias of the first layer: first hidden = SiLU(W_x x + b_x + W_noise fourier(lambda)),
    the same as feeding [x, fourier(lambda)] into one layer.

    log_snr may be a float, a tensor of shape () or (1,) (one level for every point: the embedding
    is computed once), or of shape (n,) (one level per point, as in training).

    The default width is 64: it keeps 2,000 points x 100 sampling steps inside the 100 ms budget
    (DESIGN.md, Performance) on one CPU thread, and a wider net scored no better (docs/PERFORMANCE.md).
    """

    def __init__(self, hidden: int = 64, n_freqs: int = 16):
        super().__init__()
        # Periods from 2 to 160 log-SNR units: fine enough to tell neighbouring levels apart,
        # the longest nearly linear over the whole clipped range [-20, 20].
        periods = np.geomspace(2.0, 160.0, n_freqs)
        self.register_buffer("freqs", torch.tensor(2 * np.pi / periods, dtype=torch.float32), persistent=False)
        self.in_x = nn.Linear(2, hidden)
        self.in_noise = nn.Linear(2 * n_freqs + 1, hidden, bias=False)  # in_x has the bias
        self.hidden1 = nn.Linear(hidden, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 2)

    def linear_layers(self) -> list[tuple[str, nn.Linear]]:
        """Every linear layer with its name, input to output (for the spectral-normalization page)."""
        return [(name, m) for name, m in self.named_children() if isinstance(m, nn.Linear)]

    def embed_noise(self, log_snr: torch.Tensor) -> torch.Tensor:
        """Fourier features [lambda / 20, sin(w_k lambda), cos(w_k lambda)], lambda = clip(log_snr, -20, 20)."""
        lam = log_snr.clamp(-LOG_SNR_CLIP, LOG_SNR_CLIP)[:, None]
        angles = lam * self.freqs
        return torch.cat([lam / LOG_SNR_CLIP, angles.sin(), angles.cos()], dim=1)

    def forward(self, x: torch.Tensor, log_snr) -> torch.Tensor:
        log_snr = torch.as_tensor(log_snr, dtype=x.dtype, device=x.device).reshape(-1)
        # The noise level enters as a bias of the first layer: (1, hidden) for one level shared by
        # every point, (n, hidden) for one level per point.
        first_bias = self.in_x.bias + self.in_noise(self.embed_noise(log_snr))
        # Without autograd (sampling), SiLU may overwrite its input: one buffer fewer per layer,
        # about 10% of the sampling time on a CPU.
        inplace = not torch.is_grad_enabled()
        h = F.silu(F.linear(x, self.in_x.weight, first_bias), inplace=inplace)
        h = F.silu(self.hidden1(h), inplace=inplace)
        h = F.silu(self.hidden2(h), inplace=inplace)
        return self.out(h)


def checkpoint_path(dataset: str) -> Path:
    from explainers.paths import checkpoint_dir

    return checkpoint_dir() / f"denoiser2d_{dataset}.pt"


def rebuild_command(dataset: str) -> str:
    return f"python -m explainers.train toy2d --dataset {dataset}"


def load_denoiser2d(dataset: str, device: str | torch.device = "cpu") -> Denoiser2D:
    """The shipped denoiser for `dataset`, in eval mode on `device`. Read-only: share it, never train it.

    Raises FileNotFoundError (missing file) or RuntimeError (unreadable or mismatched file), each
    naming the file and the command that rebuilds it.
    """
    from explainers.data2d import get_dataset

    get_dataset(dataset)  # ValueError naming the valid datasets
    path = checkpoint_path(dataset)
    if not path.exists():
        raise FileNotFoundError(f"No checkpoint for dataset {dataset!r} at {path}. "
                                f"Rebuild it with: {rebuild_command(dataset)}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        hidden, n_features = state["in_noise.weight"].shape  # the sizes are read from the weights
        model = Denoiser2D(hidden=hidden, n_freqs=(n_features - 1) // 2)
        model.load_state_dict(state)
    except Exception as err:  # a truncated zip, a pickle error, a wrong shape: all mean "rebuild it"
        # The original error stays attached as __cause__; the message says what to do about it.
        raise RuntimeError(f"Checkpoint {path} could not be loaded ({type(err).__name__}: the file is truncated, "
                           f"corrupt or from another model version). "
                           f"Rebuild it with: {rebuild_command(dataset)}") from err
    model.requires_grad_(False)
    return model.to(device).eval()


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def describe(model: Denoiser2D) -> str:
    """One line: layer widths and parameter count, for captions."""
    widths = [model.in_x.in_features] + [m.out_features for name, m in model.linear_layers() if name != "in_noise"]
    return f"MLP {' -> '.join(map(str, widths))}, {count_parameters(model):,} parameters, predicts v"

