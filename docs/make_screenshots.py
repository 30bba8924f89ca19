"""Regenerate the README screenshots: a fresh server, headless Chromium, one PNG per page.

    .venv/bin/python docs/make_screenshots.py
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts docs/ on the path; devtools/ lives in the root

from playwright.sync_api import sync_playwright  # noqa: E402

from devtools import CHROMIUM, CHROMIUM_ARGS, Server, wait_for_app, wait_until_settled  # noqa: E402

# name: (path, viewport height, full page?). Width 1280: a laptop and the common projector width.
SHOTS = {
    "noise_schedule.png": ("/noise_schedule?schedule=linear&schedule=cosine&ztsnr=true&contrast=flow_matching", 720, True),
    "backward_noise_init.png": ("/backward_noise_init?n_frames=32", 720, True),
    "spectral_norm.png": ("/spectral_norm?m_D.hidden1=sn&m_D.hidden2=sn&m_D.hidden3=sn&m_D.out=sn", 720, True),
    "home.png": ("/", 720, True),
    # Presenter view: the first screen a class sees on a 1280 x 720 projector.
    "presenter_lesson.png": ("/noise_schedule?lesson=2&present=true&hide=sidebar", 720, False),
    "presenter_backward_noise_init.png": ("/backward_noise_init?lesson=2&present=true&level=Hard", 720, False),
    "presenter_spectral_norm.png": ("/spectral_norm?lesson=3&present=true", 720, False),
}
WIDTH = 1280


def main() -> None:
    out = ROOT / "docs" / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    srv = Server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            for name, (path, height, full_page) in SHOTS.items():
                page = browser.new_page(viewport={"width": WIDTH, "height": height})
                page.goto(srv.url + path)
                wait_until_settled(page)  # every chart drawn, every font and image in
                if full_page:  # Streamlit scrolls inside its main section: grow the window to the content instead
                    tall = page.evaluate("() => document.querySelector('[data-testid=stMain]').scrollHeight")
                    page.set_viewport_size({"width": WIDTH, "height": min(int(tall), 6000)})
                    wait_for_app(page)
                    page.wait_for_timeout(1500)
                page.screenshot(path=str(out / name))
                page.close()
                print("wrote", out / name)
            browser.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
