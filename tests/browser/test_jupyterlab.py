"""The course in a real browser: JupyterLab runs notebook 01 from its menus, and the invoke console
answers a click with what the function returned.

What a learner does, step by step: open ``01_first_function.ipynb``, Run > Run All Cells (every
cell must run without an error), then - as the notebook says, because its last cell stops the
cloud - run it again up to the console, type an event into the console and press Invoke.

The console's contract with this test (``lambdalab/widgets/console.py``): the outer box has the
CSS class ``lambdalab-invoke-console``, the button reads "Invoke", and the response area (CSS
class ``lambdalab-console-response``) shows ``StatusCode 200`` and the payload as JSON.
"""

from __future__ import annotations

import json
import re
import secrets
import time

import pytest

NOTEBOOK = "01_first_function.ipynb"
RUN_TIMEOUT_MS = 60_000

CODE_PROMPTS = ".jp-Notebook .jp-CodeCell .jp-InputArea-prompt"
# The numbers in the code cells' prompts ("[12]:"), and whether any cell is queued or running ("[*]:").
PROMPT_STATE = """() => {
    const texts = [...document.querySelectorAll('CODE_PROMPTS')].map(p => p.textContent);
    const counts = texts.map(t => parseInt((t.match(/\\[(\\d+)\\]/) || [])[1] || '0'));
    return {max: Math.max(0, ...counts), busy: texts.some(t => t.includes('*'))};
}""".replace("CODE_PROMPTS", CODE_PROMPTS)
KERNEL_IDLE = ".jp-Notebook-ExecutionIndicator[data-status='idle']"


def open_notebook(page, lab, name: str) -> None:
    """Open the notebook in JupyterLab and wait until its kernel is started, connected and idle."""
    page.goto(lab.url(f"lab/tree/{name}"))
    page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell").first.wait_for()
    # The page's own kernel indicator can read "idle" before a kernel exists; the server knows better.
    deadline = time.monotonic() + RUN_TIMEOUT_MS / 1000
    while True:
        kernels = [s["kernel"] for s in lab.api("api/sessions") if s.get("path") == name and s.get("kernel")]
        if kernels and kernels[0].get("connections", 0) >= 1 and kernels[0].get("execution_state") == "idle":
            break
        if time.monotonic() > deadline:
            pytest.fail(f"no kernel connected to {name} in time; sessions: {lab.api('api/sessions')}")
        time.sleep(0.2)
    page.locator(KERNEL_IDLE).wait_for(timeout=RUN_TIMEOUT_MS)


def menu(page, top: str, item: str) -> None:
    """Click ``top`` in the menu bar, then the item whose label matches the regular expression ``item``."""
    page.locator("#jp-MainMenu .lm-MenuBar-itemLabel", has_text=re.compile(f"^{top}$")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel", has_text=re.compile(f"^{item}$")).click()


def run_from_menu(page, item: str) -> None:
    """Run > ``item``, then wait until the cells it queued have run (or the run stopped at an error)."""
    before = page.evaluate(PROMPT_STATE)["max"]
    menu(page, "Run", item)
    page.wait_for_function(f"() => {{ const s = ({PROMPT_STATE})(); return s.busy || s.max > {before}; }}",
                           timeout=10_000)
    page.wait_for_function(
        f"() => !({PROMPT_STATE})().busy && document.querySelector(\"{KERNEL_IDLE}\") !== null",
        timeout=RUN_TIMEOUT_MS, polling=100)


def errors_shown(page) -> list[str]:
    """Tracebacks in the notebook's outputs (stderr text too, which JupyterLab renders the same way)."""
    return page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").all_inner_texts()


def test_notebook_01_runs_in_jupyterlab_and_its_invoke_console_answers(lab, page):
    started = time.monotonic()
    assert (lab.root / NOTEBOOK).is_file(), f"notebooks/{NOTEBOOK} is missing"
    open_notebook(page, lab, NOTEBOOK)
    loaded = time.monotonic()

    # 1. Run > Run All Cells: every code cell gets an execution count, none stops the run with an error.
    run_from_menu(page, "Run All Cells")
    prompts = [text.strip() for text in page.locator(CODE_PROMPTS).all_inner_texts()]
    unrun = [i for i, text in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", text)]
    assert not unrun, (f"code cells {unrun} of {len(prompts)} did not run (prompts: {prompts}); "
                       "errors shown:\n" + "\n---\n".join(errors_shown(page)))
    first_run = page.evaluate(PROMPT_STATE)["max"]
    ran_all = time.monotonic()

    # 2. The last cell stopped the cloud: run again from the top up to the console, as the notebook says.
    console_cell = page.locator(".jp-Notebook .jp-CodeCell", has=page.locator(".lambdalab-invoke-console"))
    assert console_cell.count() == 1, f"expected one code cell showing the invoke console, found {console_cell.count()}"
    console_cell.locator(".jp-InputArea-prompt").click()  # selects the cell (command mode)
    run_from_menu(page, "Run All Above Selected Cell")
    run_from_menu(page, "Run Selected Cells? and Do not Advance")
    prompt = console_cell.locator(".jp-InputArea-prompt").inner_text().strip()
    assert re.fullmatch(r"\[\d+\]:", prompt) and int(prompt[1:-2]) > first_run, (
        f"the console's cell did not run again (prompt {prompt!r}); errors shown:\n"
        + "\n---\n".join(errors_shown(page)))

    # 3. Type an event in the console, press Invoke, read the response.
    console = console_cell.locator(".lambdalab-invoke-console")
    response = console.locator(".lambdalab-console-response")
    name = f"browser-{secrets.token_hex(4)}"
    console.locator("textarea").fill(json.dumps({"name": name}))
    # Its text is "Invoke" (an icon font glyph sits in the accessible name, so match the text, not the role's name).
    console.locator("button").filter(has_text=re.compile(r"^\s*Invoke\s*$")).click()
    try:
        page.wait_for_function("([el, name]) => el.textContent.includes('StatusCode') && el.textContent.includes(name)",
                               arg=[response.element_handle(), name], timeout=20_000)
    except Exception:
        pytest.fail(f"the console's response never showed a StatusCode and the event's name {name!r}; "
                    f"it shows:\n{response.inner_text()}")
    text = response.inner_text()
    assert re.search(r"\bStatusCode 200\b", text), f"expected StatusCode 200 in the console's response:\n{text}"
    assert "FunctionError" not in text, f"the function failed:\n{text}"
    payloads = []
    for line in text.splitlines():
        try:
            payloads.append(json.loads(line))
        except ValueError:
            continue
    assert any(name in json.dumps(payload) for payload in payloads), (
        f"the response should show the payload, as JSON, built from the event {{'name': {name!r}}}:\n{text}")
    print(f"timings: JupyterLab up and notebook open {loaded - started:.1f} s, Run All Cells "
          f"{ran_all - loaded:.1f} s, re-run and invoke {time.monotonic() - ran_all:.1f} s")
