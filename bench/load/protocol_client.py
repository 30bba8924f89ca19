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

For the class scenario (bench/load/classroom.py) a tab stays open while the server sends on its own: a
fragment with `run_every` (the presenter's histogram, a student's prediction panel) is rerun by the
browser on a timer, so `LiveSession` reads every message in the background and keeps those timers, as the
browser's App does (one interval per fragment id, sent with `is_auto_rerun`).
"""

from __future__ import annotations

import asyncio
import random
import time

from bench.load.lesson import PAGES, Recorder, lesson_query

FINISHED_EARLY_FOR_RERUN = 2  # ForwardMsg.ScriptFinishedStatus: the app asked for another run
FINISHED_FRAGMENT_RUN = 3  # ForwardMsg.ScriptFinishedStatus: a fragment's rerun ended (the others end a whole run)
# Where a widget's value goes in its WidgetState proto, by element type (what the browser's widget manager sends).
VALUE_FIELDS = {"slider": "double_array_value", "radio": "string_value"}


class ProtocolSession:
    """One WebSocket session: what a browser tab holds of it (the page, its query string, its widgets and
    the values the user gave them)."""

    def __init__(self, ws, url: str = ""):
        self.ws = ws
        self.url = url  # the page's address as the browser reports it (st.context.url); "" sends none
        self.page_hash = ""
        self.query = ""
        self.buttons: dict[str, str] = {}  # user key -> widget id
        self.sliders: dict[str, str] = {}  # user key -> widget id
        self.radios: dict[str, str] = {}  # user key -> widget id
        self.fragment_of: dict[str, str] = {}  # widget id -> the fragment it is drawn in
        self.values: dict[str, tuple[str, object]] = {}  # widget id -> (WidgetState field, value) set by the user
        self.exceptions: list[str] = []
        self.first_chart_s: float | None = None  # last rerun: request sent -> its first chart received
        self._sent_at = time.perf_counter()

    def set_value(self, key: str, value) -> str:
        """Give the widget with user key `key` a value, as a drag or a click does; it is sent with every
        later request, as the browser sends every widget's state. Returns the widget's id."""
        for kind, widgets in (("slider", self.sliders), ("radio", self.radios)):
            if key in widgets:
                field = VALUE_FIELDS[kind]
                self.values[widgets[key]] = (field, [float(value)] if kind == "slider" else str(value))
                return widgets[key]
        raise KeyError(key)

    def request(self, page_name: str = "", query: str | None = None, trigger_key: str | None = None,
                slider_values: dict[str, float] | None = None, values: dict | None = None, fragment_id: str = "",
                auto: bool = False):
        """The BackMsg `rerun_script` a browser sends: the page, the query string and every widget value,
        plus the pressed button's trigger. `values` (by key; `slider_values` are sliders') are set first, as
        a drag or a click does. A widget drawn inside a fragment reruns only that fragment."""
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
        if self.url:
            state.context_info.url = f"{self.url}?{self.query}" if self.query else self.url
        for key, value in {**(slider_values or {}), **(values or {})}.items():
            fragment_id = fragment_id or self.fragment_of.get(self.set_value(key, value), "")
        for widget_id, (field, value) in self.values.items():
            widget = state.widget_states.widgets.add()
            widget.id = widget_id
            if field == "double_array_value":
                widget.double_array_value.data.extend(value)
            else:
                setattr(widget, field, value)
        if trigger_key is not None:
            widget = state.widget_states.widgets.add()
            widget.id = self.buttons[trigger_key]
            widget.trigger_value = True
            fragment_id = fragment_id or self.fragment_of.get(widget.id, "")
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        return msg

    async def rerun(self, timeout_s: float, **request) -> float:
        """Send one rerun request (see `request`) and wait for the end of the run(s) it causes; return the
        seconds. `trigger_key` presses that button; `slider_values` moves those sliders (by key)."""
        msg = self.request(**request)
        self.exceptions.clear()
        self.first_chart_s = None
        start = self._sent_at = time.perf_counter()
        await self.ws.send(msg.SerializeToString())
        await asyncio.wait_for(self._until_finished(), timeout_s)
        return time.perf_counter() - start

    async def _until_finished(self) -> None:
        while True:
            status, _ = self.take(await self.ws.recv())
            if status not in (None, FINISHED_EARLY_FOR_RERUN):
                return

    def take(self, raw: bytes):
        """Read one ForwardMsg into what the tab holds: (its script_finished status or None, the message)."""
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        fwd = ForwardMsg()
        fwd.ParseFromString(raw)
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
            if which in ("button", "slider", "radio"):
                widget = getattr(element, which)
                # By the widget's key (the id ends with it), and by its label for a button without a key.
                key = widget.id.rsplit("-", 1)[-1]
                {"button": self.buttons, "slider": self.sliders, "radio": self.radios}[which][key] = widget.id
                if which == "button":
                    self.buttons[f"label:{widget.label}"] = widget.id
                self.fragment_of[widget.id] = fwd.delta.fragment_id
            elif which in ("bidi_component", "plotly_chart") and self.first_chart_s is None:  # ui/live_chart.py
                self.first_chart_s = time.perf_counter() - self._sent_at
            elif which == "exception":
                self.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
        elif kind == "script_finished":
            return fwd.script_finished, fwd
        return None, fwd


async def timed(session: ProtocolSession, rec: Recorder, sid, kind: str, what: str, timeout_s: float,
                **request) -> bool:
    """One interaction (`session.rerun(timeout_s, **request)`), recorded in `rec` with the exceptions the
    page showed meanwhile; False if it did not finish."""
    at = time.time()
    try:
        seconds = await session.rerun(timeout_s, **request)
    except (asyncio.TimeoutError, TimeoutError):
        rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "timeout",
                           "text": f"not finished within {timeout_s:.0f} s"})
        return False
    except KeyError as err:
        rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "missing widget", "text": str(err)})
        return False
    finally:
        report_exceptions(session, rec, sid, kind, what)
    rec.timings.append({"session": sid, "kind": kind, "what": what, "s": seconds, "at": at})
    return True


def report_exceptions(session: ProtocolSession, rec: Recorder, sid, kind: str, what: str) -> None:
    for text in session.exceptions:
        rec.errors.append({"session": sid, "kind": kind, "what": what, "error": "stException", "text": text})
    session.exceptions.clear()


async def protocol_session(base: str, sid: int, args, rec, rng: random.Random, think_s: float | None = None) -> None:
    """The same lesson as chromium_client.run_session: each page at ?lesson=1, Next twice, then Train on the
    spectral page; recorded in `rec` in the same form (kind nav / next / train, seconds, errors)."""
    import websockets

    think_s = args.think_seconds if think_s is None else think_s

    async def think():
        if think_s > 0:
            await asyncio.sleep(think_s * rng.uniform(0.5, 1.5))

    try:
        async with websockets.connect(stream_uri(base), subprotocols=["streamlit"], max_size=None,
                                      open_timeout=args.timeout, ping_interval=None) as ws:
            session = ProtocolSession(ws)
            for name in PAGES:
                query = lesson_query(name, args.train_steps)
                if not await timed(session, rec, sid, "nav", name, args.timeout, page_name=name, query=query):
                    continue
                for k in range(args.next_clicks):
                    await think()
                    if not await timed(session, rec, sid, "next", f"{name} step {k + 2}", args.timeout,
                                       trigger_key=f"_lesson_next_{name}"):
                        break
                if name == "spectral_norm" and args.train_steps:
                    await think()
                    await timed(session, rec, sid, "train", f"train {args.train_steps} steps", args.train_timeout,
                                trigger_key="train" if "train" in session.buttons else "label:Train")
                await think()
    except (OSError, websockets.exceptions.WebSocketException) as err:
        rec.errors.append({"session": sid, "kind": "session", "error": "connection", "text": repr(err)[:300]})


def stream_uri(base: str) -> str:
    return base.replace("http://", "ws://", 1) + "/_stcore/stream"


class _Until:
    """What ends an interaction on a live tab, where the timers' runs come and go meanwhile: with `shows`,
    the end of the first run that showed that text; else with `until` "full", the end of the next
    whole-page run (only our own requests start one), or "run", the end of the first run that started
    after the request."""

    def __init__(self, until: str, shows: str | None):
        if until not in ("full", "run"):
            raise ValueError(f"until must be 'full' or 'run'; got {until!r}")
        self.until, self.shows, self.armed = until, shows, False
        self.future = asyncio.get_running_loop().create_future()

    def see(self, kind: str, status: int | None, text: str | None) -> None:
        if self.future.done():
            return
        if self.shows is not None:
            self.armed = self.armed or (text is not None and self.shows in text)
        elif self.until == "run" and kind == "new_session":
            self.armed = True
        if status is None or status == FINISHED_EARLY_FOR_RERUN:
            return
        if self.armed or (self.shows is None and self.until == "full" and status != FINISHED_FRAGMENT_RUN):
            self.future.set_result(time.perf_counter())


class LiveSession(ProtocolSession):
    """A tab left open: every message is read as it comes, by a background task, since the server sends
    without being asked; fragments with `run_every` are rerun on timers, as the browser does (one interval
    per fragment id, kept while the server repeats it, stopped by `stop_auto_rerun`).

    `rerun(timeout_s, until=..., shows=..., **request)` sends one request and waits for that condition
    (see _Until): the next script_finished may belong to a timer's run. `refreshes` times the timers' reruns:
    from the oldest timer request not yet answered to the end of the next fragment run. `shown` is the
    markdown (captions included) of the last run that finished; with `history`, `runs` keeps (epoch s,
    shown) for every run that finished."""

    def __init__(self, ws, url: str = "", history: bool = False):
        super().__init__(ws, url)
        self.runs: list[tuple[float, list[str]]] | None = [] if history else None
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}  # fragment id -> (interval, its task)
        self.refreshes: list[dict] = []  # {"at": epoch s, "s": seconds}
        self.shown: list[str] = []
        self._showing: list[str] = []
        self._timer_sent: list[float] = []
        self._waits: list[_Until] = []
        self.closed: str | None = None  # why the connection ended, if it did

    async def __aenter__(self):
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc):
        tasks = [self._reader, *(task for _, task in self.timers.values())]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def rerun(self, timeout_s: float, until: str = "full", shows: str | None = None, **request) -> float:
        if self.closed:
            raise ConnectionError(self.closed)
        wait = _Until(until, shows)
        self._waits.append(wait)
        try:
            msg = self.request(**request)
            start = self._sent_at = time.perf_counter()
            await self.ws.send(msg.SerializeToString())
            return await asyncio.wait_for(wait.future, timeout_s) - start
        finally:
            self._waits.remove(wait)

    async def _read(self) -> None:
        import websockets

        try:
            async for raw in self.ws:
                self._see(*self.take(raw))
            self.closed = "the server closed the connection"
        except websockets.exceptions.WebSocketException as err:
            self.closed = repr(err)[:300]
        finally:
            for wait in self._waits:
                if not wait.future.done():
                    wait.future.set_exception(ConnectionError(self.closed or "reader stopped"))

    def _see(self, status: int | None, fwd) -> None:
        kind, text = fwd.WhichOneof("type"), None
        if kind == "auto_rerun":
            self._keep_timer(fwd.auto_rerun.fragment_id, fwd.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in fwd.stop_auto_rerun.fragment_ids:
                if fragment_id in self.timers:
                    self.timers.pop(fragment_id)[1].cancel()
        elif kind == "new_session":
            self._showing = []
        elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            element = fwd.delta.new_element
            if element.WhichOneof("type") == "markdown":
                text = element.markdown.body
                self._showing.append(text)
            elif element.WhichOneof("type") == "alert" and "class store" in element.alert.body:
                # ui/predict.py's words when the class store fails: the page stays up, the prediction does not.
                self.exceptions.append(f"class store: {element.alert.body}"[:300])
        if status is not None and status != FINISHED_EARLY_FOR_RERUN:
            self.shown = self._showing
            if self.runs is not None:
                self.runs.append((time.time(), self.shown))
            if status == FINISHED_FRAGMENT_RUN and self._timer_sent:
                self.refreshes.append({"at": time.time(), "s": time.perf_counter() - self._timer_sent[0]})
                self._timer_sent.clear()
        for wait in self._waits:
            wait.see(kind, status, text)

    def _keep_timer(self, fragment_id: str, interval: float) -> None:
        if fragment_id in self.timers:
            if self.timers[fragment_id][0] == interval:
                return
            self.timers.pop(fragment_id)[1].cancel()
        self.timers[fragment_id] = (interval, asyncio.create_task(self._every(fragment_id, interval)))

    async def _every(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            self._timer_sent.append(time.perf_counter())
            await self.ws.send(self.request(fragment_id=fragment_id, auto=True).SerializeToString())


async def class_student(base: str, sid: int, args, rec: Recorder, rng: random.Random, room,
                        think_s: float | None = None) -> None:
    """One student of `room` (bench/load/classroom.py): opens the join link, predicts each question, and
    keeps the tab open until the class is over. Its anonymous id is sent as the app's cookie, so the
    store's answer can be checked per student."""
    import websockets

    from ui.predict import STUDENT_COOKIE

    think_s = args.think_seconds if think_s is None else think_s
    student = f"{rng.getrandbits(64):016x}"
    plan = room.plan(rng)

    async def think(share: float = 1.0):
        if think_s > 0:
            await asyncio.sleep(share * think_s * rng.uniform(0.5, 1.5))

    async def predict(tab: LiveSession) -> None:
        if not await timed(tab, rec, sid, "nav", room.page, args.timeout, until="full", page_name=room.page,
                           query=room.student_query()):
            return
        for n, (step, answers) in enumerate(plan):
            q = room.question(step)
            if n:
                await think()
                if not await timed(tab, rec, sid, "next", q, args.timeout, until="full",
                                   trigger_key=f"_lesson_next_{room.page}"):
                    return
            pick, submit = room.keys(step)
            for answer in answers:
                await think()
                if not await timed(tab, rec, sid, "pick", q, args.timeout, until="run", values={pick: answer.value}):
                    return
                await think(0.25)
                room.submitted(student, step, answer)  # from now on the store must hold it
                if not await timed(tab, rec, sid, "submit", q, args.timeout, shows=room.shown_after_submit(answer),
                                   trigger_key=submit):
                    return

    try:
        async with websockets.connect(stream_uri(base), subprotocols=["streamlit"], max_size=None,
                                      open_timeout=args.timeout, ping_interval=None,
                                      additional_headers={"Cookie": f"{STUDENT_COOKIE}={student}"}) as ws:
            async with LiveSession(ws, f"{base}/{room.page}") as tab:
                try:
                    await predict(tab)
                finally:
                    room.done(student)
                if room.stay:
                    await room.over.wait()
                report_exceptions(tab, rec, sid, "poll", "the panel's own reruns")
                rec.timings += [{"session": sid, "kind": "poll", "what": "prediction panel", **r}
                                for r in tab.refreshes]
                if tab.closed:
                    rec.errors.append({"session": sid, "kind": "session", "error": "connection", "text": tab.closed})
    except (OSError, websockets.exceptions.WebSocketException) as err:
        rec.errors.append({"session": sid, "kind": "session", "error": "connection", "text": repr(err)[:300]})
    finally:
        room.done(student)


