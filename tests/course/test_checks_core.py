"""The exercise machinery itself."""

from __future__ import annotations

from lambdalab.checks import Exercise, ____

EX = Exercise(name="double", variables=("answer",), checker=lambda answer: None if answer == 42 else
              f"{answer} is not twice 21", hint_text="21 * 2", solution_code="answer = 42", wrong_code="answer = 21")
answer = ____


def test_check_reads_the_callers_globals():
    global answer
    answer = ____
    assert EX.check().status == "unattempted"
    answer = 42
    assert EX.check()
    answer = 7
    result = EX.check()
    assert result.status == "incorrect" and result.message == "7 is not twice 21"
    assert "Incorrect" in result._repr_html_()


def test_a_checker_that_raises_is_an_incorrect_answer_not_a_crash():
    boom = Exercise(name="b", variables=("x",), checker=lambda x: x["key"], hint_text="h", solution_code="",
                    wrong_code="")
    result = boom.check({"x": []})
    assert result.status == "incorrect" and "TypeError" in result.message


def test_hint_and_solution_render():
    assert "21 * 2" in EX.hint()._repr_html_()
    assert "answer = 42" in EX.solution()._repr_html_()


def test_starter_code_that_still_holds_a_blank_is_not_attempted():
    ex = Exercise(name="s", variables=("source", "fn"), checker=lambda source, fn: None, hint_text="h",
                  solution_code="", wrong_code="")
    assert ex.check({"source": "def handler(e, c):\n    return ____\n", "fn": len}).status == "unattempted"

    def starter():
        return ____

    assert ex.check({"source": "ok", "fn": starter}).status == "unattempted"
    assert ex.check({"source": "ok", "fn": len})
