"""Make the literal paths /tmp and /opt work for Python handlers, and show paths as AWS names them.

Why: in AWS every execution environment has its own writable /tmp, and its layers extracted
read-only at /opt; handler code writes to "/tmp/..." and reads "/opt/..." literally. lambdalab
gives each environment a private directory (LAMBDALAB_TMP_ROOT, also its TMPDIR) and each
function a merged layer directory (LAMBDALAB_OPT_ROOT) but cannot mount them without root. So
before the handler module is imported, the runtime rewrites "/tmp", "/opt" and paths below them
to those directories in the Python-level file APIs handler code goes through: builtins.open/io.open
and the path-taking os functions in _ONE_PATH/_TWO_PATHS. os.path, os.makedirs/walk, pathlib,
shutil, glob and tempfile all reach the file system through these. (Imports do not: the runtime
puts the real layer directories on sys.path.)

Paths under the environment's own host directories (task root, runtime, sys.path entries, the
mounted roots themselves) are left alone even when the host keeps them in /tmp or /opt.

Not covered, because the rewrite only sees calls made from Python: C extensions
(sqlite3.connect("/tmp/db"), native libraries), subprocesses and their arguments,
io.FileIO, ctypes. A few results expose the real location: os.getcwd() after
os.chdir("/tmp"), os.scandir(...) entries' .path (and so Path.iterdir() on 3.13),
os.readlink() of links made here, and tempfile.gettempdir() (it returns TMPDIR).
"""

import _imp
import builtins
import io
import os
import sys

_ONE_PATH = (
    "access", "chdir", "chmod", "chown", "getxattr", "lchown", "listdir", "listxattr", "lstat", "mkdir",
    "mkfifo", "open", "readlink", "remove", "removexattr", "rmdir", "scandir", "setxattr", "stat",
    "statvfs", "truncate", "unlink", "utime",
)
_TWO_PATHS = ("link", "rename", "replace", "symlink")
_PATH_KEYWORDS = ("path", "file", "src", "dst")
_SUPPORTS = (os.supports_dir_fd, os.supports_fd, os.supports_follow_symlinks, os.supports_effective_ids)


def install(mounts: dict, keep: list) -> None:
    """Rewrite each mount point (``"/tmp"``) to its root from now on, except under the directories in ``keep``."""
    mounts = {point: root.rstrip("/") for point, root in mounts.items()}
    keep = [os.path.abspath(p) for p in {*mounts.values(), *keep}
            if any(p.startswith(point + "/") for point in mounts)]
    table = [(point, root, [k for k in keep if k.startswith(point + "/")], "/") for point, root in mounts.items()]
    btable = [(os.fsencode(point), os.fsencode(root), [os.fsencode(k) for k in kept], b"/")
              for point, root, kept, _ in table]

    def remap(path):
        p = path if isinstance(path, (str, bytes)) else os.fspath(path) if hasattr(path, "__fspath__") else None
        if isinstance(p, (str, bytes)):
            for point, root, kept, sep in table if isinstance(p, str) else btable:
                if (p == point or p.startswith(point + sep)) and not any(p == k or p.startswith(k + sep) for k in kept):
                    return root + p[len(point):]
        return path

    def wrap(func, n_paths: int):
        def wrapper(*args, **kwargs):
            pairs = [(path, remap(path)) for path in args[:n_paths]]
            if pairs:
                args = (*(mapped for _, mapped in pairs), *args[n_paths:])
            for key in _PATH_KEYWORDS:
                if key in kwargs:
                    pairs.append((kwargs[key], remap(kwargs[key])))
                    kwargs[key] = pairs[-1][1]
            try:
                return func(*args, **kwargs)
            except OSError as e:
                # Name the path the caller used ("/tmp/x"), as the error would in AWS.
                for original, mapped in pairs:
                    if mapped is not original:
                        if e.filename == mapped:
                            e.filename = original
                        if e.filename2 == mapped:
                            e.filename2 = original
                raise

        wrapper.__name__, wrapper.__qualname__, wrapper.__doc__ = func.__name__, func.__qualname__, func.__doc__
        # staticmethod: pathlib on 3.10 stores os functions as class attributes, where a plain
        # function would become a bound method.
        return staticmethod(wrapper)

    builtins.open = io.open = wrap(builtins.open, 1)
    for names, n_paths in ((_ONE_PATH, 1), (_TWO_PATHS, 2)):
        for name in names:
            func = getattr(os, name, None)
            if func is None:
                continue
            wrapped = wrap(func, n_paths)
            setattr(os, name, wrapped)
            # shutil and others test membership to choose fd-based code paths.
            for supported in _SUPPORTS:
                if func in supported:
                    supported.add(wrapped)


