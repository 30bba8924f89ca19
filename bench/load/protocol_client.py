"""A student's session for the load test (bench/load_test.py) that speaks Streamlit's own WebSocket protocol.

Why: 30 headless Chromium sessions on the server's own 2 cores spend about 3 CPU seconds drawing each
interaction against the server's 0.35, so on this machine they measure the browsers, not the server.
A protocol client does what the browser does on the wire, and little else: it opens /_stcore/stream,
sends the BackMsg `rerun_script` a browser sends (the page, the URL's query string, the widget states:
here only the pressed button's trigger, as a click sends), and reads the ForwardMsgs back. The server
cannot tell it from a browser: the same session, script runs, widgets, caches and memory.

One interaction = from sending the rerun request to receiving the ForwardMsg `script_finished` that
ends it (a run that ends early because the app itself asked for a rerun, as a lesson step does, is
followed to its last run). An error is an exception element in the page's output, a timeout, or a
dropped connection. No drawing is measured: in a classroom each student's own laptop draws.
"""

from __future__ import annotations

import asyncio
import random
import time

from bench.load.lesson import PAGES, Recorder, lesson_query

FINISHED_EARLY_FOR_RERUN = 2  # ForwardMsg.ScriptFinishedStatus: the app asked for another run


class ProtocolSession:
    """One WebSocket session: what a browser tab holds of it (the page, its query string, its buttons)."""

    def __init__(self, ws):
        self.ws = ws
        self.page_hash = ""
        self.query = ""
        self.buttons: dict[str, str] = {}  # user key -> widget id
        self.sliders: dict[str, str] = {}  # user key -> widget id
        self.exceptions: list[str] = []
        self.first_chart_s: float | None = None  # last rerun: request sent -> its first chart received

    async def rerun(self, timeout_s: float, page_name: str = "", query: str | None = None,
                    trigger_key: str | None = None, slider_values: dict[str, float] | None = None) -> float:
        """Send one rerun request and wait for the end of the run(s) it causes; return the seconds.
        `trigger_key` presses that button; `slider_values` moves those sliders (by key), as a drag does."""
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        state = msg.rerun_script
        if query is not None:
            self.query = query  # the address bar now holds it; the app may change it (page_info_changed)
        state.query_string = self.query
        if page_name:
            state.page_name = page_name
        else:
            state.page_script_hash = self.page_hash
        if trigger_key is not None:
            widget = state.widget_states.widgets.add()
            widget.id = self.buttons[trigger_key]
            widget.trigger_value = True
        for key, value in (slider_values or {}).items():
            widget = state.widget_states.widgets.add()
            widget.id = self.sliders[key]
            widget.double_array_value.data.append(float(value))
        self.exceptions.clear()
        self.first_chart_s = None
        start = self._sent_at = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self._until_finished(), timeout_s)
        return time.perf_counter() - start

    async def _until_finished(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "navigation":
                # With st.navigation, this names the page that runs (new_session names the main script).
                self.page_hash = fwd.navigation.page_script_hash
            elif kind == "new_session" and not self.page_hash:
                self.page_hash = fwd.new_session.page_script_hash
            elif kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                which = element.WhichOneof("type")
                if which == "button":
                    # By the widget's key (the id ends with it), and by its label for a button without a key.
                    self.buttons[element.button.id.rsplit("-", 1)[-1]] = element.button.id
                    self.buttons[f"label:{element.button.label}"] = element.button.id
                elif which == "slider":
                    self.sliders[element.slider.id.rsplit("-", 1)[-1]] = element.slider.id
                elif which in ("bidi_component", "plotly_chart") and self.first_chart_s is None:  # ui/live_chart.py
                    self.first_chart_s = time.perf_counter() - self._sent_at
                elif which == "exception":
                    self.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
            elif kind == "script_finished" and fwd.script_finished != FINISHED_EARLY_FOR_RERUN:
                return


async def protocol_session(base: str, sid: int, args, rec, rng: random.Random, think_s: float | None = None) -> None:
    """The same lesson as chromium_client.run_session: each page at ?lesson=1, Next twice, then Train on the
    spectral page; recorded in `rec` in the same form (kind nav / next / train, seconds, errors)."""
    import websockets

    think_s = args.think_seconds if think_s is None else think_s
    uri = base.replace("http://", "ws://", 1) + "/_stcore/stream"

    async def think():
        if think_s > 0:
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))

    async def timed(session: ProtocolSession, kind: str, what: str, timeout_s: float, **request) -> bool:
        at = time.time()
        try:
            seconds = await session.rerun(timeout_s, **request)
        except (asyncio.TimeoutError, TimeoutError):
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "timeout",
                               "text": f"no script_finished within {timeout_s:.0f} s"})
            return False
        except KeyError as err:
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "missing button", "text": str(err)})
            return False
        rec.timings.append({"session": sid, "kind": kind, "what": what, "s": seconds, "at": at})
        for text in session.exceptions:
            rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "stException", "text": text})
        return True

    try:
        async with websockets.connect(uri, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=args.timeout, ping_interval=None) as ws:
            session = ProtocolSession(ws)
            for name in PAGES:
                query = lesson_query(name, args.train_steps)
                if not await timed(session, "nav", name, args.timeout, page_name=name, query=query):
                    continue
                for k in range(args.next_clicks):
                    await think()
                    if not await timed(session, "next", f"{name} step {k + 2}", args.timeout,
                                       trigger_key=f"_lesson_next_{name}"):
                        break
                if name == "spectral_norm" and args.train_steps:
                    await think()
                    await timed(session, "train", f"train {args.train_steps} steps", args.train_timeout,
                                trigger_key="train" if "train" in session.buttons else "label:Train")
                await think()
    except (OSError, websockets.exceptions.WebSocketException) as err:
        rec.errors.append({"session": sid, "kind": "session", "error": "connection", "text": repr(err)[:300]})


class ProtocolClients:
    """Sessions that speak Streamlit's WebSocket protocol: no drawing."""

    def __init__(self, args):
        self.args = args

    async def __aenter__(self):
        return self

    async def open(self, n: int) -> None:
        pass

    async def close(self) -> None:
        pass

    async def run(self, base: str, i: int, rec: Recorder, rng: random.Random, think_s: float | None = None):
        await protocol_session(base, i, self.args, rec, rng, think_s)

    async def __aexit__(self, *exc):
        pass
