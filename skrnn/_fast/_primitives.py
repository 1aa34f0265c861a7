"""What the compiled loops over time share: their tanh and their BLAS products."""

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from ._blas import gemm

# numba's on-disk cache (cache=True) is keyed by the source file of each
# function and ignores changes in other modules, so the kernels that inline
# these helpers record this file's digest (_kernels.PRIMITIVES_SHA256), and
# this file that of _blas.py, whose ``gemm`` it inlines:
BLAS_SHA256 = "51eb8c4e73335aee37551c9b7a609a047e91abf7ec78964881fdf396ab82c355"
#
# Conventions as in _kernels.py.

JIT = {"cache": True, "nogil": True, "error_model": "numpy"}

#: tanh(x) = x P(x^2) / Q(x^2) on [-TANH32_CLAMP, TANH32_CLAMP] (float32 only),
#: coefficients fitted here (weighted least squares on the relative error,
#: reweighted towards minimax). Evaluated in float32 on every 3rd float32 in
#: [2^-20, 9.5]: at most 3.4e-7 absolute, 5.7 ulp; |tanh| <= 1 (clipped).
#: tanh(9) rounds to 1 in float32.
TANH32_P = (
    1.0,
    0.13381065428256989,
    0.0034956338349729776,
    2.060976294160355e-05,
    1.3355475836362984e-08,
)
TANH32_Q = (
    1.0,
    0.46714380383491516,
    0.02587716095149517,
    0.0003285706334281713,
    7.776918096169538e-07,
)
TANH32_CLAMP = 9.0


def _tanh32(x):
    """The rational float32 tanh: arithmetic only, so LLVM vectorises its loops
    (and branch-free, for numba to inline it)."""
    c = np.float32(TANH32_CLAMP)
    x = max(min(x, c), -c)  # NaN stays NaN
    s = x * x
    p = np.float32(TANH32_P[4]) * s + np.float32(TANH32_P[3])
    p = p * s + np.float32(TANH32_P[2])
    p = p * s + np.float32(TANH32_P[1])
    p = p * s + np.float32(TANH32_P[0])
    q = np.float32(TANH32_Q[4]) * s + np.float32(TANH32_Q[3])
    q = q * s + np.float32(TANH32_Q[2])
    q = q * s + np.float32(TANH32_Q[1])
    q = q * s + np.float32(TANH32_Q[0])
    one = np.float32(1.0)
    return max(min(x * p / q, one), -one)  # rounding near the clamp: |tanh| <= 1


#: float64: tanh(a) = a + a^3 T(a^2) (its Taylor series to a^17) for a < 0.125,
#: else e / (e + 2) with e = expm1(2a) = 2^k (expm1(r) + 1) - 1, r = 2a - k ln 2
#: in [0, ln 2) (no cancellation), expm1(r) by its Taylor series to r^17.
#: Arithmetic only, so vectorised; on every 97th float32 in [2^-30, 25] (and
#: neighbours): at most 2.6 ulp from the exact tanh (libm's: 1; NumPy's: 1.2).
TANH64_T = (
    -0.3333333333333333,
    0.13333333333333333,
    -0.05396825396825397,
    0.021869488536155203,
    -0.008863235529902197,
    0.003592128036572481,
    -0.0014558343870513183,
    0.000590027440945586,
)
EXPM1_C = (
    1.0,
    0.5,
    0.16666666666666666,
    0.041666666666666664,
    0.008333333333333333,
    0.001388888888888889,
    0.0001984126984126984,
    2.48015873015873e-05,
    2.7557319223985893e-06,
    2.755731922398589e-07,
    2.505210838544172e-08,
    2.08767569878681e-09,
    1.6059043836821613e-10,
    1.1470745597729725e-11,
    7.647163731819816e-13,
    4.779477332387385e-14,
    2.8114572543455206e-15,
)
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")  # k * LN2_HI is exact for k < 2^20
LN2_LO = 1.9082149292705877e-10  # ln 2 - LN2_HI (computed in 40 digits)
TANH64_CLAMP = 22.0  # tanh(22) rounds to 1 in float64


