"""Schedule page: recompute after a slider move (budget p95 <= 50 ms) and browser key press to
updated chart (budget p95 <= 150 ms); with the browser, also what one chart costs Chromium to draw
from scratch against updating it in place (ui/live_chart.py). Prints figures; asserts nothing.

    python bench/bench_schedule_page.py [--repeats 30] [--skip-browser]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # as a script, Python puts bench/ on the path; the packages live in the root

from bench._timing import machine_info, summarize  # noqa: E402

from explainers.device import configure_threads  # noqa: E402

configure_threads()  # the app's setting: one torch thread unless NOISE_LAB_THREADS says otherwise


def bench_rerun(repeats: int) -> dict:
    """Full server-side rerun of the page after a T slider move, in-process through AppTest."""
    from streamlit.testing.v1 import AppTest

    # The page script itself: through app.py, AppTest restarts Streamlit's multipage detection on every
    # run, which a real server does only once, and would count a second run per interaction.
    at = AppTest.from_file(str(ROOT / "pages" / "noise_schedule.py"), default_timeout=120)
    at.run()
    times = []
    for i in range(repeats + 2):
        value = 500 + 10 * (i % 20)
        start = time.perf_counter()
        at.slider(key="T").set_value(value).run()
        if i >= 2:  # the first moves warm the caches of the other widgets
            times.append(time.perf_counter() - start)
        assert not at.exception
    return summarize(times)


def bench_t_fragment(repeats: int) -> dict:
    """A move of the t slider reruns only the forward-process fragment: its computation and figures."""
    import plotly.io as pio

    from explainers import figures as F
    from explainers import schedule_view as V
    from explainers.image_data import procedural_image
    from explainers.state import read_url

    values = dict(read_url(V.PARAMS, {}).values)
    s = V.build_schedule("cosine", values)
    x0 = V.standardise(V.clean_points("ring8", 0))
    times = []
    for i in range(repeats):
        t = 100 + 7 * i
        start = time.perf_counter()
        a, b = float(s.signal_coef[t]), float(s.noise_coef[t])
        xt = V.forward_at(a, b, x0, 0)
        img = V.forward_at(a, b, procedural_image(), 0)
        for fig in (F.scatter_2d(xt, f"2D points at t = {t}", reference=x0), F.image(img, f"Image at t = {t}")):
            pio.to_json(fig, engine="orjson")
        times.append(time.perf_counter() - start)
    return summarize(times)


def bench_compute(repeats: int) -> dict:
    """The page's own computation and figure building for one T change, without Streamlit."""
    import plotly.io as pio

    from explainers import figures as F
    from explainers import schedule_view as V
    from explainers.schedules import vp_coefficients
    from explainers.state import read_url

    values = dict(read_url(V.PARAMS, {}).values)
    x0 = V.clean_points("ring8", 0)
    times = []
    for i in range(repeats):
        values["T"] = 500 + 10 * (i % 20)
        start = time.perf_counter()
        built, _ = V.build_schedules(values)
        s = built[0]
        t_axis = np.arange(s.T)
        figs = [F.schedule_curves(t_axis, [(s.name, s.betas, s.alphas_cumprod)]),
                F.variance_split(t_axis, s.name, s.alphas_cumprod, 1 - s.alphas_cumprod),
                F.snr_curves(t_axis, [(s.name, s.log_snr)])]
        check = V.variance_check(vp_coefficients(s), x0, 0)
        figs.append(F.measured_vs_theory(t_axis, [(s.name, np.ones(s.T))], [("2D", check.t, check.measured_2d)]))
        for fig in figs:
            pio.to_json(fig, engine="orjson")
        times.append(time.perf_counter() - start)
    return summarize(times)


