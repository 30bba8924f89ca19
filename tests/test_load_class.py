"""The load test's class scenario works: a cut-down class (a presenter and 3 protocol students, two
questions: a slider and a radio, every student changing their mind once on each) on a fresh server and a
fresh class store loses no prediction, and the presenter's histogram, refreshing by itself, shows them
all. Its timings are printed, never asserted (benchmarks are not timed tests)."""

import json
import subprocess
import sys

from devtools import ROOT


def test_a_short_class_run_loses_no_prediction(tmp_path):
    out = tmp_path / "class.json"
    proc = subprocess.run(
        [sys.executable, "bench/load_test.py", "--scenario", "class", "--client", "protocol", "--sessions", "3",
         "--questions", "2", "--change-mind", "1", "--ramp-seconds", "1", "--think-seconds", "0.2", "--timeout", "20",
         "--warmup-sessions", "0", "--warm-seconds", "0", "--after-seconds", "1", "--max-seconds", "90",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["errors"] == 0, result["error_list"]
    klass = result["class"]
    assert klass["predictions_expected"] == 6 and klass["lost"] == 0 and klass["mismatched"] == 0, klass
    for q in ("noise_schedule/1", "noise_schedule/2"):
        assert klass["tallies"][q] == {"expected_n": 3, "stored_n": 3, "equal": True}
    # The presenter's view; each student: the page, Next, and a pick and a submit for each of 2 x 2 answers.
    assert result["interactions_measured"] == result["interactions_expected"] == 1 + 3 * (2 + 2 * 2 * 2)
    kinds = [t["kind"] for t in result["timings"]]
    assert kinds.count("submit") == 12 and kinds.count("pick") == 12 and kinds.count("next") == 3
    assert klass["presenter"]["caption_wanted"] == f"3 predictions from class {klass['code']}"
    # The server saw the submits as clicks inside the prediction panel's fragment, not as whole-page reruns.
    assert sum(1 for r in result["server_requests"] if r["kind"] == "submit") == 12
    assert result["server"]["log_tracebacks"] == 0 and result["verdict"]["predictions"] == "met"
    assert "lost 0, mismatched 0" in proc.stdout
