"""Train the project's small models: one subcommand per model, each with a fixed seed.

    python -m explainers.train toy2d --dataset ring8    # 2D denoiser (explainers.train2d)
    python -m explainers.train video ...                 # frame model (explainers.train_video)
    python -m explainers.train gan ...                   # SN-GAN demo (explainers.spectral_training)

Each subcommand's module is imported only when it is chosen, so one missing or slow module never
blocks the others.
"""

from __future__ import annotations

import importlib
import sys

SUBCOMMANDS = {
    "toy2d": "explainers.train2d",
    "video": "explainers.train_video",
    "gan": "explainers.spectral_training",
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS:
        choices = ", ".join(SUBCOMMANDS)
        print(f"usage: python -m explainers.train {{{choices}}} [options]\n"
              f"subcommand must be one of {choices}; add --help after it for its options", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]])
    return module.main(argv[1:]) or 0


if __name__ == "__main__":
    raise SystemExit(main())
