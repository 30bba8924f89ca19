"""Optional spectral normalization per layer: read controls, call explainers, show figures."""

import time

import streamlit as st

import ui
from explainers import figures as F
from explainers import spectral_view as V
from explainers.prose import spectral as text
from explainers.state import SpectralView

PAGE = "spectral_norm"
TRAIN_BUDGET_S = 30.0  # a live run stops itself after this long, so one student cannot hog the server


@st.cache_resource(show_spinner="Loading the network…")
def shared_base(model: str, seed: int, device: str):
    """The untouched network, shared read-only by every session (normalized views are copies)."""
    return V.base_network(model, seed if model == "gan" else 0, device)


@st.cache_data(show_spinner="Power iteration on the frame model's real convolutions…")
def zero_padded_cached(device: str) -> dict:
    """The shipped frame model's zero-padded operator norms: hundreds of convolutions, once per process."""
    return V.zero_padded_norms(shared_base("frame_model", 0, device))


@st.cache_data(max_entries=32, show_spinner=False)
def conv_norms_cached(key: tuple, n_iter: int, threshold: float, seed: int, device: str):
    modes = dict(key)
    base = shared_base("frame_model", 0, device)
    return V.conv_norms(V.normalized(base, modes, n_iter, threshold, seed), base=base,
                        base_zero_padded=zero_padded_cached(device))


@st.cache_data(max_entries=64, show_spinner=False)
def denoiser_samples_cached(key: tuple, n_iter: int, threshold: float, seed: int, device: str):
    """Samples of the shipped denoiser with the modes in `key` (empty: all off), on a private copy."""
    base = shared_base("denoiser2d", 0, device)
    return V.denoiser_samples(V.normalized(base, dict(key), n_iter, threshold, seed), seed)


@st.fragment
def step_through(run_view, seed: int, device: str) -> None:
    """Drive a GAN run by hand: one D step, one G step, or a slow run, watching D's surface move."""
    from explainers import spectral_training as T

    with st.expander("Step through a GAN run yourself: one D step, one G step, or slowly", icon=":material/pace:"):
        run = st.session_state.get("_gan_manual")
        row = st.container(horizontal=True, wrap=True)
        if row.button("New run with these modes", icon=":material/restart_alt:", key="_manual_new") or run is None:
            run = st.session_state["_gan_manual"] = T.GanRun(V.gan_config(run_view), seed, MANUAL_STEPS, device=device)
        d, g = row.button("1 D step", key="_manual_d"), row.button("1 G step", key="_manual_g")
        slow = row.button(f"{SLOW_STEPS} steps, slowly", icon=":material/slow_motion_video:", key="_manual_slow")
        counts = st.session_state.setdefault("_gan_manual_counts", {"D": 0, "G": 0})
        if d:
            run.d_step()
            counts["D"] += 1
        if g:
            run.g_step()
            counts["G"] += 1
        slot = [st.empty()]
        if slow:
            for i in range(SLOW_STEPS):
                if run.done:
                    break
                run.step()
                counts["D"] += 1
                counts["G"] += 1
                ui.training.show_live(slot, V.live_shown("gan", run)[:1], f"manual_{i}")
                time.sleep(SLOW_PAUSE_S)
        fig, caption = V.live_shown("gan", run)[0]
        slot[0].empty()
        ui.figure(fig, f"After {counts['D']} D steps and {counts['G']} G steps. " + caption, key="manual_surface")


MANUAL_STEPS = 100_000  # a hand-driven run has no planned end
SLOW_STEPS = 20
SLOW_PAUSE_S = 0.15  # between two steps of a slow run: slow enough to watch D's surface move

device, device_text, notices = ui.page_start(PAGE, V.PARAMS, "Optional spectral normalization, layer by layer",
                                             text.SUMMARY)
P = V.PARAM
with st.sidebar:
    st.header("Network")
    model = ui.widget(P["model"])
    st.caption(V.MODEL_NOTES[model])
    n_iter = ui.widget(P["n_iter"])
    threshold = ui.widget(P["threshold"])

ui.level_selector()
ui.show_notices(PAGE, notices)
view = ui.read_view(SpectralView, V.PARAMS, notices)
seed = view.seed

ui.explanation(view.level, text)

# ---- per-layer toggles ------------------------------------------------------------------------
st.subheader("Normalization mode of each layer")
st.caption("**off**: raw weight · **SN**: divide by σ (power iteration), which shrinks a layer with σ > 1 "
           "and scales one with σ < 1 up · **bidirectional SN**: divide by the mean σ of both kernel "
           "reshapes (equals SN for linear layers) · **clip at threshold**: the app's own clip "
           "W / max(1, σ/λ), λ the threshold in the sidebar; layers with σ ≤ λ stay as they are. “Optional” SN "
           "means this per-layer choice; no mode decides anything by itself.")
