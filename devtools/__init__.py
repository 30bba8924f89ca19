"""Helpers shared by the tests, the benchmarks and the screenshot script: start and stop a real
`streamlit run` server (`live_server`), drive it with Debian's Chromium and wait for a page to finish
(`browser`), read the Plotly figures a page drew (`charts`) and run one page in-process with Streamlit's
AppTest (`apptest`). It lives at the top level, beside `tests/` and `bench/`, so that no test, benchmark
or script imports a test file or `tests/conftest.py`, which keeps only pytest fixtures; importing it
starts nothing and pulls in neither Playwright nor a Streamlit runtime until a helper needs one.
"""

from devtools.apptest import run_page, run_page_file
from devtools.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    FIRST_CHART,
    FIRST_CHART_X_LEN,
    figure_data,
    pick_option,
    script_state,
    wait_for_app,
    wait_until_settled,
)
from devtools.charts import chart_by_title, chart_specs, decoded
from devtools.live_server import ARTIFACTS, ROOT, Server, free_port, stop_process, wait_healthy

__all__ = [
    "ARTIFACTS", "CHROMIUM", "CHROMIUM_ARGS", "FIRST_CHART", "FIRST_CHART_X_LEN", "ROOT", "Server",
    "chart_by_title", "chart_specs", "decoded", "figure_data", "free_port", "pick_option", "run_page", "run_page_file",
    "script_state", "stop_process", "wait_for_app", "wait_healthy", "wait_until_settled",
]
