"""VP noise schedules: read controls, call explainers, show figures."""

import numpy as np
import streamlit as st

import ui
from explainers import figures as F
from explainers import schedule_view as V
from explainers.prose import schedule as text
from explainers.state import ScheduleView

PAGE = "noise_schedule"


@st.cache_resource(show_spinner="Loading the 2D denoiser…")
def shared_model(dataset: str, device: str):
    """One model per dataset per process, shared read-only by every session."""
    from explainers.models import load_denoiser2d

    return load_denoiser2d(dataset, device=device)


clean_points = st.cache_data(max_entries=64, show_spinner=False)(V.clean_points)
density_grid = st.cache_data(max_entries=16, show_spinner=False)(V.density_grid)
density_level = st.cache_data(max_entries=16, show_spinner=False)(V.density_level)
true_data_score = st.cache_data(max_entries=16, show_spinner=False)(V.true_data_score)
N_POINTS = V.N_POINTS


@st.cache_data(max_entries=64, show_spinner="Generating samples…")
def generation(schedule_key: tuple, settings: dict, device: str) -> V.Generation:
    """Reverse sampling is deterministic in its inputs, so sessions asking for the same view share it.
    settings: V.generation_values(view), the fields a generation depends on."""
    from explainers.data2d import get_dataset

    model = shared_model(settings["dataset"], device)
    return V.generate_view(model, get_dataset(settings["dataset"]), schedule_key[0], settings, device=device)


device, device_text, notices = ui.page_start(PAGE, V.PARAMS, "VP noise schedules", text.SUMMARY)
timer = ui.Timer()

# ---- controls -------------------------------------------------------------------------------
P = V.PARAM

with st.sidebar:
    st.header("Schedule")
    names = ui.widget(P["schedule"])
    T = ui.widget(P["T"])
    with st.expander("Family parameters", expanded=False):
        if any(n in ("linear", "sigmoid") for n in names):
            ui.widget(P["beta_start"], format="%.5f")
            ui.widget(P["beta_end"], format="%.3f")
        if "scaled_linear" in names:
            ui.widget(P["sl_beta_start"], format="%.5f")
            ui.widget(P["sl_beta_end"], format="%.3f")
        if "cosine" in names:
            ui.widget(P["cosine_s"], format="%.3f")
        if "vp_sde" in names:
            ui.widget(P["beta_min"])
            ui.widget(P["beta_max"])
    ui.widget(P["ztsnr"])
    contrast = ui.widget(P["contrast"])
    if contrast == "flow_matching":
        ui.widget(P["shift"])

ui.level_selector()
view = ui.read_view(ScheduleView, V.PARAMS, notices)
ui.show_notices(PAGE, list(view.notices))

with timer.part("schedules"):
    built, errors = V.build_schedules(view)
    contrast_coefs = V.contrast_of(view)
for line in errors:
    st.error(f"Cannot build {line}. Showing the other schedules.", icon=":material/error:")
if not built:
    built = [V.fallback_schedule(view)]
primary = built[0]
t_axis = np.arange(T)

# ---- explanation ----------------------------------------------------------------------------
ui.explanation(view.level, text)

# ---- figures 1-3: the schedule itself --------------------------------------------------------
st.subheader("1 · The schedule: β_t and ᾱ_t")
ui.figure(F.schedule_curves(t_axis, [(V.label(s.name), s.betas, s.alphas_cumprod) for s in built]),
          "β_t is the noise added at step t; ᾱ_t is the share of signal variance left. "
          + "; ".join(f"{V.label(s.name)}: ᾱ at t = {T // 2 - 1} is {s.alphas_cumprod[T // 2 - 1]:.4f}, "
                      f"at t = {T - 1} {s.alphas_cumprod[-1]:.3g}" for s in built) + ".", key="schedule_curves")

st.subheader("2 · Signal variance + noise variance = 1 (for VP)")
contrast_tuple = None
if contrast_coefs is not None:
    contrast_tuple = (V.label(contrast_coefs.name), contrast_coefs.signal_coef**2, contrast_coefs.noise_coef**2)