layers = V.LAYERS[model]
# A wrapping row (not fixed columns): every mode of every layer stays visible on a projector.
mode_row = st.container(horizontal=True, wrap=True, key="layer_modes")
modes = {}
for i, layer in enumerate(layers):
    with mode_row:
        modes[layer] = ui.widget(V.PARAM[V.mode_key(layer)], buttons=True)

timer = ui.Timer()
try:
    with timer.part("load"):
        base = shared_base(model, seed, device)
except (FileNotFoundError, RuntimeError) as err:
    st.error(str(err), icon=":material/error:")
    st.stop()
with timer.part("spectra"):
    norm = V.normalized(base, modes, n_iter, threshold, seed)
    spectra = V.spectra(base, norm, modes)
sig_before = {s.layer: float(s.before[0]) for s in spectra}
sig_after = {s.layer: float(s.after[0]) for s in spectra}

# ---- 1. spectra ------------------------------------------------------------------------------------
st.subheader("1 · Singular values of every layer, before and after")
ui.figure(F.spectra_grid([(f"{s.layer} [{V.MODE_LABELS[s.mode]}]", s.before, s.after) for s in spectra]),
          "All singular values of each layer's weight (conv kernels reshaped to (out, in·kh·kw)), largest first, log "
          "scale; dotted line σ = 1. Largest σ raw → after: "
          + ", ".join(f"{name} {sig_before[name]:.2f} → {sig_after[name]:.2f}" for name in layers) + ".", key="spectra")

# ---- 2. power iteration ------------------------------------------------------------------------------
st.subheader("2 · Power iteration: how SN estimates σ")
trace_layer = st.selectbox(P["trace_layer"].label, layers, key="trace_layer", bind="query-params")
with timer.part("power iteration"):
    trace, exact = V.power_trace(base, trace_layer, seed)
ui.figure(F.power_trace(trace, exact, trace_layer),
          f"Estimate after each iteration from a random start (seed {seed}) for {trace_layer}: "
          f"{trace[0]:.4f} after 1, {trace[4]:.4f} after 5, {trace[-1]:.4f} after {len(trace)}; exact σ = {exact:.4f}. "
          "It approaches σ from below.", key="power_trace")

# ---- 3. Lipschitz bound --------------------------------------------------------------------------------
st.subheader("3 · Lipschitz upper bound as layers are toggled")
bound_before, note = V.lipschitz(model, sig_before)
bound_after, _ = V.lipschitz(model, sig_after)
ui.key_numbers(PAGE, V.key_numbers(sig_after, bound_after))
c1, c2 = st.columns([3, 1])
with c1:
    ui.figure(F.sigma_bars(layers, [sig_before[n] for n in layers], [sig_after[n] for n in layers]),
              "Each layer's largest singular value, raw (grey) and after its mode (blue); log scale, dotted line σ = 1.",
              key="sigma_bars")
with c2:
    if bound_before is None:
        st.info(note)
    else:
        st.metric("Lipschitz bound, raw", f"{bound_before:.3g}")
        st.metric("Lipschitz bound, with these modes", f"{bound_after:.3g}")
        st.caption(f"{bound_after / bound_before:.2g} × the raw bound. {note}")
st.markdown(f"**A/B:** {V.compare_line(modes, sig_before, sig_after, bound_before, bound_after)}")
ui.code_snippets([V.snippet(ui.read_view(SpectralView, V.PARAMS), model)], key="spectral")  # the modes as drawn

# ---- 4. conv layers ------------------------------------------------------------------------------------
st.subheader("4 · Convolutions: SN's σ is not the operator norm")
conv_modes = {layer: st.session_state.get(V.mode_key(layer), "off") for layer in V.LAYERS["frame_model"]}
with timer.part("conv norms"):
    try:
        rows = conv_norms_cached(tuple(sorted(conv_modes.items())), n_iter, threshold, seed, device)
    except (FileNotFoundError, RuntimeError) as err:
        rows = []
        st.error(str(err), icon=":material/error:")
if rows:
    names = [r.layer for r in rows]
    ui.figure(F.conv_norm_bars(names, [
        ("reshaped σ (what SN divides by)", [r.reshaped for r in rows]),
        ("BSN σ", [r.bsn for r in rows]),
        ("operator norm, circular padding (exact, 2D FFT)", [r.operator for r in rows]),
        ("operator norm of the real layer, zero padding (power iteration)", [r.zero_padded for r in rows]),
        ("upper bound √(kh·kw)·σ", [r.bound for r in rows]),
    ]), V.conv_caption(rows), key="conv_norms")

