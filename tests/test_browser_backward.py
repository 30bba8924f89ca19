"""Browser tests of the backward-noise-initialization page on a freshly started server: deep link,
switching the reading of t in the sidebar changes the generated frames, side-by-side noise levels
and the GIF download."""

import math

import pytest

from devtools import ARTIFACTS, wait_for_app

pytestmark = pytest.mark.browser

PAGE = "/backward_noise_init"
WAIT_MS = 120_000  # other workers may be using the 2 CPU cores

# The figure whose subplot titles start with `first` (Plotly keeps subplot titles as layout annotations).
FIND_PLOT = """(first) => [...document.querySelectorAll('.js-plotly-plot')].find(p =>
    p._fullLayout && p._fullData && (p._fullLayout.annotations || []).length
    && p._fullLayout.annotations[0].text === first)"""
TITLES = f"(first) => {{ const p = ({FIND_PLOT})(first); return p ? p._fullLayout.annotations.map(a => a.text) : null; }}"
# Heatmap z of trace i as plain nested arrays (_fullData holds decoded typed arrays; NaN -> null).
HEATMAP_Z = f"""([first, i]) => {{
    const p = ({FIND_PLOT})(first);
    return Array.from(p._fullData[i].z, row => Array.from(row, v => Number.isNaN(v) ? null : v));
}}"""
HEATMAP_TYPES = f"(first) => ({FIND_PLOT})(first)._fullData.map(t => t.type)"


def wait_for_titles(page, first: str, titles: list[str]) -> None:
    page.wait_for_function(f"([first, want]) => JSON.stringify(({TITLES})(first)) === JSON.stringify(want)",
                           arg=[first, titles], timeout=WAIT_MS)


def test_deep_link_then_reading_switch_changes_frames(server, page):
    # First request on this fresh server is the deep link itself (the legacy-pages pitfall).
    page.goto(f"{server.url}{PAGE}?reading=temporal_index&n_frames=16&compare=false")
    wait_for_app(page, WAIT_MS)
    assert page.get_by_role("heading", name="Backward noise initialization").is_visible()
    # The app's own sidebar (device readout) is there, so app.py's navigation ran, not legacy mode.
    assert page.get_by_text("Device:").first.is_visible()
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("combobox", name="Reading of t in Eq. 1").input_value() == "t = frame index"

    # The frame strip: the true video on top, then the one reading asked for (compare=false).
    wait_for_titles(page, "true video", ["true video", "t = frame index"])
    assert page.evaluate(HEATMAP_TYPES, "true video") == ["heatmap", "heatmap"]
    truth_before = page.evaluate(HEATMAP_Z, ["true video", 0])
    pixels_before = page.evaluate(HEATMAP_Z, ["true video", 1])
    # 12 of the 16 frames, 32 x 32 each, tiled with 2-pixel gaps: 32 rows, 12 * 34 - 2 columns.
    assert len(pixels_before) == 32 and {len(r) for r in pixels_before} == {12 * 34 - 2}
    assert all(-1.5 <= v <= 1.5 for r in pixels_before for v in r)

    # Switch the reading in the sidebar selectbox.
    page.get_by_role("combobox", name="Reading of t in Eq. 1").click()
    page.get_by_role("option", name="t = denoising step", exact=True).click()
    wait_for_titles(page, "true video", ["true video", "t = denoising step"])
    wait_for_app(page, WAIT_MS)
    assert "reading=temporal_index" not in page.url
    assert "reading=" not in page.url or "reading=denoising_step" in page.url  # the default leaves the URL
    assert "n_frames=16" in page.url and "compare=false" in page.url

    pixels_after = page.evaluate(HEATMAP_Z, ["true video", 1])
    assert len(pixels_after) == 32 and {len(r) for r in pixels_after} == {12 * 34 - 2}
    changed = sum(abs(a - b) > 1e-3 for ra, rb in zip(pixels_before, pixels_after) for a, b in zip(ra, rb))
    assert changed > 1000, f"only {changed} pixels of the generated frames changed"
    # Same seed, same true video: only the reading's rollout changed.
    assert page.evaluate(HEATMAP_Z, ["true video", 0]) == truth_before
    assert page.locator('[data-testid="stException"]').count() == 0

    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 5000})
    page.wait_for_timeout(1000)  # let Plotly resize to the new viewport
    page.screenshot(path=str(ARTIFACTS / "backward_noise_init.png"))


def test_side_by_side_noise_levels_and_gif_download(server, page):
    page.goto(f"{server.url}{PAGE}?compare=true&n_frames=16")
    wait_for_app(page, WAIT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0

    # Noise-level matrix: one heatmap per reading, the chosen (default) reading first.
    wait_for_titles(page, "t = denoising step", ["t = denoising step", "t = frame index"])
    assert page.evaluate(HEATMAP_TYPES, "t = denoising step") == ["heatmap", "heatmap"]
    step_z = page.evaluate(HEATMAP_Z, ["t = denoising step", 0])
    frame_z = page.evaluate(HEATMAP_Z, ["t = denoising step", 1])
    sigmas = [1.0, 0.9375, 5 / 6, 0.625]  # shifted_sigmas(4, shift 5): Self-Forcing's denoising_step_list
    assert len(step_z) == 16 and len(frame_z) == 16
    # Denoising-step reading: every frame starts from pure noise and runs the whole sigma list.
    for row in step_z:
        assert row == pytest.approx(sigmas, abs=1e-4)
    # Frame-index reading: frame 0 runs the whole list; later frames start from sigma_init = 0.5
    # (the previous frame re-noised) and skip the slots above it.
    assert frame_z[0] == pytest.approx(sigmas, abs=1e-4)
    for row in frame_z[1:]:
        assert row[:3] == [None, None, None] and math.isclose(row[3], 0.5, abs_tol=1e-4)
    # The frame strip shows both readings under the true video.
    wait_for_titles(page, "true video", ["true video", "t = denoising step", "t = frame index"])

    button = page.get_by_role("button", name="Download the frames as GIF")
    assert button.is_visible()
    with page.expect_download(timeout=WAIT_MS) as info:
        button.click()
    download = info.value
    assert download.suggested_filename == "eq1_denoising_step_temporal_index_seed0.gif"
    with open(download.path(), "rb") as f:
        data = f.read()
    assert data[:4] == b"GIF8" and len(data) > 1000
    wait_for_app(page, WAIT_MS)
    assert page.locator('[data-testid="stException"]').count() == 0
