"""What the spectral-normalization page says, at three levels, and its misconceptions."""

from explainers.claims import Claim


SUMMARY = (
    "Spectral normalization divides a layer's weight by its largest singular value σ, so the weight's largest "
    "stretch becomes 1 (for a convolution, of its kernel laid out as a matrix). Switch it on and off layer by layer "
    "and watch singular values, the network's Lipschitz bound, GAN training and a fine-tune of the schedule page's "
    "denoiser respond."
)

EXPLANATION = {
    "Easy": (
        "Every layer of a network stretches its input, in some directions more than others. The biggest stretch "
        "of a layer's weight matrix is its σ. Spectral normalization divides the chosen layers' weights by their σ, "
        "so each one's σ becomes about 1: a layer that stretched more is shrunk, and a layer that stretched less, "
        "like the discriminator's output layer here, is scaled up. A chain of such fully connected layers, with "
        "gentle activations between them, cannot turn a small change of its input into a huge change of its "
        "output. A convolution is different: SN measures σ on its kernel laid out as a matrix, and the "
        "convolution itself can still stretch more (section 4). In a GAN, bounding the discriminator keeps it "
        "from becoming so sharp that the generator gets no useful signal. A denoiser is different again: near "
        "the data it must react sharply to small changes, so shrinking all of its layers blurs its samples."
    ),
    "Moderate": (
        "σ(W) is the largest singular value of W: the most ‖Wx‖ can exceed ‖x‖. SN replaces W by W/σ(W). "
        "Computing σ exactly every step would be costly, so torch keeps two vectors u, v and refines them "
        "with one power-iteration step per training step: the estimate lags the true σ a little, from below. "
        "With 1-Lipschitz activations, the product of the layers' σ bounds how fast a chain of fully connected "
        "layers can change. “Optional” means a per-layer choice: normalize only the layers that need it (often "
        "the discriminator's). The threshold mode is this app's own clip, W / max(1, σ/threshold), in the spirit "
        "of the Lipschitz constraint of Gouk et al. (2021): a layer with σ at or below the threshold is left as "
        "it is, one above it is scaled down to exactly the threshold. It is not a published “dynamic” SN, and "
        "the model decides nothing: the rule is fixed. Putting SN on an already trained layer divides its weight "
        "by σ at once, so the function changes before any training: the denoiser's fine-tune shows how much the "
        "other, unnormalized layers can win back."
    ),
    "Hard": None,
}

LATEX = [
    r"\sigma(W) = \max_{x \ne 0} \frac{\lVert W x\rVert_2}{\lVert x\rVert_2},\qquad W_{\mathrm{SN}} = \frac{W}{\sigma(W)}",
    r"u \leftarrow \frac{W v}{\lVert W v\rVert},\quad v \leftarrow \frac{W^\top u}{\lVert W^\top u\rVert},\quad "
    r"\hat\sigma = u^\top W v \ \le\ \sigma(W)",
    r"\operatorname{Lip}(f_L \circ \dots \circ f_1) \le \prod_{l} \sigma(W_l)\quad\text{(1-Lipschitz activations)}",
    r"\text{conv, any stride, dilation, padding: } \sigma\big(K_{(out,\,in\cdot k_h k_w)}\big) \le "
    r"\lVert \mathrm{conv}_K \rVert_{op} \le \sqrt{k_h k_w}\;\sigma\big(K_{(out,\,in\cdot k_h k_w)}\big)",
    r"\text{lower bound: } x = v_1 \text{ in one receptive field, 0 elsewhere} \Rightarrow "
    r"\lVert \mathrm{conv}_K(x)\rVert \ge \lVert K_{(out,\,in\cdot k_h k_w)}\, v_1\rVert = \sigma",
    r"\text{stride 1, circular padding: } \lVert \mathrm{conv}_K \rVert_{op} = \max_{\omega} \sigma\big(\hat K(\omega)\big)",
    r"\text{threshold mode (clip): } W \,/\, \max\!\big(1,\ \sigma(W)/\lambda\big)",
    r"\text{BSN: } \sigma_{\mathrm{BSN}} = \tfrac12\Big(\sigma\big(K_{(out,\,in\cdot k_h k_w)}\big) + "
    r"\sigma\big(K_{(in,\,out\cdot k_h k_w)}\big)\Big)",
]

