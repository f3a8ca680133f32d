"""What each chapter costs in memory on Binder: the kernel and its environments, at the peak and after stop.

    python bench/memory.py                          # every notebook in notebooks/
    python bench/memory.py notebooks/03_*.ipynb     # some of them

Each notebook runs in a fresh kernel, the one it names (nbclient, the venv's Python, in the environment the
repository's ``start`` gives a Binder session and ``make lab``) while a thread samples, every 20 ms, the
proportional set size (PSS, from /proc/PID/smaps_rollup) of the kernel and all its descendants: PSS
counts a page shared by N processes as 1/N in each, so the sum is what the chapter really holds, which
RSS overstates for 36 forked environments. It prints each chapter's peak (with the cell it happened in
and how many processes there were), its PSS once the final ``cloud.stop()`` cell has run (the kernel
stays alive as a learner's does), and the budget: a Binder session has 1-2 GB for everything, so one
chapter's peak must stay <= 400 MB and its idle kernel <= 200 MB once the cloud is stopped. The whole
course's execution time is printed against its budget (<= 10 min) too, and, for more than one chapter,
the whole session a Binder learner has when opening the chapters one after another beside an idle
JupyterLab server (measured too): with each kernel shut down as the chapters ask, and with every kernel
left running. Linux only (smaps_rollup); the numbers go to bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
NOTEBOOKS = HERE.parent / "notebooks"
PEAK_BUDGET_MB, STOPPED_BUDGET_MB, COURSE_BUDGET_S, SESSION_BUDGET_MB = 400, 200, 600, 2048
SAMPLE_S = 0.02


def pss_kb(pid: int) -> int:
    """PSS of one process in kB (0 if it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def tree_pss(kernel: psutil.Process) -> tuple[float, float, int]:
    """(PSS of the kernel process, PSS of its descendants, number of descendants), in MB."""
    try:
        children = kernel.children(recursive=True)
    except psutil.Error:
        children = []
    return pss_kb(kernel.pid) / 1024, sum(pss_kb(c.pid) for c in children) / 1024, len(children)


@dataclass
class Chapter:
    notebook: str
    fresh_kernel_mb: float = 0.0  # the kernel before the first cell
    peak_mb: float = 0.0
    peak_kernel_mb: float = 0.0
    peak_processes: int = 0
    peak_cell: int = -1
    stopped_mb: float = 0.0  # after the last cell (cloud.stop()), kernel still running
    stopped_kernel_mb: float = 0.0
    stopped_processes: int = 0
    seconds: float = 0.0
    error: str = ""
    cells: list[dict] = field(default_factory=list)  # per code cell: its peak and the PSS when it ended


class Sampler:
    """Samples the kernel's tree on a thread of its own and keeps the peak (and the cell it fell in)."""

    def __init__(self, kernel: psutil.Process, chapter: Chapter) -> None:
        self.kernel, self.chapter = kernel, chapter
        self.cell = -1
        self.cell_peak = 0.0
        self._stop = threading.Event()
        self._lock = threading.Lock()  # guards cell and cell_peak, written by both threads
        self._thread = threading.Thread(target=self._run, name="bench-memory-sampler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> tuple[float, float, int]:
        kernel, children, count = tree_pss(self.kernel)
        total = kernel + children
        with self._lock:
            self.cell_peak = max(self.cell_peak, total)
            if total > self.chapter.peak_mb:
                c = self.chapter
                c.peak_mb, c.peak_kernel_mb, c.peak_processes, c.peak_cell = total, kernel, count + 1, self.cell
        return kernel, children, count

    def begin(self, cell: int) -> None:
        with self._lock:
            self.cell, self.cell_peak = cell, 0.0
        self.sample()

    def end(self) -> None:
        kernel, children, _ = self.sample()
        with self._lock:
            self.chapter.cells.append({"cell": self.cell, "peak_mb": round(self.cell_peak, 1),
                                       "end_mb": round(kernel + children, 1)})

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()


def session_environment() -> dict[str, str]:
    """The environment the course's Jupyter session and its kernels run with: this one, as the
    repository's ``start`` (which Binder and ``make lab`` run JupyterLab through) leaves it."""
    show = "import json, os; print(json.dumps(dict(os.environ)))"
    out = subprocess.run([str(HERE.parent / "start"), sys.executable, "-c", show], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    return json.loads(out)


def run_notebook(path: Path, timeout: int) -> Chapter:
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    chapter = Chapter(path.name)
    nb = nbformat.read(path, as_version=4)
    env = session_environment()
    os.environ["JUPYTER_PATH"] = env["JUPYTER_PATH"]  # where the kernel the chapter names is found
    km = KernelManager(kernel_name=nb.metadata["kernelspec"]["name"])  # "python" in its spec: this interpreter
    km.start_kernel(cwd=str(path.parent), env=env)
    t0 = time.perf_counter()
    try:
        kernel = psutil.Process(km.provisioner.pid)
        sampler = Sampler(kernel, chapter)
        client = NotebookClient(nb, km=km, timeout=timeout, allow_errors=False,
                                resources={"metadata": {"path": str(path.parent)}})
        with client.setup_kernel():
            chapter.fresh_kernel_mb = round(sum(tree_pss(kernel)[:2]), 1)
            sampler.start()
            try:
                code = 0
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type == "code":
                        sampler.begin(code)
                        client.execute_cell(cell, index)
                        sampler.end()
                        code += 1
            finally:
                sampler.stop()
            kernel_mb, children_mb, count = tree_pss(kernel)  # the last cell is cloud.stop(); the kernel lives on
            chapter.stopped_mb, chapter.stopped_kernel_mb = kernel_mb + children_mb, kernel_mb
            chapter.stopped_processes = count + 1
    except Exception as e:  # a failing chapter is reported, and the others still run
        chapter.error = f"{type(e).__name__}: {str(e)[:300]}"
    finally:
        chapter.seconds = time.perf_counter() - t0
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return chapter


def jupyterlab_mb(settle_s: float = 5.0) -> float:
    """PSS of an idle JupyterLab server (the venv's, no kernel), the part of a Binder session that is not a chapter."""
    import secrets
    import socket
    import tempfile
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(8)
    with tempfile.TemporaryDirectory() as home:
        env = {**session_environment(), "HOME": home, "JUPYTER_CONFIG_DIR": f"{home}/config",
               "JUPYTER_DATA_DIR": f"{home}/data", "JUPYTER_RUNTIME_DIR": f"{home}/runtime"}
        command = [str(Path(sys.executable).with_name("jupyter")), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
                   f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={NOTEBOOKS}"]
        if os.geteuid() == 0:
            command.append("--allow-root")
        server = psutil.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=5).read()  # the page
                    break
                except OSError:
                    if time.monotonic() > deadline or server.poll() is not None:
                        raise RuntimeError("JupyterLab did not serve its page within 60 s") from None
                    time.sleep(0.2)
            time.sleep(settle_s)
            kernel, children, _ = tree_pss(server)
            return kernel + children
        finally:
            server.terminate()
            server.wait(20)


def render(chapters: list[Chapter], lab_mb: float = 0.0) -> str:
    ok = lambda value, limit: "ok" if value <= limit else "OVER"  # noqa: E731
    lines = [f"{'chapter':<36} {'fresh':>6} {'peak':>7} {'(kernel':>8} {'procs':>6} {'cell)':>5} {'budget':>7} "
             f"{'stopped':>8} {'(kernel)':>8} {'budget':>7} {'time':>6}",
             f"{'':<36} {'MB':>6} {'MB':>7} {'MB':>8} {'':>6} {'':>5} {'<=400':>7} {'MB':>8} {'MB':>8} "
             f"{'<=200':>7} {'s':>6}"]
    for c in chapters:
        if c.error:
            lines.append(f"{c.notebook:<36} FAILED: {c.error}")
            continue
        lines.append(f"{c.notebook:<36} {c.fresh_kernel_mb:6.0f} {c.peak_mb:7.0f} {c.peak_kernel_mb:8.0f} "
                     f"{c.peak_processes:6d} {c.peak_cell:5d} {ok(c.peak_mb, PEAK_BUDGET_MB):>7} {c.stopped_mb:8.0f} "
                     f"{c.stopped_kernel_mb:8.0f} {ok(c.stopped_mb, STOPPED_BUDGET_MB):>7} {c.seconds:6.1f}")
    total = sum(c.seconds for c in chapters)
    lines.append(f"\nthe whole course, one kernel per chapter: {total:.0f} s (budget <= {COURSE_BUDGET_S} s: "
                 f"{ok(total, COURSE_BUDGET_S)})")
    ran = [c for c in chapters if not c.error]
    if ran and lab_mb:
        shut = lab_mb + max(c.peak_mb for c in ran)
        kept = lab_mb + max(sum(c.stopped_mb for c in ran[:i]) + c.peak_mb for i, c in enumerate(ran))
        lines.append(f"the course opened chapter after chapter in one JupyterLab ({lab_mb:.0f} MB of its own), at "
                     f"its peak: {shut:.0f} MB with each kernel shut down as the chapters ask (budget <= "
                     f"{SESSION_BUDGET_MB} MB: {ok(shut, SESSION_BUDGET_MB)}); {kept:.0f} MB with every kernel left "
                     f"running ({ok(kept, SESSION_BUDGET_MB)}; .jupyter/ culls a kernel 15 idle minutes after its "
                     "tab closes)")
    lines.append("PSS of the kernel and its descendants (environments), sampled every 20 ms; 'cell' counts code "
                 "cells from 0; 'stopped' is after the last cell, cloud.stop(), with the kernel still running.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--timeout", type=int, default=600, help="seconds a cell may take")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "memory.json")
    args = parser.parse_args(argv)
    if not Path("/proc/self/smaps_rollup").exists():
        raise SystemExit("bench/memory.py needs Linux's /proc/PID/smaps_rollup")
    paths = args.notebooks or sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    load = os.getloadavg()[0]
    chapters = []
    for path in paths:
        print(f"[memory] {path.name} ...", file=sys.stderr, flush=True)
        chapters.append(run_notebook(path.resolve(), args.timeout))
    print(f"lambdalab chapters' memory (PSS), Python {platform.python_version()}, "
          f"load average {load:.2f} -> {os.getloadavg()[0]:.2f}\n")
    print(render(chapters, jupyterlab_mb() if len(chapters) > 1 else 0.0))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps([asdict(c) for c in chapters], indent=1))
    return 1 if any(c.error for c in chapters) else 0


if __name__ == "__main__":
    sys.exit(main())
