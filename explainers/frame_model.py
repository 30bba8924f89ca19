"""A small causal frame denoiser: the "student" that the backward-initialization page rolls out.

It generates frame n of a bouncing-ball video given the two clean frames before it (n-1 and n-2:
two frames fix both where the ball is and where it is going). Like Wan and Self-Forcing it is a
flow-matching model (Lipman et al. 2023; Liu et al. 2023, rectified flow):

    x_sigma = (1 - sigma) * x0 + sigma * eps,        sigma in [0, 1]
    the network predicts the velocity  v = eps - x0,  so  x0_hat = x_sigma - sigma * v_theta.

It is conditioned on sigma itself (not on an integer step), so any sigma list a slider makes works.
Seven named 3x3 convolutions, 32 to 48 channels, about 120k parameters (under 500 KB); sigma
enters through FiLM (a per-channel scale and shift of each hidden layer's features, Perez et al. 2018).
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

N_CONTEXT = 2  # previous clean frames the model sees
CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "frame_model.pt"
CHECKPOINT_FORMAT = "noise-lab/frame_model/v1"
RETRAIN_HINT = "python -m explainers.train video"


class CheckpointError(RuntimeError):
    """The shipped frame-model checkpoint is missing or unreadable."""


def x0_from_v(x: torch.Tensor, v: torch.Tensor, sigma) -> torch.Tensor:
    """Clean-frame prediction from a velocity prediction: x0_hat = x - sigma * v (flow matching)."""
    return x - _per_sample(sigma, x) * v


def _per_sample(sigma, like: torch.Tensor) -> torch.Tensor:
    """sigma as a float, a 0-d or a (B,) tensor -> shape (B, 1, 1, 1) broadcastable against like."""
    sigma = torch.as_tensor(sigma, dtype=like.dtype, device=like.device)
    return sigma.reshape(-1, 1, 1, 1) if sigma.ndim else sigma


def sigma_features(sigma: torch.Tensor, n_freq: int = 6) -> torch.Tensor:
    """Fourier features of sigma, (B,) -> (B, 2 n_freq + 1): sigma, sin and cos of 2^k pi sigma.

    A plain scalar is hard for a small MLP to turn into sharp changes; sines at several
    frequencies make "what noise level is this" easy to read off.
    """
    freqs = math.pi * 2.0 ** torch.arange(n_freq, dtype=sigma.dtype, device=sigma.device)
    angles = sigma[:, None] * freqs
    return torch.cat([sigma[:, None], torch.sin(angles), torch.cos(angles)], dim=1)


class FrameDenoiser(nn.Module):
    """v_theta(x_sigma, context, sigma): noisy frame (B,1,32,32), context (B,2,32,32) -> velocity (B,1,32,32).

    Context channel 0 is frame n-1, channel 1 is frame n-2. A small U-Net: one convolution at full
    resolution, three at half resolution (where a 3x3 kernel sees twice as far, for a quarter of
    the cost), then back up with a skip connection that keeps the sub-pixel detail of the ball.
    Receptive field about 25 pixels: enough to see the ball two frames back at the fastest speed.
    """

    def __init__(self, channels: int = 32, inner_channels: int = 48, n_freq: int = 6, embed_dim: int = 32):
        super().__init__()
        self.config = {"channels": channels, "inner_channels": inner_channels, "n_freq": n_freq,
                       "embed_dim": embed_dim}
        c, ci = channels, inner_channels
        self.conv_in = nn.Conv2d(1 + N_CONTEXT, c, 3, padding=1)  # 32x32
        self.conv_down = nn.Conv2d(c, ci, 3, stride=2, padding=1)  # -> 16x16
        self.conv_inner1 = nn.Conv2d(ci, ci, 3, padding=1)
        self.conv_inner2 = nn.Conv2d(ci, ci, 3, padding=2, dilation=2)
        self.conv_inner3 = nn.Conv2d(ci, ci, 3, padding=1)
        self.conv_up = nn.Conv2d(ci + c, c, 3, padding=1)  # after upsampling back to 32x32, with the skip
        self.conv_out = nn.Conv2d(c, 1, 3, padding=1)
        self.hidden = ["conv_in", "conv_down", "conv_inner1", "conv_inner2", "conv_inner3", "conv_up"]
        self.widths = [c, ci, ci, ci, ci, c]
        self.sigma_embed = nn.Sequential(nn.Linear(2 * n_freq + 1, embed_dim), nn.SiLU())
        # One (scale, shift) pair per channel of every hidden layer, all from one linear map,
        # zero at the start so training begins from an unconditioned network.
        self.film = nn.Linear(embed_dim, 2 * sum(self.widths))
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)
        self.act = nn.SiLU()

    def conv_layers(self) -> list[tuple[str, nn.Conv2d]]:
        """The convolutions in the order data flows through them, with their names."""
        return [(name, getattr(self, name)) for name in self.hidden + ["conv_out"]]

    def forward(self, x: torch.Tensor, context: torch.Tensor, sigma) -> torch.Tensor:
        sigma = torch.as_tensor(sigma, dtype=x.dtype, device=x.device).reshape(-1).expand(x.shape[0])
        film = self.film(self.sigma_embed(sigma_features(sigma, self.config["n_freq"])))
        films = iter(torch.split(film, [2 * w for w in self.widths], dim=1))

        def layer(name: str, h: torch.Tensor) -> torch.Tensor:
            scale, shift = next(films).view(len(h), 2, -1, 1, 1).unbind(1)
            return self.act(getattr(self, name)(h) * (1 + scale) + shift)

        skip = layer("conv_in", torch.cat([x, context], dim=1))
        h = layer("conv_down", skip)
        for name in ("conv_inner1", "conv_inner2", "conv_inner3"):
            h = h + layer(name, h)  # residual: trains faster in the few minutes we allow
        h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = layer("conv_up", torch.cat([h, skip], dim=1))
        return self.conv_out(h)


def load_frame_model(device: str | torch.device = "cpu", path: str | Path | None = None) -> FrameDenoiser:
    """The shipped, trained frame model in eval mode, with gradients off.

    Raises CheckpointError naming the file and the command that rebuilds it when the file is
    missing or is not a frame-model checkpoint.
    """
    from explainers.paths import checkpoint_dir

    path = Path(path) if path is not None else checkpoint_dir() / CHECKPOINT.name
    if not path.is_file():
        raise CheckpointError(f"frame model checkpoint not found: {path}. Rebuild it with `{RETRAIN_HINT}`.")
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"not a {CHECKPOINT_FORMAT} file")
        model = FrameDenoiser(**saved["config"])
        model.load_state_dict(saved["state_dict"])
    except Exception as error:  # a truncated or foreign file fails in many ways; all mean "rebuild it"
        # Our own reason in full; of torch's errors only the type: their text suggests
        # weights_only=False, which this project never uses.
        reason = str(error) if isinstance(error, ValueError) else type(error).__name__
        raise CheckpointError(f"frame model checkpoint {path} is corrupt or from another version ({reason}). "
                              f"Rebuild it with `{RETRAIN_HINT}`.") from error
    model.requires_grad_(False)
    return model.eval().to(device)
