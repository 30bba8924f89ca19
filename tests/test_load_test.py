"""The load test itself works: a cut-down run (3 protocol sessions, short pauses) against a fresh
server does every interaction of the lesson, trains, and reports figures and memory. Its timings are
printed, never asserted (benchmarks are not timed tests)."""

import json
import subprocess
import sys

from devtools import ROOT


def test_a_short_protocol_load_run_completes_every_interaction(tmp_path):
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, "bench/load_test.py", "--client", "protocol", "--sessions", "3", "--ramp-seconds", "1",
         "--think-seconds", "0.2", "--warmup-sessions", "0", "--warm-seconds", "1", "--after-seconds", "2",
         "--train-steps", "100", "--max-seconds", "240", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["errors"] == 0, result["error_list"]
    assert result["interactions_measured"] == result["interactions_expected"] == 3 * (3 * 3 + 1)
    kinds = [t["kind"] for t in result["timings"]]
    assert kinds.count("nav") == 9 and kinds.count("next") == 18 and kinds.count("train") == 3
    # The Train click really trained: the server spent CPU time in those runs, well beyond a plain rerun.
    train = [r for r in result["server_requests"] if r["kind"] == "train"]
    assert len(train) == 3 and all(r["cpu_s"] > 0.2 for r in train), train
    assert result["rss_mb"]["peak"] > 100 and result["server"]["log_tracebacks"] == 0
    assert "client (rerun request sent -> its last script_finished received)" in proc.stdout


def test_a_short_run_through_nginx_reaches_every_replica(tmp_path):
    """--replicas 2: two servers behind deploy/nginx.conf, driven through the proxy; both serve sessions, and
    CPU and memory are the two servers' together."""
    import pytest

    from devtools.nginx import NGINX

    if NGINX is None:
        pytest.skip("nginx is not installed (apt-get install -y nginx)")
    out = tmp_path / "load.json"
    proc = subprocess.run(
        [sys.executable, "bench/load_test.py", "--client", "protocol", "--sessions", "16", "--ramp-seconds", "1",
         "--think-seconds", "0.2", "--warmup-sessions", "0", "--warm-seconds", "1", "--after-seconds", "2",
         "--train-steps", "0", "--replicas", "2", "--max-seconds", "240", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    result = json.loads(out.read_text())
    assert result["errors"] == 0, result["error_list"]
    server = result["server"]
    assert len(server["pid"]) == 2 and len(server["replicas"]) == 2 and server["url"] not in server["replicas"]
    sessions = [len({json.loads(line)["session"] for line in open(log.replace("load-server-", "load-events-")
                                                                        .replace(".log", ".jsonl"))})
                for log in server["log"]]
    assert all(n >= 1 for n in sessions), sessions  # nginx hashes a random id per new session: all 16 on one replica has odds 2^-15
