"""Optional spectral normalization per layer: read controls, call explainers, show figures."""

import time

import numpy as np
import streamlit as st

import ui
from explainers import figures as F
from explainers import spectral_view as V
from explainers.prose import spectral as text

PAGE = "spectral_norm"
TRAIN_BUDGET_S = 30.0  # a live run stops itself after this long, so one student cannot hog the server


@st.cache_resource(show_spinner="Loading the network…")
def shared_base(model: str, seed: int, device: str):
    """The untouched network, shared read-only by every session (normalized views are copies)."""
    return V.base_network(model, seed if model == "gan" else 0, device)


@st.cache_data(max_entries=32, show_spinner=False)
def conv_norms_cached(key: tuple, n_iter: int, threshold: float, seed: int, device: str):
    modes = dict(key)
    base = shared_base("frame_model", 0, device)
    return V.conv_norms(V.normalized(base, modes, n_iter, threshold, seed))


device, device_text, notices = ui.page_start(PAGE, V.PARAMS, "Optional spectral normalization, layer by layer",
                                             text.SUMMARY)
P = V.PARAM
with st.sidebar:
    st.header("Network")
    model = ui.widget(P["model"])
    st.caption(V.MODEL_LABELS[model])
    n_iter = ui.widget(P["n_iter"])
    threshold = ui.widget(P["threshold"])

level = ui.level_selector()
ui.show_notices(PAGE, notices)
seed = st.session_state.get("seed", 0)

ui.explanation(level, text)

# ---- per-layer toggles ------------------------------------------------------------------------
st.subheader("Normalization mode of each layer")
st.caption("off: raw weight · sn: divide by σ (power iteration) · bsn: divide by the mean σ of both kernel "
           "reshapes (equals SN for linear layers) · optional: divide only while σ exceeds the threshold.")
layers = V.LAYERS[model]
cols = st.columns(min(4, len(layers)))
modes = {}
for i, layer in enumerate(layers):
    with cols[i % len(cols)]:
        modes[layer] = st.segmented_control(layer, list(V.MODE_LABELS), default="off", key=V.mode_key(layer),
                                            bind="query-params") or "off"

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
          + ", ".join(f"{name} {sig_before[name]:.2f} → {sig_after[name]:.2f}" for name in layers) + ".")

# ---- 2. power iteration ------------------------------------------------------------------------------
st.subheader("2 · Power iteration: how SN estimates σ")
trace_layer = st.selectbox(P["trace_layer"].label, layers, key="trace_layer", bind="query-params")
with timer.part("power iteration"):
    trace, exact = V.power_trace(base, trace_layer, seed)
ui.figure(F.power_trace(trace, exact, trace_layer),
          f"Estimate after each iteration from a random start (seed {seed}) for {trace_layer}: "
          f"{trace[0]:.4f} after 1, {trace[4]:.4f} after 5, {trace[-1]:.4f} after {len(trace)}; exact σ = {exact:.4f}. "
          "It approaches σ from below.")

# ---- 3. Lipschitz bound --------------------------------------------------------------------------------
st.subheader("3 · Lipschitz upper bound as layers are toggled")
bound_before, note = V.lipschitz(model, sig_before)
bound_after, _ = V.lipschitz(model, sig_after)
c1, c2 = st.columns([3, 1])
with c1:
    ui.figure(F.sigma_bars(layers, [sig_before[n] for n in layers], [sig_after[n] for n in layers]),
              "Each layer's largest singular value, raw (grey) and after its mode (blue); log scale, dotted line σ = 1.")
with c2:
    if bound_before is None:
        st.info(note)
    else:
        st.metric("Lipschitz bound, raw", f"{bound_before:.3g}")
        st.metric("Lipschitz bound, with these modes", f"{bound_after:.3g}")
        st.caption(f"{bound_after / bound_before:.2g} × the raw bound. {note}")
st.markdown(f"**A/B:** {V.compare_line(modes, sig_before, sig_after, bound_before, bound_after)}")

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
        ("true operator norm (circular padding, at the layer's input size)", [r.operator for r in rows]),
        ("upper bound √(kh·kw)·σ", [r.bound for r in rows]),
    ]), "The frame model's conv layers with their modes from this page (choose 'frame model convs' to toggle them). "
        + ", ".join(f"{r.layer}: reshaped {r.reshaped:.2f}, operator {r.operator:.2f}" for r in rows)
        + ". Computed exactly from the kernel's 2D FFT at each layer's input size (32×32, or 16×16 after "
          "the stride-2 conv_down), with dilation and stride taken into account.")

# ---- 5. live training ---------------------------------------------------------------------------------
st.subheader("5 · Train with these toggles")
if model != "gan":
    st.info("Live training runs on the 2D GAN, the classic place where SN on the discriminator matters. "
            "Pick “2D GAN” as the model to toggle its layers and train.")
