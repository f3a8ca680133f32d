"""The invoke console, driven in the kernel as a learner would drive it, without a browser."""

from __future__ import annotations

import json
import re

import pytest

import lambdalab
from lambdalab.course import report_figures
from lambdalab.widgets.console import CONSOLE_CLASS, RESPONSE_CLASS, InvokeConsole

GREETER = """
def handler(event, context):
    print("greeting", event["name"])
    return {"greeting": f"Hello, {event['name']}!"}
"""


@pytest.fixture
def greeter(fn) -> str:
    return fn.create(GREETER)


def test_the_contract_the_browser_test_relies_on(cloud, greeter):
    console = InvokeConsole(cloud, function=greeter)
    assert CONSOLE_CLASS in console._dom_classes
    assert console.button.description == "Invoke"
    assert RESPONSE_CLASS in console.response._dom_classes
    assert console.response in console.children


def test_a_click_shows_the_payload_and_the_report(cloud, greeter):
    console = InvokeConsole(cloud, function=greeter)
    console.event.value = json.dumps({"name": "Ada"})
    console.button.click()

    shown = console.response.value
    assert json.dumps({"greeting": "Hello, Ada!"}) in shown
    assert "StatusCode 200" in shown and "FunctionError" not in shown
    assert "greeting Ada" in shown  # the handler's print, from the log tail
    result = console.last_response
    assert result["Payload"] == {"greeting": "Hello, Ada!"}
    report = next(line for line in result["Log"].splitlines() if line.startswith("REPORT"))
    for figure in ("Duration", "Billed Duration", "Memory Size", "Max Memory Used", "Init Duration"):
        written = report.split(f"\t{figure}: ")[1].split("\t")[0]  # e.g. "0.62 ms", as the line writes it
        assert f"<b>{figure}</b><br>{written}</td>" in shown
        assert result["Report"][figure] == float(written.split()[0])
    assert result["Report"]["Memory Size"] == 128
    assert "cold start" in shown  # the first invoke of a new function

    again = console.invoke()
    assert "Init Duration" not in again["Report"] and "none: no INIT this time" in console.response.value
    assert "cold start" not in console.response.value  # the second invoke is warm


def test_a_function_error_is_shown_not_raised(cloud, greeter):
    console = InvokeConsole(cloud, function=greeter, event={"no name": True})
    result = console.invoke()
    assert result["StatusCode"] == 200 and result["FunctionError"] == "Unhandled"
    assert result["Payload"]["errorType"] == "KeyError"
    assert "FunctionError: Unhandled" in console.response.value
    assert "[ERROR] KeyError" in console.response.value  # the runtime's error line in the tail
    # and a REPORT line without a Status: the function's own error, as AWS writes it
    assert re.search(r"REPORT RequestId: [^<]*Max Memory Used: \d+ MB\tInit Duration: [\d.]+ ms\t\n",
                     console.response.value)


def test_invalid_json_gives_a_friendly_message(cloud, greeter):
    console = InvokeConsole(cloud, function=greeter)
    console.event.value = "{name: 'Ada'}"
    before = len(cloud.invocations())
    console.button.click()
    assert console.invoke() is None
    assert "not valid JSON" in console.response.value and "double quotes" in console.response.value
    assert len(cloud.invocations()) == before  # nothing was sent


def test_an_api_error_is_shown_not_raised(cloud, fn, lam):
    name = fn.create(GREETER)
    console = InvokeConsole(cloud, function=name)
    lam.delete_function(FunctionName=name)
    assert console.invoke() is None
    assert "ResourceNotFoundException" in console.response.value


def test_a_stopped_cloud_is_explained_not_raised():
    with lambdalab.start() as other:
        name = "short-lived"
        other.client("lambda").create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                                               Role="arn:aws:iam::123456789012:role/lambda-role",
                                               Code={"ZipFile": lambdalab.zip_files(GREETER)})
        console = InvokeConsole(other, function=name, event={"name": "Ada"})
        assert console.invoke()["Payload"] == {"greeting": "Hello, Ada!"}
    console.refresh_button.click()
    console.button.click()
    assert "The local cloud is stopped" in console.response.value
    assert console.functions.options == (name,)


def test_refresh_picks_up_a_new_function(cloud, fn, greeter):
    console = InvokeConsole(cloud, function=greeter)
    newcomer = fn.create(GREETER)
    assert newcomer not in console.functions.options
    console.refresh_button.click()
    assert newcomer in console.functions.options
    assert console.functions.value == greeter  # the choice survives a refresh
    console.functions.value = newcomer
    console.event.value = '{"name": "Grace"}'
    console.button.click()
    assert '"greeting": "Hello, Grace!"' in console.response.value


def test_report_figures_reads_every_figure():
    line = ("REPORT RequestId: 1\tDuration: 2.07 ms\tBilled Duration: 87 ms\tMemory Size: 128 MB\t"
            "Max Memory Used: 36 MB\tInit Duration: 84.00 ms\t")
    assert report_figures(line) == {"Duration": 2.07, "Billed Duration": 87, "Memory Size": 128,
                                  "Max Memory Used": 36, "Init Duration": 84.0}
