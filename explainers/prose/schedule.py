"""What the noise-schedule page says, at three levels, and the misconceptions it corrects."""

from explainers.claims import Claim


SUMMARY = (
    "A noise schedule decides how much of the data survives and how much noise is mixed in at every "
    "diffusion step; here you can move it and watch signal variance, noise variance, SNR and a small "
    "model's samples respond."
)

EXPLANATION = {
    "Easy": (
        "Think of a glass of orange juice that you top up with water, one spoonful at a time, while "
        "pouring some of the mixture away so the glass never overflows. The glass always holds the "
        "same amount (that is the *variance preserving* part), but less and less of it is juice. The "
        "schedule is the recipe for how big each spoonful is. A diffusion model learns to undo it: "
        "starting from a glass of pure water, it works out, step by step, what juice must have been there."
    ),
    "Moderate": (
        "At step t the data x₀ is scaled down by √ᾱ_t and Gaussian noise with standard deviation "
        "√(1 − ᾱ_t) is added. If the data has variance 1, the result has variance ᾱ_t + (1 − ᾱ_t) = 1 "
        "at every step: signal variance is traded for noise variance, never added on top. The "
        "families differ in *where* that trade happens: the linear schedule destroys most of the signal "
        "early, the cosine schedule spreads it out so the middle steps still hold useful signal. The "
        "signal-to-noise ratio SNR = ᾱ/(1 − ᾱ) puts all schedules on one axis; a sampler walks the "
        "SNR back up from (near) zero to large, removing noise at each step."
    ),
    "Hard": None,  # equations: drawn with st.latex by the page from LATEX below
}

LATEX = [
    r"q(x_t \mid x_0) = \mathcal N\!\left(\sqrt{\bar\alpha_t}\,x_0,\ (1-\bar\alpha_t)\,I\right),\qquad "
    r"\bar\alpha_t = \prod_{i \le t} (1-\beta_i)",
    r"\operatorname{Var}[x_t] = \bar\alpha_t \operatorname{Var}[x_0] + (1-\bar\alpha_t) = 1 "
    r"\quad\text{when } \operatorname{Var}[x_0]=1",
    r"\mathrm{SNR}_t = \frac{\bar\alpha_t}{1-\bar\alpha_t},\qquad "
    r"\log\mathrm{SNR}_t = \log\bar\alpha_t - \log(1-\bar\alpha_t),\qquad \bar\alpha_t = \sigma(\log\mathrm{SNR}_t)",
    r"\text{cosine: } \bar\alpha(t) = \frac{f(t)}{f(0)},\ f(t) = \cos^2\!\left(\frac{t/T + s}{1+s}\cdot\frac{\pi}{2}\right)"
    r"\qquad \text{vp\_sde: } \log m(t) = -\tfrac{t^2}{4}(\beta_{\max}-\beta_{\min}) - \tfrac{t}{2}\beta_{\min},\ \bar\alpha = m^2",
    r"\text{DDIM: } x_{s} = \sqrt{\bar\alpha_{s}}\,\hat x_0 + \sqrt{1-\bar\alpha_{s}-\sigma^2}\,\hat\epsilon + \sigma z,\quad "
    r"\sigma = \eta\sqrt{\tfrac{1-\bar\alpha_{s}}{1-\bar\alpha_t}\left(1-\tfrac{\bar\alpha_t}{\bar\alpha_{s}}\right)}",
]

HARD_TEXT = (
    "The model here predicts v = √ᾱ ε − √(1 − ᾱ) x₀ and is conditioned on log-SNR rather than on an "
    "integer step, so one trained network can be driven by any schedule on this page. v-prediction "
    "stays well defined at zero terminal SNR (ᾱ = 0), where an ε-predicting model could not recover x₀."
)

MISCONCEPTIONS = [
    (
        "“A perfect model would give perfect samples.”",
        "Not with a handful of steps. Figure 7 samples with the exact denoiser of the known density, which no "
        "model can beat, and with 10 DDIM steps on the linear schedule its samples still land far from the data: "
        "each step takes x̂₀ at the current noise level as fixed while it jumps to the next. Only as the steps "
        "get many and small does the exact denoiser's gap shrink towards zero.",
    ),
    (
        "“A VP schedule is like a learning-rate schedule that adapts to gradient variance.”",
        "No. The schedule fixes how much noise is mixed into the data at each diffusion step. Training "
        "uses it to make noisy inputs, but it never looks at gradients and does not adapt to them.",
    ),
    (
        "“Noise starts small and grows, so generation adds noise.”",
        "That is the forward (noising) direction, used to make training data. Sampling walks it "
        "backwards: it starts from pure noise and removes noise step by step until data remains.",
    ),
    (
        "“VP stands for Variance *Proportional*.”",
        "No: VP means variance *preserving*. If the data has variance 1, every noisy x_t has variance "
        "ᾱ_t + (1 − ᾱ_t) = 1 too (figures 2 and 4): the noise replaces signal instead of being added on "
        "top, as it is in the variance-exploding contrast.",
    ),
    (
        "“Noise starts small so the model learns gradually, like a curriculum.”",
        "No. Training does not walk through the schedule: every example of every training step gets its "
        "own noise level drawn at random (here a random log-SNR; in DDPM a random t), so the model sees "
        "nearly clean and nearly pure-noise inputs from the first step on. The schedule only fixes what "
        "each step t means when sampling.",
    ),
    (
        "“The last step of a schedule is pure noise.”",
        "Usually not quite: the linear schedule ends at ᾱ ≈ 4·10⁻⁵, so a trace of the data survives at "
        "the last step. Zero terminal SNR (Lin et al. 2023) rescales the schedule so the "
        "last step really is pure noise, and log-SNR there is −∞.",
    ),
]


