"""Backward noise initialization (Eq. 1 of Self-Forcing++): read controls, call explainers, show figures."""

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

st.info(V.summary_line(results), icon=":material/compare_arrows:")
ui.key_numbers(PAGE, V.key_numbers(results, truth))

st.subheader("1 · Noise level of every model call")
ui.figure(*V.matrix_shown(results), key="sigma_matrices")

st.subheader("2 · Generated frames")
rows = V.frame_rows(results, truth)
ui.figure(*V.strip_shown(rows, n_frames), key="frame_strips")
ui.figure(F.frames_animation(rows), "Press Play, or drag the slider to step through frames. All rows play together.",
          key="animation")


def gif() -> bytes:
    return V.gif_of(rows)


st.download_button("Download the frames as GIF", gif,
                   file_name=f"eq1_{'_'.join(readings)}_seed{view.seed}.gif", mime="image/gif",
                   icon=":material/download:", on_click="ignore")

st.subheader("3 · What goes wrong over a long rollout")
ui.figure(*V.scores_shown(results, truth, n_frames), key="per_frame_scores")

st.subheader("4 · At training time: what the student is given")
dep = V.dependent_params(n_frames, steps)
c1, c2 = st.columns(2)
with c1:
    window_start = ui.widget(dep["window_start"], check_url=True)
with c2:
    train_step = ui.widget(dep["train_step"], check_url=True)
with timer.part("training window"):
    tw = training_start(V.training_settings(ui.read_view(BackwardView, V.PARAMS)), device)
ui.figure(*V.training_window_shown(tw, window_start, n_frames), key="training_window_images")

ui.share_and_export(PAGE, extra={"frames.gif": gif})
ui.misconceptions(text)
ui.cost_readout(device_text, timer)
