"""A student's session for the load test as a headless Chromium browser context (Playwright, Debian's
Chromium; a few browser processes share the contexts). Each interaction is timed in the page itself: from
the click (the page's own click event) or the start of the navigation to the end of the rerun it caused,
`[data-testid="stApp"]`'s `data-test-script-state` back to "notRunning" and staying so for CALM_MS
(devtools' wait_for_app rule; the calm time is not counted). The browsers draw every chart, on this
machine's own cores.

For the class scenario (bench/load/classroom.py) the browser itself reruns the fragments on their timers,
and a student picks as a student does: clicks a radio's option, or clicks the slider's track where the
planned number lies (the number the slider then holds is the answer, read back from it)."""

from __future__ import annotations

import asyncio
import random
import re
import time

from bench.load.lesson import PAGES, Recorder, lesson_query
from devtools import CHROMIUM, CHROMIUM_ARGS

CALM_MS = 500

# Installed in every document before its own scripts: a log of (epoch ms, script state) for every change
# of stApp's data-test-script-state, the epoch ms of the latest click, and of every script_finished
# message that reached the page (top-level protobuf field 6 of a ForwardMsg). A fast rerun in a busy
# browser may never show "running" (React draws both states in one frame), but its script_finished
# message still arrives.
OBSERVER_JS = """(() => {
  const log = []; window.__nlLog = log; window.__nlClick = 0;
  const state = () => { const el = document.querySelector('[data-testid="stApp"]');
                        return el ? el.getAttribute('data-test-script-state') : null; };
  const push = (s) => { if (s !== null && (!log.length || log[log.length - 1][1] !== s)) log.push([Date.now(), s]); };
  new MutationObserver((records) => {
    // A batch may hold several changes: record k's new value is record k+1's old value.
    for (let k = 1; k < records.length; k++) push(records[k].oldValue);
    push(state());
  }).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                        attributeFilter: ['data-test-script-state']});
  const first = () => { const s = state(); if (s === null) setTimeout(first, 20); else push(s); };
  first();
  document.addEventListener('click', () => { window.__nlClick = Date.now(); }, true);
  const finished = []; window.__nlFinished = finished;
  const hasField6 = (buf) => {
    const b = new Uint8Array(buf); let i = 0;
    while (i < b.length) {
      let tag = 0, shift = 0, x;
      do { x = b[i++]; tag += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80 && i < b.length);
      if (Math.floor(tag / 8) === 6) return true;
      const w = tag % 8;
      if (w === 0) { while (b[i++] & 0x80) {} }
      else if (w === 2) { let len = 0; shift = 0;
        do { x = b[i++]; len += (x & 0x7f) * 2 ** shift; shift += 7; } while (x & 0x80); i += len; }
      else if (w === 1) i += 8; else if (w === 5) i += 4; else return false;
    }
    return false;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...a) {
      super(...a);
      this.addEventListener('message', (ev) => {
        if (ev.data instanceof ArrayBuffer && hasField6(ev.data)) finished.push(Date.now());
      });
    }
  };
})();"""

# Once the app has finished a rerun that started after t0 and stayed calm for `calm` ms: the epoch ms at
# which that rerun finished (the page's last change to "notRunning").
FINISHED_JS = """([t0, calm, needRun]) => {
  const log = window.__nlLog || [];
  if (!log.length) return false;
  const last = log[log.length - 1];
  if (last[1] !== 'notRunning' || Date.now() - last[0] < calm) return false;
  if (needRun && !log.some(([t, s]) => t >= t0 && s === 'running')
      && !(window.__nlFinished || []).some((t) => t >= t0)) return false;
  return Math.max(last[0], ...(window.__nlFinished || []).filter((t) => t >= t0));
}"""