total = primary.alphas_cumprod + (1 - primary.alphas_cumprod)
caption = (f"Stacked: signal variance ᾱ_t and noise variance 1 − ᾱ_t of {V.label(primary.name)}; their sum stays "
           f"between {total.min():.6f} and {total.max():.6f}.")
if contrast_coefs is not None:
    tv = contrast_coefs.total_variance
    caption += (f" The {V.label(contrast_coefs.name)} contrast is not VP: its total variance runs from "
                f"{tv.min():.3g} to {tv.max():.3g}.")
ui.figure(F.variance_split(t_axis, V.label(primary.name), primary.alphas_cumprod, 1 - primary.alphas_cumprod,
                           contrast_tuple), caption, key="variance_split")

st.subheader("3 · Signal-to-noise ratio")
snr_series = [(V.label(s.name), s.log_snr) for s in built]
if contrast_coefs is not None:
    snr_series.append((f"{V.label(contrast_coefs.name)} (not VP)", contrast_coefs.log_snr, F.CONTRAST))
inf_names = [V.label(s.name) for s in built if np.isneginf(s.log_snr).any()]
caption = "log-SNR falls from " + "; ".join(
    f"{V.label(s.name)} {s.log_snr[0]:.2f} to {F.clip_log_snr(s.log_snr)[0][-1]:.2f}" for s in built) + "."
if inf_names:
    caption += (f" With zero terminal SNR the last step has SNR 0, log-SNR = −∞; it is drawn at "
                f"{F.LOG_SNR_FLOOR:g} with a ▼ marker.")
ui.figure(F.snr_curves(t_axis, snr_series), caption, key="snr")

# ---- figure 4: measured variance ------------------------------------------------------------
st.subheader("4 · Measured on real samples: does Var[x_t] stay 1?")
with timer.part("variance check"):
    x0 = clean_points(view.dataset, view.seed)
    from explainers.schedules import vp_coefficients

    checks = [(V.label(s.name), V.variance_check(vp_coefficients(s), x0, view.seed)) for s in built]
    if contrast_coefs is not None:
        checks.append((f"{V.label(contrast_coefs.name)} (not VP)",
                       V.variance_check(contrast_coefs, x0, view.seed)))
theory = [(name, np.interp(t_axis, c.t, c.theory)) if "(not VP)" in name else (name, np.ones(T))
          for name, c in checks]
if contrast_coefs is not None:
    theory[-1] = (checks[-1][0], contrast_coefs.total_variance, F.CONTRAST)
points = []
for name, c in checks:
    points.append((f"{name}, 2D points", c.t, c.measured_2d))
    points.append((f"{name}, image pixels", c.t, c.measured_image))
if contrast_coefs is not None:  # the contrast's two rows of markers
    points[-2:] = [(*p, F.CONTRAST) for p in points[-2:]]
worst = max(abs(c.measured_2d - c.theory).max() for name, c in checks if "(not VP)" not in name)
ui.figure(F.measured_vs_theory(t_axis, theory, points, log_y=contrast_coefs is not None),
          f"Markers: variance measured on {V.N_POINTS} standardised 2D points and on the image's pixels after "
          f"forward noising; lines: theory. For VP the measured variance stays within {worst:.3f} of 1.",
          key="measured_variance")


