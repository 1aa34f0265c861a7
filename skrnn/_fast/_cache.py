"""numba's on-disk cache of the kernels: a place to write it, one compile each."""

import contextlib
import importlib
import os
import stat
import tempfile

import numba

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX (Windows): no lock
    fcntl = None

__all__ = ["call", "fallback_cache_dir", "import_kernels"]

# numba caches a kernel's machine code (cache=True) next to its source, in
# skrnn/_fast/__pycache__, or where NUMBA_CACHE_DIR says, or in the user's
# cache directory (~/.cache/numba) when the package's folder is read-only. Any
# process that finds the code there loads it (0.3-0.5 s a cell) instead of
# compiling (5-15 s): later fits, later sessions and joblib's worker processes
# alike. Two gaps remain, both closed here:
#
# - With no writable place at all (a read-only install and home directory),
#   numba refuses to define the kernels (RuntimeError at import):
#   :func:`import_kernels` then caches in a folder of the temporary directory.
# - Processes that start before the cache holds a kernel (the workers of a
#   first GridSearchCV(n_jobs=...)) would each compile it: :func:`call` makes
#   the first call of a kernel in a process compile under a lock file beside
#   the cache, so one process compiles while the others wait, then load.


def fallback_cache_dir():
    """Where the kernels are cached when numba finds no writable place: a
    folder of the temporary directory, one per user."""
    user = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "")
    return os.path.join(tempfile.gettempdir(), f"skrnn-numba-cache-{user}")


def import_kernels(name):
    """Import the adapter module ``name``, caching in :func:`fallback_cache_dir`
    when numba has no writable cache location (and ``NUMBA_CACHE_DIR`` is unset).

    numba reads ``numba.config.CACHE_DIR`` whenever it places a cache, so the
    fallback then holds for the whole process, also for other packages' kernels
    (which numba could not cache either).
    """
    try:
        return importlib.import_module(name)
    except RuntimeError:  # "cannot cache function ...: no locator available"
        if numba.config.CACHE_DIR:
            raise
        folder = fallback_cache_dir()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not _private(folder):
            raise
        numba.config.CACHE_DIR = folder
        return importlib.import_module(name)


def _private(folder):
    """Whether ``folder`` is a directory of this user that no one else may write
    (in a shared temporary directory, anyone could plant machine code)."""
    info = os.lstat(folder)
    mine = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return stat.S_ISDIR(info.st_mode) and mine and not info.st_mode & 0o022


#: (kernel, dtype) pairs this process has compiled or loaded.
_READY = set()


def call(kernel, *args):
    """``kernel(*args)``; its first call per dtype compiles (or loads) under a lock.

    ``args[0]`` is an array of the dtype the kernel computes in. The lock file
    lies in the kernel's cache directory, so every process on the machine that
    caches there takes the same one: the first compiles and writes the cache,
    the others wait for it and then load the code instead of compiling it too.
    Only the compilation is locked, never the computation.
    """
    key = (kernel, args[0].dtype)
    if key not in _READY:
        with _compile_lock(kernel, args[0].dtype):
            kernel.compile(tuple(numba.typeof(arg) for arg in args))
        _READY.add(key)
    return kernel(*args)


@contextlib.contextmanager
def _compile_lock(kernel, dtype):
    """An exclusive lock on ``<cache dir>/<kernel>-<dtype>.skrnn-lock`` (none
    without ``fcntl`` or a cache directory: each process then compiles)."""
    folder = getattr(getattr(kernel, "_cache", None), "_cache_path", None)
    if fcntl is None or folder is None:
        yield
        return
    path = os.path.join(folder, f"{kernel.__name__}-{dtype}.skrnn-lock")
    try:
        handle = open(path, "a")  # noqa: SIM115 - held until the lock is released
    except OSError:
        yield
        return
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
