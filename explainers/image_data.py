"""A small procedural grayscale image, so the forward process can be shown on a picture too."""

from __future__ import annotations

import numpy as np


def procedural_image(size: int = 48) -> np.ndarray:
    """A disc, a square and stripes on a dark background: shapes a viewer can spot through noise.

    Returned standardised to mean 0 and variance 1 (so Var[x_t] should stay 1 under a VP
    schedule), as float64 of shape (size, size).
    """
    y, x = np.mgrid[0:size, 0:size] / (size - 1)
    img = np.zeros((size, size))
    img[(x - 0.32) ** 2 + (y - 0.35) ** 2 < 0.2**2] = 1.0
    img[(abs(x - 0.72) < 0.15) & (abs(y - 0.68) < 0.15)] = 0.7
    stripes = (np.sin(x * 2 * np.pi * 6) > 0) & (y > 0.82)
    img[stripes] = 0.45
    return (img - img.mean()) / img.std()
