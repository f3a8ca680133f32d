"""lambdalab's Python runtime, run inside each execution environment (AWS's awslambdaric).

The engine starts ``<python> BOOTSTRAP`` with cwd = task root and the Lambda environment
variables. The runtime itself never imports this package.
"""

import os

BOOTSTRAP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bootstrap.py")
