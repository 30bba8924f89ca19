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


def _scrolled_to(page, text: str) -> None:
    page.get_by_text(text).first.scroll_into_view_if_needed()
    page.wait_for_timeout(800)


def exact_answer(page, url: str) -> None:
    page.goto(url + "/noise_schedule?schedule=linear&schedule=cosine&steps=20&step=20&section=generation")
    wait_until_settled(page)
    _scrolled_to(page, "7 · The exact answer beside the model")
    page.mouse.wheel(0, -60)
    page.wait_for_timeout(500)


def pin_compare(page, url: str) -> None:
    page.goto(url + "/spectral_norm?m_D.hidden1=sn&m_D.out=sn&pin=defaults%3D1")
    page.get_by_role("button", name="Unpin A").wait_for(timeout=120_000)
    wait_until_settled(page)
    _scrolled_to(page, "A (pinned) against B")


def class_presenter(page, url: str) -> None:
    from classroom.store import ClassStore

    code = ClassStore.new_code()
    page.goto(url + f"/noise_schedule?lesson=2&present=true&hide=sidebar&class={code}")
    wait_until_settled(page)
    store = ClassStore()
    for i, answer in enumerate(("cosine", "cosine", "linear", "cosine", "about the same", "cosine", "linear")):
        store.submit(code, "noise_schedule/2", f"screenshot{i}", answer)  # a class of seven, predicting
    page.get_by_text("7 predictions from class").wait_for(timeout=30_000)
    page.wait_for_timeout(1000)
    page.locator(".st-key-_chart_class_noise_schedule_2").scroll_into_view_if_needed()
    page.mouse.wheel(0, 300)  # the chart, its caption and the Reveal / Reset buttons
    page.wait_for_timeout(800)


def live_training(page, url: str) -> None:
    page.goto(url + "/spectral_norm?m_D.hidden1=sn&m_D.hidden2=sn&m_D.hidden3=sn&m_D.out=sn&train_steps=3000")
    wait_until_settled(page)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Last run:").wait_for(timeout=120_000)
    wait_until_settled(page)
    _scrolled_to(page, "Replay the run")


# Screens that need a few clicks first: name -> what to do (viewport 1280 x 720, the screen as it then is).
SCENES = {"exact_answer.png": exact_answer, "pin_compare.png": pin_compare, "class_presenter.png": class_presenter,
          "live_training.png": live_training}


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
            for name, scene in SCENES.items():
                page = browser.new_page(viewport={"width": WIDTH, "height": 720})
                scene(page, srv.url)
                page.screenshot(path=str(out / name))
                page.close()
                print("wrote", out / name)
            browser.close()
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
