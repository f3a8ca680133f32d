"""Entry point of lambdalab's Python runtime: the engine runs ``<python> bootstrap.py``.

Kept tiny because a script is compiled on every start; the runtime lives in
_lambdalab_runtime.py, whose bytecode is cached.
"""

if __name__ == "__main__":
    import sys

    # Not writing bytecode is meant for user code (main() turns it off, as a function's
    # PYTHONDONTWRITEBYTECODE would): caching the runtime's own saves ~4 ms on every cold start.
    dont_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, False
    import _lambdalab_runtime

    sys.dont_write_bytecode = dont_write_bytecode
    _lambdalab_runtime.main()
