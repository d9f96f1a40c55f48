"""GE2E speaker encoder: 16 kHz speech -> 256-d unit-norm speaker embedding."""

from models.encoder.config import EncoderConfig
from models.encoder.inference import SpeakerEncoder
from models.encoder.model import SpeakerEncoderNet
from models.encoder.partials import partial_slices

__all__ = ["EncoderConfig", "SpeakerEncoder", "SpeakerEncoderNet", "partial_slices"]
