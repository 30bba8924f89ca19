"""Predict, then reveal, on the pages: a presenter starts a class, students predict, the presenter reveals
the measured answer. AppTest for the flow and the bad input; a real server and Chromium for the histogram
that refreshes itself and for the join link."""

import pytest

from devtools import Server, run_page_file, wait_for_app

Q1 = "noise_schedule/1"


@pytest.fixture
def class_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'classes.db'}"
    monkeypatch.setenv("NOISE_LAB_CLASS_DB", url)
    return url


def start_class(page="noise_schedule", lesson="1"):
    teacher = run_page_file(page, {"lesson": lesson, "present": "true"})
    teacher.button(key="_class_start").click().run()
    code = teacher.query_params["class"]
    return teacher, code[0] if isinstance(code, list) else code


def captions(at, word):
    return [c.value for c in at.caption if word in c.value]


def test_a_class_predicts_then_the_presenter_reveals_the_models_answer(class_db):
    teacher, code = start_class()
    assert len(code) == 6 and code.isalnum()
    assert [b.label for b in teacher.button][:2] == ["Reveal the answer", "Reset this question"]
    assert captions(teacher, "predictions from class")[0].startswith(f"0 predictions from class {code}")

    students = []
    for value in (0.1, 0.5, 0.08):
        s = run_page_file("noise_schedule", {"lesson": "1", "class": code})
        assert not any(e.label == "Show the answer" for e in s.expander)  # no answer before the reveal
        s.slider(key=f"_pred_{code}_{Q1}").set_value(value).run()
        s.button(key=f"_submit_{code}_{Q1}").click().run()
        assert captions(s, "Your prediction:")[0].startswith(f"Your prediction: **{value:.2f}**")
        students.append(s)
    students[1].slider(key=f"_pred_{code}_{Q1}").set_value(0.3).run()  # a change of mind: the last answer wins
    students[1].button(key=f"_submit_{code}_{Q1}").click().run()

    teacher.run()
    assert captions(teacher, "predictions from class")[0].startswith(f"3 predictions from class {code}")
    teacher.button(key=f"_reveal_{Q1}").click().run()
    for _ in range(50):  # the answer is computed in a background thread (instant for this question)
        teacher.run()
        if captions(teacher, "The model's answer"):
            break
    # ᾱ₄₉₉ of the linear schedule is 0.079: 0.10 and 0.08 are within 0.05 of it, 0.30 is not.
    assert captions(teacher, "The model's answer")[0] == (
        "The model's answer: **0.08** (linear schedule, T = 1000: ᾱ₄₉₉ = 0.079). 2 of 3 predicted it.")
    students[1].run()
    assert "You predicted **0.30**: not this time." in students[1].success[0].value
    assert any("ᾱ₄₉₉ ≈ 0.079" in m.value for m in students[1].markdown)  # the lesson's answer opens too

    teacher.button(key=f"_reset_{Q1}").click().run()
    assert captions(teacher, "predictions from class")[0].startswith("0 predictions")
    students[0].run()
    assert not students[0].success and students[0].button(key=f"_submit_{code}_{Q1}")


def test_classes_and_questions_are_kept_apart(class_db):
    _, code_a = start_class()
    teacher_b, code_b = start_class()
    assert code_a != code_b
    s = run_page_file("noise_schedule", {"lesson": "2", "class": code_a})
    s.radio(key=f"_pred_{code_a}_noise_schedule/2").set_value("cosine").run()
    s.button(key=f"_submit_{code_a}_noise_schedule/2").click().run()
    teacher_b.run()
    assert captions(teacher_b, "predictions from class")[0].startswith("0 predictions")  # other class, question 1
    from classroom.store import ClassStore

    store = ClassStore(class_db)
    assert store.tally(code_a, "noise_schedule/2") == {"cosine": 1} and store.tally(code_a, Q1) == {}
    assert store.tally(code_b, "noise_schedule/2") == {}


