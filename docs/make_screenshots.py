"""Regenerate the README screenshots: a fresh server, headless Chromium, one PNG per page.

    .venv/bin/python docs/make_screenshots.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import CHROMIUM, CHROMIUM_ARGS, Server, wait_for_app  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

SHOTS = {
    "noise_schedule.png": ("/noise_schedule?schedule=linear&schedule=cosine&ztsnr=true&contrast=flow_matching", 2600),
    "backward_noise_init.png": ("/backward_noise_init?n_frames=32", 2700),
    "spectral_norm.png": ("/spectral_norm?m_D.hidden1=sn&m_D.hidden2=sn&m_D.hidden3=sn&m_D.out=sn", 2500),
    "presenter_lesson.png": ("/noise_schedule?lesson=2&present=true&hide=sidebar", 1700),
    "home.png": ("/", 900),
}


def main() -> None:
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    srv = Server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, (path, height) in SHOTS.items():
                page = browser.new_page(viewport={"width": 1400, "height": height})
                page.goto(srv.url + path)
                wait_for_app(page)
                page.wait_for_timeout(1500)  # let Plotly finish drawing
                page.screenshot(path=str(out / name))
                page.close()
                print("wrote", out / name)
            browser.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
