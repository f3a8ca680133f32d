"""The course in a real browser: JupyterLab runs every chapter from its menus, draws its figures,
saves it small, and each widget answers a click as a learner would see it.

What a learner does, step by step: open a chapter, Run > Run All Cells (every cell must run without
an error), look at the figures, save. Then the widgets: since a chapter's last cell stops its cloud,
run it again up to a widget (as the notebook says), and use it. The browser is the judge of what a
widget shows: these tests read what plotly.js drew (axis ranges, points, label boxes) from the page.

The console's contract with this test (``lambdalab/widgets/console.py``): the outer box has the
CSS class ``lambdalab-invoke-console``, the button reads "Invoke", and the response area (CSS
class ``lambdalab-console-response``) shows ``StatusCode 200`` and the payload as JSON.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

NOTEBOOK = "01_first_function.ipynb"
COURSE = sorted(p.name for p in (Path(__file__).resolve().parents[2] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
RUN_TIMEOUT_MS = 300_000  # a whole chapter, on a busy 2-core machine
SAVED_MAX_BYTES = 1_000_000  # a chapter with every output; plotly.js inlined once was 4.6 MB more

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
    page.goto(lab.url(f"lab/tree/{name}") + "&reset")  # a fresh workspace: only this notebook open
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
    assert kernels[0]["name"] == "lambdalab", "every chapter runs in the course's kernel (.jupyter/kernels/)"
    page.locator(".jp-NotebookPanel-toolbar", has_text="Python 3 (lambdalab)").wait_for(timeout=RUN_TIMEOUT_MS)
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


def run_all_and_save(page, lab, name: str) -> int:
    """Run > Run All Cells, check every code cell ran, save, and check every figure saved was drawn; the
    last execution count."""
    assert (lab.root / name).is_file(), f"notebooks/{name} is missing"
    run_from_menu(page, "Run All Cells")
    prompts = [text.strip() for text in page.locator(CODE_PROMPTS).all_inner_texts()]
    unrun = [i for i, text in enumerate(prompts) if not re.fullmatch(r"\[\d+\]:", text)]
    assert not unrun, (f"{name}: code cells {unrun} of {len(prompts)} did not run (prompts: {prompts}); "
                       "errors shown:\n" + "\n---\n".join(errors_shown(page)))
    saved = save(page, lab, name)
    size = saved.stat().st_size
    print(f"{name} saved with its outputs: {size:,} bytes")
    assert size < SAVED_MAX_BYTES, f"{name} saved with its outputs takes {size:,} bytes: does a figure embed plotly.js?"
    outputs = [output for cell in json.loads(saved.read_text())["cells"] for output in cell.get("outputs", [])]
    figures = sum("application/vnd.plotly.v1+json" in output.get("data", {}) for output in outputs)
    # The extension's outputs, each a plotly.js plot, in the cells' outputs: not those a widget (the live views'
    # Output) holds, which are widget state, not saved.
    drawn = page.locator(".jp-OutputArea-output.jp-RenderedPlotly:not(.jupyter-widgets *)")
    assert drawn.count() == figures, f"{name}: {figures} figures saved, {drawn.count()} drawn by the plotly extension"
    for i in range(figures):
        drawn.nth(i).locator(".main-svg").first.wait_for(timeout=30_000)
    return page.evaluate(PROMPT_STATE)["max"]


def save(page, lab, name: str) -> Path:
    """File > Save Notebook, then wait until JupyterLab says the file on disk is the notebook as shown."""
    path = lab.root / name
    before = path.stat().st_mtime_ns
    menu(page, "File", "Save Notebook")
    page.wait_for_function("() => !document.querySelector('.jp-mod-current.jp-mod-dirty')", timeout=30_000)
    deadline = time.monotonic() + 30
    while path.stat().st_mtime_ns == before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert path.stat().st_mtime_ns != before, f"{name} was not saved"
    return path


def run_again_up_to(page, cell, after: int) -> None:
    """Run every cell above ``cell``, then ``cell`` itself (the chapter's cloud was stopped by its last cell)."""
    cell.locator(".jp-InputArea-prompt").click()  # selects the cell (command mode)
    run_from_menu(page, "Run All Above Selected Cell")
    run_from_menu(page, "Run Selected Cells? and Do not Advance")
    prompt = cell.locator(".jp-InputArea-prompt").inner_text().strip()
    assert re.fullmatch(r"\[\d+\]:", prompt) and int(prompt[1:-2]) > after, (
        f"the cell did not run again (prompt {prompt!r}); errors shown:\n" + "\n---\n".join(errors_shown(page)))


# The indexes of the code cells whose source contains the argument, read from each editor's document:
# CodeMirror puts only the lines near the view in the page, so a long cell's last lines are not in its text.
_CELLS_WITH = """source => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].flatMap((cell, i) => {
    const content = cell.querySelector('.cm-content');
    const view = content && content.cmView && content.cmView.view;
    return (view ? view.state.doc.toString() : content ? content.textContent : '').includes(source) ? [i] : [];
})"""


def code_cell(page, source: str):
    """The code cell whose source contains ``source``."""
    found = page.evaluate(_CELLS_WITH, source)
    assert len(found) == 1, f"expected one code cell with {source!r}, found {len(found)}"
    return page.locator(".jp-Notebook .jp-CodeCell").nth(found[0])


def test_notebook_01_runs_in_jupyterlab_and_its_invoke_console_answers(lab, kernels_down, page):
    started = time.monotonic()
    open_notebook(page, lab, NOTEBOOK)
    loaded = time.monotonic()

    # 1. Run > Run All Cells: every code cell runs, its figure is drawn, it saves small.
    first_run = run_all_and_save(page, lab, NOTEBOOK)
    ran_all = time.monotonic()

    # 2. The last cell stopped the cloud: run again from the top up to the console, as the notebook says.
    console_cell = page.locator(".jp-Notebook .jp-CodeCell", has=page.locator(".lambdalab-invoke-console"))
    assert console_cell.count() == 1, f"expected one code cell showing the invoke console, found {console_cell.count()}"
    run_again_up_to(page, console_cell, first_run)

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


def run_chapter(page, lab, name: str):
    """Open chapter ``name``, run all its cells and save it, as a learner would; its last cell."""
    open_notebook(page, lab, name)
    return run_all_and_save(page, lab, name)


def plot_of(page, source: str):
    """The plotly figure drawn by the code cell whose source contains ``source``."""
    return code_cell(page, source).locator(".js-plotly-plot").first


def figure_titled(page, title: str):
    """The plotly figure whose drawn title contains ``title``: what the learner reads above it."""
    figures = page.locator(".jp-Notebook .js-plotly-plot").filter(has=page.locator(".gtitle", has_text=title))
    assert figures.count() == 1, f"expected one figure titled {title!r}, found {figures.count()}"
    return figures


@pytest.mark.parametrize("name", ["00_welcome.ipynb"])
def test_a_chapter_runs_in_jupyterlab_and_saves_small(lab, kernels_down, page, name):
    run_chapter(page, lab, name)


def test_02_live_timeline_shows_the_seconds_its_invocations_ran_in(lab, kernels_down, page):
    """Its bars reached plotly.js as nanosecond integers (INIT) and date strings (the others): the axis
    spanned 1966-2031 and every bar was a line. The range plotly.js drew after a refresh says."""
    name = "02_execution_environment.ipynb"
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    run_chapter(page, lab, name)
    plot = plot_of(page, 'live = EnvironmentTimeline(cloud, "burst")')
    drawn = plot.evaluate("""el => ({
        range: el._fullLayout.xaxis.range, names: el._fullData.map(t => t.name),
        widths: [...el.querySelectorAll('.barlayer .trace')].map(t => [...t.querySelectorAll('path')]
                    .map(p => p.getBBox().width)),
    })""")
    first, last = (datetime.fromisoformat(value[:26]) for value in drawn["range"])
    assert started - timedelta(minutes=1) <= first < last <= datetime.now(timezone.utc).replace(tzinfo=None), (
        f"the live timeline's x axis spans {drawn['range']}: not the minutes the chapter ran in")
    assert last - first < timedelta(minutes=2), f"the live timeline's x axis spans {drawn['range']}"
    bars = dict(zip([n for n in drawn["names"] if n in ("INIT", "invocation")], drawn["widths"], strict=True))
    assert len(bars["INIT"]) == 6 and len(bars["invocation"]) == 16, {k: len(v) for k, v in bars.items()}
    assert min(bars["INIT"] + bars["invocation"]) > 1, f"bars collapsed into lines: {bars}"


def test_03_memory_explorer_measures_where_the_learner_clicks(lab, kernels_down, page):
    name = "03_configuration_and_limits.ipynb"
    last = run_chapter(page, lab, name)
    cell = code_cell(page, "explorer = MemoryExplorer(")
    measure = cell.locator("button").filter(has_text=re.compile(r"^\s*Measure\s*$"))
    measure.click()  # the chapter's last cell stopped the cloud: the explorer says so
    cell.get_by_text("The local cloud is stopped").wait_for(timeout=10_000)
    run_again_up_to(page, cell, last)
    # Each point redraws the figure: the plot in the cell is looked up anew each time.
    points = ("([cell, n]) => { const el = cell.querySelector('.js-plotly-plot');"
              " return el && el._fullData && el._fullData[0].x.length === n; }")
    page.wait_for_function(points, arg=[cell.element_handle(), 2], timeout=60_000)
    measure.click()
    page.wait_for_function(points, arg=[cell.element_handle(), 3], timeout=120_000)
    memories = cell.locator(".js-plotly-plot").first.evaluate("el => Array.from(el._fullData[0].x)")
    assert sorted(memories) == [128, 1024, 1769], memories  # the slider starts at 1,024 MB
    cell.get_by_text(re.compile(r"1,024 MB: [\d.]+ ms, billed \d+ ms")).wait_for(timeout=10_000)


def test_04_attempts_timeline_draws_the_retries_minutes_apart(lab, kernels_down, page):
    """The three invocation models of one failing function on one figure: the asynchronous event's attempts
    a minute and two minutes apart on the cloud's clock, its 202 and where it ended, the poller's batches."""
    name = "04_invocation_models.ipynb"
    started = datetime.now(timezone.utc).replace(tzinfo=None)
    run_chapter(page, lab, name)
    plot = figure_titled(page, "One failing function, three invocation models")
    drawn = plot.evaluate("""el => ({
        range: el._fullLayout.xaxis.range, rows: el._fullLayout.yaxis.categoryarray,
        points: el.calcdata.map(cd => [cd[0].trace.name, cd[0].node3 ? cd[0].node3.selectAll('.point').size() : 0]),
        texts: [...el.querySelectorAll('.scatterlayer .textpoint text')].map(t => t.textContent),
    })""")
    first, last = (datetime.fromisoformat(value[:26]) for value in drawn["range"])
    assert started - timedelta(minutes=1) <= first, f"the x axis starts at {first}, before the chapter ran"
    assert timedelta(minutes=5) <= last - first < timedelta(minutes=10), (
        f"the x axis spans {drawn['range']}: the retries (3 minutes) and the poller (2 more) are minutes of cloud time")
    assert [row.split(" ")[0] for row in drawn["rows"]] == ["sync", "async", "poller"], drawn["rows"]
    points = dict(drawn["points"])  # markers drawn, per trace
    assert points["accepted"] == 1 and points["ended"] == 1 and points["failed"] >= 7, points
    assert [t for t in drawn["texts"] if t.startswith("+")] == ["+60 s", "+120 s"], drawn["texts"]
    assert [t for t in drawn["texts"] if t in ("1", "2", "3")] == ["1", "2", "3"], "the event's attempts, numbered"
    assert "RetriesExhausted" in drawn["texts"], drawn["texts"]


def test_05_thumbnail_servers_timeline_and_a_function_url_opened_from_the_page(lab, kernels_down, page):
    """The uploaded photo and its thumbnail both shown; the tagged servers stopped at 19:00 and started at 07:00
    on the figure; the sources feeding the functions drawn; and the function URL's link, opened from the page,
    answers the browser."""
    name = "05_event_sources.ipynb"
    last = run_chapter(page, lab, name)
    images = code_cell(page, "def as_img(").locator(".jp-OutputArea-output img")
    widths = [images.nth(i).evaluate("img => img.complete && img.naturalWidth") for i in range(images.count())]
    assert widths == [1200, 200], f"the photo and its thumbnail, as drawn: {widths}"
    plot = figure_titled(page, "Instances running (1) or stopped (0)")
    lines = dict(plot.evaluate("el => el._fullData.map(t => [t.name, [...t.y]])"))
    office_hours = [int(h < 19 or 7 <= h % 24 < 19) for h in range(49)]  # Monday 00:00 on, hour by hour
    assert lines == {"dev-1": office_hours, "dev-2": office_hours, "prod-1": [1] * 49}, lines
    flows = plot_of(page, "go.Sankey(")
    sankey = flows.evaluate("el => ({type: el._fullData[0].type, labels: [...el._fullData[0].node.label], "
                            "links: el.querySelectorAll('.sankey-link').length})")
    assert sankey["type"] == "sankey" and "SNS topic orders" in sankey["labels"] and sankey["links"] == 10, sankey
    link_cell = code_cell(page, "display(Markdown(")
    run_again_up_to(page, link_cell, last)
    link = link_cell.locator(".jp-OutputArea-output a").first
    with page.context.expect_page() as opened:
        link.click()
    answer = opened.value
    answer.wait_for_load_state()
    assert json.loads(answer.locator("body").inner_text())["hello"] == "browser"
    answer.close()


def test_08_the_month_is_billed_with_its_free_tier_and_provisioned_capacity_breaks_even(lab, kernels_down, page):
    """The learner sees AWS's bill laid out (free tier lines first) and two lines that cross on the figure of
    provisioned concurrency, at the break-even the chapter states."""
    name = "08_billing.ipynb"
    run_chapter(page, lab, name)
    bill = code_cell(page, "billing.bill_table(items)").locator("table").first
    rows = bill.locator("tbody tr").all_inner_texts()
    assert any("Requests Free Tier" in row for row in rows) and any("Compute Free Tier" in row for row in rows), rows
    plot = figure_titled(page, "One GB-second of capacity, by utilisation")
    lines = plot.evaluate("el => el._fullData.map(t => ({name: t.name, x: [...t.x], y: [...t.y]}))")
    provisioned, on_demand = lines
    assert provisioned["y"][0] > on_demand["y"][0] and provisioned["y"][-1] < on_demand["y"][-1], lines
    crossing = next(x for x, p, o in zip(provisioned["x"], provisioned["y"], on_demand["y"], strict=True) if p <= o)
    assert 55 <= crossing <= 65, f"the lines cross at {crossing}%, not near the 60% AWS's prices give"


def test_06_the_learner_sees_concurrency_stay_under_the_account_limit_and_a_burst_throttled(lab, kernels_down, page):
    """The in-flight figure has a line per rate, none past the account's 10 and the fastest above the slowest,
    and the burst's figure shows throttled requests only while the function scales."""
    name = "06_concurrency.ipynb"
    run_chapter(page, lab, name)
    plot = figure_titled(page, "Invocations in flight")
    rates = plot.evaluate("el => el._fullData.map(t => ({name: t.name, most: Math.max(...[...t.y].map(Number))}))")
    assert [r["name"] for r in rates] == [f"{rate} per second" for rate in (2, 4, 8, 12)], rates
    assert all(1 <= r["most"] <= 10 for r in rates) and rates[-1]["most"] > rates[0]["most"], rates
    surge = figure_titled(page, "A burst meets the scaling rate")
    traces = surge.evaluate("el => el._fullData.map(t => ({name: t.name, y: [...t.y].map(Number)}))")
    throttled = next(t["y"] for t in traces if t["name"] == "throttled")
    assert sum(throttled) > 0 and throttled[-1] == 0, "throttles during the burst, none once it has scaled"


def test_07_policy_explorer_decides_what_the_learner_asks(lab, kernels_down, page):
    name = "07_permissions.ipynb"
    last = run_chapter(page, lab, name)
    cell = code_cell(page, "explorer = PolicyExplorer(")
    decide = cell.locator("button").filter(has_text=re.compile(r"^\s*Decide\s*$"))
    decide.click()  # the chapter's last cell stopped the cloud, and its IAM with it: the explorer says so
    cell.get_by_text("The local cloud is stopped").wait_for(timeout=10_000)
    run_again_up_to(page, cell, last)
    decide = cell.locator("button").filter(has_text=re.compile(r"^\s*Decide\s*$"))
    result = cell.locator(".widget-html-content").last
    cell.locator("textarea").fill(json.dumps({"aws:SourceIp": "203.0.113.10"}))
    decide.click()
    page.wait_for_function("el => /^Allowed/.test(el.textContent.trim())", arg=result.element_handle(),
                           timeout=10_000)  # Alice reads her own notes
    bob = next(o for o in cell.locator("select option").all_inner_texts() if o.endswith(":user/bob"))
    cell.locator("select").select_option(label=bob)
    decide.click()
    page.wait_for_function("el => /^Denied/.test(el.textContent.trim())", arg=result.element_handle(),
                           timeout=10_000)  # and Bob may not
    assert "implicit deny" in result.inner_text()


def test_09_step_labels_stand_clear_of_the_ticks(lab, kernels_down, page):
    name = "09_packaging_and_deployment.ipynb"
    run_chapter(page, lab, name)
    plot = figure_titled(page, "Which version served each request to greeter:live")
    boxes = plot.evaluate("""el => {
        const box = e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; };
        return {area: box(el.querySelector('.nsewdrag')),
                labels: [...el.querySelectorAll('g.annotation text')].map(box),
                ticks: [...el.querySelectorAll('.scatterlayer .point')].map(box)};
    }""")
    assert len(boxes["labels"]) == 3 and len(boxes["ticks"]) == 600, {k: len(v) for k, v in boxes.items()}

    def overlap(a, b):
        return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]

    for label in boxes["labels"]:
        assert label[3] <= boxes["area"][1] + 1, f"a step label {label} reaches into the plot area {boxes['area']}"
        hit = [tick for tick in boxes["ticks"] if overlap(label, tick)]
        assert not hit, f"a step label {label} overlaps {len(hit)} ticks"