HARD_TEXT = (
    "Miyato et al. (2018) normalize the weight reshaped to (out, in·kh·kw). For a convolution that matrix is not "
    "the linear map the layer applies, but it bounds it from both sides, for any stride, dilation or padding. "
    "From below: put the top right singular vector v₁ of the reshaped kernel into one receptive field and zeros "
    "everywhere else; that single output position already has norm σ, so the convolution's operator norm is never "
    "smaller than σ. From above: each input pixel enters at most kh·kw receptive fields, so the norm is at most "
    "√(kh·kw)·σ. With stride 1 and circular padding the exact singular values are those of the per-frequency "
    "matrices of the kernel's 2D FFT (Sedghi et al. 2019); the frame model pads with zeros, so section 4 also "
    "runs power iteration on the real layer. Bidirectional SN (Lin et al. 2021) averages the sigmas of both "
    "reshapes. The threshold mode, W / max(1, σ/λ), scales W just enough to meet σ ≤ λ, the rule Gouk et al. "
    "(2021) use to enforce their Lipschitz constraint. In eval mode torch's SN does not iterate, so looking at a model here "
    "never changes it."
)

MISCONCEPTIONS = [
    ("“SN on a conv layer makes the convolution 1-Lipschitz.”",
     "No: it normalizes the reshaped kernel. The convolution's true operator norm can be larger, up to √(kh·kw) "
     "times as large (an all-ones 3×3 kernel: reshaped σ 3, operator norm 9). See section 4."),
    ("“For a strided or dilated convolution the operator norm can be smaller than the reshaped σ.”",
     "Never, for any stride, dilation or padding: the top right singular vector of the reshaped kernel, placed in "
     "one receptive field with zeros elsewhere, gives one output position of norm σ on its own. The reshaped σ is "
     "a lower bound on the operator norm, never an upper one."),
    ("“SN only ever shrinks weights.”",
     "It divides by σ, so a layer with σ below 1 is scaled up to 1. The discriminator's output layer here starts "
     "below 1 and SN raises it (lesson step 3)."),
    ("“The threshold (“optional”) mode is a published dynamic SN in which the model decides when to normalize.”",
     "No such method is published, and nothing is decided by the model. The mode is this app's own clip, "
     "W / max(1, σ/threshold): layers with σ at or below the threshold are untouched, the others are scaled to "
     "exactly the threshold, as in the Lipschitz constraint of Gouk et al. (2021). “Optional” SN in the "
     "literature just means choosing which layers get SN."),
    ("“torch.nn.utils.spectral_norm changes my weight.”",
     "The legacy torch.nn.utils.spectral_norm keeps the raw weight in weight_orig and recomputes weight = "
     "weight_orig / σ on every forward; the newer parametrizations.spectral_norm keeps it in "
     "parametrizations.weight.original. The optimizer updates the raw weight either way."),
    ("“If SN helps, put it on every layer.”",
     "“Optional” SN is a per-layer choice. On the 2D denoiser, SN on every layer caps its Lipschitz bound near "
     "1.4, but a denoiser must be steep near the data (its shipped bound is in the hundreds): the samples blur "
     "into one cloud (1 mode of 8 covered) and a fine-tune does not sharpen them, while SN on hidden1 and hidden2 "
     "alone recovers all 8 modes in a few hundred steps."),
    ("“The power-iteration σ is exact.”",
     "It is an estimate that approaches σ from below; with one iteration per training step it lags behind, so a "
     "normalized layer's true σ can be slightly above 1. Section 2 shows the convergence."),
]


