"""Load test: N concurrent sessions (real headless browsers, or with --client protocol clients of
Streamlit's WebSocket protocol) follow the guided lessons on one real `streamlit run` server, on this
machine only (127.0.0.1). Prints figures measured in the same run; asserts nothing.

    python bench/load_test.py [--client chromium|protocol] [--sessions 30] [--ramp-seconds 30] ...
    python bench/load_test.py --scenario class --client protocol [--sessions 30] [--questions 2] ...
    python bench/load_test.py --help

--scenario class: one presenter and N students in one class predicting lesson questions while the
presenter's histogram refreshes itself; also reports lost predictions (bench/load/classroom.py).

The harness (server, sampling, the load, the figures) is bench/load/harness.py; what it measures and the
budget are described there. The clients are bench/load/chromium_client.py and protocol_client.py.
"""

import sys
from pathlib import Path

# Run as a script, Python puts bench/ on the path; the packages (bench, devtools, explainers) live in the root.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load.harness import main  # noqa: E402

if __name__ == "__main__":
    main()