else:
    c1, c2, c3 = st.columns(3)
    with c1:
        train_steps = ui.widget(P["train_steps"])
    with c2:
        lr = ui.widget(P["lr"])
    with c3:
        st.write("")
        start = st.button("Train", icon=":material/play_arrow:")
    values = {**{V.mode_key(k): m for k, m in modes.items()}, "n_iter": n_iter, "threshold": threshold, "lr": lr}
    from explainers.spectral_training import history_from_records, train_gan

    def finish(label: str, history) -> None:
        st.session_state["_gan_last"] = (label, history)
        runs = st.session_state.setdefault("_gan_runs", [])
        runs.append({"run": len(runs) + 1, "modes": label, "power its": n_iter, "lr": lr, "seed": seed,
                     "steps": history.step[-1], "ended": history.stopped,
                     "mode coverage": round(history.coverage[-1], 3),
                     "max D Lipschitz bound": round(max(history.d_lipschitz_bound), 3),
                     "seconds": round(history.elapsed_s, 1)})

    partial = st.session_state.pop("_gan_partial", None)
    if partial and partial["records"] and not start:
        # The Stop button (or leaving the page) interrupted the run: keep what it trained.
        finish(partial["label"], history_from_records(partial["records"], "stopped by you", partial["elapsed_s"]))
        st.warning(f"Training stopped at step {partial['records'][-1]['step']}; the results so far are shown.",
                   icon=":material/stop_circle:")
    if start:
        progress = st.progress(0.0, text="Training…")
        stop_slot = st.empty()
        stop_slot.button("Stop", icon=":material/stop:", help="Stops the run; what was trained so far is kept.")
        partial = st.session_state["_gan_partial"] = {"label": V.mode_summary(modes), "records": [], "elapsed_s": 0.0}
        started = time.perf_counter()

        def report(step, record):
            partial["records"].append(record)
            partial["elapsed_s"] = time.perf_counter() - started
            if step % 25 == 0 or step == train_steps:
                progress.progress(step / train_steps, text=f"step {step}/{train_steps}: D loss {record['d_loss']:.3f}, "
                                  f"D Lipschitz bound {record['d_lipschitz_bound']:.3g}")

        with timer.part("training"):
            history = ui.on_device(lambda d: train_gan(V.gan_config(values), seed, train_steps, callback=report,
                                                       time_budget_s=TRAIN_BUDGET_S, device=d), device)
        st.session_state.pop("_gan_partial", None)
        progress.empty()
        stop_slot.empty()
        finish(V.mode_summary(modes), history)
    if "_gan_last" in st.session_state:
        label, history = st.session_state["_gan_last"]
        steps = np.asarray(history.step)
        st.markdown(f"**Last run:** {label}; {history.step[-1]} steps ({history.stopped}), "
                    f"{history.elapsed_s:.1f} s, final mode coverage {history.coverage[-1]:.2f}.")
        ui.figure(F.training_curves(steps, [
            ("losses (D blue, G orange)", [("D loss", history.d_loss), ("G loss", history.g_loss)], False),
            ("gradient norms", [("D grad", history.d_grad_norm), ("G grad", history.g_grad_norm)], True),
            ("D layer σ", [(k, v) for k, v in history.d_sigmas.items()], True),
            ("D Lipschitz bound", [("bound", history.d_lipschitz_bound)], True),
        ]), f"Per step. D Lipschitz bound: max {max(history.d_lipschitz_bound):.3g}, final "
            f"{history.d_lipschitz_bound[-1]:.3g}. Final D loss {history.d_loss[-1]:.3f}, G loss {history.g_loss[-1]:.3f}.")
        c1, c2 = st.columns(2)
        with c1:
            from explainers.gan import ring8_centers

            ui.figure(F.scatter_2d(history.samples[-1], "generated samples", reference=ring8_centers(), limit=3.0),
                      f"1,000 generator samples at step {history.sample_steps[-1]} (blue) and the 8 true modes (grey); "
                      f"mode coverage {history.coverage[-1]:.2f}.")
        with c2:
            ui.figure(F.step_curve(np.asarray(history.sample_steps), [("mode coverage", history.coverage)],
                                   "step", "modes covered (fraction)"),
                      f"Fraction of the 8 modes that get a fair share of samples, every {100} steps.")
    if st.session_state.get("_gan_runs"):
        st.markdown("**Run history (this session)**")
        st.dataframe(st.session_state["_gan_runs"], hide_index=True)
        if len(st.session_state["_gan_runs"]) >= 2:
            st.markdown(f"**A/B:** {V.runs_line(*st.session_state['_gan_runs'][-2:])}")

ui.share_and_export(PAGE)
ui.misconceptions(text)
ui.cost_readout(device_text, timer)
