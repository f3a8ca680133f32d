"""The course's Jupyter kernel, "Python 3 (lambdalab)": ipykernel without JupyterLab's visual debugger.

ipykernel imports debugpy as every kernel starts, for the debugger: about 120 modules and 5-8 MB of
each kernel (measured with ``bench/memory.py``), kept until the kernel shuts down, in every chapter a
learner has open on a Binder of 1-2 GB.  The course's functions run in execution environments of
their own, which that debugger does not reach, so the course's kernel leaves it out; the standard
"Python 3 (ipykernel)" kernel, debugger included, stays one choice away in JupyterLab's Kernel menu.
Every chapter names this kernel; Jupyter finds its spec (``kernel.json`` beside this file) through
the ``JUPYTER_PATH`` that the repository's ``start`` sets.  This file stays outside the ``lambdalab``
package so that a kernel nobody has used yet has imported nothing of the course.
"""

from __future__ import annotations

import os
import sys


def main() -> None:
    sys.path[0] = os.getcwd()  # the notebook's directory first, as `python -m ipykernel_launcher` has it
    sys.modules["debugpy"] = None  # importing it raises ImportError: ipykernel then starts without a debugger
    from ipykernel.kernelapp import launch_new_instance

    launch_new_instance()


if __name__ == "__main__":
    main()