async def timed(page, rec: Recorder, sid: int, kind: str, what: str, action, timeout_s: float,
                need_run: bool, until_text: str | None = None) -> bool:
    """Run action (a click or a navigation), wait for the rerun it caused to finish, and record it."""
    from playwright.async_api import Error as PlaywrightError

    t0 = time.time() * 1000
    try:
        response = await action()
        if kind == "nav" and (response is None or not response.ok):
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "failed navigation",
                               "status": None if response is None else response.status})
            return False
        if until_text:
            await page.get_by_text(until_text).first.wait_for(timeout=timeout_s * 1000)
        left = max(1.0, timeout_s - (time.time() * 1000 - t0) / 1000)
        handle = await page.wait_for_function(FINISHED_JS, arg=[t0, CALM_MS, need_run], polling=100,
                                              timeout=left * 1000)
        end = await handle.json_value()
        clicked = await page.evaluate("() => window.__nlClick")
        start = clicked if kind != "nav" and clicked and clicked >= t0 else t0
        rec.timings.append({"session": sid, "kind": kind, "what": what, "s": (end - start) / 1000, "at": t0 / 1000})
        exceptions = page.locator('[data-testid="stException"]')
        if await exceptions.count():
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "stException",
                               "text": (await exceptions.first.inner_text())[:300]})
        return True
    except (PlaywrightError, asyncio.TimeoutError) as err:
        name = "timeout" if "Timeout" in type(err).__name__ or "Timeout" in str(err)[:200] else "browser error"
        rec.errors.append({"session": sid, "kind": kind, "what": what, "error": name, "text": str(err)[:300]})
        return False


async def run_session(browser, base: str, sid: int, args, rec: Recorder, rng: random.Random,
                      think_s: float | None = None) -> None:
    think_s = args.think_seconds if think_s is None else think_s
    ctx = await browser.new_context(viewport={"width": args.width, "height": args.height})
    try:
        await ctx.add_init_script(OBSERVER_JS)
        page = await ctx.new_page()

        async def think():
            if think_s > 0:
                await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))

        for name in PAGES:
            url = f"{base}/{name}?{lesson_query(name, args.train_steps)}"
            if not await timed(page, rec, sid, "nav", name, lambda: page.goto(url, timeout=args.timeout * 1000),
                               args.timeout, need_run=False):
                continue
            for k in range(args.next_clicks):
                await think()
                button = page.locator(f".st-key-_lesson_next_{name} button")
                if not await timed(page, rec, sid, "next", f"{name} step {k + 2}",
                                   lambda: button.click(timeout=args.timeout * 1000), args.timeout, need_run=True):
                    break
            if name == "spectral_norm" and args.train_steps:
                await think()
                train = page.get_by_role("button", name="Train", exact=True)
                await timed(page, rec, sid, "train", f"train {args.train_steps} steps",
                            lambda: train.click(timeout=args.timeout * 1000), args.train_timeout,
                            need_run=True, until_text="Run history (this session)")
            await think()
    finally:
        await ctx.close()


def key_class(key: str) -> str:
    """The CSS class of a keyed widget's container: st-key-<key>, with characters other than letters,
    digits, _ and - replaced by - (as Streamlit does; ui/classroom.py hides controls the same way)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key)


async def class_student(browser, base: str, sid: int, args, rec: Recorder, rng: random.Random, room,
                        think_s: float | None = None) -> None:
    """One student of `room` in a browser context whose cookie carries the student's id (so the store's
    answer can be checked per student): the flow of classroom.py, then the tab stays open until the class
    is over."""
    from ui.predict import STUDENT_COOKIE

    think_s = args.think_seconds if think_s is None else think_s
    student = f"{rng.getrandbits(64):016x}"
    plan = room.plan(rng)
    ms = args.timeout * 1000

    async def think(share: float = 1.0):
        if think_s > 0:
            await asyncio.sleep(share * think_s * rng.uniform(0.5, 1.5))

    async def predict(page) -> None:
        url = f"{base}/{room.page}?{room.student_query()}"
        if not await timed(page, rec, sid, "nav", room.page, lambda: page.goto(url, timeout=ms), args.timeout,
                           need_run=False):
            return
        for n, (step, answers) in enumerate(plan):
            q = room.question(step)
            if n:
                await think()
                button = page.locator(f".{key_class(f'_lesson_next_{room.page}')} button")
                if not await timed(page, rec, sid, "next", q, lambda: button.click(timeout=ms), args.timeout,
                                   need_run=True):
                    return
            pick, submit = room.keys(step)
            widget = page.locator(f".{key_class(pick)}")
            for answer in answers:
                await think()
                if isinstance(answer.value, str):
                    option = widget.get_by_text(answer.value, exact=True)
                    action = lambda: option.click(timeout=ms)  # noqa: E731
                else:
                    action = lambda: click_track(widget, room.predictions[step], answer.value, ms)  # noqa: E731
                if not await timed(page, rec, sid, "pick", q, action, args.timeout, need_run=True):
                    return
                if not isinstance(answer.value, str):
                    answer = room.answer(step, float(await widget.locator("input[type=range]").input_value()))
                await think(0.25)
                room.submitted(student, step, answer)  # from now on the store must hold it
                button = page.locator(f".{key_class(submit)} button")
                if not await timed(page, rec, sid, "submit", q, lambda: button.click(timeout=ms), args.timeout,
                                   need_run=True, until_text=f"Your prediction: {answer.stored}"):
                    return

    ctx = await browser.new_context(viewport={"width": args.width, "height": args.height})
    try:
        await ctx.add_cookies([{"name": STUDENT_COOKIE, "value": student, "url": base}])
        await ctx.add_init_script(OBSERVER_JS)
        page = await ctx.new_page()
        try:
            await predict(page)
        finally:
            room.done(student)
        if room.stay:
            await room.over.wait()
        await store_trouble(page, rec, sid)
    finally:
        room.done(student)
        await ctx.close()


async def click_track(widget, prediction, value: float, timeout_ms: float) -> None:
    """Click the slider's track where `value` lies, as a student does (one click, one rerun)."""
    track = widget.locator('[data-testid="stSlider"] [role="group"] > [data-orientation="horizontal"]')  # React Aria's
    box = await track.bounding_box(timeout=timeout_ms)
    share = (value - prediction.low) / (prediction.high - prediction.low)
    await track.click(position={"x": max(1.0, min(box["width"] - 1, share * box["width"])), "y": box["height"] / 2},
                      timeout=timeout_ms)