# The claims this page makes and the test behind each (explainers/claims.py).
CLAIMS: tuple[Claim, ...] = (
    Claim(says="A conv's operator norm is never below its reshaped σ (any stride, dilation, padding)",
          test="tests/test_claims_spectral.py::test_conv_operator_norm_is_never_below_reshaped_sigma",
          where="Hard level, misconceptions, lesson step 5"),
    Claim(says="A conv's operator norm is at most √(kh·kw) times its reshaped σ",
          test="tests/test_claims_spectral.py::test_conv_operator_norm_is_at_most_sqrt_kernel_area_times_reshaped_sigma",
          where="Hard level, misconceptions, lesson step 5"),
    Claim(says="All-ones 3×3 kernel: reshaped σ 3, operator norm 9",
          test="tests/test_claims_spectral.py::test_all_ones_kernel_has_reshaped_sigma_3_and_operator_norm_9", where="misconceptions"),
    Claim(says="Stride 1, circular padding: the conv's singular values come from the kernel's 2D FFT",
          test="tests/test_spectral.py::test_conv_operator_norm_equals_dense_matrix_norm", where="Hard level"),
    Claim(says="Power iteration on the real zero-padded layer gives its operator norm",
          test="tests/test_claims_spectral.py::test_zero_padded_norm_matches_the_dense_matrix", where="section 4"),
    Claim(says="The frame model pads with zeros: the circular norm is off by up to 8 %",
          test="tests/test_claims_spectral.py::test_zero_padded_norm_of_the_frame_model_differs_from_the_circular_one",
          where="section 4 caption, Hard level"),
    Claim(says="The power-iteration estimate σ̂ never exceeds σ",
          test="tests/test_claims_spectral.py::test_power_iteration_estimate_never_exceeds_sigma",
          where="Moderate level, LaTeX, misconceptions"),
    Claim(says="SN raises a layer whose σ is below 1 to 1",
          test="tests/test_claims_spectral.py::test_sn_raises_a_layer_with_sigma_below_1", where="Easy level, misconceptions"),
    Claim(says="SN raises the discriminator's output layer (σ < 1) to 1",
          test="tests/test_claims_spectral.py::test_sn_raises_the_gan_discriminators_output_layer",
          where="Easy level, misconceptions, lesson step 3"),
    Claim(says="SN divides a layer's whole spectrum by σ and leaves other layers alone",
          test="tests/test_claims_spectral.py::test_sn_divides_the_whole_spectrum_by_sigma_and_leaves_other_layers_alone",
          where="lesson step 2"),
    Claim(says="The clip mode leaves σ ≤ threshold unchanged and brings larger σ to the threshold",
          test="tests/test_claims_spectral.py::test_clip_mode_leaves_sigma_below_threshold_alone_and_brings_the_rest_to_it",
          where="Moderate level, misconceptions, threshold help"),
    Claim(says="Bidirectional SN equals SN on a linear layer",
          test="tests/test_claims_spectral.py::test_bsn_equals_sn_on_a_linear_layer", where="mode caption"),
    Claim(says="In eval mode SN does not iterate: looking never changes the model",
          test="tests/test_claims_spectral.py::test_eval_mode_never_changes_the_model", where="Hard level"),
    Claim(says="With 1-Lipschitz activations the product of the σs bounds a chain of linear layers",
          test="tests/test_claims_spectral.py::test_product_of_sigmas_bounds_a_chain_with_1_lipschitz_activations",
          where="Easy and Moderate levels, LaTeX"),
    Claim(says="SN on a trained layer changes the network's function before any training",
          test="tests/test_claims_spectral.py::test_sn_on_a_trained_layer_changes_the_function_at_once", where="Moderate level"),
    Claim(says="SN on D keeps its bound near 1 and covers 8 modes at 3,000 steps; without SN 6",
          test="tests/test_claims_spectral.py::test_lesson_train_with_and_without_shows_the_difference", where="lesson step 6"),
    Claim(says="SN on every denoiser layer blurs its samples to 1 mode of 8; fine-tuning does not help",
          test="tests/test_spectral_finetune.py::test_the_shipped_denoiser_covers_every_mode_and_sn_everywhere_collapses_it",
          where="misconceptions, lesson step 7"),
    Claim(says="SN on hidden1 and hidden2 alone: a fine-tune wins all 8 modes back",
          test="tests/test_spectral_finetune.py::test_sn_on_two_hidden_layers_loses_the_modes_then_fine_tuning_wins_them_back",
          where="misconceptions, lesson step 7"),
    Claim(says="Every number in the spectral lesson matches the models (±5 %)",
          test="tests/test_lessons.py::test_spectral_answers_match_the_model", where="lesson"),
    Claim(says="The denoiser numbers in the misconceptions match the model",
          test="tests/test_lessons.py::test_spectral_misconception_numbers_match_the_model", where="misconceptions"),
    Claim(says="No gradient of D over the plane exceeds its Lipschitz bound, and SN on every D layer flattens D",
          test="tests/test_spectral.py::test_the_discriminators_gradient_never_exceeds_its_lipschitz_bound_and_sn_flattens_it",
          where="section 5: the live surface, the replay and the step-through"),
)