@pytest.mark.parametrize("raw", ["ab", "TOOLONGCLASSCODE1", "K7-PQ2", "'; DROP TABLE x;--"])
def test_a_bad_class_code_in_the_url_is_a_notice_naming_the_parameter(class_db, raw):
    at = run_page_file("noise_schedule", {"lesson": "1", "class": raw})
    assert any("'class'" in w.value and "4 to 12 letters" in w.value for w in at.warning)
    assert any(e.label == "Show the answer" for e in at.expander)  # the lesson works as without a class


def test_an_unreachable_class_store_is_a_notice_not_a_crash(monkeypatch):
    monkeypatch.setenv("NOISE_LAB_CLASS_DB", "mysql://nowhere/db")
    at = run_page_file("noise_schedule", {"lesson": "1", "class": "ABCD12"})
    assert any("class store is not available" in w.value and "url" in w.value for w in at.warning)


def test_a_class_without_a_lesson_step_points_students_to_the_lesson(class_db):
    at = run_page_file("spectral_norm", {"class": "ABCD12"})
    assert any("class **ABCD12**" in i.value for i in at.info)


@pytest.mark.browser
def test_the_presenters_histogram_refreshes_itself_and_the_join_link_joins(chromium, tmp_path):
    srv = Server(env={"NOISE_LAB_CLASS_DB": f"sqlite:///{tmp_path / 'classes.db'}"})
    try:
        teacher = chromium.new_context(viewport={"width": 1280, "height": 720}).new_page()
        teacher.goto(f"{srv.url}/noise_schedule?lesson=2&present=true")
        wait_for_app(teacher)
        teacher.get_by_role("button", name="Start a class").click()
        teacher.get_by_text("join link and QR code").click()
        link = teacher.locator('[data-testid="stCode"]').filter(has_text="class=").first.inner_text().strip()
        assert "present" not in link and "lesson=2" in link
        box = teacher.locator('[data-testid="stExpander"]').filter(has_text="join link and QR code")
        box.get_by_text("Scan to join class").wait_for()
        assert box.locator("img").first.evaluate("i => i.complete && i.naturalWidth") >= 200  # the QR code
        teacher.get_by_text("0 predictions from class").wait_for(timeout=30_000)

        students = []
        for choice in ("cosine", "linear", "cosine"):  # three students, each in a browser of their own
            student = chromium.new_context(viewport={"width": 1024, "height": 768}).new_page()
            student.goto(link)
            wait_for_app(student)
            student.get_by_test_id("stRadioGroup").get_by_text(choice, exact=True).click()
            student.get_by_role("button", name="Submit my prediction").click()
            student.get_by_text(f"Your prediction: {choice}").wait_for(timeout=30_000)
            students.append(student)
        students[0].reload()  # a new session in the same browser: the same anonymous student, answer kept
        wait_for_app(students[0])
        students[0].get_by_text("Your prediction: cosine").wait_for(timeout=30_000)

        # No click on the teacher's page: the histogram's fragment reruns by itself.
        teacher.get_by_text("3 predictions from class").wait_for(timeout=15_000)
        bars = teacher.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map(p => p._fullData?.[0]?.y)"
                                ".filter(y => y && y.length === 3).map(y => Array.from(y))")
        assert [1, 2, 0] in bars, bars  # linear, cosine, about the same
        teacher.get_by_role("button", name="Reveal the answer").click()
        teacher.get_by_text("2 of 3 predicted it").wait_for(timeout=30_000)
        students[2].get_by_text("You predicted cosine: right.").wait_for(timeout=15_000)  # the students' panels poll
        students[1].get_by_text("You predicted linear: not this time.").wait_for(timeout=15_000)
        teacher.get_by_role("button", name="Reset this question").click()
        teacher.get_by_text("0 predictions from class").wait_for(timeout=15_000)
        students[1].get_by_role("button", name="Submit my prediction").wait_for(timeout=15_000)  # asked again
    finally:
        srv.stop()