# The claims this page makes and the test behind each (explainers/claims.py).
_TESTS = "tests/test_claims_schedule.py::"

CLAIMS: tuple[Claim, ...] = (
    Claim(says="VP keeps Var[x_t] = 1 when Var[x₀] = 1, for every family",
          test=_TESTS + "test_vp_total_variance_is_one",
          where="Moderate and Hard levels, figures 2 and 4"),
    Claim(says="Signal variance ᾱ and noise variance 1 − ᾱ sum to 1",
          test=_TESTS + "test_signal_and_noise_variance_sum_to_one",
          where="figure 2"),
    Claim(says="ᾱ_t falls with every step",
          test=_TESTS + "test_alpha_bar_decreases",
          where="figure 1"),
    Claim(says="ᾱ = sigmoid(log-SNR)",
          test=_TESTS + "test_alpha_bar_is_sigmoid_of_log_snr",
          where="Hard level"),
    Claim(says="Zero terminal SNR makes the last ᾱ exactly 0 and log-SNR −∞",
          test=_TESTS + "test_zero_terminal_snr_ends_at_exactly_zero",
          where="figure 3, misconceptions, lesson step 5"),
    Claim(says="The linear schedule ends at ᾱ ≈ 4·10⁻⁵, not pure noise",
          test=_TESTS + "test_linear_schedule_ends_near_but_not_at_zero",
          where="misconceptions"),
    Claim(says="Cosine keeps more signal halfway than linear",
          test=_TESTS + "test_cosine_keeps_more_signal_halfway_than_linear",
          where="Moderate level, lesson step 2"),
    Claim(says="Linear β_t rises in equal steps, drawn on a log scale",
          test=_TESTS + "test_linear_betas_rise_in_equal_steps_on_a_log_panel",
          where="lesson step 1"),
    Claim(says="VE total variance is 1 + σ² (2501 at the last step)",
          test=_TESTS + "test_ve_total_variance_is_one_plus_sigma_squared",
          where="figure 2, lesson step 3"),
    Claim(says="Flow-matching variance (1 − σ)² + σ² dips to 0.5 at σ = 0.5",
          test=_TESTS + "test_flow_matching_variance_dips_to_half",
          where="figure 4, lesson step 4"),
    Claim(says="A VP schedule is fixed by its parameters, not adapted to gradients",
          test=_TESTS + "test_a_schedule_is_a_fixed_function_of_its_parameters",
          where="misconceptions"),
    Claim(says="The schedule is not a curriculum: training draws noise levels at random",
          test=_TESTS + "test_training_draws_noise_levels_at_random_every_step",
          where="misconceptions"),
    Claim(says="Sampling walks from pure noise to data",
          test=_TESTS + "test_sampling_walks_from_pure_noise_to_data",
          where="Moderate level, misconceptions"),
    Claim(says="v-prediction samples fine at zero terminal SNR (ᾱ = 0)",
          test=_TESTS + "test_v_prediction_samples_at_zero_terminal_snr",
          where="Hard level"),
    Claim(says="Betas that underflow ᾱ are rejected, naming the parameter",
          test=_TESTS + "test_extreme_betas_are_rejected_naming_the_parameter",
          where="Cannot-build notice"),
    Claim(says="The true data scores best on the log-density gap",
          test=_TESTS + "test_true_data_scores_best_on_the_quality_score",
          where="figure 6 table and caption"),
    Claim(says="A sampler with log-SNR frozen never beats the true data",
          test=_TESTS + "test_a_sampler_with_log_snr_frozen_never_beats_the_true_data",
          where="figure 6 table"),
    Claim(says="The default samples are under-dispersed, and the page says so",
          test=_TESTS + "test_the_shipped_samples_at_the_default_view_are_closer_than_broken_but_not_better_than_data",
          where="figure 6"),
    Claim(says="Figure 6's line encloses 95% of the true data",
          test=_TESTS + "test_density_line_encloses_the_stated_share",
          where="figure 6 caption"),
    Claim(says="Even the exact denoiser misses the data with few steps; with many it lands on it",
          test=_TESTS + "test_the_exact_denoiser_misses_with_few_steps_and_lands_with_many",
          where="misconception “A perfect model would give perfect samples”, figure 7"),
    Claim(says="Where the steps land is what the sampler sees of a schedule",
          test=_TESTS + "test_a_sampler_sees_a_schedule_only_where_its_steps_land",
          where="figure 6, where the steps land"),
    Claim(says="Sampled with the exact denoiser, only the step count is left: with many steps it lands on the data",
          test="tests/test_oracle.py::test_sampling_with_the_exact_denoiser_reaches_the_data_with_many_steps",
          where="figure 7"),
    Claim(says="The model's score arrows follow the exact ones where the noisy points are",
          test=_TESTS + "test_the_models_score_matches_the_exact_one_where_the_points_are",
          where="figure 5, score field"),
    Claim(says="The image's power falls with frequency, so the noise overtakes fine detail first",
          test="tests/test_spectrum.py::test_page_image_spectrum_falls_with_frequency",
          where="figure 5, frequencies; Moderate and Hard text"),
    Claim(says="The crossover k* moves down as t grows",
          test="tests/test_spectrum.py::test_crossover_moves_down_as_t_grows_on_the_page_image",
          where="figure 5, frequencies; Moderate text"),
    Claim(says="A larger flow shift brings k* to low frequencies at an earlier step",
          test="tests/test_spectrum.py::test_a_larger_flow_shift_moves_the_crossover_down_sooner",
          where="figure 5, frequencies; Hard text"),
)
