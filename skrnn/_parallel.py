"""Threads of the recurrent scan: a fixed batch split, BLAS threads for its GEMMs."""

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from threadpoolctl import ThreadpoolController

__all__ = [
    "batch_shards",
    "blas_single_thread",
    "gemm_threads",
    "max_threads",
    "run_shards",
    "set_max_threads",
    "thread_invariant",
]

#: Fewest multiply-adds per shard in one step's recurrent GEMM (rows x gate width x
#: state width) worth a shard of its own. Sharding runs each half's elementwise
#: gate work on its own core, but pays the GIL hand-offs of two Python threads
#: (a step is ~15 short NumPy calls); the alternative is one thread with the
#: recurrent GEMMs on both cores (:func:`gemm_threads`). Measured on a 2-core
#: machine (training step, float32): sharding won only for gated cells with 256
#: units and at least 128 rows (by 0-10%), and lost by 20-60% at (batch,
#: hidden) = (64, 256), (256, 128), (512, 64), and for the Elman cell everywhere.
MIN_SHARD_WORK = 12_000_000

#: Fewest gate values per state value (``width / depth``) for sharding: gated
#: cells (LSTM 4, GRU 3) have enough elementwise work per GEMM multiply-add to
#: share; the Elman and statal cells (1 or less) do not.
MIN_SHARD_GATES = 3

#: Fewest batch rows in a shard.
MIN_SHARD_ROWS = 8

#: Fewest multiply-adds in one matrix product worth a second BLAS thread: below
#: it OpenBLAS runs one thread anyway (its ``GEMM_MULTITHREAD_THRESHOLD`` of 4
#: times 65536), so switching the thread count would only cost time.
MIN_GEMM_THREAD_WORK = 4 * 65536

_MAX_THREADS = None

#: The BLAS libraries loaded with NumPy and SciPy, found once at import.
_BLAS = ThreadpoolController().select(user_api="blas")

#: Oldest OpenBLAS whose GEMM may be run on several threads. OpenBLAS hands
#: each thread whole blocks of the output and never splits the sum over the
#: inner dimension (its dot and matrix-vector products do: they stay on one
#: thread), yet whether a product's numbers depend on the thread count still
#: depends on the CPU's kernels, so :func:`thread_invariant` measures it.
#: OpenBLAS 0.3.21 (numpy 1.24's wheel, Prescott kernels on our machines) gave
#: float32 products that changed with the thread count.
MIN_INVARIANT_OPENBLAS = (0, 3, 30)


def _version(lib):
    try:
        return tuple(int(part) for part in str(lib.version).split(".")[:3])
    except ValueError:
        return ()


#: Whether the loaded BLAS can be thread-invariant at all (OpenBLAS, recent).
_THREAD_INVARIANT_GEMM = bool(_BLAS.lib_controllers) and all(
    lib.internal_api == "openblas" and _version(lib) >= MIN_INVARIANT_OPENBLAS
    for lib in _BLAS.lib_controllers
)

#: Products :func:`thread_invariant` compares: remainders of every kernel
#: block size in each dimension, as the scan's products have. OpenBLAS 0.3.31
#: with its Haswell kernels (AMD Zen 3 here) changed float32 and float64 numbers
#: with the thread count on most of them; with its AVX-512 kernels (Zen 4) on none.
_PROBE_SHAPES = ((97, 61, 130), (64, 128, 512), (512, 64, 96), (33, 200, 77))

#: ``(dtype, threads) -> bool``: what :func:`thread_invariant` found.
_PROBED = {}

#: Environment variables joblib / loky set in parallel workers to share the cores.
_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def max_threads():
    """Threads the scan may use: the cores, capped by the worker's thread budget.

    joblib's ``loky`` workers (``GridSearchCV(n_jobs=...)``) set
    ``OMP_NUM_THREADS`` and friends to their share of the cores; that share is
    respected, so ``n_jobs`` workers never oversubscribe the machine.
    :func:`set_max_threads` overrides it.
    """
    if _MAX_THREADS is not None:
        return _MAX_THREADS
    n = _cpu_count()
    for var in _THREAD_VARS:
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) >= 1:
            n = min(n, int(value))
    return n


def set_max_threads(n):
    """Cap the threads of the scan at ``n`` (``None``: back to :func:`max_threads`).

    Parameters
    ----------
    n : int or None
        At least 1.

    Examples
    --------
    >>> from skrnn._parallel import max_threads, set_max_threads
    >>> set_max_threads(1)
    >>> max_threads()
    1
    >>> set_max_threads(None)
    """
    global _MAX_THREADS
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int or None, got {n!r}.")
    _MAX_THREADS = n


