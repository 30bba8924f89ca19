"""What the backward-noise-initialization page says, at three levels, and its misconceptions."""

from explainers import backward_init as B
from explainers.backward_view import HORIZON
from explainers.claims import Claim
from explainers.frame_model import N_CONTEXT


SUMMARY = (
    "Eq. 1 of Self-Forcing++ re-noises a clean prediction to get a noisy starting point. Its t can be "
    "read as the denoising step or as the frame index; run both readings on a small video model and "
    "see which frames each one produces."
)

def _levels(sigmas) -> str:
    """A σ list as the page writes it: 1, 0.9375, 0.8333, 0.625."""
    return ", ".join(f"{s:.4g}" for s in sigmas)


SHIFT5 = _levels(B.shifted_sigmas(4, 5.0))  # Self-Forcing's 4-step list at shift 5, computed

# Eq. 1 as the paper prints it: the network is written as a noise prediction ε̂_θ.
EQ1_PAPER = (r"x_t = (1-\sigma_t)\,\hat x_0 + \sigma_t\,\epsilon,\qquad "
             r"\hat x_0 = x_{t-1} - \sigma_{t-1}\,\hat\epsilon_\theta(x_{t-1},\, t-1)")
EQ1_PAPER_NOTE = r"The paper calls $\hat\epsilon_\theta$ “the noise prediction network”."

# What this app runs: a flow-matching network whose output is a velocity v.
EQ1_FLOW = (r"x = (1-\sigma)\,x_0 + \sigma\,\epsilon,\qquad v = \epsilon - x_0,\qquad "
            r"\hat x_0 = x - \sigma\,\hat v_\theta(x,\ \sigma)")
EQ1_FLOW_NOTE = ("**The flow-model form this app runs** (as Wan and the Self-Forcing code do): the network is a "
                 "flow-matching model and its output is a velocity v̂.")

# Why the two agree: exact algebra, checked numerically in tests/test_claims_backward.py.
EQ1_AGREE = (
    r"x - \sigma v = (1-\sigma)x_0 + \sigma\epsilon - \sigma(\epsilon - x_0) = x_0",
    r"\hat\epsilon = x + (1-\sigma)\,\hat v \quad\Longrightarrow\quad "
    r"\frac{x - \sigma\,\hat\epsilon}{1-\sigma} = x - \sigma\,\hat v",
)
EQ1_AGREE_TEXT = (
    "**Why they agree.** The printed line has the form x̂₀ = x − σ · (network output). With the velocity as "
    "that output it recovers x₀ exactly (first line). A network that predicts the noise ε itself gives "
    "x̂₀ = (x − σ ε̂) / (1 − σ) instead; it is the same network written another way, ε̂ = x + (1 − σ) v̂, and "
    "gives the same x̂₀ for any output v̂ (second line)."
)


