"""Browser test of the spectral-normalization page on a freshly started server: deep link, switching
one layer to SN moves its sigma to 1 and lowers the Lipschitz bound, then a short live GAN run."""

import pytest

from devtools import ARTIFACTS, wait_for_app, wait_until_settled

pytestmark = pytest.mark.browser

WAIT_MS = 120_000  # other workers may be using the 2 CPU cores
LAYERS = ["D.hidden1", "D.hidden2", "D.hidden3", "D.out", "G.hidden1", "G.hidden2", "G.out"]

# The Lipschitz bar chart: the figure with a bar trace named "σ after normalization".
SIGMA_BARS = """(name) => {
    const p = [...document.querySelectorAll('.js-plotly-plot')].find(p =>
        p._fullData && p._fullData.some(t => t.type === 'bar' && t.name === 'σ after normalization'));
    if (!p) return null;
    const t = p._fullData.find(t => t.name === name);
    return [Array.from(t.x), Array.from(t.y)];
}"""
PLOT_TITLES = ("() => [...document.querySelectorAll('.js-plotly-plot')]"
               ".map(p => ((p._fullLayout || {}).annotations || []).map(a => a.text))")


def bars(page, name: str) -> dict[str, float]:
    page.wait_for_function(f"() => ({SIGMA_BARS})('{name}') !== null", timeout=WAIT_MS)
    x, y = page.evaluate(SIGMA_BARS, name)
    return dict(zip(x, y))


def metric(page, label: str) -> float:
    value = (page.locator('[data-testid="stMetric"]').filter(has_text=label)
             .locator('[data-testid="stMetricValue"]').inner_text())
    return float(value.strip())


def test_deep_link_sn_toggle_then_train(server, page):
    # First request on this fresh server is the deep link itself (the legacy-pages pitfall).
    page.goto(f"{server.url}/spectral_norm?model=gan")
    wait_for_app(page, WAIT_MS)
    assert page.get_by_role("heading", name="Optional spectral normalization").is_visible()
    assert page.get_by_text("Device:").first.is_visible()
    assert page.locator('[data-testid="stException"]').count() == 0

    raw = bars(page, "raw σ")
    after = bars(page, "σ after normalization")
    assert list(after) == LAYERS
    assert after == raw  # every layer off: normalization changes nothing yet
    assert abs(raw["D.hidden1"] - 1) > 0.2  # so that "≈ 1 after SN" below is a real change
    bound_raw = metric(page, "Lipschitz bound, raw")
    bound_before = metric(page, "Lipschitz bound, with these modes")
    assert bound_before == pytest.approx(bound_raw, rel=1e-6)

    # Streamlit turns the key m_D.hidden1 into the CSS class st-key-m_D-hidden1 (dot -> dash).
    control = page.locator(".st-key-m_D-hidden1")
    assert control.get_by_role("radiogroup", name="D.hidden1").is_visible()
    control.get_by_role("radio", name="SN", exact=True).click()
    page.wait_for_function(f"() => Math.abs(({SIGMA_BARS})('σ after normalization')[1][0] - 1) < 0.05",
                           timeout=WAIT_MS)
    wait_for_app(page, WAIT_MS)

    after_sn = bars(page, "σ after normalization")
    assert after_sn["D.hidden1"] == pytest.approx(1.0, abs=0.05)
    for layer in LAYERS[1:]:  # the other layers stay off
        assert after_sn[layer] == pytest.approx(raw[layer], rel=1e-5)
    assert bars(page, "raw σ") == raw
    assert "m_D.hidden1=sn" in page.url or "m_D%2Ehidden1=sn" in page.url
    assert control.get_by_role("radio", name="SN", exact=True).get_attribute("aria-checked") == "true"
    bound_sn = metric(page, "Lipschitz bound, with these modes")
    assert bound_sn < bound_before
    # The chain bound is the product of D's sigmas, so dividing D.hidden1 by its sigma divides the bound.
    assert bound_sn == pytest.approx(bound_before / raw["D.hidden1"], rel=0.06)

    # A short training run: 100 steps through the URL, with the SN mode kept from the URL.
    page.goto(page.url + ("&" if "?" in page.url else "?") + "train_steps=100")
    wait_for_app(page, WAIT_MS)
    assert page.get_by_role("slider", name="Training steps").input_value() == "100"
    assert bars(page, "σ after normalization")["D.hidden1"] == pytest.approx(1.0, abs=0.05)
    assert page.get_by_text("Run history (this session)").count() == 0
    page.get_by_role("button", name="Train", exact=True).click()
    page.get_by_text("Run history (this session)").wait_for(timeout=WAIT_MS)
    wait_for_app(page, WAIT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0

    last_run = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Last run:").inner_text()
    assert "D.hidden1=SN" in last_run and "100 steps" in last_run
    titles = page.evaluate(PLOT_TITLES)
    assert any(t[:1] == ["losses"] for t in titles), titles
    losses = page.evaluate("""() => {
        const p = [...document.querySelectorAll('.js-plotly-plot')].find(p => ((p._fullLayout || {}).annotations || [])
            .some(a => a.text === 'losses'));
        return p._fullData.filter(t => t.xaxis === 'x').map(t => [t.name, t.x.length, Array.from(t.y)]);
    }""")
    assert [name for name, _, _ in losses] == ["D loss", "G loss"]
    assert all(n == 100 and len(y) == 100 and all(v == v for v in y) for _, n, y in losses)  # no NaN
    history = page.locator('[data-testid="stDataFrame"]')
    assert history.count() == 1 and history.is_visible()

    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 5000})
    page.wait_for_timeout(1000)  # let Plotly resize to the new viewport
    page.screenshot(path=str(ARTIFACTS / "spectral_norm.png"))


