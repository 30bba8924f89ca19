"""What the spectral-normalization page says, at three levels, and its misconceptions."""

SUMMARY = (
    "Spectral normalization divides a layer's weight by its largest singular value σ, so the layer "
    "stretches no input by more than 1. Switch it on and off layer by layer and watch singular values, "
    "the network's Lipschitz bound, GAN training and a fine-tune of the schedule page's denoiser respond."
)

EXPLANATION = {
    "Easy": (
        "Every layer of a network stretches its input a little, in some directions more than others. The "
        "biggest stretch is the layer's σ. Spectral normalization shrinks each chosen layer so its biggest "
        "stretch is exactly 1. A network built only from such layers cannot turn a small change of its input "
        "into a huge change of its output. In a GAN, that keeps the discriminator from becoming so sharp that "
        "the generator gets no useful signal. A denoiser is different: near the data it must react sharply "
        "to small changes, so shrinking all of its layers blurs its samples into a cloud."
    ),
    "Moderate": (
        "σ(W) is the largest singular value of W: the most ‖Wx‖ can exceed ‖x‖. SN replaces W by W/σ(W). "
        "Computing σ exactly every step would be costly, so torch keeps two vectors u, v and refines them "
        "with one power-iteration step per training step: the estimate lags the true σ a little, from below. "
        "With 1-Lipschitz activations, the product of the layers' σ bounds how fast the whole network can "
        "change. “Optional” means per-layer choice: normalize only the layers that need it (often the "
        "discriminator), or, in the dynamic mode here, only while a layer's σ exceeds a threshold. Putting "
        "SN on an already trained layer divides its weight by σ at once, so the function changes before any "
        "training: the denoiser's fine-tune shows how much the other, unnormalized layers can win back."
    ),
    "Hard": None,
}

LATEX = [
    r"\sigma(W) = \max_{x \ne 0} \frac{\lVert W x\rVert_2}{\lVert x\rVert_2},\qquad W_{\mathrm{SN}} = \frac{W}{\sigma(W)}",
    r"u \leftarrow \frac{W v}{\lVert W v\rVert},\quad v \leftarrow \frac{W^\top u}{\lVert W^\top u\rVert},\quad "
    r"\hat\sigma = u^\top W v \ \le\ \sigma(W)",
    r"\operatorname{Lip}(f_L \circ \dots \circ f_1) \le \prod_{l} \sigma(W_l)\quad\text{(1-Lipschitz activations)}",
    r"\text{conv: } \sigma\big(K_{(out,\,in\cdot k_h k_w)}\big) \ne \lVert \mathrm{conv}_K \rVert_{op}"
    r" = \max_{\omega} \sigma\big(\hat K(\omega)\big) \le \sqrt{k_h k_w}\;\sigma\big(K_{(out,\,in\cdot k_h k_w)}\big)",
    r"\text{BSN: } \sigma_{\mathrm{BSN}} = \tfrac12\Big(\sigma\big(K_{(out,\,in\cdot k_h k_w)}\big) + "
    r"\sigma\big(K_{(in,\,out\cdot k_h k_w)}\big)\Big)",
]

HARD_TEXT = (
    "Miyato et al. (2018) normalize the weight reshaped to (out, in·kh·kw). For a convolution that matrix is not "
    "the linear map the layer applies: with stride 1 and circular padding the true singular values are those of "
    "the per-frequency matrices of the kernel's 2D FFT (Sedghi et al. 2019). Bidirectional SN (Lin et al. 2021) "
    "averages the sigmas of both reshapes. In eval mode torch's SN does not iterate, so looking at a model here "
    "never changes it."
)

MISCONCEPTIONS = [
    ("“SN on a conv layer makes the convolution 1-Lipschitz.”",
     "No: it normalizes the reshaped kernel. The convolution's true operator norm can be larger, up to √(kh·kw) "
     "times as large (an all-ones 3×3 kernel: reshaped σ 3, operator norm 9). See section 4."),
    ("“torch.nn.utils.spectral_norm changes my weight.”",
     "The legacy torch.nn.utils.spectral_norm keeps the raw weight in weight_orig and recomputes weight = "
     "weight_orig / σ on every forward; the newer parametrizations.spectral_norm keeps it in "
     "parametrizations.weight.original. The optimizer updates the raw weight either way."),
    ("“If SN helps, put it on every layer.”",
     "“Optional” SN is a per-layer choice. On the generator as well as the discriminator it can over-constrain "
     "the network: train both ways here and compare mode coverage in the run history. On the 2D denoiser, SN on "
     "every layer caps its Lipschitz bound near 1.4, but a denoiser must be steep near the data (its shipped "
     "bound is in the hundreds): the samples blur into one cloud (1 mode of 8 covered) and a fine-tune does not "
     "sharpen them, "
     "while SN on hidden1 and hidden2 alone recovers all 8 modes in a few hundred steps."),
    ("“The power-iteration σ is exact.”",
     "It is an estimate that approaches σ from below; with one iteration per training step it lags behind, so a "
     "normalized layer's true σ can be slightly above 1. Section 2 shows the convergence."),
]