def eq1_for(reading: str, init_schedule: str, sigmas) -> tuple[str, str]:
    """Eq. 1 relabelled for a reading (and, for the frame index, where each frame starts), and one
    paragraph that says what it means with the σ list `sigmas` the page runs."""
    if reading == "denoising_step":
        return (
            r"x^{(n)}_{k+1} = (1-\sigma_{k+1})\,\hat x^{(n)}_{0,k} + \sigma_{k+1}\,\epsilon_{n,k+1},\qquad "
            r"\hat x^{(n)}_{0,k} = x^{(n)}_k - \sigma_k\, \hat v_\theta\big(x^{(n)}_k,\ \sigma_k \mid \text{frames} < n\big)",
            "Here t is k, the denoising step inside one frame n: after each step the clean guess is re-noised "
            "with fresh noise to the next, lower level. Every frame starts again from pure noise (σ = 1).",
        )
    if init_schedule == "constant":
        return (
            r"x^{(n)}_{\text{init}} = (1-\sigma_{\text{init}})\,\hat x^{(n-1)}_{0} + \sigma_{\text{init}}\,\epsilon_n,"
            r"\qquad \hat x^{(n-1)}_{0} = \text{the finished prediction of frame } n-1",
            "Here t is n, the frame index: frame n starts from the previous frame's clean prediction re-noised "
            "to σ_init, then takes the list's levels below σ_init. **The same σ_init for every frame is this "
            "app's own construction**, not the paper's: read literally, σ_t changes with the frame index t. "
            "Choose “σ indexed by frame” in the sidebar to run that variant.",
        )
    levels = _levels(sigmas)
    return (
        r"x^{(n)}_{\text{init}} = (1-\sigma_n)\,\hat x^{(n-1)}_{0} + \sigma_n\,\epsilon_n,\qquad "
        r"\sigma_n = \sigma\text{-list}\big[\min(n,\ K-1)\big]",
        f"Here t is n and σ_t is read literally: frame n starts at level n of the σ list ({levels}; frame 0 at "
        "the first, pure noise), re-noising "
        f"the previous frame's clean prediction, and then takes the list from that slot on. Frames past the "
        f"end of the list (K = {len(sigmas)} levels) keep its last level, {sigmas[-1]:.4g}: the list has no more, "
        "and holding the last one is this app's choice. σ_init is not used.",
    )


WHICH_READING = (
    "**Which reading is right?** Algorithm 1 and the appendix of Self-Forcing++, and the Self-Forcing codebase "
    "it builds on, use *t = denoising step* (the Self-Forcing++ code itself is not released): Eq. 1 is the "
    "re-noising between the few denoising steps of one frame, and for training a long self-generated rollout "
    "is re-noised to a sampled step level. The text's “t = 1 … N”, next to a discussion of long videos, "
    "invites the other reading (issue #5 of the Self-Forcing++ GitHub repository asks exactly this). The "
    "frame-index reading is a different generator: small σ_init copies the previous frame, σ_init = 1 "
    "ignores it."
)

EXPLANATION = {
    "Easy": (
        "Imagine drawing a flip-book. *Denoising-step reading*: for every page you start with a fresh "
        "scribble and clean it up in a few passes, looking at the previous page only as a guide. "
        "*Frame-index reading*: you trace the previous page, smudge it a bit (how much is σ_init), and "
        "clean up the smudge. Smudge too little and every page is a copy, so the ball stops moving; "
        "smudge completely and you are back to a fresh scribble."
    ),
    "Moderate": (
        "The video model makes one frame at a time, each with a few denoising steps, conditioned on the "
        "frames before it. Eq. 1 mixes a clean guess x̂₀ with fresh noise ε to noise level σ. Read as a "
        "step index, it is the ordinary few-step sampler: frames share information only through the "
        "context. Read as a frame index, it passes the previous frame's pixels into the next frame's "
        "starting point, so the amount of noise σ_init decides how much of the old frame survives. "
        "The curves below show what each reading does to position error, motion and brightness, "
        f"inside and beyond the {HORIZON}-frame horizon the model was trained on."
    ),
    "Hard": None,
}

HARD_TEXT = (
    "Flow matching (Wan-style): x_σ = (1 − σ) x₀ + σ ε and the network predicts the velocity v = ε − x₀, "
    "so x̂₀ = x_σ − σ v̂. The few-step list is timesteps 1000, 750, 500, 250 divided by 1000 and warped by the "
    f"time shift σ' = sσ / (1 + (s − 1)σ); s = 5 gives σ = {SHIFT5}. In VP form the same "
    "re-noising reads x = √ᾱ x̂₀ + √(1 − ᾱ) ε with ᾱ = (1 − σ)² / ((1 − σ)² + σ²); the state differs from the "
    "flow state only by the factor √ᾱ + √(1 − ᾱ), so both forms give the same frames up to rounding. "
    "Diffusion Forcing instead gives every frame its own independent noise level, and Rolling Diffusion "
    "gives later frames in a window more noise."
)

