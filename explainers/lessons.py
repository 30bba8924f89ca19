"""Guided lessons: a few steps per explainer. Each step sets the page's controls through the same
URL values a link carries, says what to notice, and asks one question with its answer.

The numbers in the answers are what the shipped models and the default seed 0 show; the tests in
tests/test_lessons.py recompute them, so an answer cannot silently go stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Step:
    title: str
    params: dict  # URL values this step sets (keys of the page's PARAMS)
    notice: str  # two or three sentences: what to look at
    question: str
    answer: str
    hide: tuple[str, ...] = field(default=())  # controls a presenter link may hide for this step
    section: str = ""  # the page section (URL ?section=) the step opens, on a page that has sections


SCHEDULE_DEFAULTS = {"schedule": ("cosine",), "T": 1000, "ztsnr": False, "contrast": "none", "t": 499,
                     "dataset": "ring8", "sampler": "ddim", "steps": 50, "eta": 0.0, "step": 50}

SCHEDULE = (
    Step("One schedule: the linear DDPM recipe", {**SCHEDULE_DEFAULTS, "schedule": ("linear",)},
         "Figure 1 shows β_t rising in equal steps from 0.0001 to 0.02 (its panel has a log scale, so this "
         "straight ramp is drawn as a curve that flattens) and ᾱ_t, the signal that survives, falling. "
         "The tab “5 · At step t” shows the data and the image at t = 499.",
         "How much of the signal variance is left at t = 499 under the linear schedule?",
         "ᾱ₄₉₉ ≈ 0.079: only about 8% of the variance is still signal; 92% is noise.", section="schedule"),
    Step("Compare: linear against cosine", {**SCHEDULE_DEFAULTS, "schedule": ("linear", "cosine")},
         "Both schedules are overlaid. Look at where each one destroys its signal.",
         "Which schedule keeps more signal halfway, at t = 499?",
         "Cosine: ᾱ₄₉₉ ≈ 0.494 against 0.079 for linear. Cosine spreads the destruction evenly over the steps.",
         section="schedule"),
    Step("Variance preserving, and what is not", {**SCHEDULE_DEFAULTS, "contrast": "variance_exploding"},
         "Figure 2 stacks signal and noise variance: for VP they always fill exactly 1. The dashed line is "
         "a variance-exploding process, x = x₀ + σ ε.",
         "What is the total variance of the variance-exploding contrast at the last step?",
         "1 + 50² = 2501: the noise is added on top of the signal instead of replacing it.", section="schedule"),
    Step("Measured, not just theory", {**SCHEDULE_DEFAULTS, "contrast": "flow_matching"},
         "Figure 4 measures Var[x_t] on real forward-noised points and pixels. The VP markers sit on 1; "
         "flow matching, x = (1 − σ) x₀ + σ ε, dips.",
         "Where is the flow-matching variance lowest, and how low?",
         "Halfway, at σ = 0.5: (0.5)² + (0.5)² = 0.5, and the measured markers agree.", section="measured"),
    Step("Zero terminal SNR", {**SCHEDULE_DEFAULTS, "schedule": ("linear",), "ztsnr": True},
         "Lin et al. (2023) rescale the schedule so the last step holds no signal at all. Figure 3 marks "
         "the last point with ▼.",
         "What is log-SNR at the last step now, and why is it drawn at −20?",
         "−∞, because ᾱ = 0 exactly and log 0 = −∞. A plot cannot draw −∞, so it is clipped to −20 and marked.",
         section="schedule"),
    Step("Few sampling steps", {**SCHEDULE_DEFAULTS, "schedule": ("linear", "cosine"), "steps": 10, "step": 10},
         "Figure 6 generates 2,000 points with 10 DDIM steps per schedule, from the same noise. The table "
         "scores them against the true data, whose own row is at the bottom.",
         "With only 10 steps, which schedule's samples are closer to the data, and are they right?",
         "Cosine: its mean log-density, −0.47, is 0.15 from the data's own −0.31; linear's, −2.25, is 1.94 away, "
         "with more points off the modes (23% against 8%): linear spends most of its few steps where almost no "
         "signal is left. Cosine is not right either: its points are squeezed around the mode centres (a median "
         "spread of 57% of the data's), with a few stragglers between the modes.", section="generation"),
)

BACKWARD_DEFAULTS = {"reading": "denoising_step", "compare": False, "n_frames": 32, "steps": 4, "shift": 5.0,
                     "init_schedule": "constant", "sigma_init": 0.5, "form": "flow"}


def _backward_numbers() -> dict:
    """Numbers the backward lessons quote that cost nothing to compute; the ones that need a rollout are
    pinned by tests/test_lessons.py (test_backward_answers_match_the_model) to within 5 %."""
    from explainers.backward_init import shifted_sigmas
    from explainers.video_data import SPEED_RANGE

    sigmas = shifted_sigmas(BACKWARD_DEFAULTS["steps"], BACKWARD_DEFAULTS["shift"])
    return {"list": [f"{x:.4g}" for x in sigmas], "speed_range": SPEED_RANGE}


_B = _backward_numbers()

BACKWARD = (
    Step("The reading of Algorithm 1 and the appendix", {**BACKWARD_DEFAULTS},
         "t is the denoising step, as in Algorithm 1 and the appendix of Self-Forcing++ and in the Self-Forcing "
         "codebase it builds on: each frame starts from pure noise and takes 4 steps, re-noising its clean guess "
         "with fresh noise to the next, lower level. Look at the noise-level matrix.",
         "At which σ does every frame start?",
         f"σ = {_B['list'][0]} (pure noise), then {', '.join(_B['list'][1:-1])} and {_B['list'][-1]}: the shift-5 "
         "list of Self-Forcing."),
    Step("The literal reading: t as the frame index", {**BACKWARD_DEFAULTS, "reading": "temporal_index"},
         "Now frame n starts from frame n − 1's clean prediction re-noised to σ_init = 0.5, and continues with "
         "the list's levels below it. One σ_init for every frame is this app's construction; the sidebar offers "
         "σ indexed by frame as well.",
         "How many denoising steps does frame 3 take?",
         f"One: every level of the list ({', '.join(_B['list'])}) is above 0.5, so it only denoises once, at 0.5."),
    Step("Too little noise freezes motion", {**BACKWARD_DEFAULTS, "reading": "temporal_index", "sigma_init": 0.05},
         "With σ_init = 0.05 almost all of the previous frame survives. Watch the frames and the ball-speed curve.",
         "How fast does the ball move now, compared with the true video?",
         "About 0.096 pixels per frame against 1.1 in the true video (the training clips move at "
         f"{_B['speed_range'][0]:g} to {_B['speed_range'][1]:g}): the frames are copies, the motion stagnates."),
    Step("σ_init = 1: the two readings meet", {**BACKWARD_DEFAULTS, "compare": True, "sigma_init": 1.0},
         "Side by side, same seed. With σ_init = 1 the frame-index reading throws the previous frame away.",
         "How do the two rows of frames compare?",
         "They are identical: with σ_init = 1 nothing of the previous frame survives, and both readings use the "
         "same noise, so they run exactly the same steps."),
    Step("Past the training horizon", {**BACKWARD_DEFAULTS, "n_frames": 64},
         "The model was trained on 8-frame clips. Roll out 64 frames and look at the position-error curve.",
         "How does the position error in the last 8 frames compare with the first 8?",
         "It grows from about 3.1 px to about 15.9 px: errors accumulate frame by frame. This is what "
         "Self-Forcing++ trains against, by re-noising windows of long self-generated rollouts (section 4)."),
)

_D_LAYERS = ("D.hidden1", "D.hidden2", "D.hidden3", "D.out")
_GAN_LAYERS = (*_D_LAYERS, "G.hidden1", "G.hidden2", "G.out")
_DENOISER_LAYERS = ("in_x", "in_noise", "hidden1", "hidden2", "out")
# Every step sets every layer, so stepping back and forth never leaves a mode from another step.
SPECTRAL_DEFAULTS = {"model": "gan", "n_iter": 1, "threshold": 1.0, "trace_layer": "D.hidden1",
                     **{f"m_{k}": "off" for k in (*_GAN_LAYERS, *_DENOISER_LAYERS)}}

SPECTRAL = (
    Step("Every layer stretches", {**SPECTRAL_DEFAULTS},
         "All layers are off. Section 3 shows each layer's largest singular value σ: the most it can stretch an input.",
         "Which discriminator layer has the largest σ?",
         "D.hidden1, σ ≈ 3.5: its 2 inputs are spread over 64 outputs by PyTorch's default initialisation."),
    Step("Normalize one layer", {**SPECTRAL_DEFAULTS, "m_D.hidden1": "sn"},
         "Spectral normalization on D.hidden1 only. Compare its spectrum in section 1 with the raw one.",
         "What is D.hidden1's σ now, and did the other layers change?",
         "σ ≈ 1: the whole spectrum is divided by the old σ. The other layers are untouched."),
    Step("The whole discriminator", {**SPECTRAL_DEFAULTS, **{f"m_{k}": "sn" for k in _D_LAYERS}},
         "SN on every discriminator layer. LeakyReLU(0.2) is 1-Lipschitz, so the product of the sigmas bounds D.",
         "What is the discriminator's Lipschitz bound now? And what happened to D.out?",
         "About 1. D.out had σ ≈ 0.6 and SN scaled it *up* to 1: SN sets σ to about 1, it does not only shrink."),
    Step("Power iteration is an estimate", {**SPECTRAL_DEFAULTS, "trace_layer": "D.hidden1"},
         "Section 2 runs the power iteration SN uses, from a random start, for 20 iterations.",
         "Has the estimate for D.hidden1 reached the exact σ after 20 iterations?",
         "No: it is still a few percent low and creeping up. Its two largest singular values are close, and "
         "power iteration converges slowly then. torch does one iteration per training step and keeps u, v."),
    Step("Convolutions are different", {**SPECTRAL_DEFAULTS, "model": "frame_model"},
         "The frame model's convolutions. Section 4 puts the σ SN divides by next to the convolution's true "
         "operator norm.",
         "Is the σ of the reshaped kernel the operator norm of the convolution?",
         "No. It is only a lower bound: for any stride, dilation or padding the convolution's operator norm is at "
         "least the reshaped σ (the top singular vector in one receptive field already gives σ) and at most √9 = 3 "
         "times it for a 3×3 kernel. Every layer here lies above its reshaped σ, so SN on a conv layer does not make "
         "it 1-Lipschitz."),
    Step("Train with and without", {**SPECTRAL_DEFAULTS, **{f"m_{k}": "sn" for k in _D_LAYERS}, "train_steps": 3000,
                                     "lr": "0.0002"},
         "Press Train with SN on the discriminator, then switch every layer off and train again (3,000 steps each). "
         "The run history compares the two.",
         "Which run keeps the discriminator's Lipschitz bound near 1, and which covers more of the 8 modes?",
         "With SN the bound stays between 1 and about 1.3 for the whole run; without SN it climbs past 100 as D "
         "sharpens. At 3,000 steps the run with SN covers all 8 modes (mode coverage 1.00) and the run without "
         "covers 6 (0.75). After 1,000 steps neither has found the ring yet (both 0.00), so let both runs finish."),
    Step("A denoiser needs to be steep", {**SPECTRAL_DEFAULTS, "model": "denoiser2d", "trace_layer": "hidden1",
                                          **{f"m_{k}": "sn" for k in _DENOISER_LAYERS}, "train_steps": 400,
                                          "lr": "0.001"},
         "SN on every layer of the schedule page's trained denoiser. Section 5 shows its samples before and after; "
         "press Fine-tune, then set in_x, in_noise and out to off and fine-tune again.",
         "Can the fully normalized denoiser win its 8 modes back, and can the one with only hidden1 and hidden2 "
         "normalized?",
         "Fully normalized: no. Its Lipschitz bound is capped near 1.4, but near the data a denoiser must be steep "
         "(the shipped one's bound is about 340), so the samples blur into one cloud that covers 1 mode of 8, and "
         "fine-tuning does not sharpen it. With only hidden1 and hidden2 normalized the other layers grow to make up "
         "for it, and all 8 modes return within a few hundred steps."),
)

LESSONS = {"noise_schedule": SCHEDULE, "backward_noise_init": BACKWARD, "spectral_norm": SPECTRAL}
