"""What the noise-schedule page says, at three levels, and the misconceptions it corrects."""

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
        "“The last step of a schedule is pure noise.”",
        "Usually not quite: the linear schedule ends at ᾱ ≈ 4·10⁻⁵, so a trace of the data survives and "
        "the model learns to rely on it. Zero terminal SNR (Lin et al. 2023) rescales the schedule so the "
        "last step really is pure noise, and log-SNR there is −∞.",
    ),
]