# ---- figure 5: the forward process at t -----------------------------------------------------
@st.fragment
def forward_process(schedule, x0, seed):
    st.subheader("5 · The forward process at step t")
    dep = V.dependent_params(schedule.T, view.steps)
    t = ui.widget(dep["t"], check_url=True)
    a, b = float(schedule.signal_coef[t]), float(schedule.noise_coef[t])
    from explainers.image_data import procedural_image

    xt = V.forward_at(a, b, V.standardise(x0), seed)
    img_t = V.forward_at(a, b, procedural_image(), seed)
    st.markdown(f"**{V.label(schedule.name)}, t = {t}:** x_t = {a:.3f}·x₀ + {b:.3f}·ε  (ᾱ_t = {a * a:.4f}, "
                f"SNR = {a * a / max(b * b, 1e-300):.3g})")
    c1, c2 = st.columns(2)
    with c1:
        ui.figure(F.scatter_2d(xt, f"2D points at t = {t}", reference=V.standardise(x0)),
                  f"Grey: clean points; blue: the same points at t = {t}. Their variance is "
                  f"{xt.var(axis=0).mean():.3f} (VP theory: 1).", key="forward_points")
    with c2:
        ui.figure(F.image(img_t, f"Image at t = {t}"),
                  f"The procedural image at t = {t}: {100 * a * a:.1f}% of its variance is signal, "
                  f"{100 * b * b:.1f}% noise.", key="forward_image")


forward_process(primary, x0, view.seed)


# ---- figure 6: reverse generation ----------------------------------------------------------
@st.fragment
def reverse_generation(built, T: int):
    st.subheader("6 · Generating with this schedule")
    c1, c2, c3, c4 = st.columns(4)
    with c1:
        dataset = ui.widget(P["dataset"])
    with c2:
        sampler = ui.widget(P["sampler"])
    dep = V.dependent_params(T, st.session_state.get("steps", P["steps"].default))
    with c3:
        steps = ui.widget(dep["steps"], check_url=True)
    with c4:
        eta = ui.widget(P["eta"], disabled=sampler != "ddim")
    v = ui.read_view(ScheduleView, V.PARAMS)  # with this fragment's controls as just drawn
    gens, ftimer = [], ui.Timer()
    with ftimer.part("sampling"):
        for s in built:
            try:
                gens.append(ui.on_device(lambda d, s=s: generation((s.name,), V.generation_values(v), d), device))
            except (FileNotFoundError, RuntimeError) as err:
                st.error(str(err), icon=":material/error:")
                return
    step = ui.widget(V.dependent_params(T, steps)["step"])
    panels = [(f"{V.label(g.schedule)} · step {step}/{steps}", g.trajectory[step]) for g in gens]
    level = density_level(dataset)
    inside = "; ".join(f"{V.label(g.schedule)} {100 * V.inside_share(g.trajectory[step], dataset, level):.0f}%"
                       for g in gens)
    ui.figure(F.generation_panels(panels, density=density_grid(dataset), level=level),
              f"{sampler.upper()} with {steps} steps from the same noise (seed {v.seed}), one panel per "
              f"schedule. The black line encloses {100 * V.TRUE_DATA_MASS:.0f}% of the true data; inside it at "
              f"step {step}: {inside}. Move 'Reverse step shown' to replay the trajectory.",
              key="generation")
    truth = true_data_score(dataset)
    st.markdown(V.score_table(gens, truth))  # a Markdown table: far cheaper per rerun than a dataframe widget
    if len(gens) >= 2:
        st.markdown(f"**A/B:** {V.compare_line(gens)}")
    st.caption(f"Sample quality against the true data. The log-density gap is the distance of the samples' mean "
               f"log-density from the data's own value, {truth['data_log_density']:.2f}: 0 means as the data, and "
               f"{N_POINTS:,} fresh true samples score {truth['log_density_gap']:.3f}. A higher mean log-density "
               f"is not better: samples squeezed onto the modes score above the data. Spread: the median distance "
               f"to the nearest mode centre, divided by the data's (below {V.UNDER_DISPERSED:g}: too tight). "
               f"Higher mode coverage, fewer points off the modes and a lower energy distance are better.")
    dispersion = V.dispersion_line(gens)
    if dispersion:
        st.markdown(f"**Under-dispersion:** {dispersion}")
    ui.cost_readout(device_text, ftimer)


reverse_generation(built, view.T)

# ---- misconceptions, sharing and cost --------------------------------------------------------
ui.share_and_export(PAGE)
ui.misconceptions(text)

ui.cost_readout(device_text, timer)
