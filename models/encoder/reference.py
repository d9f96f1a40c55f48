"""The published encoder's inference algorithm, done the plain way: one utterance at a time.

This is the baseline that `sv2tts bench encoder` measures against, and the oracle that the tests
compare the fast path with. It follows the reference description step by step — a per-sample
``struct.pack`` for the VAD, librosa's ``melspectrogram``, partial slicing recomputed here, and one
forward pass per utterance — and deliberately shares no preprocessing code with `models.audio`.
It keeps the reference's known defects that matter for equality: no clipping before the int16
conversion (values outside [-1, 1] wrap) and a plain volume normalisation.
"""

from __future__ import annotations

import struct

import librosa
import numpy as np
import torch
from scipy.ndimage import binary_dilation

from models.encoder.model import SpeakerEncoderNet

SR = 16_000


def reference_preprocess(wav: np.ndarray) -> np.ndarray:
    """-30 dBFS increase-only normalisation, then webrtcvad trimming (reference behaviour)."""
    import webrtcvad

    change = -30 - 10 * np.log10(np.mean(wav ** 2))
    if change >= 0:
        wav = wav * (10 ** (change / 20))
    window = 30 * SR // 1000
    wav = wav[: len(wav) - (len(wav) % window)]
    pcm = struct.pack(f"{len(wav)}h", *(np.round(wav * 32767)).astype(np.int16))
    vad = webrtcvad.Vad(mode=3)
    flags = [vad.is_speech(pcm[i * 2:(i + window) * 2], sample_rate=SR) for i in range(0, len(wav), window)]
    flags = np.array(flags, dtype=float)
    width = 8
    padded = np.concatenate((np.zeros((width - 1) // 2), flags, np.zeros(width // 2)))
    ret = np.cumsum(padded, dtype=float)
    ret[width:] = ret[width:] - ret[:-width]
    mask = np.round(ret[width - 1:] / width).astype(bool)
    mask = binary_dilation(mask, np.ones(6 + 1))
    return wav[np.repeat(mask, window)]


def reference_partials(n_samples: int, step: int = 80) -> tuple[list[slice], list[slice]]:
    n_frames = int(np.ceil((n_samples + 1) / 160))
    wav_slices, mel_slices = [], []
    for i in range(0, max(1, n_frames - 160 + step + 1), step):
        mel_slices.append(slice(i, i + 160))
        wav_slices.append(slice(i * 160, (i + 160) * 160))
    if (n_samples - wav_slices[-1].start) / 25_600 < 0.75 and len(mel_slices) > 1:
        mel_slices, wav_slices = mel_slices[:-1], wav_slices[:-1]
    return wav_slices, mel_slices


def reference_embed(net: SpeakerEncoderNet, wav: np.ndarray, preprocess: bool = True) -> np.ndarray:
    """Embed one 16 kHz utterance the way the published toolbox does. Returns (256,) float32."""
    if preprocess:
        wav = reference_preprocess(wav)
    wav_slices, mel_slices = reference_partials(len(wav))
    if wav_slices[-1].stop >= len(wav):
        wav = np.pad(wav, (0, wav_slices[-1].stop - len(wav)), "constant")
    mel = librosa.feature.melspectrogram(y=wav, sr=SR, n_fft=400, hop_length=160, n_mels=40).astype(np.float32).T
    mels = np.array([mel[s] for s in mel_slices])
    with torch.no_grad():
        partials = net(torch.from_numpy(mels)).numpy()
    raw = np.mean(partials, axis=0)
    return (raw / np.linalg.norm(raw, 2)).astype(np.float32)
