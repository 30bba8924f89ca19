"""VP noise schedules: read controls, call explainers, show figures."""

import streamlit as st

import ui
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


@st.cache_data(max_entries=64, show_spinner="Generating samples…")
def generation(schedule_key: tuple, settings: dict, device: str) -> V.Generation:
    """Reverse sampling is deterministic in its inputs, so sessions asking for the same view share it.
    settings: V.generation_values(view), the fields a generation depends on."""
    from explainers.data2d import get_dataset

    model = shared_model(settings["dataset"], device)
    return V.generate_view(model, get_dataset(settings["dataset"]), schedule_key[0], settings, device=device)


@st.cache_data(max_entries=64, show_spinner="Sampling with the exact denoiser…")
def exact_generation(schedule_key: tuple, settings: dict) -> V.Generation:
    """The same sampling with the exact denoiser of the known density (CPU): shared like `generation`."""
    return V.generate_exact_view(settings["dataset"], schedule_key[0], settings)


@st.cache_data(max_entries=128, show_spinner=False)
def score_field(schedule_key: tuple, settings: dict, t: int, device: str) -> V.ScoreField:
    return V.score_field_view(shared_model(settings["dataset"], device), schedule_key[0], settings, t)


device, device_text, notices = ui.page_start(PAGE, V.PARAMS, "VP noise schedules", text.SUMMARY)
timer = ui.Timer()

# ---- controls -------------------------------------------------------------------------------
P = V.PARAM

with st.sidebar:
    st.header("Schedule")
    names = ui.widget(P["schedule"])
    ui.widget(P["T"])
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
        if "karras" in names:
            ui.widget(P["sigma_min"], format="%.3f")
            ui.widget(P["sigma_max"])
            ui.widget(P["rho"])
        if "custom" in names:
            st.caption("Custom: log-SNR at five points along t, joined by a monotone cubic; each must be "
                       "below the one before.")
            for key in V.KNOT_KEYS:
                ui.widget(P[key])
    if any(n in ("karras", "custom") for n in names):
        st.caption("The 2D model is conditioned on log-SNR, not on a step number, so it samples Karras and custom "
                   "schedules as they are, without retraining.")
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

# ---- explanation ----------------------------------------------------------------------------
ui.explanation(view.level, text)

# ---- figures 1-3: the schedule itself --------------------------------------------------------
def schedule_section() -> None:
    st.subheader("1 · The schedule: β_t and ᾱ_t")
    ui.figure(*V.schedule_shown(built), key="schedule_curves")
    ui.key_numbers(PAGE, V.key_numbers(built))
    ui.code_snippets(V.snippets(view, built), key="schedule")
    st.subheader("2 · Signal variance + noise variance = 1 (for VP)")
    ui.figure(*V.variance_split_shown(primary, contrast_coefs), key="variance_split")
    st.subheader("3 · Signal-to-noise ratio")
    ui.figure(*V.snr_shown(built, contrast_coefs), key="snr")


# ---- figure 4: measured variance ------------------------------------------------------------
def measured_section() -> None:
    st.subheader("4 · Measured on real samples: does Var[x_t] stay 1?")
    with timer.part("variance check"):
        x0 = clean_points(view.dataset, view.seed)
        vp_checks, contrast_check = V.variance_checks(built, contrast_coefs, x0, view.seed)
    ui.figure(*V.measured_shown(view.T, vp_checks, contrast_coefs, contrast_check), key="measured_variance")


# ---- figure 5: the forward process at t -----------------------------------------------------
@st.fragment
def forward_process(schedule, x0, seed, contrast_coefs):
    st.subheader("5 · The forward process at step t")
    dep = V.dependent_params(schedule.T, view.steps)
    t = ui.widget(dep["t"], check_url=True)
    line, points, image = V.forward_shown(schedule, t, x0, seed)
    st.markdown(line)
    c1, c2 = st.columns(2)
    with c1:
        ui.figure(*points, key="forward_points")
    with c2:
        ui.figure(*image, key="forward_image")
    st.markdown("**Which frequencies the noise erases first**")
    ui.figure(*V.spectrum_shown(schedule, t, contrast_coefs), key="frequency_power")
    explained = V.spectrum_text(view.level)
    if explained:
        st.markdown(explained)
    st.markdown("**The score at t: the model against the exact answer**")
    try:
        field = score_field((schedule.name,), V.generation_values(view), t, device)
    except (FileNotFoundError, RuntimeError) as err:
        st.error(str(err), icon=":material/error:")
    else:
        ui.figure(*V.score_field_shown(field), key="score_field")




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
        ui.widget(P["eta"], disabled=sampler != "ddim")
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
    ui.figure(*V.generation_shown(gens, v, step, density_grid(dataset), density_level(dataset)), key="generation")
    ui.key_numbers(PAGE, V.generation_numbers(gens))
    truth = true_data_score(dataset)
    st.markdown(V.score_table(gens, truth))  # a Markdown table: far cheaper per rerun than a dataframe widget
    if len(gens) >= 2:
        st.markdown(f"**A/B:** {V.compare_line(gens)}")
    st.caption(V.quality_caption(truth))
    ui.figure(*V.step_rug_shown(gens, v), key="step_rug")
    dispersion = V.dispersion_line(gens)
    if dispersion:
        st.markdown(f"**Under-dispersion:** {dispersion}")

    st.subheader("7 · The exact answer beside the model")
    settings = V.generation_values(v)
    with ftimer.part("exact sampling"):
        exact = [exact_generation((g.schedule,), settings) for g in gens]
    shown, split = V.exact_shown(gens, exact, v, step, density_grid(dataset), density_level(dataset))
    ui.figure(*shown, key="exact_generation")
    st.markdown(split)
    st.caption(V.GAP_SPLIT_NOTE)
    ui.key_numbers(PAGE, V.split_numbers(gens, exact))
    ui.cost_readout(device_text, ftimer)




