"""Batch sharding for the recurrent scan: a fixed split, run on up to two threads."""

import os
import threading

__all__ = ["batch_shards", "max_threads", "run_shards", "set_max_threads"]

#: Fewest multiply-adds per shard in one step's recurrent GEMM (rows x gate width x
#: state width) worth a shard of its own. Below it the second thread's hand-offs
#: of the GIL (a step is ~15 short NumPy calls) and the doubled per-call overhead
#: cost more than the work it takes over. Measured with
#: ``benchmarks/bench_torch.py`` on a shared 2-core machine: sharding paid at
#: (batch, hidden) = (128, 256) for every cell and lost at (64, 128) and below.
MIN_SHARD_WORK = 4_000_000

#: Fewest batch rows in a shard.
MIN_SHARD_ROWS = 8

_MAX_THREADS = None

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
    if batch < 2 * MIN_SHARD_ROWS or batch * width * depth < 2 * MIN_SHARD_WORK:
        return [slice(0, batch)]
    half = (batch + 1) // 2
    return [slice(0, half), slice(half, batch)]


def run_shards(fn, items):
    """``[fn(item) for item in items]``, on parallel threads when allowed.

    NumPy releases the GIL inside ufuncs and BLAS calls, so independent shards
    run side by side. The first item runs on the calling thread.

    Examples
    --------
    >>> from skrnn._parallel import run_shards
    >>> run_shards(lambda x: 2 * x, [1, 2])
    [2, 4]
    """
    n = min(len(items), max_threads())
    if n < 2:
        return [fn(item) for item in items]
    results = [None] * len(items)
    errors = []

    def work(k):
        try:
            results[k] = fn(items[k])
        except BaseException as exc:  # re-raised on the calling thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(1, len(items))]
    for thread in threads:
        thread.start()
    work(0)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results
