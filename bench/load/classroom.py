"""The class scenario of the load test (`--scenario class`): one presenter and N students in one class on
one server, the students predicting while the presenter's histogram refreshes itself (ui/predict.py).

Why a scenario of its own: a class is the one place where sessions share state. Every open student tab
reruns its prediction panel every 3 s and the presenter's histogram every 2 s (`st.fragment(run_every=...)`,
rerun by the browser's timers), each run reading the class store, while submits write to it. So besides
latency and CPU, what must hold under load is that no prediction is lost: at the end the store must hold,
for every student and question, the answer that student submitted last.

What each party does (the clients carry it out: protocol_client.py, or chromium_client.py with browsers):
- The presenter opens the lesson's first question at `?lesson=1&present=true&class=CODE` (the code made here
  with ClassStore.new_code(), as the "Start a class" button does) before the first student, and stays
  connected. When every student has predicted, its histogram must show them all within --timeout; the
  protocol client also reports how long after the last student's first submit to that question was sent
  its caption first counted everyone (at most the 2 s refresh interval plus a run, when the server keeps
  up).
- Each student opens `?lesson=1&class=CODE`, and for each question (steps 1..--questions of the
  noise-schedule lesson: a slider, then a radio) picks an answer (the widget's rerun), submits it, and with
  probability --change-mind picks a different one and submits again; "Next" between questions. Pauses of
  --think-seconds (x0.5-1.5) before each pick and "Next", a quarter of that between pick and submit. Then
  the tab stays open (its panel polling) until every student has predicted, as in a class waiting for the
  reveal.

Interactions (kinds): nav (the page opened, the presenter's too), next, pick (the widget's rerun), submit
(the click, until the run that shows "Your prediction: <the answer>" has finished). The timers' reruns are
reported apart: poll (a student's panel) and refresh (the presenter's histogram).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import dataclass

PAGE = "noise_schedule"


@dataclass(frozen=True)
class Answer:
    value: float | str  # what the widget sends: a slider's number, a radio's option
    stored: str  # what the store keeps and the page shows (Prediction.check)


class ClassRoom:
    """One class: its code and questions, each student's last submitted answer, and when it is over."""

    def __init__(self, code: str, questions: int, students: int, change_mind: float, stay: bool):
        from explainers.predictions import prediction

        self.code, self.page, self.change_mind, self.stay = code, PAGE, change_mind, stay
        self.steps = tuple(range(1, questions + 1))
        self.predictions = {step: prediction(PAGE, step) for step in self.steps}  # ValueError past the lesson
        self.students = students
        self.last: dict[tuple[str, int], str] = {}  # (student, step) -> the answer submitted last
        self.interactions_planned = 0
        self.finished: set[str] = set()
        self.over = asyncio.Event()  # every student has predicted (or failed)
        self.presenter_ready = asyncio.Event()
        self.presenter: dict = {}  # what the presenter saw, filled by the client
        self.counted_at: dict[int, float] = {}  # step -> epoch s when its latest new student's first submit was sent

    def question(self, step: int) -> str:
        from explainers.predictions import question_id

        return question_id(self.page, step)

    def student_query(self) -> str:
        return f"lesson={self.steps[0]}&class={self.code}"

    def presenter_query(self) -> str:
        return f"lesson={self.steps[0]}&present=true&class={self.code}"

    def keys(self, step: int) -> tuple[str, str]:
        """The user keys of the step's prediction widget and of its submit button (ui/predict.py)."""
        q = self.question(step)
        return f"_pred_{self.code}_{q}", f"_submit_{self.code}_{q}"

    def plan(self, rng: random.Random) -> list[tuple[int, list[Answer]]]:
        """A student's answers, question by question: one, or two different ones (a change of mind).
        Drawn up front, so the interactions expected are known even if the session fails half way."""
        plan = []
        for step in self.steps:
            first = self._answer(step, rng)
            answers = [first]
            if rng.random() < self.change_mind:
                second = first
                while second.stored == first.stored:
                    second = self._answer(step, rng)
                answers.append(second)
            plan.append((step, answers))
        # The page opened, "Next" before every question but the first, a pick and a submit per answer.
        self.interactions_planned += len(self.steps) + sum(2 * len(a) for _, a in plan)
        return plan

    def _answer(self, step: int, rng: random.Random) -> Answer:
        p = self.predictions[step]
        if p.kind == "choice":
            return self.answer(step, rng.choice(p.choices))
        return self.answer(step, p.low + p.step * rng.randint(0, round((p.high - p.low) / p.step)))

    def answer(self, step: int, value: float | str) -> Answer:
        """`value` as the step's widget sends it, and as the store keeps it."""
        return Answer(value, self.predictions[step].check(value))

    @staticmethod
    def shown_after_submit(answer: Answer) -> str:
        """The student's caption once the store holds `answer` (ui/predict.py's wording)."""
        return f"Your prediction: **{answer.stored}**"

    def presenter_caption(self) -> str:
        """The start of the presenter's caption once every prediction of its question is in the histogram."""
        n = sum(1 for (_, step) in self.last if step == self.steps[0])
        return f"{n} prediction{'s' if n != 1 else ''} from class {self.code}"

    def submitted(self, student: str, step: int, answer: Answer) -> None:
        """Call just before sending the submit: from then on the store must hold `answer`."""
        if (student, step) not in self.last:  # one more student in the question's count
            self.counted_at[step] = time.time()
        self.last[(student, step)] = answer.stored

    def done(self, student: str) -> None:
        """`student` has predicted everything (or failed); the class is over when every student has. Idempotent."""
        self.finished.add(student)
        if len(self.finished) >= self.students:
            self.over.set()

    def verify(self, store_url: str) -> dict:
        """The store against each student's last submitted answer: lost (no answer stored), mismatched
        (another answer stored), and per question the store's tally against the expected one."""
        from collections import Counter

        from classroom.store import ClassStore

        store = ClassStore(store_url)
        lost, mismatched = [], []
        for (student, step), answer in sorted(self.last.items()):
            stored = store.answer_of(self.code, self.question(step), student)
            if stored is None:
                lost.append({"student": student, "question": self.question(step), "submitted": answer})
            elif stored != answer:
                mismatched.append({"student": student, "question": self.question(step), "submitted": answer,
                                   "stored": stored})
        tallies = {}
        for step in self.steps:
            expected = dict(Counter(a for (_, s), a in self.last.items() if s == step))
            stored = store.tally(self.code, self.question(step))
            tallies[self.question(step)] = {"expected_n": sum(expected.values()), "stored_n": sum(stored.values()),
                                            "equal": expected == stored}
        return {"code": self.code, "students": self.students, "predictions_expected": len(self.last),
                "lost": len(lost), "mismatched": len(mismatched), "lost_list": lost[:20],
                "mismatched_list": mismatched[:20], "tallies": tallies,
                "interactions_expected": self.interactions_planned + 1,  # + the presenter's view opened
                "presenter": self.presenter}


