"""Fast folded WaveRNN generation on the CPU, with streaming of final chunks.

Same network, same math as the reference loop, re-arranged so that each sequential step does as
little as possible:

* Every input projection that does not depend on the previously generated sample is computed for a
  whole block of steps in a few large matmuls: ``I``'s mel/a1 part (``c_t``), rnn1's input gates
  (``W_ih1 I(x_prev, m_t, a1_t) = x_prev W_ih1 I[:, 0] + (W_ih1 I[:, 1:]) [m_t | a1_t] + ...`` —
  linear, so it splits exactly, and the product of the two weight matrices is formed once), rnn2's
  a2 part, fc1's a3 part and fc2's a4 part.
* The two recurrent matmuls (``W_hh1 h1``, ``W_hh2 h2``) share one ``baddbmm`` per step; the GRU
  gates are updated in place in preallocated buffers (no per-step allocation).
* Sampling draws one uniform per row and step (a block at a time, from a seeded generator) and
  inverts the CDF of ``softmax(logits)``: exactly ``Categorical`` in distribution, and much cheaper
  than ``multinomial`` (which draws an exponential per class).
* ``precision="bf16"`` keeps bf16 copies of the per-step weights (AVX-512 BF16 matmuls); states,
  gate math and the precomputed projections stay float32.
* Folds run in lock-step as one batch (rows sorted longest first, so active rows are a prefix); a
  chunk of output is emitted as soon as every fold covering it has generated it.
* ``step_impl="numba"`` (the default when numba compiles, see :mod:`models.vocoder.fused`) keeps the
  five per-step GEMMs in torch and does all the elementwise work between them in five fused kernel
  calls: 10 calls per step instead of ~35, and no bf16 <-> float32 copies. ``"torch"`` runs one torch
  op per elementwise operation (the fallback, and the reference the numba step is tested against).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from models.vocoder.folding import FoldPlan, envelopes, fold_index
from models.vocoder.model import WaveRNN

log = logging.getLogger(__name__)

PRECISIONS = ("float32", "bf16")
STEP_IMPLS = ("auto", "torch", "numba")
# Steps whose input projections are computed in one go. For a whole 64-step block (uniforms, progress,
# streaming) they are ~60 MB at 53 rows and published size, read back from memory at every step;
# 8 steps (~8 MB) measured 12 % faster per step than 64 (4: slower, smaller precompute GEMMs).
PRECOMPUTE_STEPS = 8
StepProgress = Callable[[int, int], None]  # (steps done, total steps)
CancelCheck = threading.Event | Callable[[], bool] | None

try:  # the shared cancellation exception (models/vocoding.py), if present
    from models.vocoding import Cancelled
except ImportError:  # pragma: no cover - until models/vocoding.py exists
    class Cancelled(Exception):  # type: ignore[no-redef]
        """Generation was cancelled by the caller."""


def is_cancelled(cancel: CancelCheck) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


# numba's JIT is process-wide, so is this: GEMM dtype -> None (kernels compiled) or the failure.
_numba_status: dict[str, BaseException | None] = {}
_logged_impls: set[tuple[str, str]] = set()


def numba_kernels_error(bf16: bool) -> BaseException | None:
    """Compile (or load from numba's on-disk cache) the fused kernels for one GEMM dtype, once per
    process. Returns None when they are ready, else the import / compile error."""
    key = "bf16" if bf16 else "float32"
    if key not in _numba_status:
        t0 = time.perf_counter()
        try:
            from models.vocoder import fused

            fused.warm_up(bf16)
        except Exception as e:  # noqa: BLE001 - numba missing, or any numba / LLVM failure: fall back
            _numba_status[key] = e
        else:
            _numba_status[key] = None
            log.debug("numba vocoder kernels (%s GEMMs) ready in %.2f s", key, time.perf_counter() - t0)
    return _numba_status[key]


def _np(t: torch.Tensor) -> np.ndarray:
    """Zero-copy numpy view of a CPU tensor; bf16 as its raw bits (uint16), which fused.py decodes."""
    return t.view(torch.int16).numpy().view(np.uint16) if t.dtype == torch.bfloat16 else t.numpy()


class FastWaveRNN:
    """Prepared (fused, transposed, optionally bf16) weights of a WaveRNN and the lock-step loop.

    step_impl: "numba" (fused elementwise kernels; raises at the first run if they cannot be
    compiled), "torch" (one torch op per elementwise step), or "auto" (numba when available).
    """

    def __init__(self, net: WaveRNN, precision: str = "float32", step_impl: str = "auto") -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        if step_impl not in STEP_IMPLS:
            raise ValueError(f"step_impl must be one of {STEP_IMPLS}, got {step_impl!r}")
        self.config = c = net.config
        self.precision = precision
        self.step_impl = step_impl
        self._impl: str | None = None  # resolved on first use (compiling may take seconds)
        wdt = torch.bfloat16 if precision == "bf16" else torch.float32
        R, A, M = c.rnn_dims, c.aux_dims, c.n_mels
        with torch.no_grad():
            g = {k: v.detach().float().cpu() for k, v in net.state_dict().items() if v.is_floating_point()}
            wI = g["I.weight"]  # (R, 1 + M + A)
            self.wI0 = wI[:, 0].contiguous()  # (R,) weight of x_prev
            self.u1 = g["rnn1.weight_ih_l0"] @ self.wI0  # (3R,) x_prev's share of rnn1's input gates
            # Block precompute: [m | a1] -> c (R), then c -> rnn1 gates; a2 -> rnn2 gates; a3, a4 -> fc1, fc2.
            self.WIc = wI[:, 1:].t().contiguous()  # (M + A, R)
            self.bI = g["I.bias"]
            # rnn1's input gates from [m | a1] in one (M + A, 3R) map: W_ih1 (WIc x + bI) + b_ih1.
            # Folding the two linear maps cuts this precompute from 786k to 172k MACs per sample.
            wih1 = g["rnn1.weight_ih_l0"].double()
            self.Wih1c = (wih1 @ wI[:, 1:].double()).t().contiguous().float()  # (M + A, 3R)
            self.bih1 = (wih1 @ self.bI.double()).float() + g["rnn1.bias_ih_l0"]
            wih2 = g["rnn2.weight_ih_l0"]
            self.Wih2a = wih2[:, R:].t().contiguous()  # (A, 3R)
            self.bih2 = g["rnn2.bias_ih_l0"]
            self.W1a = g["fc1.weight"][:, R:].t().contiguous()
            self.b1 = g["fc1.bias"]
            self.W2a = g["fc2.weight"][:, c.fc_dims:].t().contiguous()
            self.b2 = g["fc2.bias"]
            # Per-step weights, (in, out) so that x @ W is a plain row-major GEMM.
            whh = [g["rnn1.weight_hh_l0"].t(), g["rnn2.weight_hh_l0"].t()]
            self.Whh = torch.stack(whh).to(wdt)  # (2, R, 3R)
            self.bhh = torch.stack([g["rnn1.bias_hh_l0"], g["rnn2.bias_hh_l0"]]).unsqueeze(1)  # (2, 1, 3R)
            self.Wih2x = wih2[:, :R].t().contiguous().to(wdt)  # (R, 3R)
            self.W1x = g["fc1.weight"][:, :R].t().contiguous().to(wdt)  # (R, F)
            self.W2x = g["fc2.weight"][:, : c.fc_dims].t().contiguous().to(wdt)  # (F, F)
            self.W3 = g["fc3.weight"].t().contiguous().to(wdt)  # (F, C)
            self.b3 = g["fc3.bias"]
        self.M, self.A = M, A
        self.last_step_time: float | None = None  # seconds per step (rows, precompute, sampling)

    def resolved_step_impl(self) -> str:
        """"numba" or "torch": what `run` uses. The first call compiles the numba kernels if needed."""
        if self._impl is None:
            self._impl = self._pick_step_impl()
            if (self._impl, self.precision) not in _logged_impls:
                _logged_impls.add((self._impl, self.precision))
                log.info("WaveRNN generation: %s step, %s weights", self._impl, self.precision)
        return self._impl

    def _pick_step_impl(self) -> str:
        if self.step_impl == "torch":
            return "torch"
        C = self.config.n_classes
        if C % 16:
            reason = f"n_classes {C} is not a multiple of 16"
        else:
            err = numba_kernels_error(self.Whh.dtype == torch.bfloat16)
            if err is None:
                return "numba"
            reason = f"numba kernels unavailable ({type(err).__name__}: {err})"
        if self.step_impl == "numba":
            raise RuntimeError(f"step_impl='numba' was requested but {reason}")
        log.warning("WaveRNN generation falls back to the torch step: %s", reason)
        return "torch"

    # ---------------------------------------------------------------------------------------------
    def _precompute(self, cond: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """cond: (K, n, M + 4A) -> c (K, n, R), P1 (K, n, 3R), A2 (K, n, 3R), A3 (K, n, F), A4 (K, n, F).

        Step-major, so that one step reads one contiguous (n, D) slice of each (`run` calls this for
        PRECOMPUTE_STEPS steps at a time; the slices come from L2 / L3, not from memory).
        """
        M, A = self.M, self.A
        ma1 = cond[..., : M + A].reshape(-1, M + A)
        c = torch.addmm(self.bI, ma1, self.WIc)  # (nK, R)
        P1 = torch.addmm(self.bih1, ma1, self.Wih1c)  # (nK, 3R)
        A2 = torch.addmm(self.bih2, cond[..., M + A: M + 2 * A].reshape(-1, A), self.Wih2a)
        A3 = torch.addmm(self.b1, cond[..., M + 2 * A: M + 3 * A].reshape(-1, A), self.W1a)
        A4 = torch.addmm(self.b2, cond[..., M + 3 * A:].reshape(-1, A), self.W2a)
        K, n = cond.shape[:2]
        return tuple(t.view(K, n, -1) for t in (c, P1, A2, A3, A4))

    @torch.no_grad()
    def run(self, cond: torch.Tensor, plan: FoldPlan, seed: int | None = None,
            progress: StepProgress | None = None, cancel: CancelCheck = None, block: int = 64,
            forced: torch.Tensor | None = None, logits_out: list[torch.Tensor] | None = None,
            ) -> Iterator[tuple[int, np.ndarray]]:
        """Generate all folds of `plan` over `cond` in lock-step.

        cond: (L, M + 4A) float32 upsampled conditioning (L = plan.total).
        Yields (start, y): overlap-added values in [-1, 1] for positions [start, start + len(y)), in
        time order, as soon as they are final; the concatenation covers [0, plan.padded_total).
        Raises Cancelled when `cancel` is set (checked every step).
        Testing hooks: `forced` (N, S) class labels per fold (plan order) are fed back instead of
        sampling (teacher forcing); `logits_out` receives each step's (n, C) logits (row order).
        """
        C = self.config.n_classes
        steps = self._steps_numba if self.resolved_step_impl() == "numba" else self._steps_torch
        gen = torch.Generator()
        if seed is not None:
            gen.manual_seed(int(seed))
        else:
            gen.seed()
        lengths = np.asarray(plan.lengths)
        offsets = np.asarray(plan.offsets)
        order = np.argsort(-lengths, kind="stable")  # row r generates fold order[r]
        row_of = np.empty_like(order)
        row_of[order] = np.arange(len(order))  # fold f is generated by row row_of[f]
        row_len = lengths[order]
        idx_all = torch.from_numpy(fold_index(plan)[order])  # (N, S)
        padded = torch.zeros(plan.padded_total + 1, cond.shape[1])
        n_real = min(cond.shape[0], plan.padded_total)
        padded[:n_real] = cond[:n_real]
        N, S = idx_all.shape
        labels = np.zeros((N, S), dtype=np.int16)  # generated class per row and step
        forced_rows = None
        if forced is not None:
            forced_rows = torch.as_tensor(forced, dtype=torch.long)[torch.from_numpy(order)].contiguous()

        # Streaming state: emit [emitted, frontier) once every fold covering it has generated it.
        fade_in, fade_out = envelopes(plan.overlap, plan.envelope)
        emitted = 0
        done_at = np.zeros(N, dtype=np.int64)  # steps generated per fold (fold order)

        def emit(frontier: int) -> Iterator[tuple[int, np.ndarray]]:
            nonlocal emitted
            if frontier <= emitted:
                return
            a, b = emitted, frontier
            y = np.zeros(b - a, dtype=np.float64)
            lo = np.searchsorted(offsets + lengths, a, side="right")
            for f in range(lo, N):
                o, n = offsets[f], lengths[f]
                if o >= b:
                    break
                s0, s1 = max(a, o) - o, min(b, o + n) - o
                seg = labels[row_of[f], s0:s1].astype(np.float64) * (2.0 / (C - 1)) - 1.0
                j = np.arange(s0, s1)
                w = np.ones(s1 - s0)
                ov = plan.overlap
                if ov:
                    head = j < ov
                    w[head] = fade_in[j[head]]
                    tail = j >= n - ov
                    w[tail] *= fade_out[j[tail] - (n - ov)]
                y[max(a, o) - a: min(b, o + n) - a] += seg * w
            emitted = b
            yield a, y

        h = torch.zeros(2, N, self.config.rnn_dims)
        xprev = torch.zeros(N, 1)
        total_steps = int(S)
        step = 0
        t_start = time.perf_counter()
        while step < S:
            n = int(np.sum(row_len > step))  # active rows (a prefix)
            K = min(block, S - step, max(8, step))  # short first blocks: the first chunk comes early
            if h.shape[1] != n:
                h, xprev = h[:, :n].contiguous(), xprev[:n].contiguous()
            uni = torch.rand(n, K, generator=gen)  # one uniform per row and step (the seed's stream)
            for s0 in range(0, K, PRECOMPUTE_STEPS):  # projections of a few steps at a time: stay in cache
                s1 = min(K, s0 + PRECOMPUTE_STEPS)
                pre = self._precompute(padded[idx_all[:n, step + s0:step + s1].t()])  # (k, n, D) -> projections
                steps(h, xprev, pre, uni[:, s0:s1].contiguous(), labels, step + s0, cancel, forced_rows, logits_out)
            step += K
            done_at[order[:n]] = np.minimum(step, lengths[order[:n]])
            done_at[order[n:]] = lengths[order[n:]]
            incomplete = done_at < lengths
            frontier = int(np.min((offsets + done_at)[incomplete])) if incomplete.any() else plan.padded_total
            if progress is not None:
                progress(step, total_steps)
            self.last_step_time = (time.perf_counter() - t_start) / step  # for streaming plans
            yield from emit(frontier)

    def _steps_torch(self, h: torch.Tensor, xprev: torch.Tensor, pre: tuple[torch.Tensor, ...],
                     uni: torch.Tensor, labels: np.ndarray, step: int, cancel: CancelCheck,
                     forced_rows: torch.Tensor | None, logits_out: list[torch.Tensor] | None) -> None:
        """K = uni.shape[1] steps of n = h.shape[1] rows, one torch op per elementwise operation.

        h: (2, n, R) float32 GRU states and xprev: (n, 1) previous samples, both updated in place;
        pre: the block's projections (see _precompute); labels[:n, step:step + K] receives the classes.
        """
        c = self.config
        R, Fd, C = c.rnn_dims, c.fc_dims, c.n_classes
        Cb, P1, A2, A3, A4 = pre
        n, K = uni.shape
        wdt = self.Whh.dtype
        bf16 = wdt != torch.float32
        # Per-block buffers (sized for n rows); nothing is allocated inside the step loop.
        gh = torch.empty(2, n, 3 * R)
        gi = torch.empty(n, 3 * R)
        rz = torch.empty(n, 2 * R)
        nb = torch.empty(n, R)
        x = torch.empty(n, R)
        z1 = torch.empty(n, Fd)
        z2 = torch.empty(n, Fd)
        logits = torch.empty(n, C)
        probs = torch.empty(n, C)
        smp = torch.empty(n, 1, dtype=torch.long)
        cdf = torch.empty(n, C)
        thr = torch.empty(n, 1)
        blk_labels = torch.empty(n, K, dtype=torch.long)
        if bf16:
            hb = torch.empty(2, n, R, dtype=wdt)
            xb = torch.empty(n, R, dtype=wdt)
            zb = torch.empty(n, Fd, dtype=wdt)
            t3 = torch.empty(n, 3 * R, dtype=wdt)
            tf = torch.empty(n, Fd, dtype=wdt)
            tc = torch.empty(n, C, dtype=wdt)
            ghb = torch.empty(2, n, 3 * R, dtype=wdt)
        h1, h2 = h[0], h[1]
        for k in range(K):
            if is_cancelled(cancel):
                raise Cancelled("vocoding cancelled")
            # Recurrent terms of both GRUs: (2, n, R) @ (2, R, 3R) + b_hh.
            if bf16:
                hb.copy_(h)
                torch.bmm(hb, self.Whh, out=ghb)
                gh.copy_(ghb).add_(self.bhh)  # same-dtype ops: much cheaper than a mixed add
            else:
                torch.baddbmm(self.bhh, h, self.Whh, out=gh)
            # rnn1: input gates = P1 + x_prev * u1
            torch.addcmul(P1[k], xprev, self.u1, out=gi)
            _gru_(gi, gh[0], h1, rz, nb)
            # x = I(...) + h1 = c_t + x_prev * wI0 + h1
            torch.addcmul(Cb[k], xprev, self.wI0, out=x)
            x.add_(h1)
            if bf16:
                xb.copy_(x)
                torch.mm(xb, self.Wih2x, out=t3)
                gi.copy_(t3).add_(A2[k])
            else:
                torch.addmm(A2[k], x, self.Wih2x, out=gi)
            _gru_(gi, gh[1], h2, rz, nb)
            x.add_(h2)
            if bf16:
                xb.copy_(x)
                torch.mm(xb, self.W1x, out=tf)
                z1.copy_(tf).add_(A3[k]).relu_()
                zb.copy_(z1)
                torch.mm(zb, self.W2x, out=tf)
                z2.copy_(tf).add_(A4[k]).relu_()
                zb.copy_(z2)
                torch.mm(zb, self.W3, out=tc)
                logits.copy_(tc).add_(self.b3)
            else:
                torch.addmm(A3[k], x, self.W1x, out=z1).relu_()
                torch.addmm(A4[k], z1, self.W2x, out=z2).relu_()
                torch.addmm(self.b3, z2, self.W3, out=logits)
            if logits_out is not None:
                logits_out.append(logits.clone())
            if forced_rows is None:
                sample_(logits, uni[:, k:k + 1], probs, cdf, thr, smp)
            else:
                smp.copy_(forced_rows[:n, step + k:step + k + 1])
            blk_labels[:, k:k + 1] = smp
            torch.mul(smp, 2.0 / (C - 1), out=xprev).sub_(1.0)
        labels[:n, step:step + K] = blk_labels.numpy()

    def _steps_numba(self, h: torch.Tensor, xprev: torch.Tensor, pre: tuple[torch.Tensor, ...],
                     uni: torch.Tensor, labels: np.ndarray, step: int, cancel: CancelCheck,
                     forced_rows: torch.Tensor | None, logits_out: list[torch.Tensor] | None) -> None:
        """Same contract and math as _steps_torch: per step, 5 torch GEMMs (bf16 or float32 operands
        and results) and 5 fused kernels that add the biases / projections, run the gates, sample,
        and write the next GEMM's input. Buffers are numpy views of torch tensors, made once per block."""
        from models.vocoder import fused

        c = self.config
        R, Fd, C = c.rnn_dims, c.fc_dims, c.n_classes
        n, K = uni.shape
        wdt = self.Whh.dtype
        hin = h.to(wdt, copy=True)  # GEMM copy of h (a separate buffer also in float32: no aliasing)
        gh = torch.empty(2, n, 3 * R, dtype=wdt)
        x = torch.empty(n, R)
        xin = torch.empty(n, R, dtype=wdt)
        g2 = torch.empty(n, 3 * R, dtype=wdt)
        f = torch.empty(n, Fd, dtype=wdt)  # fc1 / fc2 GEMM results
        zin = torch.empty(n, Fd, dtype=wdt)  # fc2 / fc3 GEMM inputs
        tc = torch.empty(n, C, dtype=wdt)
        logits = np.empty((n, C), dtype=np.float32)
        probs = np.empty(C, dtype=np.float32)
        blocks = np.empty(C // 16, dtype=np.float64)
        gates = np.empty((2, R), dtype=np.float32)
        use_forced = forced_rows is not None
        forced_np = forced_rows.numpy() if use_forced else np.zeros((1, 1), dtype=np.int64)
        Cb, P1, A2, A3, A4 = (t.numpy() for t in pre)
        h_, hin_, gh_, x_, xin_ = h.numpy(), _np(hin), _np(gh), x.numpy(), _np(xin)
        g2_, f_, zin_, tc_ = _np(g2), _np(f), _np(zin), _np(tc)
        xp_, uni_ = xprev.numpy().reshape(-1), uni.numpy()
        bhh, u1, wI0, b3 = self.bhh[:, 0].numpy(), self.u1.numpy(), self.wI0.numpy(), self.b3.numpy()
        for k in range(K):
            if is_cancelled(cancel):
                raise Cancelled("vocoding cancelled")
            torch.bmm(hin, self.Whh, out=gh)  # recurrent terms of both GRUs (biases added in the kernels)
            fused.gru1(gh_, bhh, P1, k, xp_, u1, Cb, wI0, h_, hin_, x_, xin_, gates)
            torch.mm(xin, self.Wih2x, out=g2)
            fused.gru2(g2_, A2, k, gh_, bhh, h_, hin_, x_, xin_, gates)
            torch.mm(xin, self.W1x, out=f)
            fused.dense_relu(f_, A3, k, zin_)
            torch.mm(zin, self.W2x, out=f)
            fused.dense_relu(f_, A4, k, zin_)
            torch.mm(zin, self.W3, out=tc)
            fused.sample(tc_, b3, uni_, k, logits, probs, blocks, forced_np, use_forced, xp_, labels, step + k)
            if logits_out is not None:
                logits_out.append(torch.from_numpy(logits.copy()))


def sample_(logits: torch.Tensor, u: torch.Tensor, probs: torch.Tensor, cdf: torch.Tensor,
            thr: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF sampling, one uniform per row: out (n, 1) ~ Categorical(softmax(logits (n, C))).

    u: (n, 1) uniforms in [0, 1); probs, cdf: (n, C) and thr: (n, 1) float32 scratch buffers.
    """
    torch.softmax(logits, dim=1, out=probs)
    torch.cumsum(probs, dim=1, out=cdf)
    torch.mul(cdf[:, -1:], u, out=thr)
    torch.searchsorted(cdf, thr, right=True, out=out)
    return out.clamp_(max=logits.shape[1] - 1)


def _gru_(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor, rz: torch.Tensor, nb: torch.Tensor) -> None:
    """In-place GRU cell update (PyTorch gate order r, z, n): h <- n + z (h - n)."""
    R = h.shape[1]
    torch.add(gi[:, : 2 * R], gh[:, : 2 * R], out=rz).sigmoid_()
    torch.addcmul(gi[:, 2 * R:], rz[:, :R], gh[:, 2 * R:], out=nb).tanh_()
    torch.lerp(nb, h, rz[:, R:], out=h)



@torch.no_grad()
def fast_conditioning(net: WaveRNN, mel: np.ndarray | torch.Tensor) -> torch.Tensor:
    """Same result as :func:`models.vocoder.naive.conditioning`, ~10x faster on the CPU.

    Each upsampling stage (nearest stretch by s, then a (1, 2s + 1) convolution with padding s) is
    computed polyphase: output sample s u + r depends only on source samples u - 1, u, u + 1, with
    weights W[r, d] = sum of the kernel taps that land on source u + d. One small matmul per stage
    replaces a single-channel convolution over the stretched signal (slow in oneDNN).
    Returns (T * hop, 80 + res_out_dims) float32.
    """
    c = net.config
    up = net.upsample
    mel = torch.as_tensor(np.asarray(mel, dtype=np.float32))
    x = torch.nn.functional.pad(mel.unsqueeze(0) / c.mel_max_abs, (c.pad, c.pad))  # (1, 80, T + 2 pad)
    aux = up.resnet(x)[0]  # (A, T)
    m = x[0]  # (80, T + 2 pad)
    for i in range(0, len(up.up_layers), 2):
        s = up.up_layers[i].x_scale
        w = up.up_layers[i + 1].weight.detach().reshape(-1).float()  # (2s + 1,)
        W = torch.zeros(3, s)  # (d + 1, r)
        for r in range(s):
            for j in range(2 * s + 1):
                W[(r + j - s) // s + 1, r] += w[j]
        src = torch.nn.functional.pad(m, (1, 1))  # zero outside the stretched signal
        win = src.unfold(-1, 3, 1)  # (80, L, 3): source u - 1, u, u + 1
        m = (win @ W).reshape(m.shape[0], -1)  # (80, L s)
    m = m[:, up.indent:-up.indent]  # (80, T hop)
    out = torch.empty(m.shape[1], m.shape[0] + aux.shape[0])
    out[:, : m.shape[0]] = m.t()
    out[:, m.shape[0]:] = aux.t().repeat_interleave(c.hop_length, dim=0)
    return out