async def class_presenter(base: str, args, rec: Recorder, room, stop: asyncio.Event) -> None:
    """The presenter's view of `room`'s first question, open until `stop`; then its histogram must show
    every student's prediction of that question within --timeout (it refreshes by itself)."""
    import websockets

    sid = "presenter"
    try:
        async with websockets.connect(stream_uri(base), subprotocols=["streamlit"], max_size=None,
                                      open_timeout=args.timeout, ping_interval=None) as ws:
            async with LiveSession(ws, f"{base}/{room.page}", history=True) as tab:
                await timed(tab, rec, sid, "nav", "presenter view", args.timeout, until="full", page_name=room.page,
                            query=room.presenter_query())
                room.presenter_ready.set()
                await stop.wait()
                want, start = room.presenter_caption(), time.perf_counter()
                while not any(text.startswith(want) for text in tab.shown) and not tab.closed:
                    if time.perf_counter() - start > args.timeout:
                        shown = next((t for t in tab.shown if "from class" in t), None)
                        rec.errors.append({"session": sid, "kind": "refresh", "error": "stale histogram",
                                           "text": f"wanted {want!r} within {args.timeout:.0f} s; shows {shown!r}"})
                        break
                    await asyncio.sleep(0.1)
                counted_at = room.counted_at.get(room.steps[0])
                caught_up = next((t for t, shown in tab.runs if any(text.startswith(want) for text in shown)
                                  and counted_at is not None and t >= counted_at), None)
                room.presenter.update(caption_wanted=want, refreshes=len(tab.refreshes),
                                      counted_all_after_s=None if caught_up is None else round(caught_up - counted_at, 2))
                report_exceptions(tab, rec, sid, "refresh", "the histogram's own reruns")
                rec.timings += [{"session": sid, "kind": "refresh", "what": "histogram", **r} for r in tab.refreshes]
                if tab.closed:
                    rec.errors.append({"session": sid, "kind": "session", "error": "connection", "text": tab.closed})
    except (OSError, websockets.exceptions.WebSocketException) as err:
        rec.errors.append({"session": sid, "kind": "session", "error": "connection", "text": repr(err)[:300]})
    finally:
        room.presenter_ready.set()


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

    async def run_student(self, base: str, i: int, rec: Recorder, rng: random.Random, room,
                          think_s: float | None = None):
        await class_student(base, i, self.args, rec, rng, room, think_s)

    async def run_presenter(self, base: str, rec: Recorder, room, stop: asyncio.Event):
        await class_presenter(base, self.args, rec, room, stop)

    async def __aexit__(self, *exc):
        pass
