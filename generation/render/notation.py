"""Sheet music for a piece: MusicXML (music21), engraved SVG pages and a playback timemap
(verovio's Python package).

Promises of ``render_notation``:
- ``score.musicxml`` is written by music21 from the canonical Piece (drum parts are left out:
  they are audio-only), so it parses back with the same pitched notes.
- ``score-1.svg`` ... ``score-N.svg``: one file per engraved page, laid out for a web page
  (A4-proportioned pages at a reading scale, viewBox on the root so the page scales with CSS).
- ``timemap.json``: verovio's timemap, a list of ``{"tstamp": ms, "qstamp": beats, "on": [ids],
  "off": [ids], ...}`` in increasing ``tstamp``; the ids are the SVG element ids, which is
  what the track page needs to move a cursor with the audio.

No network is ever touched: verovio's music font (Leipzig) is embedded in each SVG
(``smuflTextFont="embedded"``, never "linked", which would point the browser at a URL), and
its resources are read from the package's own data folder. Text (titles, lyrics) is set in
verovio's default "Times" family; on these machines fonts-liberation provides Liberation
Serif, which has Times' metrics, so text does not overlap in the browser.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from generation.music.notes import Piece, piece_to_musicxml

# Layout for the web: a page 210 mm wide (verovio units are tenths of mm) at 40 % scale reads
# well in a column of about 800 px; height left at A4 so long pieces break into pages.
VEROVIO_OPTIONS: dict[str, Any] = {
    "pageWidth": 2100,
    "pageHeight": 2970,
    "pageMarginLeft": 60,
    "pageMarginRight": 60,
    "pageMarginTop": 60,
    "pageMarginBottom": 60,
    "scale": 40,
    "adjustPageHeight": True,  # the last page is only as tall as its music
    "breaks": "auto",
    "header": "auto",
    "footer": "none",  # verovio's footer credits itself; not part of the score
    "svgViewBox": True,
    "smuflTextFont": "embedded",
    "font": "Leipzig",
    # ids derived from the input's checksum: the same score always gets the same SVG ids
    "xmlIdChecksum": True,
}


def _toolkit():
    """A fresh verovio toolkit using only the package's bundled resources."""
    import verovio

    if hasattr(verovio, "enableLog"):  # verovio logs layout warnings to stderr otherwise
        verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.setOptions(VEROVIO_OPTIONS)
    return tk


def engrave_musicxml(musicxml_path: str | Path, out_dir: str | Path) -> dict[str, Any]:
    """Engrave an existing MusicXML file into SVG pages and a timemap inside ``out_dir``.

    Returns ``{"svg": [paths], "pages": n, "timemap": path}``. Raises ``RuntimeError`` if
    verovio cannot read the file.
    """
    out_dir = Path(out_dir)
    tk = _toolkit()
    data = Path(musicxml_path).read_text(encoding="utf-8")
    if not tk.loadData(data):
        raise RuntimeError(f"verovio could not load {Path(musicxml_path).name}")
    pages = int(tk.getPageCount())
    svg_paths: list[Path] = []
    for page in range(1, pages + 1):
        path = out_dir / f"score-{page}.svg"
        path.write_text(tk.renderToSVG(page), encoding="utf-8")
        svg_paths.append(path)
    timemap = tk.renderToTimemap({"includeMeasures": True, "includeRests": False})
    if isinstance(timemap, str):  # older bindings return the JSON text
        timemap = json.loads(timemap)
    timemap_path = out_dir / "timemap.json"
    timemap_path.write_text(json.dumps(timemap, separators=(",", ":")), encoding="utf-8")
    return {"svg": svg_paths, "pages": pages, "timemap": timemap_path}


def render_notation(piece: Piece, out_dir: str | Path) -> dict[str, Any]:
    """Write ``score.musicxml``, ``score-<n>.svg`` pages and ``timemap.json`` into ``out_dir``.

    Returns ``{"musicxml": Path, "svg": [Path, ...], "pages": int, "timemap": Path,
    "seconds": {"musicxml": s, "engrave": s}}``. Files already there with the same names are
    overwritten; stale extra pages from an earlier, longer rendering are removed so a
    re-render never leaves a mix.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    musicxml_path = piece_to_musicxml(piece, out_dir / "score.musicxml")
    t1 = time.perf_counter()
    for stale in out_dir.glob("score-*.svg"):
        stale.unlink()
    result = engrave_musicxml(musicxml_path, out_dir)
    t2 = time.perf_counter()
    result["musicxml"] = musicxml_path
    result["seconds"] = {"musicxml": t1 - t0, "engrave": t2 - t1}
    return result
