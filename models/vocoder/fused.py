"""Fused numba kernels for the elementwise part of one FastWaveRNN step.

Why: between its five GEMMs, the torch step runs ~30 small elementwise ops (bias adds, bf16 <->
float32 copies, gates, softmax, cumsum, searchsorted). Each costs a dispatch and, with 2 threads, an
OpenMP barrier, so the step is overhead-bound. These kernels do the same math in five calls per step
(gru1, gru2, dense_relu x 2, sample), each reading a GEMM result and writing the next GEMM's input.

Arrays are numpy views of torch buffers. A GEMM operand or result ("gemm array") is float32, or bf16
as its raw bits (a bf16 tensor viewed as int16, then as numpy uint16); the kernels are compiled once
per dtype and go through :func:`_ld` / :func:`_st`. States, gate math, biases and the precomputed
projections are float32, as in the torch step, in the same operation order.

exp and tanh are vectorisable float32 polynomials (Cephes expf / tanhf, ~1 ulp): a libm call per
element would stop LLVM from vectorising the row loops. torch's CPU kernels use SLEEF approximations
of similar accuracy, so results differ from the torch step by float32 rounding only. No fast-math:
LLVM may not reassociate or contract anything.

Pitfalls met while writing them (numba 0.68): a conditional expression passed as a call argument,
or an ``inline="always"`` overload that stores into an array, stops vectorisation / drops the store;
signed indices like ``g[R + j]`` get a negative-index fix-up that LLVM turns into gathers; a GEMM
copy that aliases its source (``hin is h``) fails LLVM's runtime alias check and runs scalar (8x).

Shapes (n active rows, K steps of a block, R = rnn_dims, F = fc_dims, C = n_classes): gh (2, n, 3R)
recurrent GEMM result; bhh (2, 3R); P1 (K, n, 3R) rnn1 input gates without x_prev; u1 (3R,) x_prev's
share of them; Cb (K, n, R) the I layer without x_prev; wI0 (R,); A2 (K, n, 3R); A3, A4 (K, n, F)
(step-major: one step's rows are contiguous); h (2, n, R) float32 states, hin (2, n, R) their GEMM
copy; x (n, R) float32, xin (n, R) its GEMM copy; g2 (n, 3R), f (n, F), tc (n, C) GEMM results;
zin (n, F) GEMM input.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

# error_model="numpy": float division by zero gives inf instead of a Python exception check per element.
_JIT = {"cache": True, "nogil": True, "fastmath": False, "error_model": "numpy"}

_F = np.float32
_ONE, _HALF, _TWO, _ZERO = _F(1.0), _F(0.5), _F(2.0), _F(0.0)
_LOG2E = _F(1.44269504088896341)
_LN2_HI, _LN2_LO = _F(0.693359375), _F(-2.12194440e-4)  # Cephes split of ln 2 (hi part exact in 9 bits)
_EXP_LO, _EXP_HI = _F(-87.3), _F(88.0)  # keeps 2**n (n in [-126, 127]) and exp(x) normal float32
_E5, _E4, _E3 = _F(1.9875691500e-4), _F(1.3981999507e-3), _F(8.3334519073e-3)
_E2, _E1, _E0 = _F(4.1665795894e-2), _F(1.6666665459e-1), _F(5.0000001201e-1)
_T4, _T3, _T2 = _F(-5.70498872745e-3), _F(2.06390887954e-2), _F(-5.37397155531e-2)
_T1, _T0 = _F(1.33314422036e-1), _F(-3.33332819422e-1)
_TANH_SMALL = _F(0.625)


# -- bit-level helpers (LLVM IR: numba has no bf16 type and no scalar bit casts) -------------------
@intrinsic
def _bf16_to_f32(typingctx, bits):
    """uint16 bf16 bits -> float32 (the bits are the top half of the float32)."""
    if bits != types.uint16:
        return None

    def codegen(context, builder, sig, args):
        wide = builder.shl(builder.zext(args[0], ir.IntType(32)), ir.Constant(ir.IntType(32), 16))
        return builder.bitcast(wide, ir.FloatType())

    return types.float32(bits), codegen


@intrinsic
def _f32_to_bf16(typingctx, x):
    """float32 -> uint16 bf16 bits, round to nearest even (as torch's ``.to(torch.bfloat16)``); NaN -> 0x7FC0."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        b = builder.bitcast(args[0], i32)
        lsb = builder.and_(builder.lshr(b, ir.Constant(i32, 16)), ir.Constant(i32, 1))
        rounded = builder.lshr(builder.add(b, builder.add(lsb, ir.Constant(i32, 0x7FFF))), ir.Constant(i32, 16))
        is_nan = builder.fcmp_unordered("uno", args[0], args[0])
        out = builder.select(is_nan, ir.Constant(i32, 0x7FC0), rounded)
        return builder.trunc(out, ir.IntType(16))

    return types.uint16(x), codegen


@intrinsic
def _pow2(typingctx, n):
    """float32 integer n in [-126, 127] -> 2**n as float32 (exponent bits)."""
    if n != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        e = builder.add(builder.fptosi(args[0], i32), ir.Constant(i32, 127))
        return builder.bitcast(builder.shl(e, ir.Constant(i32, 23)), ir.FloatType())

    return types.float32(n), codegen


@intrinsic
def _order_key(typingctx, x):
    """float32 -> int32 whose signed order is the float order (negative floats: low 31 bits flipped)."""
    if x != types.float32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        b = builder.bitcast(args[0], i32)
        return builder.xor(b, builder.and_(builder.ashr(b, ir.Constant(i32, 31)), ir.Constant(i32, 0x7FFFFFFF)))

    return types.int32(x), codegen


@intrinsic
def _from_order_key(typingctx, key):
    """Inverse of _order_key."""
    if key != types.int32:
        return None

    def codegen(context, builder, sig, args):
        i32 = ir.IntType(32)
        flip = builder.and_(builder.ashr(args[0], ir.Constant(i32, 31)), ir.Constant(i32, 0x7FFFFFFF))
        b = builder.xor(args[0], flip)
        return builder.bitcast(b, ir.FloatType())

    return types.float32(key), codegen


def _ld(a, i):  # pragma: no cover - typing stub, replaced by the overload below
    raise NotImplementedError


def _st(a, i, v):  # pragma: no cover - typing stub
    raise NotImplementedError


@overload(_ld)
def _ld_impl(a, i):
    """Element i of a 1-D gemm array as float32."""
    if isinstance(a, types.Array) and a.dtype == types.uint16:
        return lambda a, i: _bf16_to_f32(a[i])
    if isinstance(a, types.Array) and a.dtype == types.float32:
        return lambda a, i: a[i]
    return None


@overload(_st)
def _st_impl(a, i, v):
    """Store float32 v as element i of a 1-D gemm array."""
    if isinstance(a, types.Array) and a.dtype == types.uint16:
        def st_bf16(a, i, v):
            a[i] = _f32_to_bf16(v)
        return st_bf16
    if isinstance(a, types.Array) and a.dtype == types.float32:
        def st_f32(a, i, v):
            a[i] = v
        return st_f32
    return None


# -- scalar math (float32 in, float32 out, branch-free so that loops vectorise) ----------------------
@njit(inline="always", **_JIT)
def _exp(x):
    """exp(x) for float32 x, < 1 ulp (Cephes expf: x = n ln2 + r, |r| <= ln2 / 2, degree-6 polynomial in r).

    0 below -87.3 (exp < 1.2e-38: no subnormal results, whose arithmetic takes microcode assists that
    made a kernel 5x slower in a test), 1.65e38 above 88 (sigmoid / tanh saturate long before).
    """
    tiny = x < _EXP_LO
    x = _EXP_LO if tiny else x
    x = _EXP_HI if x > _EXP_HI else x
    n = np.floor(x * _LOG2E + _HALF)
    r = x - n * _LN2_HI
    r = r - n * _LN2_LO
    p = ((((_E5 * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
    p = p * (r * r) + r + _ONE
    e = p * _pow2(n)
    return _ZERO if tiny else e


@njit(inline="always", **_JIT)
def _sigmoid(x):
    return _ONE / (_ONE + _exp(-x))


@njit(inline="always", **_JIT)
def _tanh(x):
    """tanh for float32 x (Cephes tanhf: odd polynomial below 0.625, 1 - 2 / (e^2|x| + 1) above)."""
    a = abs(x)
    z = x * x
    small = ((((_T4 * z + _T3) * z + _T2) * z + _T1) * z + _T0) * z * x + x
    big = _ONE - _TWO / (_exp(_TWO * a) + _ONE)
    big = -big if x < _ZERO else big
    return small if a < _TANH_SMALL else big


@njit(inline="always", **_JIT)
def _gru_out(n_in, z, h):
    """New GRU state as in the torch step: lerp(tanh(n_in), h, z), with torch.lerp's two-sided formula."""
    nn = _tanh(n_in)
    return nn + z * (h - nn) if z < _HALF else h - (h - nn) * (_ONE - z)


# -- the per-step kernels -------------------------------------------------------------------------
# Each GRU runs in two passes over a row (sigmoid gates and tanh's argument into `gates`, then tanh,
# the update and the stores): fewer values live at once, so LLVM keeps its constants in registers
# (25 % faster than one pass, same bits). Inner loops index with unsigned integers (module docstring).
@njit(**_JIT)
def gru1(gh, bhh, P1, k, xprev, u1, Cb, wI0, h, hin, x, xin, gates):
    """rnn1 and the residual input: h1 <- GRU(P1[k] + x_prev u1, gh[0] + bhh[0], h1);
    x = Cb[k] + x_prev wI0 + h1. Writes h[0], hin[0], x, xin. gates: (2, R) float32 scratch."""
    n, R = h.shape[1], np.uint64(h.shape[2])
    R2 = R + R
    bh, zs, ns = bhh[0], gates[0], gates[1]
    for i in range(n):
        xp = xprev[i]
        g, p, c = gh[0, i], P1[k, i], Cb[k, i]
        for j in range(R):  # gi = P1 + x_prev u1, gh = gemm + b_hh; r, z = sigmoid(gi + gh)
            r = _sigmoid((p[j] + xp * u1[j]) + (_ld(g, j) + bh[j]))
            zs[j] = _sigmoid((p[R + j] + xp * u1[R + j]) + (_ld(g, R + j) + bh[R + j]))
            ns[j] = (p[R2 + j] + xp * u1[R2 + j]) + r * (_ld(g, R2 + j) + bh[R2 + j])
        hr, hi, xr, xi = h[0, i], hin[0, i], x[i], xin[i]
        for j in range(R):
            hn = _gru_out(ns[j], zs[j], hr[j])
            hr[j] = hn
            _st(hi, j, hn)
            v = (c[j] + xp * wI0[j]) + hn
            xr[j] = v
            _st(xi, j, v)


@njit(**_JIT)
def gru2(g2, A2, k, gh, bhh, h, hin, x, xin, gates):
    """rnn2 and its residual: h2 <- GRU(g2 + A2[k], gh[1] + bhh[1], h2); x += h2. Writes h[1],
    hin[1], x, xin. gates: (2, R) float32 scratch."""
    n, R = h.shape[1], np.uint64(h.shape[2])
    R2 = R + R
    bh, zs, ns = bhh[1], gates[0], gates[1]
    for i in range(n):
        gi, a, g = g2[i], A2[k, i], gh[1, i]
        for j in range(R):
            r = _sigmoid((_ld(gi, j) + a[j]) + (_ld(g, j) + bh[j]))
            zs[j] = _sigmoid((_ld(gi, R + j) + a[R + j]) + (_ld(g, R + j) + bh[R + j]))
            ns[j] = (_ld(gi, R2 + j) + a[R2 + j]) + r * (_ld(g, R2 + j) + bh[R2 + j])
        hr, hi, xr, xi = h[1, i], hin[1, i], x[i], xin[i]
        for j in range(R):
            hn = _gru_out(ns[j], zs[j], hr[j])
            hr[j] = hn
            _st(hi, j, hn)
            v = xr[j] + hn
            xr[j] = v
            _st(xi, j, v)


@njit(**_JIT)
def dense_relu(f, A, k, zin):
    """zin = relu(f + A[k]): fc1 / fc2 after their GEMM (the a3 / a4 part and bias are in A)."""
    n, F = f.shape
    for i in range(n):
        fr, a, zr = f[i], A[k, i], zin[i]
        for j in range(F):
            v = _ld(fr, j) + a[j]
            v = v if v > _ZERO else _ZERO  # (a conditional expression as a call argument stops vectorisation)
            _st(zr, j, v)


@njit(inline="always", **_JIT)
def _row_max(v):
    """max(v) (exact): an integer max over order-preserving keys, which LLVM vectorises (a float max
    reduction needs fast-math)."""
    mk = _order_key(v[0])
    for j in range(v.shape[0]):
        kj = _order_key(v[j])
        mk = kj if kj > mk else mk
    return _from_order_key(mk)


@njit(inline="always", **_JIT)
def _row_sum(v8):
    """float32 sum of v8 (m, 8) over 8 partial sums (one vector register), then a pairwise tree."""
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _ZERO
    for b in range(v8.shape[0]):
        r = v8[b]
        a0 += r[0]
        a1 += r[1]
        a2 += r[2]
        a3 += r[3]
        a4 += r[4]
        a5 += r[5]
        a6 += r[6]
        a7 += r[7]
    return ((a0 + a4) + (a2 + a6)) + ((a1 + a5) + (a3 + a7))


@njit(inline="always", **_JIT)
def _sum16_f64(r, inv):
    """sum over j < 16 of float64(r[j] inv): the float32 probabilities of one CDF block, summed as a tree."""
    f = np.float64
    s0 = (f(r[0] * inv) + f(r[1] * inv)) + (f(r[2] * inv) + f(r[3] * inv))
    s1 = (f(r[4] * inv) + f(r[5] * inv)) + (f(r[6] * inv) + f(r[7] * inv))
    s2 = (f(r[8] * inv) + f(r[9] * inv)) + (f(r[10] * inv) + f(r[11] * inv))
    s3 = (f(r[12] * inv) + f(r[13] * inv)) + (f(r[14] * inv) + f(r[15] * inv))
    return (s0 + s1) + (s2 + s3)


@njit(**_JIT)
def sample(tc, b3, uni, k, logits, probs, blocks, forced, use_forced, xprev, labels, col):
    """logits = tc + b3; label ~ softmax(logits) by inverse CDF with the row's uniform uni[:, k], as
    torch's sample_: p = exp(l - max) / sum, cdf = float32 of the float64 running sum of p, label =
    number of cdf entries <= cdf[-1] u, clamped to C - 1 (or forced[:, col] when use_forced).
    Writes logits, labels[:, col] and x_prev = label 2 / (C - 1) - 1.

    The CDF is never stored: float64 sums of 16-entry blocks locate the block holding the threshold,
    then a running sum inside it finds the entry (float64 sums in any order round to the same float32).
    C must be a multiple of 16. Scratch: probs (C,) float32, blocks (C / 16,) float64.
    """
    n, C = tc.shape
    nb = C // 16
    scale = np.float32(2.0 / (C - 1))
    p8, p16 = probs.reshape((C // 8, 8)), probs.reshape((nb, 16))
    for i in range(n):
        t, lg = tc[i], logits[i]
        for j in range(C):
            lg[j] = _ld(t, j) + b3[j]
        if use_forced:
            label = forced[i, col]
        else:
            m = _row_max(lg)
            for j in range(C):
                probs[j] = _exp(lg[j] - m)
            inv = _ONE / _row_sum(p8)
            total = 0.0
            for b in range(nb):
                s = _sum16_f64(p16[b], inv)
                blocks[b] = s
                total += s
            thr = np.float32(total) * uni[i, k]
            acc = 0.0
            b = 0
            while b < nb - 1 and np.float32(acc + blocks[b]) <= thr:
                acc += blocks[b]
                b += 1
            label = C - 1  # the clamp: cdf[-1] <= thr happens only through rounding
            for j in range(16 * b, C):
                acc += np.float64(probs[j] * inv)
                if np.float32(acc) > thr:
                    label = j
                    break
        labels[i, col] = label
        xprev[i] = np.float32(label) * scale - _ONE


@njit(**_JIT)
def to_bf16(src, dst):
    """dst (uint16 bf16 bits) = src (float32), round to nearest even. 1-D, same length."""
    for i in range(src.shape[0]):
        dst[i] = _f32_to_bf16(src[i])


@njit(**_JIT)
def from_bf16(src, dst):
    """dst (float32) = src (uint16 bf16 bits). 1-D, same length."""
    for i in range(src.shape[0]):
        dst[i] = _bf16_to_f32(src[i])


def warm_up(bf16: bool) -> None:
    """Compile (or load from numba's on-disk cache) every kernel for one GEMM dtype, with the argument
    types FastWaveRNN passes (C-contiguous arrays, int64 step indices, a bool flag)."""
    g = np.uint16 if bf16 else np.float32
    n, K, R, C = 2, 3, 8, 16

    def z(*shape: int, dtype: type = np.float32) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)

    gh, h, hin, xprev = z(2, n, 3 * R, dtype=g), z(2, n, R), z(2, n, R, dtype=g), z(n)
    x, xin = z(n, R), z(n, R, dtype=g)
    gru1(gh, z(2, 3 * R), z(K, n, 3 * R), 0, xprev, z(3 * R), z(K, n, R), z(R), h, hin, x, xin, z(2, R))
    gru2(z(n, 3 * R, dtype=g), z(K, n, 3 * R), 0, gh, z(2, 3 * R), h, hin, x, xin, z(2, R))
    dense_relu(z(n, R, dtype=g), z(K, n, R), 0, z(n, R, dtype=g))
    labels, uni = z(n, K, dtype=np.int16), np.full((n, K), 0.5, dtype=np.float32)
    for use_forced in (False, True):
        sample(z(n, C, dtype=g), z(C), uni, 0, z(n, C), z(C), z(C // 16, dtype=np.float64),
               z(1, 1, dtype=np.int64), use_forced, xprev, labels, 0)