# The scatter of the denoiser's samples with the chosen modes: its trace is named after the figure title.
SAMPLES_WITH_MODES = """() => {
    const p = [...document.querySelectorAll('.js-plotly-plot')].find(p =>
        p._fullData && p._fullData.some(t => (t.name || '').startsWith('with these modes')));
    if (!p) return null;
    const t = p._fullData.find(t => (t.name || '').startsWith('with these modes'));
    return {name: t.name, x: Array.from(t.x).slice(0, 50)};
}"""


def test_denoiser_toggle_changes_its_samples_then_a_fine_tune_wins_modes_back(server, page):
    page.goto(f"{server.url}/spectral_norm?model=denoiser2d&train_steps=300&lr=0.001")
    wait_for_app(page, WAIT_MS)
    page.wait_for_function(f"() => ({SAMPLES_WITH_MODES})() !== null", timeout=WAIT_MS)
    before = page.evaluate(SAMPLES_WITH_MODES)
    assert before["name"] == "with these modes: all off"

    for layer in ("hidden1", "hidden2"):
        page.locator(f".st-key-m_{layer}").get_by_role("radio", name="SN", exact=True).click()
        page.wait_for_function(f"() => (({SAMPLES_WITH_MODES})() || {{}}).name?.includes('{layer}=SN')",
                               timeout=WAIT_MS)
        wait_for_app(page, WAIT_MS)
    after = page.evaluate(SAMPLES_WITH_MODES)
    assert after["name"] == "with these modes: hidden1=SN, hidden2=SN"
    assert sum(abs(a - b) for a, b in zip(after["x"], before["x"])) / 50 > 0.1  # the samples moved

    page.get_by_role("button", name="Fine-tune", exact=True).click()
    page.get_by_text("Run history (this session)").wait_for(timeout=WAIT_MS)
    wait_for_app(page, WAIT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
    last_run = page.locator('[data-testid="stMarkdownContainer"]').filter(has_text="Last run:").inner_text()
    assert "hidden1=SN, hidden2=SN" in last_run and "300 steps (completed)" in last_run
    # Mode coverage: one mode of 8 right after SN, all of them back after 300 steps at lr 0.001.
    assert "mode coverage 0.12 at the first snapshot, 1.00 at the last" in last_run
    titles = page.evaluate(PLOT_TITLES)
    assert any(t[:1] == ["v-prediction loss"] for t in titles), titles

    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 6000})
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ARTIFACTS / "spectral_norm_denoiser.png"))


def test_a_live_gan_run_redraws_its_surface_while_it_trains(server, page):
    """Training you can watch: the live figures change several times before the run ends, then a scrubber
    replays the snapshots."""
    page.goto(f"{server.url}/spectral_norm?m_D.hidden1=sn&m_D.hidden2=sn&m_D.hidden3=sn&m_D.out=sn&train_steps=2000")
    wait_until_settled(page)
    page.get_by_role("button", name="Train").click()
    titles, ended = set(), False
    for _ in range(600):  # up to 60 s
        titles.update(page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')]
            .map(p => p.layout?.title?.text || '').filter(t => t.includes('step'))"""))
        if page.get_by_text("Last run:").count():
            ended = True
            break
        page.wait_for_timeout(100)
    assert ended
    live = {t.replace("<b>", "").replace("</b>", "") for t in titles if "D(x) and G's samples, step" in t}
    live.discard("D(x) and G's samples, step 0")  # the step-through panel's chart, not the live run
    assert len(live) >= 3, titles  # at least three different moments of the run, seen while it ran
    page.get_by_text("Replay the run: the snapshot at step").wait_for(timeout=30_000)
