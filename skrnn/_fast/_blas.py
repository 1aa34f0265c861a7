"""BLAS ``?gemm`` called from compiled kernels: accumulating, in place, no copies."""

from numba import types
from numba.core.errors import TypingError
from numba.extending import overload
from numba.np.linalg import _BLAS, ensure_blas

# numba's own ``np.dot`` reaches SciPy's BLAS (scipy.linalg.cython_blas) through
# the function ``numba_xxgemm`` of its helper library, which looks the
# function pointer up once per process; calling that helper directly gives the
# rest of ``?gemm``: a scale of the output (beta = 1 accumulates into a buffer
# already holding the input projection) and leading dimensions (operands and
# outputs that are row blocks or column blocks of larger arrays, without a
# copy). The symbol is resolved when the code is linked, never baked in as an
# address, so the kernels that call it stay cacheable (cache=True).
#
# The helpers of _primitives.py inline :func:`gemm`, and numba's cache checks
# the source of the kernels' files only: _primitives.BLAS_SHA256 keys them to
# this one (tests/test_fast_blas.py fails until it follows a change here).

__all__ = ["gemm"]

_KIND = {types.float32: ord("s"), types.float64: ord("d")}


def gemm(a, b, c, alpha, beta):
    """``c[...] = alpha[0] * a @ b + beta[0] * c`` on 2-D views, row-major.

    ``a`` (m, k), ``b`` (k, n) and ``c`` (m, n) may be any blocks of rows and
    columns of C-contiguous arrays (unit stride along their last axis);
    ``alpha`` and ``beta`` are 1-element arrays of their dtype. Runs on the
    calling thread when SciPy's BLAS is on one thread.
    """
    raise NotImplementedError("gemm runs in compiled code only")


@overload(gemm, inline="always", jit_options={"cache": True})
def _gemm_overload(a, b, c, alpha, beta):
    dtype = c.dtype
    if dtype not in _KIND or {a.dtype, b.dtype, alpha.dtype, beta.dtype} != {dtype}:
        raise TypingError("gemm takes float32 or float64 arrays of one dtype")
    ensure_blas()
    xxgemm = _BLAS().numba_xxgemm(dtype)
    kind, no_trans = _KIND[dtype], ord("N")

    def impl(a, b, c, alpha, beta):
        m, k, n = a.shape[0], a.shape[1], b.shape[1]
        size = c.itemsize
        # column-major BLAS sees c.T = b.T @ a.T: the same memory, no transpose;
        # a leading dimension is at least the row length (a row inserted with
        # ``x[None]`` has stride 0)
        xxgemm(
            kind,
            no_trans,
            no_trans,
            n,
            m,
            k,
            alpha.ctypes,
            b.ctypes,
            max(b.strides[0] // size, n),
            a.ctypes,
            max(a.strides[0] // size, k),
            beta.ctypes,
            c.ctypes,
            max(c.strides[0] // size, n),
        )

    return impl
