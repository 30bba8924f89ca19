"""Backward noise initialization (Eq. 1 of Self-Forcing++): read controls, call explainers, show figures."""

import numpy as np
import streamlit as st

import ui
from explainers import backward_view as V
from explainers import figures as F
from explainers.prose import backward_init as text
from explainers.state import BackwardView

PAGE = "backward_noise_init"


@st.cache_resource(show_spinner="Loading the frame model…")
def shared_model(device: str):
    """Loaded once per process and shared read-only by every session."""
    from explainers.frame_model import load_frame_model

    return load_frame_model(device=device)


@st.cache_data(max_entries=64, show_spinner="Rolling out frames…")
def reading_result(reading: str, settings: BackwardView, device: str) -> V.ReadingResult:
    """settings: V.rollout_settings(view), so both readings and every training window share the key."""
    return V.run_reading(shared_model(device), reading, settings)


@st.cache_data(max_entries=64, show_spinner=False)
def training_start(settings: BackwardView, device: str) -> dict:
    rollout = reading_result("denoising_step", V.rollout_settings(settings), device)
    return V.training_start(shared_model(device), rollout.frames, settings)


device, device_text, notices = ui.page_start(PAGE, V.PARAMS, "Backward noise initialization: what is t in Eq. 1?",
                                             text.SUMMARY)
P = V.PARAM
with st.sidebar:
    st.header("Rollout")
    reading = ui.widget(P["reading"])
    compare = ui.widget(P["compare"])
    n_frames = ui.widget(P["n_frames"])
    steps = ui.widget(P["steps"])
    shift = ui.widget(P["shift"])
    init_schedule = ui.widget(P["init_schedule"],
                              help="Only the frame-index reading uses it. Constant: every frame starts at σ_init "
                              "(this app's construction). Indexed by frame: frame n starts at level n of the σ list, "
                              "as Eq. 1 read literally says; past the list's end, its last level.")
    sigma_init = ui.widget(P["sigma_init"], help="Only the frame-index reading with a constant σ_init uses it: how much "
                           "noise is put back on the previous frame's prediction. Near 0 copies it, 1 ignores it.")
    form = ui.widget(P["form"], help="flow: x = (1 − σ) x̂₀ + σ ε (Wan-style flow matching); VP: the same re-noising "
                     "written as √ᾱ x̂₀ + √(1 − ᾱ) ε. Both give the same frames up to rounding.")

ui.level_selector()
ui.show_notices(PAGE, notices)
view = ui.read_view(BackwardView, V.PARAMS, notices)

# ---- Eq. 1, relabelled for the chosen reading ------------------------------------------------
with st.container(border=True):
    st.markdown("**Eq. 1 as printed:**")
    st.latex(text.EQ1_PAPER)
    st.markdown(text.EQ1_PAPER_NOTE)
    st.markdown(text.EQ1_FLOW_NOTE)
    st.latex(text.EQ1_FLOW)
    st.markdown(text.EQ1_AGREE_TEXT)
    for line in text.EQ1_AGREE:
        st.latex(line)
    st.markdown(f"**Read as {V.READING_LABELS[reading]}:**")
    eq, meaning = text.eq1_for(reading, init_schedule, V.sigma_list(view))
    st.latex(eq)
    st.markdown(meaning)
    st.markdown(text.WHICH_READING)

ui.explanation(view.level, text)

# ---- run ---------------------------------------------------------------------------------------
timer = ui.Timer()
readings = V.reading_list(view)
try:
    with timer.part("rollouts"):
        results = [ui.on_device(lambda d, r=r: reading_result(r, V.rollout_settings(view), d), device) for r in readings]
        truth = V.truth(view)
except (FileNotFoundError, RuntimeError) as err:
    st.error(str(err), icon=":material/error:")
    st.stop()

label = V.READING_LABELS
st.info(V.summary_line(results), icon=":material/compare_arrows:")

