"""The exercise machinery itself: binding, verdicts, hints, messages, and the judges' vocabulary."""

from __future__ import annotations

import pytest
from deploy import function_names

import lambdalab
from lambdalab.checks import Chapter, Exercise, Result, ____
from lambdalab.checks.judges import Calls, Case, Deploys, Expect

DOUBLE = Exercise(name="double", answer="answer", judge=Expect(42, kind=int, mistakes={21: "that is half of it."}),
                  hints=("21 * 2", "or 84 / 2"), solution="answer = 42", mistake="answer = 21")


def test_check_judges_the_answer_it_is_given_not_the_callers_globals():
    q = DOUBLE.bind()
    answer = 7  # a global or local of this name plays no part
    assert q.check(42) and answer == 7
    assert q.check(____).status == "unattempted"
    assert q.check().status == "unattempted"
    result = q.check(21)
    assert result.status == "incorrect" and result.message == "that is half of it."
    assert "Incorrect" in result._repr_html_()


def test_a_wrong_plain_answer_is_not_answered_with_the_right_one():
    result = DOUBLE.bind().check(40)
    assert result.status == "incorrect" and "42" not in result.message


def test_a_wrong_answer_is_quoted_as_written_not_as_normalized():
    rounded = Exercise(name="r", answer="rate", judge=Expect(18, kind=float, normalize=round), hints=("h",),
                       solution="", mistake="").bind()
    assert "`rate` is 18.7, which is not right" in rounded.check(18.7).message


def test_kind_is_checked_and_a_bool_is_not_a_number():
    q = DOUBLE.bind()
    assert "whole number" in q.check("42").message
    assert q.check(True).status == "incorrect"
    assert q.check(42.0), "a whole number given as a float (np.ceil, /) is a whole number"
    assert "whole number" in q.check(42.5).message


def test_code_spans_render_as_code_never_as_backticks():
    result = Result("incorrect", "read `context.function_name`, not `name`")
    assert "<code>context.function_name</code>" in result._repr_html_() and "`" not in result._repr_html_()
    assert repr(result) == "Incorrect: read context.function_name, not name"


def test_hints_come_one_at_a_time_then_stay_on_the_last():
    q = DOUBLE.bind()
    first, second, third = q.hint(), q.hint(), q.hint()
    assert first.title == "Hint 1 of 2" and "21 * 2" in first.message and "again" in first.message
    assert second.title == third.title == "Hint 2 of 2" and "84 / 2" in third.message
    assert q.hint(1).message.startswith("21 * 2")
    assert "answer = 42" in q.solution()._repr_html_()


def test_a_judge_that_raises_is_an_incorrect_answer_not_a_crash():
    boom = Exercise(name="b", answer="x", judge=lambda ctx, x: x["key"], hints=("h", "h2"), solution="", mistake="")
    result = boom.bind().check([])
    assert result.status == "incorrect" and "TypeError" in result.message


def test_starter_code_that_still_holds_a_blank_is_not_attempted():
    q = Exercise(name="s", answer="source", judge=lambda ctx, s: None, hints=("h", "i"), solution="",
                 mistake="").bind()

    def starter():
        return ____

    for unfinished in ("def handler(e, c):\n    return ____\n", starter, {"a": "allowed", "b": ____}, [1, ____]):
        assert q.check(unfinished).status == "unattempted", unfinished
    assert q.check("ok")


def test_facts_are_passed_after_the_answer_and_their_number_is_checked():
    count = Exercise(name="n", answer="n", facts=("items",), judge=Expect(lambda ctx, items: len(items)),
                     hints=("h", "i"), solution="", mistake="").bind()
    assert count.check(3, [1, 2, 3])
    assert not count.check(2, [1, 2, 3])
    assert count.check(3).status == "unattempted" and "check(n, items)" in count.check(3).message


def test_a_dict_of_answers_names_the_first_wrong_key_with_its_explanation():
    q = Exercise(name="d", answer="decisions", judge=Expect({"a": "allowed", "b": "implicit deny"},
                                                            explain={"b": "nothing allows it."}),
                 hints=("h", "i"), solution="", mistake="").bind()
    assert q.check({"a": "allowed", "b": "implicit deny"})
    message = q.check({"a": "allowed", "b": "allowed"}).message
    assert "'b'" in message and "nothing allows it." in message
    assert "wrong keys" in q.check({"a": "allowed"}).message