def _tanh64(x):
    """Accurate float64 tanh from arithmetic only (see :data:`TANH64_T`)."""
    a = min(abs(x), TANH64_CLAMP)  # NaN stays NaN
    y = a + a
    k = np.floor(y * 1.4426950408889634)
    r = (y - k * LN2_HI) - k * LN2_LO
    c = EXPM1_C  # Horner, unrolled (a loop would index the tuple at run time)
    p = c[16] * r + c[15]
    p = ((((p * r + c[14]) * r + c[13]) * r + c[12]) * r + c[11]) * r + c[10]
    p = ((((p * r + c[9]) * r + c[8]) * r + c[7]) * r + c[6]) * r + c[5]
    p = ((((p * r + c[4]) * r + c[3]) * r + c[2]) * r + c[1]) * r + c[0]
    p = p * r
    scale = np.int64((np.int64(k) + 1023) << 52).view(np.float64)  # 2^k
    e = scale * p + (scale - 1.0)
    t = e / (e + 2.0)
    s = a * a
    c = TANH64_T
    q = (((c[7] * s + c[6]) * s + c[5]) * s + c[4]) * s + c[3]
    q = ((q * s + c[2]) * s + c[1]) * s + c[0]
    q = a + a * (s * q)
    small = np.float64(a < 0.125)  # blend, not a branch: numba inlines it
    return math.copysign(small * q + (1.0 - small) * t, x)


def tanh(x):
    """tanh in the kernels: vectorisable arithmetic, rational for float32."""
    return np.tanh(x)


@overload(tanh, inline="always", jit_options={"cache": True})
def _tanh_overload(x):
    # the implementations are plain functions, compiled (and inlined) here
    return _tanh32 if x == types.float32 else _tanh64


@njit(**JIT)
def _masked_prev(h, t, mask, r0, r1, out):
    """``out = h[t, r0:r1] * mask[r0:r1]``."""
    for b in range(r1 - r0):
        for j in range(out.shape[1]):
            out[b, j] = h[t, r0 + b, j] * mask[r0 + b, j]


# ---------------------------------------------------------------- products

#: Most multiply-adds of one BLAS call in a loop over time: a per-step product
#: is cut along its output columns into calls of at most this size, which
#: OpenBLAS serves with its small-matrix kernels (no packing buffers). Measured
#: on one core (float32, GFLOP/s): (32, 128) @ (128, 512) 60 in one call, 95 in
#: blocks of 128 columns; (64, 256) @ (256, 1024) 72 and 76 in blocks of 32.
SMALL_GEMM = 2**19

#: Fewest output columns of a block: a product whose blocks would be narrower
#: stays whole ((64, 1024) @ (1024, 256): 74 GFLOP/s whole, 57 in blocks of 16).
MIN_BLOCK_COLS = 32


@njit(**JIT)
def gemm_blocks(a, b, c, alpha, beta):
    """``c = alpha a @ b + beta c`` (see ``_blas.gemm``), in column blocks of
    at most :data:`SMALL_GEMM` multiply-adds, 16 columns apiece."""
    per_col = max(1, a.shape[0] * a.shape[1])
    n = b.shape[1]
    nb = SMALL_GEMM // per_col // 16 * 16
    if nb < MIN_BLOCK_COLS:
        nb = n
    for j in range(0, n, nb):
        gemm(a, b[:, j : j + nb], c[:, j : j + nb], alpha, beta)


@njit(**JIT)
def state_product(h, t, mask, r0, r1, prev, w_t, out, one):
    """``out += h[t, r0:r1] @ w_t``, through the recurrent dropout ``mask``
    (``prev`` (r1 - r0, V) holds the masked state then; unused without)."""
    if mask.shape[0] == 0:
        gemm_blocks(h[t, r0:r1], w_t, out, one, one)
        return
    _masked_prev(h, t, mask, r0, r1, prev)
    gemm_blocks(prev, w_t, out, one, one)


@njit(**JIT)
def previous_state_grad(d, w_hh, dh_rec, beta, carried, t, valid, mask, r0, one):
    """``dh_rec = d @ w_hh + beta dh_rec`` for rows [r0, r0 + len(d)), the
    gradient of the previous state from the gate gradient rows ``d``; a padded
    step passes ``carried`` through unchanged, and the recurrent dropout
    ``mask`` scales the rest."""
    gemm_blocks(d, w_hh, dh_rec, one, beta)
    for b in range(d.shape[0]):
        row = r0 + b
        if not valid[t, row]:
            dh_rec[b] = carried[b]
        elif mask.shape[0] > 0:
            for j in range(dh_rec.shape[1]):
                dh_rec[b, j] *= mask[row, j]


@njit(**JIT)
def project_steps_into(X, t0, m, r0, r1, w_ih_t, bias, xs, buf, one):
    """Input projections of steps [t0, t0 + m) for rows [r0, r1), bias added,
    into ``buf[: m * (r1 - r0)]``, step after step (``xs`` holds the inputs)."""
    n = r1 - r0
    for s in range(m):
        xs[s * n : (s + 1) * n] = X[t0 + s, r0:r1]
        for b in range(n):
            buf[s * n + b] = bias
    gemm(xs[: m * n], w_ih_t, buf[: m * n], one, one)
