"""A piano-roll picture of a piece (PNG), drawn with matplotlib's Agg backend (no display).

Each note is a bar from its onset to its end at its pitch, one colour per part; bar lines
are drawn faintly; for a continuation the boundary between the user's seed and the model's
music is drawn as a dashed line so the listener sees where the model took over.
"""

from __future__ import annotations

import functools
from pathlib import Path

from generation.music.notes import Piece

# colour-blind-safe qualitative palette (Okabe & Ito), cycled over parts
PART_COLOURS = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#D55E00",
    "#56B4E9",
    "#F0E442",
    "#000000",
)


_CJK_FONT_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)


@functools.cache
def _title_fonts() -> list[str]:
    """Installed font families for titles, with a CJK fallback (fonts-wqy-zenhei or Noto CJK)
    so that a Chinese mood as the title is drawn, not shown as boxes."""
    from matplotlib import font_manager

    for path in _CJK_FONT_FILES:  # matplotlib's font cache may predate the font's install
        if Path(path).exists():
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError):
                pass
    installed = {f.name for f in font_manager.fontManager.ttflist}
    wanted = ["DejaVu Sans", "WenQuanYi Zen Hei", "Noto Sans CJK SC", "Noto Sans CJK JP"]
    return [name for name in wanted if name in installed] or ["sans-serif"]


def render_pianoroll(
    piece: Piece,
    out_path: str | Path,
    boundary_beat: float | None = None,
    width_px: int = 1200,
    height_px: int = 360,
    dpi: int = 100,
    layout: dict | None = None,
) -> Path:
    """Write a PNG piano roll of ``piece`` to ``out_path`` and return the path.

    ``boundary_beat``, when given, draws the continuation boundary (in quarter-note beats).
    The pitch axis spans the piece's own range plus a little margin, so a solo line is not a
    thin stripe; an empty piece still produces a (blank) image. ``layout``, when given, is
    filled with where the time axis lies in the picture: ``roll_x0`` and ``roll_x1`` (beat 0
    and ``end_beat``, as fractions of the width from the left), so a page can lay a
    selection over it.
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure  # Figure without pyplot keeps no global state
    from matplotlib.patches import Patch, Rectangle

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    ax = fig.add_subplot(1, 1, 1)

    pitches = [n.pitch for p in piece.parts if not p.is_drum for n in p.notes]
    low, high = (min(pitches) - 2, max(pitches) + 2) if pitches else (48, 72)
    end = max(piece.end_beat, boundary_beat or 0.0, piece.bar_beats)

    legend = []
    for i, part in enumerate(piece.parts):
        colour = PART_COLOURS[i % len(PART_COLOURS)]
        for n in part.notes:
            # drums have no pitch to show; put them on a strip under the pitched notes
            y = low - 1.5 if part.is_drum else n.pitch - 0.4
            ax.add_patch(
                Rectangle(
                    (n.onset, y),
                    max(n.duration, 0.05),
                    0.8,
                    facecolor=colour,
                    edgecolor="none",
                    alpha=0.85,
                )
            )
        legend.append(Patch(facecolor=colour, label=part.name or f"part {i + 1}"))

    # bar lines for the first meter (meter changes are rare in what we generate)
    beat = 0.0
    while beat <= end + 1e-9:
        ax.axvline(beat, color="#cccccc", linewidth=0.6, zorder=0)
        beat += piece.bar_beats
    if boundary_beat is not None:
        ax.axvline(
            boundary_beat,
            color="#d62728",
            linestyle="--",
            linewidth=1.5,
            label="continuation starts",
        )
    has_drums = any(p.is_drum and p.notes for p in piece.parts)
    ax.set_xlim(0, end)
    ax.set_ylim(low - (2.5 if has_drums else 0.5), high + 0.5)
    ax.set_xlabel("beats")
    ax.set_ylabel("MIDI pitch")
    if piece.title:
        ax.set_title(piece.title, fontsize=10, fontfamily=_title_fonts())
    if legend and len(legend) <= 8:
        ax.legend(handles=legend, loc="upper right", fontsize=7, framealpha=0.7)
    fig.tight_layout()
    if layout is not None:
        box = ax.get_position()
        layout.update(roll_x0=round(float(box.x0), 5), roll_x1=round(float(box.x1), 5),
                      end_beat=float(end))
    fig.savefig(str(out_path), format="png")
    return out_path