def compile_as_aws(roots: list) -> None:
    """Compile the modules under each host directory of ``roots`` ((host, AWS path) pairs) with the path AWS
    shows, so that every traceback, warning and ``inspect`` result names ``/var/task/app.py`` as in AWS.

    Only code objects get the AWS path: ``__file__`` stays the real file, which handlers open (it
    cannot be at /var/task here), and the loader's ``get_source`` reads it, so ``linecache`` still
    shows the source lines. The import system's path finder is wrapped in place, keeping its rank
    after the built-in and frozen modules.
    """
    import importlib.machinery
    import linecache

    roots = [(host.rstrip("/") + "/", aws.rstrip("/") + "/") for host, aws in roots]
    finder = importlib.machinery.PathFinder

    class AwsPathLoader(importlib.machinery.SourceFileLoader):
        def get_code(self, fullname):
            code = super().get_code(fullname)
            host, aws = next((host, aws) for host, aws in roots if self.path.startswith(host))
            aws += self.path[len(host):]
            _imp._fix_co_filename(code, aws)  # nested code objects too
            # Lines for callers that give linecache no module globals (a warning's source line): read when asked.
            linecache.lazycache(aws, {"__name__": fullname, "__loader__": self})
            return code

    class AwsPathFinder(finder):
        @classmethod
        def find_spec(cls, name, path=None, target=None):
            spec = super().find_spec(name, path, target)
            if spec is not None and type(spec.loader) is importlib.machinery.SourceFileLoader and \
                    any(spec.origin.startswith(host) for host, _ in roots):
                spec.loader = AwsPathLoader(spec.loader.name, spec.loader.path)
            return spec

    sys.meta_path[:] = [AwsPathFinder if f is finder else f for f in sys.meta_path]


def aws_names(task_root: str, mounts: dict) -> list:
    """(host directory, the path AWS shows for it) pairs, longest first, for error messages and stack traces.

    In AWS a handler's files are under /var/task, its layers under /opt, the runtime under
    /var/runtime and the interpreter's library under /var/lang/lib/pythonX.Y; an error report
    that showed lambdalab's working directory instead would be one more thing that differs.
    The Python version stays the one that really runs.
    """
    lang = "/var/lang/lib/python{}.{}".format(*sys.version_info[:2])
    site = sys.modules.get("site")
    pairs = [(task_root, "/var/task"), (os.path.dirname(os.path.abspath(__file__)), "/var/runtime"),
             (os.path.dirname(os.__file__), lang), *((root, point) for point, root in mounts.items())]
    pairs += [(path, lang + "/site-packages") for path in (site.getsitepackages() if site else [])]
    found = {}
    for host, aws in pairs:
        for variant in {os.path.abspath(host), os.path.realpath(host)}:
            found.setdefault(variant.rstrip("/"), aws)
    return sorted(found.items(), key=lambda pair: -len(pair[0]))


def rename(text: str, names: list) -> str:
    """``text`` with every host directory of ``names`` (a whole path component) replaced by its AWS path."""
    for host, aws in names:
        start = 0
        while (i := text.find(host, start)) >= 0:
            end = i + len(host)
            if end == len(text) or text[end] in "/'\" ,:;)]\n":
                text = text[:i] + aws + text[end:]
                start = i + len(aws)
            else:
                start = end
    return text
