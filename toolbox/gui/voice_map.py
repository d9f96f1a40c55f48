"""The voice map: a 2-D projection of session utterances over the shipped known speakers.

Markers: known speakers small light dots (pink F, blue M); recorded/loaded utterances "o";
generated "x"; voice profiles diamonds. One colour per session speaker, any number of speakers.
Hover shows a name, clicking a point emits :attr:`VoiceMap.picked` to use that voice.
Artists are created once; updates move offsets and colours.
"""

from __future__ import annotations

import numpy as np
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PySide6.QtCore import QTimer, Signal

from toolbox.gui.session import KnownSpeakers, Utterance, speaker_colour

MARKERS = {"real": "o", "generated": "X", "profile": "D"}
SEX_COLOURS = {"F": (0.95, 0.72, 0.80), "M": (0.70, 0.80, 0.95)}
MAX_LEGEND = 12


class VoiceMap(FigureCanvasQTAgg):
    picked = Signal(str, int)  # ("known", index) or ("session", uid)

    def __init__(self) -> None:
        self.figure = Figure(figsize=(4, 4), facecolor="#F0F0F0")
        super().__init__(self.figure)
        self.ax = self.figure.add_axes((0.03, 0.03, 0.94, 0.88))
        self.ax.set_facecolor("#F0F0F0")
        self.ax.set_xticks([])
        self.ax.set_yticks([])
        self.ax.set_title("Voice map", fontsize=10)
        empty = np.zeros((0, 2))
        self.known_sc = self.ax.scatter(empty[:, 0], empty[:, 1], s=12, alpha=0.8, linewidths=0)
        self.session_sc = {kind: self.ax.scatter(empty[:, 0], empty[:, 1], s=50, marker=m,
                                                 edgecolors="black", linewidths=0.5, zorder=3)
                           for kind, m in MARKERS.items()}
        self.message = self.ax.text(0.5, 0.5, "", ha="center", va="center", transform=self.ax.transAxes,
                                    fontsize=9, color="#555555")
        self.hover = self.ax.annotate("", xy=(0, 0), xytext=(8, 8), textcoords="offset points", fontsize=8,
                                      bbox=dict(boxstyle="round", fc="white", alpha=0.9), zorder=5)
        self.hover.set_visible(False)
        self.known: KnownSpeakers | None = None
        self.points: dict[str, list[Utterance]] = {k: [] for k in MARKERS}
        self._speaker_index: dict[str, int] = {}
        self._legend = None
        self._timer = QTimer(self, singleShot=True, interval=30)
        self._timer.timeout.connect(self.draw_idle)
        self.mpl_connect("motion_notify_event", self._on_move)
        self.mpl_connect("button_press_event", self._on_click)
        self.setMinimumSize(280, 280)
        self.set_message("Add voices to see them here")

    # -- data --------------------------------------------------------------------------------------
    def set_known(self, known: KnownSpeakers | None) -> None:
        self.known = known
        if known is not None:
            self.known_sc.set_facecolors([SEX_COLOURS.get(s, (0.8, 0.8, 0.8)) for s in known.sex])

    def colour_of(self, speaker: str):
        if speaker not in self._speaker_index:
            self._speaker_index[speaker] = len(self._speaker_index)
        return speaker_colour(self._speaker_index[speaker])

    def update_points(self, known_xy: np.ndarray | None, utterances: list[Utterance],
                      session_xy: np.ndarray) -> None:
        """Place the known speakers (K, 2) and the session utterances (N, 2), in `utterances` order."""
        if known_xy is not None and self.known is not None and len(known_xy) == len(self.known):
            self.known_sc.set_offsets(known_xy)
        all_xy = [np.asarray(session_xy).reshape(-1, 2)]
        if known_xy is not None and len(known_xy):
            all_xy.append(np.asarray(known_xy))
        for kind, sc in self.session_sc.items():
            idx = [i for i, u in enumerate(utterances) if u.kind == kind]
            self.points[kind] = [utterances[i] for i in idx]
            sc.set_offsets(np.asarray(session_xy).reshape(-1, 2)[idx] if idx else np.zeros((0, 2)))
            sc.set_facecolors([self.colour_of(utterances[i].speaker) for i in idx] if idx else [])
        xy = np.concatenate(all_xy) if any(len(a) for a in all_xy) else np.zeros((0, 2))
        if len(xy):
            lo, hi = xy.min(axis=0), xy.max(axis=0)
            pad = np.maximum((hi - lo) * 0.08, 0.5)
            self.ax.set_xlim(lo[0] - pad[0], hi[0] + pad[0])
            self.ax.set_ylim(lo[1] - pad[1], hi[1] + pad[1])
        self._update_legend(utterances)
        self.set_message("" if len(utterances) else "Add voices to see them here")

    def _update_legend(self, utterances: list[Utterance]) -> None:
        speakers = list(dict.fromkeys(u.speaker for u in utterances))
        handles = [Line2D([], [], marker="o", ls="", color=self.colour_of(s), label=s)
                   for s in speakers[:MAX_LEGEND]]
        if len(speakers) > MAX_LEGEND:
            handles.append(Line2D([], [], ls="", label=f"+{len(speakers) - MAX_LEGEND} more"))
        if self.known is not None:
            handles += [Line2D([], [], marker="o", ls="", color=c, label=f"known {s}", markersize=4)
                        for s, c in SEX_COLOURS.items()]
        if self._legend is not None:
            self._legend.remove()
        self._legend = self.ax.legend(handles=handles, fontsize=6, loc="upper right", framealpha=0.6) \
            if handles else None
        self._schedule()

    def set_title(self, text: str) -> None:
        if self.ax.get_title() != text:
            self.ax.set_title(text, fontsize=10)
            self._schedule()

    def set_message(self, text: str) -> None:
        self.message.set_text(text)
        self._schedule()

    def _schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start()

    # -- interaction -------------------------------------------------------------------------------
    def hit(self, event) -> tuple[str, int, str] | None:
        """The point under a matplotlib mouse event: (kind, key, label) or None."""
        for kind, sc in self.session_sc.items():
            ok, info = sc.contains(event)
            if ok and len(info["ind"]):
                u = self.points[kind][int(info["ind"][0])]
                return "session", u.uid, f"{u.name} ({u.speaker}, {kind})"
        if self.known is not None and len(self.known_sc.get_offsets()):
            ok, info = self.known_sc.contains(event)
            if ok and len(info["ind"]):
                i = int(info["ind"][0])
                return "known", i, self.known.label(i)
        return None

    def _on_move(self, event) -> None:
        found = self.hit(event) if event.inaxes is self.ax else None
        if found is None:
            if self.hover.get_visible():
                self.hover.set_visible(False)
                self._schedule()
            return
        self.hover.xy = (event.xdata, event.ydata)
        self.hover.set_text(found[2] + "\n(click to use this voice)")
        self.hover.set_visible(True)
        self._schedule()

    def _on_click(self, event) -> None:
        if event.inaxes is not self.ax:
            return
        found = self.hit(event)
        if found is not None:
            self.picked.emit(found[0], found[1])

    def point_position(self, kind: str, key: int) -> tuple[float, float] | None:
        """Data coordinates of a plotted point (for tests and keyboard access)."""
        if kind == "known":
            offs = self.known_sc.get_offsets()
            return tuple(offs[key]) if key < len(offs) else None
        for k, pts in self.points.items():
            for i, u in enumerate(pts):
                if u.uid == key:
                    return tuple(self.session_sc[k].get_offsets()[i])
        return None