def bench_server_rerun(repeats: int, cached: bool = False, env: dict | None = None) -> tuple[dict, dict]:
    """A T move on a real `streamlit run` server, driven over its WebSocket as a browser would (nothing
    drawn): seconds from the rerun request to the first chart's message, and to the end of the run.
    Each move a new T (figure 6 re-samples), or with `cached` two T values in turn, whose samples are
    cached after the first moves: the rest of the page alone."""
    import asyncio

    import websockets
    from bench.load.protocol_client import ProtocolSession
    from devtools import Server

    async def drive(uri: str) -> tuple[list, list]:
        firsts, wholes = [], []
        async with websockets.connect(uri, subprotocols=["streamlit"], max_size=None, ping_interval=None) as ws:
            session = ProtocolSession(ws)
            for _ in range(2):  # the first deep link on a fresh server may run twice; both warm the caches
                await session.rerun(120, page_name="noise_schedule", query="T=500")
            for i in range(repeats + 2):
                t = 510 + 10 * (i % 2) if cached else 500 + 10 * (i + 1)
                whole = await session.rerun(120, slider_values={"T": t})
                if i >= 2:
                    firsts.append(session.first_chart_s)
                    wholes.append(whole)
        return firsts, wholes

    srv = Server(env=env)
    try:
        firsts, wholes = asyncio.run(drive(srv.url.replace("http://", "ws://") + "/_stcore/stream"))
    finally:
        srv.stop()
    return summarize(firsts), summarize(wholes)


def bench_browser(repeats: int, fresh: bool = True) -> tuple[dict, float]:
    """Key press on the T slider until the first chart holds the new number of points. With `fresh`, every
    press goes one step further (a T never seen: the server samples again and the browser has nothing
    cached); otherwise presses go back and forth between two T values, whose figures both the server and
    the browser (Streamlit's message cache) hold after the first two."""
    from playwright.sync_api import sync_playwright

    from devtools import CHROMIUM, CHROMIUM_ARGS, FIRST_CHART_X_LEN, Server, wait_for_app

    srv = Server()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{srv.url}/noise_schedule?T=500")
            wait_for_app(page)
            slider = page.get_by_role("slider", name="Diffusion steps T")
            times = []
            for i in range(repeats):
                page.wait_for_function(f"() => ({FIRST_CHART_X_LEN})() !== undefined")
                n = page.evaluate(FIRST_CHART_X_LEN)
                key = "ArrowRight" if fresh or i % 2 == 0 else "ArrowLeft"
                target = n + 10 if key == "ArrowRight" else n - 10
                slider.focus()
                start = time.perf_counter()
                page.keyboard.press(key)
                page.wait_for_function(
                    f"() => ({FIRST_CHART_X_LEN})() === {target}",
                    polling="raf", timeout=30_000)
                times.append(time.perf_counter() - start)
                wait_for_app(page)
            browser.close()
    finally:
        srv.stop()
    return summarize(times), srv.ready_after_s


