"""Plot colours that follow the Qt palette: light plots on a light desktop, dark plots on a dark one.

:func:`theme_for` reads a palette (dark when its window colour's lightness is below 128);
:func:`apply_theme` recolours a whole matplotlib figure in place (backgrounds, ticks, tick labels,
spines, titles, axis labels, texts, legends). It touches the figure, so it runs where the figure
lives: on the render thread of :class:`~toolbox.gui.plot_canvas.PlotCanvas`. Texts tagged with
``set_gid(MUTED)`` (hints written in an empty plot) get the softer :attr:`PlotTheme.muted` colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtGui import QPalette

if TYPE_CHECKING:  # PySide6 only at import: the status area uses is_dark before any plot exists
    from matplotlib.figure import Figure

MUTED = "muted"  # gid of hint texts


@dataclass(frozen=True)
class PlotTheme:
    dark: bool
    background: str  # figure and axes face colour, "#rrggbb"
    foreground: str  # text, ticks, tick labels, spines
    muted: str  # hints in an empty plot
    accent: str  # the waveform and similar data lines
    marker: str  # the playback position line


LIGHT = PlotTheme(False, "#f0f0f0", "#000000", "#666666", "#1f77b4", "#d62728")
DARK_MUTED, DARK_ACCENT, DARK_MARKER = "#a8a8a8", "#6fb3e6", "#ff6b6b"


def is_dark(palette: QPalette) -> bool:
    """A dark desktop: the window colour's lightness is below 128 (of 255)."""
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def theme_for(palette: QPalette) -> PlotTheme:
    """LIGHT on a light palette; on a dark one the palette's own window and text colours."""
    if not is_dark(palette):
        return LIGHT
    window = palette.color(QPalette.ColorRole.Window).name()
    text = palette.color(QPalette.ColorRole.WindowText)
    if text.lightness() < 160:  # a palette that darkened the window but not its text
        text.setRgb(230, 230, 230)
    return PlotTheme(True, window, text.name(), DARK_MUTED, DARK_ACCENT, DARK_MARKER)


def apply_theme(figure: Figure, theme: PlotTheme) -> None:
    """Recolour every background, tick, spine, title, label, text and legend of `figure` (render thread)."""
    figure.set_facecolor(theme.background)
    for text in figure.texts:
        text.set_color(theme.muted if text.get_gid() == MUTED else theme.foreground)
    for ax in figure.axes:
        ax.set_facecolor(theme.background)
        ax.tick_params(which="both", colors=theme.foreground)  # also ticks made later
        for spine in ax.spines.values():
            spine.set_edgecolor(theme.foreground)
        for text in (ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label):
            text.set_color(theme.foreground)
        for text in ax.texts:
            text.set_color(theme.muted if text.get_gid() == MUTED else theme.foreground)
        legend = ax.get_legend()
        if legend is not None:
            style_legend(legend, theme)


def style_legend(legend, theme: PlotTheme) -> None:
    frame = legend.get_frame()
    frame.set_facecolor(theme.background)
    frame.set_edgecolor(theme.muted)
    for text in legend.get_texts():
        text.set_color(theme.foreground)
