"""Reference and generated utterances side by side: embedding heatmap + mel spectrogram each.

Each row is its own :class:`PlotCanvas` (drawn off the GUI thread), created once; updates go
through ``set_data``/``set_extent`` so a change to one row never redraws the other.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from PySide6.QtWidgets import QVBoxLayout, QWidget

from models.audio import HOP_LENGTH, SAMPLE_RATE
from toolbox.gui.plot_canvas import PlotCanvas
from toolbox.gui.plot_theme import MUTED

EMBED_RANGE = (0.0, 0.30)  # fixed colour scale for the 16x16 embedding heatmap
MEL_RANGE = (-4.0, 4.0)
FRAME_SECONDS = HOP_LENGTH / SAMPLE_RATE
BACKGROUND = "#F0F0F0"


def fit(text: str, chars: float) -> str:
    """`text` cut to about `chars` characters, with an ellipsis when cut."""
    n = max(4, int(chars))
    return text if len(text) <= n else text[:n - 1].rstrip() + "…"


class UtteranceView(PlotCanvas):
    """One row: (embedding heatmap | mel spectrogram), low frequencies at the bottom, time in s."""

    def __init__(self, title: str) -> None:
        # Fixed axes rectangles (no constrained layout): a redraw costs only the artists.
        super().__init__(Figure(figsize=(8, 2.2), facecolor=BACKGROUND))
        self.title = title
        self.embed_ax = self.figure.add_axes((0.005, 0.06, 0.14, 0.76))
        cbar_ax = self.cbar_ax = self.figure.add_axes((0.15, 0.1, 0.01, 0.68))
        self.mel_ax = self.figure.add_axes((0.28, 0.22, 0.705, 0.62))
        for ax in (self.embed_ax, self.mel_ax):
            ax.set_facecolor(BACKGROUND)
            for s in ax.spines.values():
                s.set_visible(False)
        self.embed_img = self.embed_ax.imshow(np.zeros((16, 16)), vmin=EMBED_RANGE[0], vmax=EMBED_RANGE[1],
                                              cmap="viridis", interpolation="nearest")
        self.embed_ax.set_xticks([])
        self.embed_ax.set_yticks([])
        self.embed_ax.set_title("embedding", fontsize=9)
        self.figure.colorbar(self.embed_img, cax=cbar_ax, ticks=[0.0, 0.1, 0.2, 0.3])
        cbar_ax.tick_params(labelsize=7)
        self.mel_img = self.mel_ax.imshow(np.full((80, 1), MEL_RANGE[0]), aspect="auto", origin="lower",
                                          interpolation="none", vmin=MEL_RANGE[0], vmax=MEL_RANGE[1],
                                          cmap="magma", extent=(0, 1, 0, 80))
        self.mel_ax.set_xlabel("time (s)", fontsize=8)
        self.mel_ax.set_ylabel("mel band", fontsize=8)
        self.mel_ax.tick_params(labelsize=7)
        self.mel_ax.set_title(f"{title}: mel spectrogram", fontsize=9, loc="left")
        self.note = self.mel_ax.text(0.5, 0.5, "", ha="center", va="center", transform=self.mel_ax.transAxes,
                                     fontsize=9, color="#666666", gid=MUTED)
        self.title_text = self.mel_ax.get_title()
        self.note_text = ""
        self.embed_img.set_visible(False)
        self.mel_img.set_visible(False)
        self.setMinimumHeight(130)
        self.mel: np.ndarray | None = None  # what is shown (GUI-side copy)
        self.embedding: np.ndarray | None = None

    # Margins in points: title 9 pt, tick labels 7 pt, axis labels 8 pt (see before_draw).
    TOP, BOTTOM, PAD = 17.0, 30.0, 4.0

    def before_draw(self, width_pt: float, height_pt: float) -> None:
        side = max(10.0, min(height_pt - self.TOP - self.PAD, width_pt * 0.22))
        self.place(self.embed_ax, self.PAD, self.PAD, side, side, width_pt, height_pt)
        cbar_left = self.PAD + side + 3
        self.place(self.cbar_ax, cbar_left, self.PAD + 2, 5, side - 4, width_pt, height_pt)
        mel_left = cbar_left + 5 + 20 + 30  # colour-bar ticks, then the mel's tick labels and y label
        mel_width = width_pt - mel_left - 14  # room for half of the last time tick label
        self.place(self.mel_ax, mel_left, self.BOTTOM, mel_width, height_pt - self.BOTTOM - self.TOP,
                   width_pt, height_pt)
        # Titles start at the axes' left edge and are cut to the width (9 pt: about 5 pt per character).
        self.mel_ax.set_title(fit(self.title_text, (width_pt - mel_left - 4) / 5.0), fontsize=9, loc="left")
        self.note.set_text(fit(self.note_text, mel_width / 4.6))

    def show_mel(self, mel: np.ndarray | None, name: str = "", note: str = "") -> None:
        """mel: (80, T) in [-4, 4], or None to clear; `note` is written in the empty plot instead."""
        self.mel = None if mel is None or mel.size == 0 else np.asarray(mel, np.float32)
        self.mutate(lambda mel=self.mel: self._apply_mel(mel, name, note))

    def _apply_mel(self, mel: np.ndarray | None, name: str, note: str = "") -> None:
        self.note.set_text(note if mel is None else "")
        if mel is None:
            self.mel_img.set_visible(False)
            self.mel_ax.set_xlim(0, 1)  # no stale time axis from the previous utterance
        else:
            self.mel_img.set_data(mel)
            self.mel_img.set_extent((0, mel.shape[1] * FRAME_SECONDS, 0, mel.shape[0]))
            self.mel_ax.set_xlim(0, mel.shape[1] * FRAME_SECONDS)
            self.mel_ax.set_ylim(0, mel.shape[0])
            self.mel_img.set_visible(True)
        self.title_text = f"{self.title}: {name or 'mel spectrogram'}"
        self.note_text = note if mel is None else ""

    def show_embedding(self, embedding: np.ndarray | None) -> None:
        """embedding: (256,) shown as 16x16 on the fixed EMBED_RANGE scale, or None to clear."""
        self.embedding = None if embedding is None else np.asarray(embedding, np.float32).reshape(16, 16)
        self.mutate(lambda e=self.embedding: self._apply_embedding(e))

    def _apply_embedding(self, e: np.ndarray | None) -> None:
        if e is not None:
            self.embed_img.set_data(e)
        self.embed_img.set_visible(e is not None)


class SpectrogramPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.reference = UtteranceView("reference")
        self.generated = UtteranceView("generated")
        layout.addWidget(self.reference)
        layout.addWidget(self.generated)