class ClassScenario:
    """The class scenario for the harness: a warm-up class (its presenter and the warm-up sessions, the
    same students' flow alone) and the measured class (the presenter, then --sessions students)."""

    def __init__(self, args, store_url: str):
        from classroom.store import ClassStore

        self.args, self.store_url = args, store_url
        new = lambda n, stay: ClassRoom(ClassStore.new_code(), args.questions, n, args.change_mind, stay)  # noqa: E731
        self.warm, self.room = new(args.warmup_sessions, False), new(args.sessions, True)

    async def session(self, clients, base: str, i: int, rec, rng: random.Random, think_s: float | None = None):
        """Session i of the load (i = -1: a warm-up session, in the warm-up class)."""
        await clients.run_student(base, i, rec, rng, self.room if i >= 0 else self.warm, think_s)

    @contextlib.asynccontextmanager
    async def in_session(self, clients, base: str, rec, warm: bool):
        """The presenter's view of the class, open before the students come and until the class is over."""
        room = self.warm if warm else self.room
        stop = asyncio.Event()
        presenter = asyncio.create_task(clients.run_presenter(base, rec, room, stop))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(room.presenter_ready.wait(), self.args.timeout)
        try:
            yield
        finally:
            stop.set()
            await asyncio.gather(presenter, return_exceptions=True)

    def figures(self) -> dict:
        return {"store": self.store_url, **self.room.verify(self.store_url),
                "warmup_class": self.warm.verify(self.store_url)}
