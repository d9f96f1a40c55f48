"""The voice map: a 2-D projection of session utterances over the shipped known speakers.

Markers: known speakers small light dots (pink F, blue M); recorded/loaded utterances "o";
generated "X"; voice profiles diamonds. One colour per session speaker, any number of speakers.
Hovering shows a name (tooltip), clicking a point emits :attr:`VoiceMap.picked` to use that voice.
Artists are created once and moved with ``set_offsets``; drawing happens off the GUI thread
(:class:`PlotCanvas`); hit-testing uses GUI-side copies of the points and the transform snapshot of
the last draw, so the GUI thread never touches the figure.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PySide6.QtCore import QPoint, Qt, Signal
from PySide6.QtWidgets import QToolTip

from toolbox.gui.plot_canvas import PlotCanvas
from toolbox.gui.plot_theme import MUTED, style_legend
from toolbox.gui.session import KnownSpeakers, Utterance, speaker_colour

MARKERS = {"real": "o", "generated": "X", "profile": "D"}
MARKER_LABELS = {"real": "recorded or loaded", "generated": "generated", "profile": "saved voice"}
SEX_COLOURS = {"F": (0.95, 0.72, 0.80), "M": (0.70, 0.80, 0.95)}
MAX_LEGEND = 8
HIT_RADIUS_PX = 7


class VoiceMap(PlotCanvas):
    picked = Signal(str, int)  # ("known", index) or ("session", uid)

    def __init__(self) -> None:
        super().__init__(Figure(figsize=(4, 4), facecolor="#F0F0F0"))
        self.ax = self.figure.add_axes((0.02, 0.03, 0.56, 0.88))  # the legend sits on the right
        self.ax.set_facecolor("#F0F0F0")
        self.ax.set_xticks([])
        self.ax.set_yticks([])
        self.ax.set_title("Voice map", fontsize=10, loc="left")
        empty = np.zeros((0, 2))
        self.known_sc = self.ax.scatter(empty[:, 0], empty[:, 1], s=12, alpha=0.8, linewidths=0)
        self.session_sc = {kind: self.ax.scatter(empty[:, 0], empty[:, 1], s=50, marker=m,
                                                 edgecolors="black", linewidths=0.5, zorder=3)
                           for kind, m in MARKERS.items()}
        self.current_sc = self.ax.scatter(empty[:, 0], empty[:, 1], s=260, marker="o", facecolors="none",
                                          edgecolors="#d62728", linewidths=2.0, zorder=4)
        for sc in (self.known_sc, self.current_sc, *self.session_sc.values()):
            sc.set_clip_on(False)  # a point on the frame is drawn whole
        self.message = self.ax.text(0.5, 0.02, "", ha="center", va="bottom", transform=self.ax.transAxes,
                                    fontsize=8, color="#555555", gid=MUTED)
        self._legend = None
        # GUI-side state (the figure belongs to the render thread)
        self.known: KnownSpeakers | None = None
        self.known_xy = np.zeros((0, 2))
        self.points: dict[str, list[Utterance]] = {k: [] for k in MARKERS}
        self.xy: dict[str, np.ndarray] = {k: np.zeros((0, 2)) for k in MARKERS}
        self.colours: dict[str, list] = {k: [] for k in MARKERS}
        self.legend_labels: list[str] = []
        self._speaker_index: dict[str, int] = {}
        self.setMouseTracking(True)
        self.setMinimumSize(260, 220)
        self.current: tuple[str, int] | None = None  # ("known", index) or ("session", uid)
        self.set_message("Record, load or pick a voice")

    # -- data --------------------------------------------------------------------------------------
    def set_known(self, known: KnownSpeakers | None) -> None:
        self.known = known
        if known is not None:
            colours = [SEX_COLOURS.get(s, (0.8, 0.8, 0.8)) for s in known.sex]
            self.mutate(lambda: self.known_sc.set_facecolors(colours))

    def colour_of(self, speaker: str):
        if speaker not in self._speaker_index:
            self._speaker_index[speaker] = len(self._speaker_index)
        return speaker_colour(self._speaker_index[speaker])

    def update_points(self, known_xy: np.ndarray | None, utterances: list[Utterance],
                      session_xy: np.ndarray) -> None:
        """Place the known speakers (K, 2) and the session utterances (N, 2), in `utterances` order."""
        session_xy = np.asarray(session_xy, dtype=float).reshape(-1, 2)
        if known_xy is not None and self.known is not None and len(known_xy) == len(self.known):
            self.known_xy = np.asarray(known_xy, dtype=float)
        for kind in MARKERS:
            idx = [i for i, u in enumerate(utterances) if u.kind == kind]
            self.points[kind] = [utterances[i] for i in idx]
            self.xy[kind] = session_xy[idx] if idx else np.zeros((0, 2))
            self.colours[kind] = [self.colour_of(utterances[i].speaker) for i in idx]
        everything = np.concatenate([session_xy, self.known_xy])
        limits = None
        if len(everything):
            lo, hi = everything.min(axis=0), everything.max(axis=0)
            pad = np.maximum((hi - lo) * 0.06, 0.3)
            limits = (lo - pad, hi + pad)
        speakers = list(dict.fromkeys(u.speaker for u in utterances))
        # (label, marker, face colour, size): what each marker means, then one colour per speaker.
        handles = [(label, MARKERS[kind], "#bbbbbb", 7) for kind, label in MARKER_LABELS.items()
                   if self.points[kind]]
        if self.known is not None:
            handles += [(f"LibriSpeech reader ({s})", "o", c, 5) for s, c in SEX_COLOURS.items()]
        handles.append(("current voice", "o", "none", 10))
        handles += [(s if len(s) <= 20 else s[:19] + "…", "s", self.colour_of(s), 7) for s in speakers[:MAX_LEGEND]]
        if len(speakers) > MAX_LEGEND:
            handles.append((f"+{len(speakers) - MAX_LEGEND} more speakers", "", None, 0))
        self.legend_labels = [h[0] for h in handles]
        state = ({k: v.copy() for k, v in self.xy.items()}, dict(self.colours), self.known_xy.copy())
        self.mutate(lambda: self._apply(state, limits, handles))
        self.set_message("" if utterances else "Record, load or pick a voice")
        self._apply_current()

    def _apply(self, state, limits, handles) -> None:  # render thread
        xy, colours, known_xy = state
        if len(known_xy):
            self.known_sc.set_offsets(known_xy)
        for kind, sc in self.session_sc.items():
            sc.set_offsets(xy[kind])
            sc.set_facecolors(colours[kind] if colours[kind] else np.zeros((0, 4)))
        if limits is not None:
            self.ax.set_xlim(limits[0][0], limits[1][0])
            self.ax.set_ylim(limits[0][1], limits[1][1])
        if self._legend is not None:
            self._legend.remove()
        lines = [Line2D([], [], marker=m, ls="", markerfacecolor=c, markersize=ms, label=label,
                        markeredgecolor="#d62728" if label == "current voice" else "black",
                        markeredgewidth=2.0 if label == "current voice" else 0.5) for label, m, c, ms in handles]
        self._legend = self.ax.legend(handles=lines, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                                      borderaxespad=0.0, framealpha=0.8) if lines else None
        if self._legend is not None:
            style_legend(self._legend, self.theme)

    LEGEND_PT = 128.0  # room for the legend on the right (labels are cut to fit)

    def before_draw(self, width_pt: float, height_pt: float) -> None:
        legend = self.LEGEND_PT if width_pt > 2.2 * self.LEGEND_PT else 0.0
        self.place(self.ax, 4, 4, width_pt - legend - 10, height_pt - 22, width_pt, height_pt)

    def set_current(self, kind: str | None, key: int = 0) -> None:
        """Ring the current voice: ("known", index) or ("session", uid); None clears."""
        self.current = None if kind is None else (kind, key)
        self._apply_current()

    def current_xy(self) -> tuple[float, float] | None:
        if self.current is None:
            return None
        return self.point_position(*self.current)

    def _apply_current(self) -> None:
        xy = self.current_xy()
        offsets = np.zeros((0, 2)) if xy is None else np.asarray([xy], dtype=float)
        self.mutate(lambda: self.current_sc.set_offsets(offsets))

    def set_title(self, text: str) -> None:
        self.mutate(lambda: self.ax.set_title(text, fontsize=10, loc="left"))

    def set_message(self, text: str) -> None:
        self.mutate(lambda: self.message.set_text(text))

    # -- hit-testing on the GUI thread -------------------------------------------------------------
    def after_draw(self):  # render thread: a transform copy valid for the image just drawn
        return self.ax.transData.frozen(), self.figure.bbox.height

    def data_to_widget(self, x: float, y: float) -> QPoint | None:
        if self.snapshot is None:
            return None
        transform, height = self.snapshot
        px, py = transform.transform((x, y))
        ratio = self.devicePixelRatioF()
        return QPoint(round(px / ratio), round((height - py) / ratio))

    def hit(self, pos: QPoint) -> tuple[str, int, str] | None:
        """The point under widget position `pos`: (kind, key, label) or None."""
        if self.snapshot is None:
            return None
        transform, height = self.snapshot
        ratio = self.devicePixelRatioF()
        target = np.array([pos.x() * ratio, height - pos.y() * ratio])
        best = None
        candidates = [("session", k, self.xy[k]) for k in MARKERS] + [("known", "known", self.known_xy)]
        for group, kind, xy in candidates:
            if not len(xy):
                continue
            d = np.linalg.norm(transform.transform(xy) - target, axis=1)
            i = int(np.argmin(d))
            if d[i] <= HIT_RADIUS_PX * ratio and (best is None or d[i] < best[0]):
                best = (d[i], group, kind, i)
            if best is not None and group == "session":
                break  # session points win over the known speakers under them
        if best is None:
            return None
        _, group, kind, i = best
        if group == "known":
            return "known", i, self.known.label(i) if self.known is not None else str(i)
        u = self.points[kind][i]
        return "session", u.uid, f"{u.name} ({u.speaker}, {kind})"

    def mouseMoveEvent(self, event) -> None:
        found = self.hit(event.position().toPoint())
        if found is None:
            QToolTip.hideText()
        else:
            QToolTip.showText(event.globalPosition().toPoint(), f"{found[2]}\n(click to use this voice)", self)

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            found = self.hit(event.position().toPoint())
            if found is not None:
                self.picked.emit(found[0], found[1])

    def point_position(self, kind: str, key: int) -> tuple[float, float] | None:
        """Data coordinates of a plotted point (for tests and keyboard access)."""
        if kind == "known":
            return tuple(self.known_xy[key]) if key < len(self.known_xy) else None
        for k, pts in self.points.items():
            for i, u in enumerate(pts):
                if u.uid == key:
                    return tuple(self.xy[k][i])
        return None