MISCONCEPTIONS = [
    ("“In Eq. 1, t is the frame index, so each frame is initialised from the previous one.”",
     "Not in Algorithm 1 or the appendix of Self-Forcing++, nor in the Self-Forcing codebase it builds on: there "
     "t is the denoising step, and every frame starts from pure noise. Frames are coupled only through the "
     f"context the model sees (the {N_CONTEXT} frames before it)."),
    ("“Read as the frame index, Eq. 1 starts every frame at one fixed σ_init.”",
     "Not literally: with t the frame index, σ_t changes from frame to frame. A constant σ_init followed by "
     "the list's lower levels is this app's own construction; “σ indexed by frame” in the sidebar runs the "
     "literal variant, in which the matrix becomes a staircase."),
    ("“Backward noise initialization is a sampling trick.”",
     "It is used at training time: Self-Forcing++ rolls the student out far past the teacher's horizon, "
     "re-noises windows of that rollout to a sampled step level, and trains on them, so the student learns "
     "to recover from its own accumulated errors. Section 4 shows why: from the re-noised window the model's "
     "prediction is closer to the rollout's own frames than from pure noise."),
    ("“Copying the previous frame (small σ_init) gives smoother, better video.”",
     "It gives frozen video: with little noise the model has nothing to change, so motion stagnates. "
     "Watch the ball speed fall towards zero as σ_init goes to 0."),
]


# The claims this page makes and the test behind each (explainers/claims.py).
_T = "tests/test_claims_backward.py::"
CLAIMS: tuple[Claim, ...] = (
    Claim("x̂₀ = x − σ v recovers x₀ exactly for a flow model", _T + "test_x0_from_velocity_is_exact",
          "Eq. 1 box"),
    Claim("The ε-form and v-form of Eq. 1 give the same x̂₀ (ε̂ = x + (1 − σ) v̂)",
          _T + "test_eps_form_and_v_form_of_eq1_agree", "Eq. 1 box"),
    Claim("The shift-5 list is 1, 0.9375, 0.8333, 0.625", _T + "test_shift5_list_is_self_forcings",
          "Hard level, lesson step 1"),
    Claim("The VP state is the flow state times √ᾱ + √(1 − ᾱ)", _T + "test_vp_state_is_the_flow_state_times_a_factor",
          "Hard level"),
    Claim("The flow and VP forms give the same frames up to rounding", _T + "test_flow_and_vp_forms_give_the_same_frames",
          "Hard level, form control"),
    Claim("Every frame of the denoising-step reading starts from pure noise",
          _T + "test_every_denoising_step_frame_starts_from_pure_noise", "Eq. 1 box, misconceptions"),
    Claim("In the denoising-step reading frames are coupled only through the context",
          _T + "test_denoising_step_frames_are_coupled_only_through_the_context", "Moderate level, misconceptions"),
    Claim("Both readings agree exactly at σ_init = 1", _T + "test_both_readings_agree_exactly_at_sigma_init_one",
          "which reading, lesson step 4"),
    Claim("A tiny σ_init copies the previous frame", _T + "test_tiny_sigma_init_copies_the_previous_frame",
          "which reading, Easy level"),
    Claim("Small σ_init freezes motion: ball speed falls as σ_init goes to 0", _T + "test_small_sigma_init_freezes_motion",
          "misconceptions, lesson step 3"),
    Claim("Constant σ_init is this app's construction; the literal variant indexes σ by frame",
          _T + "test_constant_sigma_init_is_one_construction_and_the_literal_variant_indexes_by_frame",
          "Eq. 1 box, misconceptions"),
    Claim("Position error grows past the training horizon", _T + "test_position_error_grows_past_the_training_horizon",
          "Moderate level, lesson step 5"),
    Claim("From a re-noised window the model recovers the rollout better than from pure noise",
          _T + "test_renoised_window_is_recovered_better_than_pure_noise", "section 4 caption, misconceptions"),
    Claim("Noise-level matrix rows past the first 16 repeat the last one shown",
          _T + "test_matrix_rows_past_the_shown_ones_repeat_the_last_shown", "section 1 caption"),
)