st.subheader("1 · Noise level of every model call")
matrices = [(label[r.reading], r.noise_levels) for r in results]
shown = min(n_frames, V.MATRIX_ROWS)
ui.figure(F.noise_level_matrices(matrices, max_frames=shown),
          "Rows are frames n, columns the denoising-step slots k; colour and number are σ. Blank cells are skipped "
          f"steps. σ list: {', '.join(f'{s:.4f}' for s in results[0].noise_levels[0])}. "
          + V.matrix_rows_note([m for _, m in matrices], shown), key="sigma_matrices")

st.subheader("2 · Generated frames")
ids = list(np.linspace(0, n_frames - 1, min(n_frames, 12)).round().astype(int))
rows = [("true video", truth.frames)] + [(label[r.reading], r.frames) for r in results]
ui.figure(F.frame_strips(rows, ids),
          f"{len(ids)} of the {n_frames} frames, evenly spaced: the true video (top) and each reading's rollout "
          f"from the same {V.N_CONTEXT} context frames and the same noise.", key="frame_strips")
ui.figure(F.frames_animation(rows), "Press Play, or drag the slider to step through frames. All rows play together.",
          key="animation")
from explainers.backward_init import frames_to_gif  # noqa: E402  (imageio is only needed for the download)

# The GIF is encoded only when someone asks for it (a callable), not on every rerun: encoding took a fifth
# of this page's server time.
gif_frames = np.concatenate([f for _, f in rows], axis=2)


def gif() -> bytes:
    return frames_to_gif(gif_frames, fps=6)


st.download_button("Download the frames as GIF", gif,
                   file_name=f"eq1_{'_'.join(readings)}_seed{view.seed}.gif", mime="image/gif",
                   icon=":material/download:", on_click="ignore")

st.subheader("3 · What goes wrong over a long rollout")
frame_axis = np.arange(n_frames)
panels = [
    ("position error vs true ball (px)", [(label[r.reading], r.position_error) for r in results]),
    ("ball speed (px per frame)",
     [(label[r.reading], r.motion) for r in results] + [("true video", truth.motion, F.REFERENCE)]),
    ("mean brightness (0–255)",
     [(label[r.reading], r.brightness) for r in results] + [("true video", truth.brightness, F.REFERENCE)]),
]
ui.figure(F.per_frame_curves(frame_axis, panels, V.HORIZON),
          f"Per-frame scores; the dashed line is the {V.HORIZON}-frame training horizon. Brightness is the mean "
          "gray level of the pictures, 0 black to 255 white. " + V.summary_line(results),
          key="per_frame_scores")

st.subheader("4 · At training time: what the student is given")
dep = V.dependent_params(n_frames, steps)
c1, c2 = st.columns(2)
with c1:
    window_start = ui.widget(dep["window_start"], check_url=True)
with c2:
    train_step = ui.widget(dep["train_step"], check_url=True)
with timer.part("training window"):
    tw = training_start(V.training_settings(ui.read_view(BackwardView, V.PARAMS)), device)
ids = [f"n={window_start + i}" for i in range(V.window_length(n_frames))]
ui.figure(F.image_grid([
    ("the student's own rollout (clean)", tw["clean"]),
    (f"Eq. 1: re-noised to σ = {tw['sigma']:.4f} (what Self-Forcing++ trains from)", tw["renoised"]),
    ("the model's one-step prediction from it", tw["x0_hat_renoised"]),
    ("pure noise start (σ = 1)", tw["pure_noise"]),
    ("the model's one-step prediction from pure noise", tw["x0_hat_pure_noise"]),
], col_labels=ids), f"A window of {len(ids)} frames starting at frame {window_start} of the denoising-step rollout. "
    "Re-noising keeps the rollout's own (possibly drifted) content visible under the noise, so the student "
    "learns to repair its own errors; from pure noise only the context says where the ball is.",
    key="training_window_images")

ui.share_and_export(PAGE, extra={"frames.gif": gif})
ui.misconceptions(text)
ui.cost_readout(device_text, timer)