def gemm_threads(m, k, n, dtype):
    """Context for a loop of ``(m, k) @ (k, n)`` products: BLAS on every thread.

    Training and prediction run BLAS on one thread (:class:`blas_single_thread`), so
    that no thread count ever changes a number. Inside the scan of an unsharded
    batch the second core would then idle, while the recurrent product is half
    of each step's time. This context raises BLAS to :func:`max_threads` for such
    a loop when that changes no number and pays:

    - the BLAS is OpenBLAS and its GEMM results for ``dtype`` do not depend on
      the thread count on this machine (:func:`thread_invariant`;
      ``tests/test_parallel.py`` checks it for the scan);
    - the products are true GEMMs: no dimension is 1, which NumPy would hand to
      a matrix-vector or dot routine that splits its sums between threads;
    - each product has at least :data:`MIN_GEMM_THREAD_WORK` multiply-adds.

    Otherwise it changes nothing. :func:`run_shards` uses it for an unsharded
    batch; parallel shards keep BLAS on one thread each.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn._parallel import gemm_threads
    >>> with gemm_threads(64, 128, 512, np.float64):
    ...     out = np.ones((64, 128)) @ np.ones((128, 512))
    >>> float(out[0, 0])
    128.0
    """
    n_threads = max_threads()
    if (
        n_threads < 2
        or min(m, k, n) < 2
        or m * k * n < MIN_GEMM_THREAD_WORK
        or not thread_invariant(dtype, n_threads)
    ):
        return contextlib.nullcontext()
    return _BlasThreads(n_threads)


def thread_invariant(dtype, n_threads):
    """Whether this BLAS's GEMM gives the same numbers on ``n_threads`` as on one.

    OpenBLAS splits a product's output between threads and never its inner
    sums, but the blocks at the edges of each thread's part may go through
    other kernels that round differently, depending on the CPU's kernels. So
    the answer is measured, once per process and ``(dtype, n_threads)``: the
    products of :data:`_PROBE_SHAPES`, on one thread and on ``n_threads``, bit
    for bit (about a millisecond). While another thread has a single-thread
    region open, the measurement would change that thread's numbers: it is
    put off, and the answer is False until then.
    """
    key = (np.dtype(dtype).str, n_threads)
    if key not in _PROBED:
        if not _THREAD_INVARIANT_GEMM:
            return False
        found = _probe(np.dtype(dtype), n_threads)
        if found is None:  # not measurable now: one thread, ask again later
            return False
        _PROBED[key] = found
    return _PROBED[key]


def _probe(dtype, n_threads):
    rng = np.random.default_rng(0)
    pairs = [
        (
            rng.standard_normal((m, k)).astype(dtype),
            rng.standard_normal((k, n)).astype(dtype),
        )
        for m, k, n in _PROBE_SHAPES
    ]
    with _LOCK:
        if set(_OPEN) - {threading.get_ident()}:
            return None  # another thread computes on one BLAS thread: leave it
        before = _get_threads()
        try:
            for a, b in pairs:
                _set_threads([1] * len(before))
                one = a @ b
                _set_threads([n_threads] * len(before))
                if not np.array_equal(one, a @ b):
                    return False
        finally:
            _set_threads(before)
    return True


#: Guards the process-wide BLAS thread setting: the regions below open and close
#: under it, so concurrent calls never save one another's temporary value.
_LOCK = threading.RLock()

#: Single-thread regions open right now: thread id -> nesting depth.
_OPEN = {}

#: The BLAS thread counts found when the first region opened, restored by the last.
_FOUND = None


def _get_threads():
    return [lib.get_num_threads() for lib in _BLAS.lib_controllers]


def _set_threads(counts):
    for lib, n in zip(_BLAS.lib_controllers, counts, strict=True):
        if lib.get_num_threads() != n:
            lib.set_num_threads(n)


class blas_single_thread:
    """Context: every loaded BLAS on one thread, for the whole process.

    What ``threadpool_limits(limits=1, user_api="blas")`` does, but through the
    library controllers found once at import (a ``threadpool_limits`` call
    rescans the loaded libraries: about 5 ms), and safe across threads. The BLAS
    thread count is one setting of the whole process, so regions open on several
    threads at once share it: the first to open saves what it finds and sets 1,
    the last to close restores exactly that. Nested regions count the same way.

    Examples
    --------
    >>> import numpy as np
    >>> from skrnn._parallel import blas_single_thread
    >>> with blas_single_thread():
    ...     out = np.ones((4, 4)) @ np.ones((4, 4))
    >>> float(out[0, 0])
    4.0
    """

    def __enter__(self):
        global _FOUND
        me = threading.get_ident()
        with _LOCK:
            if not _OPEN:
                _FOUND = _get_threads()
                _set_threads([1] * len(_FOUND))
            _OPEN[me] = _OPEN.get(me, 0) + 1
        return self

    def __exit__(self, *exc):
        global _FOUND
        me = threading.get_ident()
        with _LOCK:
            _OPEN[me] -= 1
            if not _OPEN[me]:
                del _OPEN[me]
            if not _OPEN:
                _set_threads(_FOUND)
                _FOUND = None


