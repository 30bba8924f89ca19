"""A small 2D GAN on the ring of 8 Gaussians: the classic toy where mode collapse is visible.

Data: 8 equally weighted Gaussians with centres evenly spaced on a circle of radius 2 and standard
deviation 0.05 * radius (the "ring of 8 Gaussians" of Metz et al. 2017, "Unrolled GANs").
The models are small MLPs whose linear layers have names, so a page can switch spectral
normalization on and off layer by layer (see explainers.spectral.apply_layer_modes).
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import torch
from torch import nn

from explainers.checks import check_int
from explainers import data2d

RING8_RADIUS = 2.0
RING8_STD = 0.05 * RING8_RADIUS
N_MODES = data2d.N_MODES  # one mode per Gaussian of the ring


def ring8_centers(radius: float = RING8_RADIUS) -> np.ndarray:
    """The 8 mode centres, at angles 2 pi k / 8, as an (8, 2) float64 array."""
    angles = 2 * math.pi * np.arange(N_MODES) / N_MODES
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def ring8_sample(n: int, generator: torch.Generator, radius: float = RING8_RADIUS,
                 std: float | None = None, device: str | torch.device = "cpu") -> torch.Tensor:
    """n points from the ring of 8 Gaussians, an (n, 2) float32 tensor: pick a mode uniformly,
    add isotropic Gaussian noise of standard deviation std (default 0.05 * radius)."""
    check_int("n", n, 1, 10_000_000)
    std = 0.05 * radius if std is None else std
    gen_device = generator.device
    mode = torch.randint(N_MODES, (n,), generator=generator, device=gen_device)
    centers = torch.as_tensor(ring8_centers(radius), dtype=torch.float32, device=gen_device)
    noise = torch.randn(n, 2, generator=generator, device=gen_device)
    return (centers[mode] + std * noise).to(device)


def mode_coverage(samples, radius: float = RING8_RADIUS, std: float | None = None,
                  min_share: float = 1 / (4 * N_MODES)) -> dict:
    """How many of the 8 modes a set of samples reaches, and how many samples are any good.

    A sample "hits" mode k if it lies within 3 std of centre k (the 3-std disks do not overlap).
    A mode is covered if at least `min_share` of all samples hit it: by default a quarter of its
    fair share 1/8, so a handful of stray points does not count as covering a mode (the count is
    data2d.mode_coverage's, the one definition the diffusion pages use too).
    Returns coverage (covered modes / 8), the per-mode shares, and quality (share of samples
    that hit some mode: the rest fall between or off the modes).
    """
    std = 0.05 * radius if std is None else std
    x = np.asarray(samples.detach().cpu() if isinstance(samples, torch.Tensor) else samples, dtype=np.float64)
    distances = np.linalg.norm(x[:, None, :] - ring8_centers(radius)[None], axis=-1)  # (n, 8)
    hits = distances < 3 * std
    modes = np.where(hits.any(axis=1), hits.argmax(axis=1), -1)
    # data2d counts min_share in units of the fair share 1 / N_MODES; here it is a share of all samples.
    return {"coverage": data2d.mode_coverage(modes, len(x), min_share * N_MODES), "mode_shares": hits.mean(axis=0),
            "quality": float(hits.any(axis=1).mean())}


@contextlib.contextmanager
def seeded(seed: int):
    """Run the block with torch's global CPU random state set to `seed`, then restore it, so layer
    initialisation is reproducible and nothing else in the process sees a changed random state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Generator(nn.Module):
    """G: latent z ~ N(0, I) -> a 2D point. Three named linear layers with ReLU in between."""

    def __init__(self, latent_dim: int = 8, hidden: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.hidden1 = nn.Linear(latent_dim, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.hidden1(z))
        h = torch.relu(self.hidden2(h))
        return self.out(h)

    def linear_layers(self) -> list[tuple[str, nn.Linear]]:
        return [("hidden1", self.hidden1), ("hidden2", self.hidden2), ("out", self.out)]


class Discriminator(nn.Module):
    """D: a 2D point -> a real score (hinge loss: positive means "real").

    LeakyReLU(0.2) is 1-Lipschitz, so Lip(D) <= the product of the layers' sigmas.
    """

    def __init__(self, hidden: int = 64):
        super().__init__()
        self.hidden1 = nn.Linear(2, hidden)
        self.hidden2 = nn.Linear(hidden, hidden)
        self.hidden3 = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.hidden1(x))
        h = self.act(self.hidden2(h))
        h = self.act(self.hidden3(h))
        return self.out(h).squeeze(-1)

    def linear_layers(self) -> list[tuple[str, nn.Linear]]:
        return [("hidden1", self.hidden1), ("hidden2", self.hidden2), ("hidden3", self.hidden3), ("out", self.out)]


def make_gan(seed: int, latent_dim: int = 8, hidden: int = 64,
             device: str | torch.device = "cpu") -> tuple[Generator, Discriminator]:
    """A fresh (generator, discriminator) pair, initialised from `seed` (PyTorch's default init)."""
    with seeded(seed):
        generator = Generator(latent_dim, hidden)
        discriminator = Discriminator(hidden)
    return generator.to(device), discriminator.to(device)
