"""What the backward-noise-initialization page says, at three levels, and its misconceptions."""

SUMMARY = (
    "Eq. 1 of Self-Forcing++ re-noises a clean prediction to get a noisy starting point. Its t can be "
    "read as the denoising step or as the frame index; run both readings on a small video model and "
    "see which frames each one produces."
)

EQ1_PAPER = (r"x_t = (1-\sigma_t)\,\hat x_0 + \sigma_t\,\epsilon,\qquad "
             r"\hat x_0 = x_{t-1} - \sigma_{t-1}\, v_\theta(x_{t-1},\, t-1)")

EQ1 = {
    "denoising_step": (
        r"x^{(n)}_{k+1} = (1-\sigma_{k+1})\,\hat x^{(n)}_{0,k} + \sigma_{k+1}\,\epsilon_{n,k+1},\qquad "
        r"\hat x^{(n)}_{0,k} = x^{(n)}_k - \sigma_k\, v_\theta\big(x^{(n)}_k,\ \sigma_k \mid \text{frames} < n\big)",
        "Here t is k, the denoising step inside one frame n: after each step the clean guess is re-noised "
        "with fresh noise to the next, lower level. Every frame starts again from pure noise.",
    ),
    "temporal_index": (
        r"x^{(n)}_{\text{init}} = (1-\sigma_{\text{init}})\,\hat x^{(n-1)}_{0} + \sigma_{\text{init}}\,\epsilon_n,\qquad "
        r"\hat x^{(n-1)}_{0} = \text{the finished prediction of frame } n-1",
        "Here t is n, the frame index: frame n starts from the previous frame's clean prediction re-noised "
        "to σ_init, and is then denoised from there.",
    ),
}

WHICH_READING = (
    "**Which reading is right?** The paper's Algorithm 1, its appendix and the Self-Forcing code use "
    "*t = denoising step*: Eq. 1 is the re-noising between the few denoising steps of one frame, and for "
    "training a long self-generated rollout is re-noised to a sampled step level. The text's "
    "“t = 1 … N”, next to a discussion of long videos, invites the other reading (the project's "
    "GitHub issue #5 asks exactly this). The frame-index reading is a different generator: small σ_init "
    "copies the previous frame, σ_init = 1 ignores it."
)

EXPLANATION = {
    "Easy": (
        "Imagine drawing a flip-book. *Denoising-step reading*: for every page you start with a fresh "
        "scribble and clean it up in four passes, looking at the previous page only as a guide. "
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
        "inside and beyond the 8-frame horizon the model was trained on."
    ),
    "Hard": None,
}

HARD_TEXT = (
    "Flow matching (Wan-style): x_σ = (1 − σ) x₀ + σ ε and the network predicts the velocity v = ε − x₀, "
    "so x̂₀ = x_σ − σ v̂. The few-step list is timesteps 1000, 750, 500, 250 divided by 1000 and warped by the "
    "time shift σ' = sσ / (1 + (s − 1)σ); s = 5 gives σ = 1, 0.9375, 0.8333, 0.625. In VP form the same "
    "re-noising reads x = √ᾱ x̂₀ + √(1 − ᾱ) ε with ᾱ = (1 − σ)² / ((1 − σ)² + σ²); the state differs from the "
    "flow state only by the factor √ᾱ + √(1 − ᾱ), so both forms give the same frames up to rounding. "
    "Diffusion Forcing instead gives every frame its own independent noise level, and Rolling Diffusion "
    "gives later frames in a window more noise."
)

MISCONCEPTIONS = [
    ("“In Eq. 1, t is the frame index, so each frame is initialised from the previous one.”",
     "Not in the paper's Algorithm 1 or the Self-Forcing code: there t is the denoising step, and every frame "
     "starts from pure noise. Frames are coupled only through the context the model sees."),
    ("“Backward noise initialization is a sampling trick.”",
     "It is used at training time: Self-Forcing++ rolls the student out far past the teacher's horizon, "
     "re-noises windows of that rollout to a sampled step level, and trains on them, so the student learns "
     "to recover from its own accumulated errors."),
    ("“Copying the previous frame (small σ_init) gives smoother, better video.”",
     "It gives frozen video: with little noise the model has nothing to change, so motion stagnates. "
     "Watch the ball-speed curve drop towards zero as σ_init goes to 0."),
]