class _BlasThreads:
    """Set every loaded BLAS to ``n`` threads, and back on exit.

    What ``threadpoolctl``'s ``limit`` does, through the library controllers it
    found once at import: about 4 us instead of 10, which matters when the
    backward pass switches for each chunk of steps. It holds :data:`_LOCK` while
    raised, and raises nothing while another thread has a single-thread region
    open (whose dot products must stay on one thread to stay exact).
    """

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        _LOCK.acquire()
        if set(_OPEN) - {threading.get_ident()}:
            # another thread is computing: leave its single thread alone
            _LOCK.release()
            self.before = None
            return
        self.before = _get_threads()
        _set_threads([self.n] * len(self.before))

    def __exit__(self, *exc):
        if self.before is None:
            return
        _set_threads(self.before)
        _LOCK.release()


def batch_shards(batch, width, depth):
    """Fixed split of the batch rows into independent shards.

    The split depends on the shape only (never on the machine or the thread
    count), so a fixed seed gives the same numbers bit for bit everywhere.

    Parameters
    ----------
    batch : int
        Rows of the batch.
    width, depth : int
        Shape of the recurrent weight: gate values per row and step, and the
        width of the state they read.

    Returns
    -------
    list of slice
        One slice of rows per shard, in order.

    Examples
    --------
    >>> from skrnn._parallel import batch_shards
    >>> batch_shards(64, 512, 128)
    [slice(0, 64, None)]
    >>> batch_shards(128, 1024, 256)
    [slice(0, 64, None), slice(64, 128, None)]
    """
    if (
        batch < 2 * MIN_SHARD_ROWS
        or width < MIN_SHARD_GATES * depth
        or batch * width * depth < 2 * MIN_SHARD_WORK
    ):
        return [slice(0, batch)]
    half = (batch + 1) // 2
    return [slice(0, half), slice(half, batch)]


def run_shards(fn, items, gemm):
    """``[fn(item) for item in items]``, on parallel threads when allowed.

    NumPy releases the GIL inside ufuncs and BLAS calls, so independent shards
    run side by side, each with BLAS on one thread. The first item runs on the
    calling thread, the others on worker threads kept for the process's life.
    A single item (an unsharded batch) gets the cores for its matrix products
    instead, through :func:`gemm_threads`.

    Parameters
    ----------
    fn : callable
    items : list
    gemm : tuple
        ``(m, k, n, dtype)`` of the matrix products ``fn`` makes for a single
        item.

    Examples
    --------
    >>> from skrnn._parallel import run_shards
    >>> run_shards(lambda x: 2 * x, [1, 2], (1, 1, 1, float))
    [2, 4]
    """
    if len(items) == 1:
        with gemm_threads(*gemm):
            return [fn(items[0])]
    n = min(len(items), max_threads())
    if n < 2:
        return [fn(item) for item in items]
    pool = _shard_pool(len(items) - 1)
    futures = [pool.submit(fn, item) for item in items[1:]]
    try:
        first = fn(items[0])
    finally:  # every shard has ended before anything returns or raises
        rest = [future.exception() for future in futures]
    errors = [exc for exc in rest if exc is not None]
    if errors:
        raise errors[0]
    return [first, *(future.result() for future in futures)]


_POOL = {"pid": None, "size": 0, "pool": None}
_POOL_LOCK = threading.Lock()


def _shard_pool(size):
    """The process's worker threads for shards, started once (thread start-up
    cost 0.5 ms per call on a busy 2-core machine against 0.05 ms for a hand-off
    to a waiting worker, on a scan step of a few ms). A forked child starts its
    own: the parent's threads do not exist there."""
    with _POOL_LOCK:
        if _POOL["pid"] != os.getpid() or _POOL["size"] < size:
            if _POOL["pid"] == os.getpid():
                _POOL["pool"].shutdown(wait=False)
            _POOL.update(
                pid=os.getpid(),
                size=size,
                pool=ThreadPoolExecutor(size, thread_name_prefix="skrnn-shard"),
            )
        return _POOL["pool"]