# ---- 8: your own 2D data -------------------------------------------------------------------------
def own_data(schedule) -> None:
    from explainers import custom_data as C
    from explainers import custom_view as CV

    st.subheader("8 · Your own 2D data")
    st.markdown("Give the shipped denoiser new data, fine-tune a private copy of it here, and sample it with "
                "this page's schedule and sampler. The model is conditioned on log-SNR, so every schedule "
                "samples it without retraining.")
    source = st.radio("Data", CV.SOURCES, format_func=CV.SOURCE_LABELS.get, horizontal=True, key="_own_source")
    dataset = None
    try:
        if source == "upload":
            file = st.file_uploader("CSV with two numeric columns (x, y), at most "
                                    f"{C.MAX_ROWS:,} rows and {C.MAX_BYTES // 2**20} MB", type=["csv", "txt"],
                                    key="_own_file")
            if file is not None:
                dataset, summary = CV.dataset_from_upload(file.getvalue(), file.name)
                st.caption(summary)
        else:
            st.caption(f"Tick the cells your data should fill ({CV.SKETCH_CELLS}×{CV.SKETCH_CELLS} grid, top row "
                       "at the top); points are drawn uniformly inside the ticked cells.")
            grid = st.data_editor(CV.starter_sketch(), key="_own_sketch", hide_index=True, width="content")
            dataset = CV.dataset_from_sketch(grid)
    except C.UploadError as err:
        st.error(str(err), icon=":material/error:")
    if dataset is None:
        return
    ui.figure(*CV.data_shown(dataset, view.seed), key="own_data")
    start = st.button("Fine-tune on this data", icon=":material/play_arrow:", key="_own_train")
    ended = ui.live_training(f"{PAGE}/own", start, dataset.name,
                             lambda d: C.FinetuneOnPointsRun(dataset, seed=view.seed, n_steps=OWN_STEPS, device=d,
                                                             model=shared_model("ring8", d)),
                             device, CV.progress_detail, OWN_BUDGET_S)
    if ended is not None:  # this session's own copy: the shared model is never trained
        st.session_state["_own_tuned"] = (CV.fingerprint(dataset), dataset, ended.run.net.eval(), {})
    tuned = st.session_state.get("_own_tuned")
    if tuned is None:
        return
    key, learned, net, samples = tuned
    if key != CV.fingerprint(dataset):
        st.caption("The fine-tuned model below learned an earlier version of the data; fine-tune again for this one.")
    setting = (schedule.name, schedule.T, float(schedule.alphas_cumprod[-1]), view.sampler, view.steps, view.eta,
               view.seed)
    if setting not in samples:  # sampled once per setting, then kept with the session's model
        samples[setting] = [CV.sample_with(m, learned, schedule, view.sampler, view.steps, view.eta, view.seed)
                            for m in (shared_model("ring8", device), net)]
    shown, note = CV.samples_shown(*samples[setting], V.label(schedule.name), view.sampler, view.steps)
    ui.figure(*shown, key="own_samples")
    st.caption(note)


OWN_STEPS = 1000  # fine-tuning steps: a few seconds on one CPU thread
OWN_BUDGET_S = 30.0  # and never longer than this, so one student cannot hog the server

# ---- the open section ---------------------------------------------------------------------------
section, tab = ui.sections(PAGE, V.SECTIONS)
with tab:
    if section in ("schedule", "all"):
        schedule_section()
    if section in ("measured", "all"):
        measured_section()
    if section in ("forward", "all"):
        forward_process(primary, clean_points(view.dataset, view.seed), view.seed, contrast_coefs)
    if section in ("generation", "all"):
        reverse_generation(built, view.T)
    if section in ("own_data", "all"):
        own_data(primary)

# ---- misconceptions, sharing and cost --------------------------------------------------------
ui.share_and_export(PAGE)
ui.misconceptions(text)

ui.cost_readout(device_text, timer)
