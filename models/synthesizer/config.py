"""The Tacotron configuration: one frozen dataclass, stored in our checkpoints next to the weights."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TacotronConfig:
    """Tacotron hyperparameters. `rtvc()` is the published model; `small()` trains on a 2-core CPU."""

    n_symbols: int = 66
    embed_dims: int = 512  # character embedding
    encoder_dims: int = 256  # encoder prenet, CBHG channels, BiGRU output
    decoder_dims: int = 128  # attention RNN and attention dim; decoder prenet is 2x
    postnet_dims: int = 512
    encoder_K: int = 5
    postnet_K: int = 5
    lstm_dims: int = 1024
    num_highways: int = 4
    dropout: float = 0.5  # prenets, on in training *and* inference
    speaker_embedding_size: int = 256
    n_mels: int = 80
    max_r: int = 20  # sizes mel_proj
    r: int = 2  # frames per decoder step (a published checkpoint's decoder.r overrides it)
    zoneout: float = 0.1  # training only, LSTM hidden states
    attention_filters: int = 32
    attention_kernel: int = 31
    stop_threshold: float = -3.4  # trailing frames whose max is below this are trimmed
    # Generation guard: at most max_frames_per_char * n_chars + min_frames, capped at max_frames.
    max_frames_per_char: float = 10.0
    min_frames: int = 20
    max_frames: int = 2000

    @classmethod
    def rtvc(cls) -> TacotronConfig:
        """The published synthesizer.pt (30.9 M parameters, r = 2)."""
        return cls()

    @classmethod
    def small(cls) -> TacotronConfig:
        """2.6 M parameters (r = 3): trainable on a 2-core CPU for experiments and tests."""
        return cls(embed_dims=128, encoder_dims=128, decoder_dims=64, postnet_dims=128, encoder_K=3,
                   postnet_K=3, lstm_dims=256, num_highways=2, r=3)

    @property
    def context_dims(self) -> int:
        """Encoder output = [text features ‖ speaker embedding]."""
        return self.encoder_dims + self.speaker_embedding_size

    def max_decoder_frames(self, n_chars: int) -> int:
        """Length guard for a text of `n_chars` symbols, in mel frames."""
        return int(min(self.max_frames, self.min_frames + self.max_frames_per_char * n_chars))


PRESETS = {"rtvc": TacotronConfig.rtvc, "small": TacotronConfig.small}