# ---- 5. live training ---------------------------------------------------------------------------------
st.subheader("5 · Train with these toggles")
if model not in V.TRAINABLE:
    st.info("Live training runs on the 2D GAN (where SN on the discriminator matters) and as a fine-tune of the "
            "2D denoiser. Pick one of them as the model to toggle its layers and train.")
else:
    from explainers import spectral_training as T

    if model == "denoiser2d":
        # SN on a trained layer changes the function at once: show it before any training.
        with timer.part("samples"):
            raw_samples = denoiser_samples_cached((), n_iter, threshold, seed, device)
            now_samples = denoiser_samples_cached(tuple(sorted(modes.items())), n_iter, threshold, seed, device)
        c1, c2 = st.columns(2)
        for col, which, title, smp in ((c1, "shipped", "shipped denoiser (all off)", raw_samples),
                                       (c2, "with_modes", f"with these modes: {V.mode_summary(modes)}", now_samples)):
            with col:
                ui.figure(F.scatter_2d(smp.points, title, reference=V.mode_centres(model), limit=3.0,
                                       reference_name="the 8 true mode centres"),
                          f"{len(smp.points):,} samples, DDIM 50 steps on the cosine schedule, from the same noise "
                          f"(seed {seed}); grey: the 8 true modes. Mode coverage {smp.coverage:.2f}, energy "
                          f"distance to the data {smp.energy_distance:.3g} (0 = same distribution).",
                          key=f"samples_{which}")
        st.caption("Fine-tuning trains a copy of the denoiser, with these modes, on the loss it was trained with: "
                   "how much of the quality can the normalized network win back?")

    c1, c2, c3 = st.columns(3)
    with c1:
        train_steps = ui.widget(P["train_steps"])
    with c2:
        ui.widget(P["lr"])
    with c3:
        st.write("")
        start = st.button("Train" if model == "gan" else "Fine-tune", key="train", icon=":material/play_arrow:")
    run_view = ui.read_view(SpectralView, V.PARAMS)  # with the run's controls as just drawn
    last_key, runs_key = f"_train_last_{model}", f"_train_runs_{model}"

    def make_run(d: str):
        if model == "gan":
            return T.GanRun(V.gan_config(run_view), seed, train_steps, device=d)
        return T.FinetuneRun(V.finetune_config(run_view), seed, train_steps, device=d, model=base)

    with timer.part("training"):
        ended = ui.live_training(f"{PAGE}/{model}", start, V.mode_summary(modes), make_run, device,
                                 lambda record: V.progress_detail(model, record), TRAIN_BUDGET_S,
                                 live=lambda run: V.live_shown(model, run), live_slots=2)
    if ended is not None:
        st.session_state[last_key] = (ended.label, ended.history)
        runs = st.session_state.setdefault(runs_key, [])
        runs.append(V.run_row(model, len(runs) + 1, ended.label, run_view, ended.history))
    if last_key in st.session_state and not st.session_state[last_key][1].coverage:
        st.info("The last run was stopped before its first step, so it has no samples or curves to show.",
                icon=":material/info:")
    elif last_key in st.session_state:
        summary, curves, samples, coverage = V.last_run_shown(model, *st.session_state[last_key])
        st.markdown(summary)
        if curves is not None:
            ui.figure(*curves, key="training_curves")
        c1, c2 = st.columns(2)
        with c1:
            ui.figure(*samples, key="trained_samples")
        with c2:
            ui.figure(*coverage, key="coverage_curve")
        history = st.session_state[last_key][1]
        steps = history.sample_steps
        if len(steps) > 1:
            n_runs = len(st.session_state.get(runs_key, []))
            at = st.select_slider("Replay the run: the snapshot at step", steps, value=steps[-1],
                                  key=f"_replay_{model}_{n_runs}")
            ui.figure(*V.replay_shown(model, history, steps.index(at)), key=f"replay_{model}")
    if model == "gan":
        step_through(run_view, seed, device)
    if st.session_state.get(runs_key):
        st.markdown("**Run history (this session)**")
        st.dataframe(st.session_state[runs_key], hide_index=True)
        if len(st.session_state[runs_key]) >= 2:
            st.markdown(f"**A/B:** {V.runs_line(model, *st.session_state[runs_key][-2:])}")

ui.share_and_export(PAGE)
ui.misconceptions(text)
ui.cost_readout(device_text, timer)
