"""PNG/SVG export from a real page: pick a figure in the page's export menu, then click Image (PNG) or (SVG),
until the download arrives.

The first export of a server process starts Kaleido's Chromium; every later one reuses it (one warm
renderer per process, explainers/exports.py). Budget (issue 16): every export after the first <= 1 s.
Prints figures; asserts nothing.

    python bench/bench_exports.py [--repeats 10]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts bench/ on the path; the packages live in the root

from bench._timing import machine_info, summarize  # noqa: E402
from devtools import CHROMIUM, CHROMIUM_ARGS, Server, pick_option, wait_until_settled  # noqa: E402


FIGURES = ("β_t", "cosine: signal", "SNR_t")  # the start of each figure's name in the default section


def export_once(page, index: int, fmt: str) -> float:
    """Seconds from the click on 'Image (fmt)' for the index-th of FIGURES in the export menu to the finished
    download."""
    pick_option(page, "Export one figure", FIGURES[index])
    wait_until_settled(page)
    start = time.perf_counter()
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name=f"Image ({fmt})").click()
    download.value.path()  # waits for the whole file
    return time.perf_counter() - start


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    server = Server()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 900}, accept_downloads=True)
            page.goto(f"{server.url}/noise_schedule")
            wait_until_settled(page)
            page.get_by_text("Share this view and export its figures").click()
            first = export_once(page, 0, "PNG")
            later = {"PNG": [], "SVG": []}
            for i in range(args.repeats):
                for fmt in later:
                    later[fmt].append(export_once(page, i % 3, fmt))
            browser.close()
    finally:
        server.stop()
    print(machine_info())
    print(f"first export of the process (starts Kaleido's Chromium): {first:.2f} s")
    for fmt, times in later.items():
        s = summarize(times)
        p50, p95 = s["p50_ms"] / 1000, s["p95_ms"] / 1000
        print(f"{fmt} after the first, {len(times)} exports: p50 {p50:.2f} s, p95 {p95:.2f} s "
              f"({'within' if p95 <= 1.0 else 'over'} the 1 s budget)")


if __name__ == "__main__":
    main()
