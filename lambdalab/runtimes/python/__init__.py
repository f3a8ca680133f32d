"""lambdalab's Python runtime (AWS's awslambdaric), run inside each execution environment.

The engine starts ``<python> bootstrap.py`` from this directory (see lambdalab.runtimes).
These modules run in that subprocess only; this file makes the directory a package so
they are installed with lambdalab.
"""
