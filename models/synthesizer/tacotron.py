"""Tacotron (SV2TTS variant): text + speaker embedding -> 80-band log-mel in [-4, 4].

`Tacotron` holds only the network. Its state_dict matches the published synthesizer.pt (170 entries).
Both the teacher-forced `forward` (training) and `generate` (inference) run the same decoder step,
written on weights fused once per call:

* each LSTMCell is one matmul over [x ‖ h] (W_ih and W_hh side by side);
* the location conv and its linear layer are one 1 -> attn_dims convolution;
* `mel_proj` keeps only the r of its max_r columns per mel bin that are used, and `stop_proj` rides
  along as one extra output row of the same matmul over [x ‖ context];
* the attention keys are computed once per utterance.

At batch 1 a step is bound by reading the two LSTMs' 64 MB of fp32 weights, so inference can store the
matrices as int8 with per-row scales (`precision="int8"`, bf16 activations: a quarter of the bytes).
Batching never changes an item's output: encoder and postnet run per item, prenet dropout masks come
from per-item generators, padded characters get exactly zero attention, and in int8 mode every matmul
of the step computes each row independently of the others (bit-identical to the item alone).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from models.synthesizer.config import TacotronConfig
from models.synthesizer.modules import CBHG, Decoder, Encoder, HighwayNetwork, length_mask

log = logging.getLogger(__name__)


PRECISIONS = ("fp32", "fp16", "int8")


class _Matrix:
    """A weight matrix W (N, K) for y = x @ W.T, stored in fp32, fp16, or int8 with per-row scales.

    The two 1024-unit LSTMs read 64 MB of fp32 weights per decoder step, which bounds the speed at
    batch 1 by memory bandwidth; fp16 halves that at ~3e-4 relative error, int8 quarters it at ~5e-3.
    """

    def __init__(self, w: torch.Tensor, precision: str) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}; valid: {', '.join(PRECISIONS)}")
        self.precision = precision
        if precision == "fp32":
            self.w = w
        elif precision == "fp16":
            self.w = w.detach().half()
        else:
            w = w.detach()
            self.scale = (w.abs().amax(1) / 127.0).clamp_min(1e-12)
            self.w = torch.round(w / self.scale[:, None]).to(torch.int8)
            self.scale = self.scale.bfloat16()

    def __call__(self, x: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        if self.precision == "fp32":
            return F.linear(x, self.w, b)
        if self.precision == "fp16":
            return F.linear(x.half(), self.w).float() + b
        return torch._weight_int8pack_mm(x.bfloat16(), self.w, self.scale).float() + b


@dataclass
class _StepWeights:
    """Decoder weights rearranged for the step (differentiable views of the parameters)."""

    pre1: _Matrix
    pre1_b: torch.Tensor
    pre2: _Matrix
    pre2_b: torch.Tensor
    gru_ih: _Matrix  # rows [r, z, n]
    gru_hh: _Matrix
    gru_bih: torch.Tensor
    gru_bhh: torch.Tensor
    query: _Matrix
    query_b: torch.Tensor
    loc_w: torch.Tensor  # (A, 1, k): L @ conv
    loc_b: torch.Tensor  # (A,)
    v_w: torch.Tensor  # (1, A)
    rnn_input: _Matrix
    in_b: torch.Tensor
    lstm1: _Matrix  # (4H, 2H) = [W_ih | W_hh]
    lstm1_b: torch.Tensor
    lstm2: _Matrix
    lstm2_b: torch.Tensor
    out: _Matrix  # (n_mels * r + 1, H + ctx): used mel_proj rows, then stop_proj
    out_b: torch.Tensor


@dataclass
class _State:
    frame: torch.Tensor  # (B, n_mels) decoder input (GO frame = zeros)
    context: torch.Tensor  # (B, ctx)
    attn_h: torch.Tensor  # (B, A)
    h1: torch.Tensor  # (B, H)
    c1: torch.Tensor
    h2: torch.Tensor
    c2: torch.Tensor
    cumulative: torch.Tensor  # (B, T_x) summed attention weights


class Tacotron(nn.Module):
    """The network. Parameter names and shapes equal the published checkpoint's for `rtvc()`."""

    def __init__(self, config: TacotronConfig) -> None:
        super().__init__()
        c = config
        self.config = config
        self.encoder = Encoder(c.n_symbols, c.embed_dims, c.encoder_dims, c.encoder_K, c.num_highways,
                               c.dropout)
        self.encoder_proj = nn.Linear(c.context_dims, c.decoder_dims, bias=False)
        self.decoder = Decoder(c.n_mels, c.context_dims, c.decoder_dims, c.lstm_dims, c.dropout, c.max_r,
                               c.attention_filters, c.attention_kernel)
        self.postnet = CBHG(c.postnet_K, c.n_mels, c.postnet_dims, (c.postnet_dims, c.n_mels), c.num_highways)
        self.post_proj = nn.Linear(c.postnet_dims, c.n_mels, bias=False)
        self.register_buffer("step", torch.zeros(1, dtype=torch.long))
        self.register_buffer("stop_threshold", torch.tensor(c.stop_threshold, dtype=torch.float32))
        self.decoder.r.fill_(c.r)
        self.init_weights()

    def init_weights(self) -> None:
        """Xavier-uniform for every matrix; highway W1 biases 0 (the reference's initialisation)."""
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.xavier_uniform_(p)
        for m in self.modules():
            if isinstance(m, HighwayNetwork):
                nn.init.zeros_(m.W1.bias)

    @property
    def r(self) -> int:
        return int(self.decoder.r)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters() if p.requires_grad)

    # ------------------------------------------------------------------------------------------------
    # The decoder step

    def _step_weights(self, precision: str = "fp32") -> _StepWeights:
        d, r, n_mels = self.decoder, self.r, self.config.n_mels
        a = d.attn_net
        keep = (torch.arange(n_mels)[:, None] * d.max_r + torch.arange(r)[None, :]).flatten()  # bin-major
        mel_w = d.mel_proj.weight[keep.to(d.mel_proj.weight.device)]  # (n_mels*r, H)
        ctx = self.config.context_dims
        out_w = torch.cat([torch.cat([mel_w, mel_w.new_zeros(n_mels * r, ctx)], dim=1), d.stop_proj.weight])
        out_b = torch.cat([d.stop_proj.bias.new_zeros(n_mels * r), d.stop_proj.bias])
        p = precision
        # The small matrices follow int8 (which keeps every row independent of the batch) but stay
        # fp32 under fp16, whose gain is on the big LSTM matrices only.
        small = "int8" if p == "int8" else "fp32"
        return _StepWeights(
            _Matrix(d.prenet.fc1.weight, small), d.prenet.fc1.bias,
            _Matrix(d.prenet.fc2.weight, small), d.prenet.fc2.bias,
            _Matrix(d.attn_rnn.weight_ih, small), _Matrix(d.attn_rnn.weight_hh, small), d.attn_rnn.bias_ih,
            d.attn_rnn.bias_hh, _Matrix(a.W.weight, small), a.W.bias,
            torch.einsum("af,fik->aik", a.L.weight, a.conv.weight), a.L.weight @ a.conv.bias, a.v.weight,
            _Matrix(d.rnn_input.weight, precision), d.rnn_input.bias,
            _Matrix(torch.cat([d.res_rnn1.weight_ih, d.res_rnn1.weight_hh], 1), precision),
            d.res_rnn1.bias_ih + d.res_rnn1.bias_hh,
            _Matrix(torch.cat([d.res_rnn2.weight_ih, d.res_rnn2.weight_hh], 1), precision),
            d.res_rnn2.bias_ih + d.res_rnn2.bias_hh,
            _Matrix(out_w, small), out_b,
        )

    def _initial_state(self, B: int, T_x: int, like: torch.Tensor) -> _State:
        c = self.config
        z = like.new_zeros
        return _State(z(B, c.n_mels), z(B, c.context_dims), z(B, c.decoder_dims), z(B, c.lstm_dims),
                      z(B, c.lstm_dims), z(B, c.lstm_dims), z(B, c.lstm_dims), z(B, T_x))

    def _step(self, w: _StepWeights, s: _State, keys: torch.Tensor, memory: torch.Tensor,
              pad: torch.Tensor, masks: tuple[torch.Tensor, torch.Tensor] | None
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One decoder step (r frames); updates `s` in place.

        keys: (B, A, T_x) projected memory; memory: (B, T_x, ctx); pad: (B, T_x) -inf on padding, else 0.
        masks: prenet keep masks (B, 2A) x 2, pre-scaled; None = F.dropout with the global RNG.
        Returns mels (B, n_mels, r), stop logit (B,), attention weights (B, T_x).
        """
        p_drop = self.config.dropout
        x = F.relu(w.pre1(s.frame, w.pre1_b))
        x = F.dropout(x, p_drop, training=True) if masks is None else x * masks[0]
        x = F.relu(w.pre2(x, w.pre2_b))
        x = F.dropout(x, p_drop, training=True) if masks is None else x * masks[1]
        s.attn_h = _gru(torch.cat([s.context, x], 1), s.attn_h, w)
        q = w.query(s.attn_h, w.query_b).unsqueeze(2)  # (B, A, 1)
        loc = F.conv1d(s.cumulative.unsqueeze(1), w.loc_w, w.loc_b, padding=w.loc_w.size(2) // 2)  # (B, A, T)
        energy = torch.tanh(q + keys + loc)  # (B, A, T_x)
        # one small matmul per item: a batched one rounds differently depending on the batch position
        if energy.size(0) == 1:
            u = torch.mm(w.v_w, energy[0])  # (1, T_x)
        else:
            u = torch.cat([torch.mm(w.v_w, e) for e in energy])  # (B, T_x)
        attn = torch.softmax(u + pad, dim=1)
        s.cumulative = s.cumulative + attn
        s.context = torch.bmm(attn.unsqueeze(1), memory).squeeze(1)  # (B, ctx)
        x = w.rnn_input(torch.cat([s.context, s.attn_h], 1), w.in_b)
        h1, s.c1 = _lstm(x, s.h1, s.c1, w.lstm1, w.lstm1_b)
        s.h1 = self._zoneout(s.h1, h1)
        x = x + s.h1
        h2, s.c2 = _lstm(x, s.h2, s.c2, w.lstm2, w.lstm2_b)
        s.h2 = self._zoneout(s.h2, h2)
        x = x + s.h2
        out = w.out(torch.cat([x, s.context], 1), w.out_b)  # (B, n_mels*r + 1)
        mels = out[:, :-1].view(out.size(0), self.config.n_mels, self.r)
        return mels, out[:, -1], attn

    def _zoneout(self, prev: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        if not self.training or self.config.zoneout == 0:
            return new
        keep_prev = torch.rand_like(new) < self.config.zoneout
        return torch.where(keep_prev, prev, new)

    def _encode(self, chars: torch.Tensor, lengths: torch.Tensor, speaker: torch.Tensor,
                masks: tuple[torch.Tensor, torch.Tensor] | None) -> tuple[torch.Tensor, torch.Tensor]:
        memory = self.encoder(chars, lengths, speaker, masks)  # (B, T_x, ctx)
        keys = self.encoder_proj(memory).transpose(1, 2).contiguous()  # (B, A, T_x)
        return memory, keys

    def _postnet(self, mels: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        """(B, n_mels, T) decoder mels -> (B, n_mels, T) final mels."""
        return self.post_proj(self.postnet(mels, lengths)).transpose(1, 2)

    # ------------------------------------------------------------------------------------------------
    # Training

    def forward(self, chars: torch.Tensor, text_lengths: torch.Tensor, mels: torch.Tensor,
                speaker: torch.Tensor, mel_lengths: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Teacher-forced pass.

        chars: (B, T_x) int64 padded with 0; text_lengths: (B,); mels: (B, n_mels, T) targets with T a
        multiple of r; speaker: (B, S).
        Returns mel_dec and mel_post (B, n_mels, T), attention (B, T / r, T_x), stop_logits (B, T).
        """
        if self.training:
            self.step += 1
        B, _, T = mels.shape
        r = self.r
        if T % r:
            raise ValueError(f"mel length {T} is not a multiple of r = {r}")
        memory, keys = self._encode(chars, text_lengths, speaker, None)
        pad = _padding_bias(text_lengths, chars.size(1), memory.dtype)
        w = self._step_weights()
        s = self._initial_state(B, chars.size(1), memory)
        outs, stops, attns = [], [], []
        for t in range(0, T, r):
            if t > 0:
                s.frame = mels[:, :, t - 1]
            m, stop, attn = self._step(w, s, keys, memory, pad, None)
            outs.append(m)
            stops.append(stop[:, None].expand(B, r))
            attns.append(attn)
        mel_dec = torch.cat(outs, dim=2)
        return {"mel_dec": mel_dec, "mel_post": self._postnet(mel_dec, mel_lengths),
                "attention": torch.stack(attns, 1), "stop_logits": torch.cat(stops, 1)}

    # ------------------------------------------------------------------------------------------------
    # Inference

    @torch.inference_mode()
    def generate(self, chars: torch.Tensor, text_lengths: torch.Tensor, speaker: torch.Tensor,
                 generators: list[torch.Generator], progress: Callable[[float], None] | None = None,
                 should_stop: Callable[[], bool] | None = None, use_stop_token: bool = True,
                 precision: str = "fp32") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Autoregressive synthesis; every item stops on its own stop token or its length guard.

        chars: (B, T_x) int64 padded with 0; text_lengths: (B,); speaker: (B, S); generators: one per
        item, drawing that item's prenet dropout masks (so its output does not depend on the batch).
        Returns per item: postnet mel (n_mels, T_i) with trailing silent frames trimmed, and the
        attention (T_i / r, T_x_i). `use_stop_token=False` runs every item to its guard (benchmarks).
        precision: one of PRECISIONS; "fp16" stores only the LSTM and rnn_input matrices as fp16,
            "int8" every decoder matrix (int8 weights, bf16 activations).
        """
        if self.training:
            raise RuntimeError("call .eval() before generate(): BatchNorm must use running statistics")
        c, r = self.config, self.r
        B, T_x = chars.shape
        lengths = [int(n) for n in text_lengths]
        max_steps = [-(-c.max_decoder_frames(n) // r) for n in lengths]
        enc_masks, dec_masks = self._dropout_masks(generators, lengths, max_steps, T_x, chars.device)
        # Encoder and postnet run item by item on unpadded input: exactly what the item gets alone.
        memory = chars.new_zeros(B, T_x, c.context_dims, dtype=speaker.dtype)
        keys = chars.new_zeros(B, c.decoder_dims, T_x, dtype=speaker.dtype)
        for b, n in enumerate(lengths):
            masks = (enc_masks[0][b:b + 1, :n], enc_masks[1][b:b + 1, :n])
            memory[b:b + 1, :n], keys[b:b + 1, :, :n] = self._encode(chars[b:b + 1, :n], text_lengths[b:b + 1],
                                                                    speaker[b:b + 1], masks)
        pad = _padding_bias(text_lengths, T_x, memory.dtype)
        w = self._inference_weights(precision)
        s = self._initial_state(B, T_x, memory)
        n_steps = [0] * B
        outs, attns = [], []
        for i in range(max(max_steps)):
            mels, stop, attn = self._step(w, s, keys, memory, pad, (dec_masks[0][:, i], dec_masks[1][:, i]))
            outs.append(mels)
            attns.append(attn)
            # an item may stop once past 10 frames, when sigmoid(stop) > 0.5
            stopped = (stop > 0).tolist() if use_stop_token and i * r > 10 else [False] * B
            for b in range(B):
                if not n_steps[b] and (stopped[b] or i + 1 >= max_steps[b]):
                    n_steps[b] = i + 1
            if all(n_steps):
                break
            s.frame = mels[:, :, -1]
            if progress is not None and i % 10 == 0:
                progress(i / max(max_steps))
            if should_stop is not None and should_stop():
                from models.vocoding import Cancelled

                raise Cancelled("synthesis cancelled")
        mel_dec = torch.cat(outs, dim=2)
        attention = torch.stack(attns, 1)
        mels_out = []
        for b, n in enumerate(n_steps):
            post = self._postnet(mel_dec[b:b + 1, :, : n * r], None)[0]
            mels_out.append(_trim_silence(post, c.stop_threshold))
        return mels_out, [attention[b, : n_steps[b], : lengths[b]] for b in range(B)]

    def _inference_weights(self, precision: str) -> _StepWeights:
        """Step weights, rebuilt only when a parameter changed since the last call."""
        key = (precision, self.r, tuple((p.data_ptr(), p._version) for p in self.decoder.parameters()))
        cached = getattr(self, "_weights_cache", None)
        if cached is None or cached[0] != key:
            self._weights_cache = (key, self._step_weights(precision))
        return self._weights_cache[1]

    def _dropout_masks(self, generators: list[torch.Generator], lengths: list[int], max_steps: list[int],
                       T_x: int, device: torch.device):
        """Per-item keep masks (scaled by 1 / keep), padded with ones: encoder prenet (B, T_x, E) x 2,
        decoder prenet (B, S, 2A) x 2. Each item draws from its own generator in a fixed order."""
        c = self.config
        keep = 1.0 - c.dropout
        S = max(max_steps)
        e1, e2 = (torch.ones(len(lengths), T_x, c.encoder_dims) for _ in range(2))
        d1, d2 = (torch.ones(len(lengths), S, 2 * c.decoder_dims) for _ in range(2))
        for b, g in enumerate(generators):
            for target, rows, dims in ((e1, lengths[b], c.encoder_dims), (e2, lengths[b], c.encoder_dims),
                                       (d1, max_steps[b], 2 * c.decoder_dims),
                                       (d2, max_steps[b], 2 * c.decoder_dims)):
                target[b, :rows] = torch.empty(rows, dims).bernoulli_(keep, generator=g) / keep
        return (e1.to(device), e2.to(device)), (d1.to(device), d2.to(device))


def _padding_bias(lengths: torch.Tensor, T_x: int, dtype: torch.dtype) -> torch.Tensor:
    """(B, T_x): 0 on characters, -inf on padding (added to attention energies before the softmax)."""
    bias = torch.zeros(len(lengths), T_x, dtype=dtype, device=lengths.device)
    return bias.masked_fill_(~length_mask(lengths, T_x), float("-inf"))


def _gru(x: torch.Tensor, h: torch.Tensor, w: _StepWeights) -> torch.Tensor:
    """GRUCell (PyTorch gate order [r, z, n]): n = tanh(x_n + r * h_n), h' = n + z * (h - n)."""
    x_r, x_z, x_n = w.gru_ih(x, w.gru_bih).chunk(3, 1)
    h_r, h_z, h_n = w.gru_hh(h, w.gru_bhh).chunk(3, 1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return n + z * (h - n)


def _lstm(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor, w: _Matrix, b: torch.Tensor
          ) -> tuple[torch.Tensor, torch.Tensor]:
    """LSTMCell on fused weights: gates [i, f, g, o] = [x ‖ h] @ w.T + b."""
    i, f, g, o = w(torch.cat([x, h], 1), b).chunk(4, 1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _trim_silence(mel: torch.Tensor, threshold: float) -> torch.Tensor:
    """Drop trailing frames whose maximum is below `threshold` (at least one frame is kept)."""
    loud = (mel.max(dim=0).values >= threshold).nonzero()
    end = int(loud[-1]) + 1 if len(loud) else 1
    return mel[:, :end]