async def store_trouble(page, rec: Recorder, sid) -> None:
    """ui/predict.py's words when the class store fails, if the page shows them now."""
    alerts = page.locator('[data-testid="stAlert"]').filter(has_text="class store")
    if await alerts.count():
        rec.errors.append({"session": sid, "kind": "poll", "error": "class store",
                           "text": (await alerts.first.inner_text())[:300]})


async def class_presenter(browser, base: str, args, rec: Recorder, room, stop: asyncio.Event) -> None:
    """The presenter's view of `room`'s first question, open until `stop`; then its histogram, which the
    browser reruns by itself, must show every student's prediction of that question within --timeout."""
    from playwright.async_api import Error as PlaywrightError

    sid = "presenter"
    ctx = await browser.new_context(viewport={"width": args.width, "height": args.height})
    try:
        await ctx.add_init_script(OBSERVER_JS)
        page = await ctx.new_page()
        url = f"{base}/{room.page}?{room.presenter_query()}"
        await timed(page, rec, sid, "nav", "presenter view", lambda: page.goto(url, timeout=args.timeout * 1000),
                    args.timeout, need_run=False)
        room.presenter_ready.set()
        await stop.wait()
        want = room.presenter_caption()
        try:
            await page.get_by_text(want).first.wait_for(timeout=args.timeout * 1000)
        except PlaywrightError as err:
            rec.errors.append({"session": sid, "kind": "refresh", "error": "stale histogram",
                               "text": f"wanted {want!r} within {args.timeout:.0f} s: {str(err)[:200]}"})
        await store_trouble(page, rec, sid)
        # The browser keeps no history of what it showed: how soon it caught up is the protocol client's figure.
        room.presenter.update(caption_wanted=want, counted_all_after_s=None,
                              refreshes=await page.evaluate("() => (window.__nlFinished || []).length"))
    finally:
        room.presenter_ready.set()
        await ctx.close()


class ChromiumClients:
    """Sessions as headless Chromium browser contexts, a few browser processes sharing them."""

    def __init__(self, args):
        self.args, self.browsers = args, []

    async def __aenter__(self):
        from playwright.async_api import async_playwright

        self._pw_cm = async_playwright()
        self.pw = await self._pw_cm.__aenter__()
        return self

    async def open(self, n: int) -> None:
        launch = dict(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *self.args.chromium_arg], headless=True)
        self.browsers = [await self.pw.chromium.launch(**launch) for _ in range(max(1, n))]

    async def close(self) -> None:
        for b in self.browsers:
            await b.close()
        self.browsers = []

    async def run(self, base: str, i: int, rec: Recorder, rng: random.Random, think_s: float | None = None):
        await run_session(self.browsers[max(i, 0) % len(self.browsers)], base, i, self.args, rec, rng, think_s)

    async def run_student(self, base: str, i: int, rec: Recorder, rng: random.Random, room,
                          think_s: float | None = None):
        await class_student(self.browsers[max(i, 0) % len(self.browsers)], base, i, self.args, rec, rng, room, think_s)

    async def run_presenter(self, base: str, rec: Recorder, room, stop: asyncio.Event):
        await class_presenter(self.browsers[0], base, self.args, rec, room, stop)

    async def __aexit__(self, *exc):
        await self.close()
        await self._pw_cm.__aexit__(*exc)
