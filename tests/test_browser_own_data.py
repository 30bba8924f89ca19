"""In a real browser: upload a file of points (a bad one first), fine-tune on it, and run the schedule page's
code snippet to get the very numbers the page plots."""

import numpy as np
import pytest

from devtools import wait_until_settled

pytestmark = pytest.mark.browser


def test_upload_a_bad_file_then_a_good_one_and_fine_tune(server, page, tmp_path):
    page.goto(f"{server.url}/noise_schedule?section=own_data")
    wait_until_settled(page)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    bad = tmp_path / "photo.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    uploader.set_input_files(str(bad))
    page.get_by_text("PNG", exact=False).first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("button", name="Fine-tune on this data").count() == 0  # nothing else changed

    rng = np.random.default_rng(1)
    good = tmp_path / "blobs.csv"
    pts = np.concatenate([rng.normal([3, 3], 0.4, (150, 2)), rng.normal([-3, -1], 0.4, (150, 2))])
    np.savetxt(good, pts, delimiter=",", header="x,y", comments="")
    uploader.set_input_files(str(good))
    page.get_by_text("Read 300 points").wait_for(timeout=60_000)
    page.get_by_role("button", name="Fine-tune on this data").click()
    caption = page.get_by_text("Energy distance to your data:")
    caption.wait_for(timeout=120_000)
    text = caption.inner_text()
    before, after = (float(text.split("Energy distance to your data: ")[1].split()[i].rstrip(",")) for i in (0, 2))
    assert after < before / 3


def test_the_schedule_snippet_reproduces_the_plotted_alpha_bar(server, page):
    page.goto(f"{server.url}/noise_schedule?schedule=linear&T=400&ztsnr=true")
    wait_until_settled(page)
    page.get_by_text("Show the code").click()
    code = page.locator('[data-testid="stCode"]').filter(has_text="DDPMScheduler").first.inner_text()
    namespace = {}
    exec(compile(code, "snippet", "exec"), namespace)  # what a student pastes
    plotted = page.evaluate("""() => {
      const chart = [...document.querySelectorAll('.js-plotly-plot')][0];
      const trace = chart._fullData.find(t => t.name === 'linear' && t.yaxis === 'y2');  // figure 1's ᾱ panel
      return Array.from(trace.y);
    }""")
    assert len(plotted) == len(namespace["alphas_cumprod"]) == 400
    np.testing.assert_allclose(namespace["alphas_cumprod"], plotted, rtol=3e-4, atol=1e-6)
