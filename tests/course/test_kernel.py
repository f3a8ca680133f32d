"""The course's kernel: every chapter names it, the session's environment (``start``) finds it, and it runs
the learner's code without ipykernel's debugger (``.jupyter/kernels/lambdalab/launch.py``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[2]

# Run through ./start, as JupyterLab is: start the kernel a notebook names, ask what it is, run a cell.
PROBE = """
import json
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(kernel_name=KERNEL, cwd=NOTEBOOKS)  # where a learner's helper.py is
try:
    info = kc.kernel_info(reply=True, timeout=60)["content"]
    printed = []
    reply = kc.execute_interactive(
        "import sys, helper; print(sorted(m for m in sys.modules if m.startswith(('debugpy.', '_pydevd'))), "
        "helper.SAID)", timeout=60, output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
    print(json.dumps({"features": info.get("supported_features"), "status": reply["content"]["status"],
                      "printed": "".join(printed), "spec": km.kernel_spec.display_name, "argv": km.kernel_spec.argv,
                      "dir": km.kernel_spec.resource_dir}))
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
"""


def test_every_chapter_names_the_course_kernel():
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        assert nbformat.read(path, as_version=4).metadata["kernelspec"]["name"] == "lambdalab", path.name


def probe(kernel: str, notebooks: Path) -> dict:
    """What the session's kernel ``kernel`` says of itself, the debugger's modules it has imported, and what a
    module beside the notebooks says."""
    (notebooks / "helper.py").write_text("SAID = 'imported'\n")
    code = f"KERNEL, NOTEBOOKS = {kernel!r}, {str(notebooks)!r}\n{PROBE}"
    done = subprocess.run([str(ROOT / "start"), sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_session_starts_the_course_kernel_without_the_debugger_and_the_standard_one_with_it(tmp_path):
    course, standard = probe("lambdalab", tmp_path), probe("python3", tmp_path)
    assert course["spec"] == "Python 3 (lambdalab)" and course["argv"][1] == "{resource_dir}/launch.py"
    assert Path(course["dir"]) == ROOT / ".jupyter" / "kernels" / "lambdalab"
    assert course["status"] == standard["status"] == "ok"
    assert "debugger" not in course["features"] and course["printed"].startswith("[] ")  # JupyterLab shows none
    assert "debugger" in standard["features"] and "debugpy.server" in standard["printed"]  # one menu choice away
    # both import a learner's module from the notebook's directory
    assert course["printed"].split()[-1] == standard["printed"].split()[-1] == "imported"
