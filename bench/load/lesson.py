"""What every simulated student does, whatever the client: the guided lesson on each page (open it at
?lesson=1, click Next a few times; on the spectral page also Train), and where the timings go."""

from __future__ import annotations

import contextlib

PAGES = ("noise_schedule", "backward_noise_init", "spectral_norm")


def lesson_query(page: str, train_steps: int) -> str:
    """The query string a session opens `page` with: the lesson's first step (and the spectral page's run length)."""
    return "lesson=1" + (f"&train_steps={train_steps}" if page == "spectral_norm" else "")


class Recorder:
    """Interactions as {session, kind (nav / next / train), what, s, at}, and errors as {session, kind, error, ...}."""

    def __init__(self):
        self.timings: list[dict] = []
        self.errors: list[dict] = []


class LessonScenario:
    """The default scenario for the harness: every session follows the lessons alone; nothing is shared
    between sessions (bench/load/classroom.py has the scenario in which a class shares its predictions)."""

    async def session(self, clients, base: str, i: int, rec: Recorder, rng, think_s: float | None = None):
        await clients.run(base, i, rec, rng, think_s)

    @contextlib.asynccontextmanager
    async def in_session(self, clients, base: str, rec: Recorder, warm: bool):
        yield

    def figures(self) -> dict:
        return {}