def bench_plotly_draw(repeats: int) -> dict[str, tuple[dict, dict]]:
    """In Chromium, the page's plotly.js drawing figure 1 and a point cloud: from scratch (Plotly.newPlot on a
    new element, what st.plotly_chart does when the data changes) and in place (Plotly.react on the chart
    already drawn, what ui/live_chart.py does). Returns {figure: (newPlot summary, react summary)}."""
    import json

    import plotly.io as pio
    from playwright.sync_api import sync_playwright
    from plotly.offline import get_plotlyjs

    from devtools import CHROMIUM, CHROMIUM_ARGS
    from explainers import figures as F
    from explainers import schedule_view as V
    from explainers.state import read_url

    values = dict(read_url(V.PARAMS, {}).values)
    rng = np.random.default_rng(0)

    def figure_1(i: int):
        values["T"] = 500 + 10 * i
        s = V.build_schedule("cosine", values)
        return F.schedule_curves(np.arange(s.T), [(s.name, s.betas, s.alphas_cumprod)])

    def point_cloud(i: int):
        x = rng.standard_normal((V.N_POINTS, 2))
        return F.scatter_2d(x, f"2D points, draw {i}", reference=0.5 * x)

    timed = """async (specs) => {
      const box = (d) => { d.style.width = '600px'; d.style.height = '380px'; document.body.appendChild(d); return d; };
      const out = {newPlot: [], react: []};
      for (const s of specs) {
        const d = box(document.createElement('div'));
        const t0 = performance.now(); await Plotly.newPlot(d, s.data, s.layout); out.newPlot.push(performance.now() - t0);
        Plotly.purge(d); d.remove();
      }
      const g = box(document.createElement('div'));
      await Plotly.newPlot(g, specs[0].data, specs[0].layout);
      for (const s of specs.slice(1)) {
        const t0 = performance.now(); await Plotly.react(g, s.data, s.layout); out.react.push(performance.now() - t0);
      }
      Plotly.purge(g); g.remove();
      return out;
    }"""
    results = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=get_plotlyjs())
        for name, make in (("figure 1", figure_1), ("point cloud", point_cloud)):
            specs = [json.loads(pio.to_json(make(i), validate=False, engine="orjson")) for i in range(repeats + 1)]
            ms = page.evaluate(timed, specs)
            results[name] = tuple(summarize([t / 1000 for t in ms[k]]) for k in ("newPlot", "react"))
        browser.close()
    return results


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--skip-browser", action="store_true")
    args = ap.parse_args(argv)
    print(machine_info())
    compute = bench_compute(args.repeats)
    print(f"page computation + figure JSON, T move : p50 {compute['p50_ms']:.1f} ms  p95 {compute['p95_ms']:.1f} ms")
    frag = bench_t_fragment(args.repeats)
    print(f"t move (fragment rerun) computation + JSON: p50 {frag['p50_ms']:.1f} ms  p95 {frag['p95_ms']:.1f} ms"
          f"  -> p95 / 50 ms budget = {frag['p95_ms'] / 50:.2f}")
    rerun = bench_rerun(args.repeats)
    print(f"full page rerun incl. re-sampling 2,000 points, T move (AppTest): p50 {rerun['p50_ms']:.1f} ms  p95 {rerun['p95_ms']:.1f} ms"
          f"  -> p95 / 50 ms budget = {rerun['p95_ms'] / 50:.2f}")
    first, whole = bench_server_rerun(args.repeats)
    print(f"real server, T move, rerun request -> first chart sent: p50 {first['p50_ms']:.1f} ms  p95 {first['p95_ms']:.1f} ms")
    print(f"real server, T move, rerun request -> script finished : p50 {whole['p50_ms']:.1f} ms  p95 {whole['p95_ms']:.1f} ms"
          f"  -> p95 / 50 ms budget = {whole['p95_ms'] / 50:.2f}")
    # server/nodelay.py against Streamlit's own sockets, with the samples cached so that the tail of each run is
    # the same: Nagle's algorithm holds a run's last messages until the client acknowledges a large one.
    n = max(args.repeats, 60)
    _, off = bench_server_rerun(n, cached=True)
    _, on = bench_server_rerun(n, cached=True, env={"NOISE_LAB_KEEP_NAGLE": "1"})
    print(f"real server, T move, samples cached ({n} moves): TCP_NODELAY set (server/nodelay.py) p50 {off['p50_ms']:.1f} ms "
          f"p95 {off['p95_ms']:.1f} ms; Streamlit's sockets as they are p50 {on['p50_ms']:.1f} ms p95 {on['p95_ms']:.1f} ms"
          f" -> p95 ratio {on['p95_ms'] / off['p95_ms']:.2f}x")
    if not args.skip_browser:
        for name, (new_plot, react) in bench_plotly_draw(args.repeats).items():
            print(f"Chromium, {name}: Plotly.newPlot p50 {new_plot['p50_ms']:.1f} ms, Plotly.react in place "
                  f"p50 {react['p50_ms']:.1f} ms -> newPlot / react = {new_plot['p50_ms'] / react['p50_ms']:.1f}x")
        browser, ready = bench_browser(args.repeats)
        print(f"browser key press -> chart updated, each press a new T: p50 {browser['p50_ms']:.1f} ms  "
              f"p95 {browser['p95_ms']:.1f} ms  -> p95 / 150 ms budget = {browser['p95_ms'] / 150:.2f}")
        cached, _ = bench_browser(args.repeats, fresh=False)
        print(f"browser key press -> chart updated, back and forth between two T (cached): p50 {cached['p50_ms']:.1f} ms  "
              f"p95 {cached['p95_ms']:.1f} ms  -> p95 / 150 ms budget = {cached['p95_ms'] / 150:.2f}")


if __name__ == "__main__":
    main()
