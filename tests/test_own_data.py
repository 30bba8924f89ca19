"""Your own 2D data on the schedule page: a sketch or an upload, fine-tuned live, sampled with the page's
schedule; bad files get a notice naming the problem and change nothing else."""

import io

import numpy as np
import pytest

from devtools import run_page_file


def own_captions(at):
    return [c.value for c in at.caption if "Energy distance to your data" in c.value]


def test_a_sketch_is_fine_tuned_and_sampled_with_the_pages_schedule():
    at = run_page_file("noise_schedule", {"schedule": "linear", "section": "own_data"})
    at.radio(key="_own_source").set_value("sketch").run()
    assert not own_captions(at)  # nothing fine-tuned yet
    at.button(key="_own_train").click().run()
    assert not at.exception
    (caption,) = own_captions(at)
    numbers = [float(x) for x in caption.split("Energy distance to your data: ")[1].replace(" before,", "")
               .replace(" after", "").split()[:2]]
    assert "linear schedule" in caption and numbers[1] < numbers[0] / 3  # the fine-tune learned the sketch
    assert "On the painted cells" in caption


@pytest.mark.parametrize("content, says", [
    (b"\x89PNG\r\n\x1a\n" + bytes(50), "PNG"),
    (b"x\n1\n2\n3\n", "column"),
    (b"x,y\n1,2\nnan,3\n", "row"),
    (b"x,y\n1,2\n", "only 1 point"),
    (b"x,y\n1,2\n1,2\n1,2\n", "same point"),
])
def test_a_bad_file_gets_a_notice_and_nothing_else_changes(content, says):
    # The page shows this message as its notice (tests/test_browser_own_data.py uploads through the browser).
    from explainers import custom_data as C
    from explainers import custom_view as CV

    with pytest.raises(C.UploadError) as info:
        CV.dataset_from_upload(content, "points.csv")
    assert says.lower() in str(info.value).lower()


def test_a_good_upload_reads_and_standardises():
    from explainers import custom_view as CV

    rng = np.random.default_rng(0)
    pts = np.concatenate([rng.normal([5, 5], 0.3, (100, 2)), rng.normal([-5, 0], 0.3, (100, 2))])
    buf = io.StringIO()
    np.savetxt(buf, pts, delimiter=",", header="x,y", comments="")
    dataset, summary = CV.dataset_from_upload(buf.getvalue().encode(), "blobs.csv")
    assert "200 points" in summary and dataset.n_points == 200
    draws = dataset.sample(4000, __import__("torch").Generator().manual_seed(0)).numpy()
    assert np.allclose(draws.mean(0), 0, atol=0.1) and np.allclose(draws.var(0), 1, atol=0.1)