def test_calls_judges_a_function_case_by_case():
    judge = Calls(cases=(Case("3", expect=3, mistakes={"3": "a string: use int()."}),), kind=int)
    q = Exercise(name="c", answer="parse", judge=judge, hints=("h", "i"), solution="", mistake="").bind()
    assert q.check(int)
    assert "a string: use int()." in q.check(str).message
    assert "whole number" in q.check(float).message
    assert "should be a function" in q.check(3).message
    assert "ValueError" in q.check(lambda s: int("x")).message


def test_chapter_binds_its_exercises_in_order():
    chapter = Chapter(DOUBLE, DOUBLE)
    first, second = chapter.bind(None)
    assert first.exercise is second.exercise is DOUBLE and first is not second


GREET = Deploys(cases=(Case({"name": "Ada"}, expect={"greeting": "Hello, Ada!"}, explain={"greeting": "Use the name."},
                            on_error={"KeyError": "events may lack a name."}),), prefix="core-greet")


def test_deploys_runs_the_handler_in_the_cloud_and_deletes_it_afterwards(cloud):
    q = Exercise(name="g", answer="source", judge=GREET, hints=("h", "i"), solution="", mistake="").bind(cloud)
    before = function_names(cloud.client("lambda"))
    assert q.check("def handler(event, context):\n    return {'greeting': f\"Hello, {event['name']}!\"}\n")
    wrong = q.check("def handler(event, context):\n    return {'greeting': 'Hello!'}\n").message
    assert "'greeting' should be \"Hello, Ada!\"" in wrong and "Use the name." in wrong
    failed = q.check("def handler(event, context):\n    return {}['name']\n").message
    assert "KeyError" in failed and "events may lack a name." in failed
    assert "not valid Python" in q.check("def handler(event, context) return 1").message
    after = function_names(cloud.client("lambda"))
    assert after == before, "a check must delete the functions it deployed"


def test_a_long_event_is_quoted_by_its_start_only(cloud):
    batch = {"Records": [{"messageId": f"msg-{i}", "body": "x" * 200} for i in range(5)]}
    judge = Deploys(cases=(Case(batch, expect="ok"),), prefix="core-long")
    q = Exercise(name="l", answer="source", judge=judge, hints=("h", "i"), solution="", mistake="").bind(cloud)
    message = q.check("def handler(event, context):\n    return 'not ok'\n").message
    assert message.startswith('invoked with {"Records": [{"messageId": "msg-0"') and "msg-4" not in message
    assert '…, the function returned "not ok"' in message


def test_an_exercise_that_needs_the_cloud_says_so_when_unbound():
    q = Exercise(name="g", answer="source", judge=GREET, hints=("h", "i"), solution="", mistake="").bind()
    message = q.check("def handler(event, context):\n    return 1\n").message
    assert "bind it with exercises.bind(cloud)" in message


@pytest.mark.parametrize("value", [0.5, "x", None])
def test_expect_without_kind_compares_plainly(value):
    q = Exercise(name="p", answer="v", judge=Expect(0.5), hints=("h", "i"), solution="", mistake="").bind()
    assert bool(q.check(value)) is (value == 0.5)


def test_an_exercise_of_a_stopped_cloud_is_not_checked_and_says_how_to_check_it():
    """Run All ends with the chapter's cloud.stop(): an answer filled in afterwards is neither right nor wrong
    yet (a deploying judge would fail to connect), and the learner is told to run the cells above again."""
    judged = []
    q = Exercise(name="deploys", answer="answer", judge=lambda ctx, answer: judged.append(answer),
                 hints=("-",), solution="answer = 1", mistake="answer = 2")
    with lambdalab.start() as cloud:
        assert q.bind(cloud).check(1) and judged == [1]
    result = q.bind(cloud).check(1)
    assert result.status == "unchecked" and judged == [1]
    assert "stopped" in result.message and "Run All Above Selected Cell" in result.message
    assert "Not checked" in result._repr_html_() and not result
    assert DOUBLE.bind().check(42)  # an exercise bound to no cloud is judged as ever
