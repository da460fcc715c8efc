"""Sheet music for a piece: MusicXML (music21), engraved SVG pages and a playback timemap
(verovio's Python package).

Promises of ``render_notation``:
- ``score.musicxml`` is written by music21 from the canonical Piece as an engraver would lay
  it out (``generation.render.engraving``: voices numbered from 1 and complete in every bar,
  grand staff / SA-TB staves, clefs by range, times cleaned, spelling by key; drum parts are
  left out: they are audio-only), so it parses back with the same pitched notes up to the
  sixteenth / triplet grid. ``engraving_check`` counts its problems (``result["check"]``),
  and a score with any is logged.
- ``score-1.svg`` ... ``score-N.svg``: one file per engraved page, laid out for a web page
  (A4-proportioned pages at a reading scale, viewBox on the root so the page scales with CSS).
- ``score-phone-1.svg`` ...: the same score laid out again for a phone's width
  (``PHONE_LAYOUT``), so a narrow screen gets whole systems at a readable size instead of
  a shrunken or sideways-scrolling page. The layouts share one loaded document, so their
  element ids are the same and one timemap serves both.
- ``timemap.json``: verovio's timemap, a list of ``{"tstamp": ms, "qstamp": beats, "on": [ids],
  "off": [ids], "measureOn": id, ...}`` in increasing ``tstamp``; the ids are the SVG element
  ids, which is what the track page needs to move a cursor with the audio. Each ``tstamp`` is
  ``piece.beat_to_seconds(qstamp)`` in ms: the Piece's own tempo map, the one the audio is
  rendered with, rather than verovio's reading of the (rounded) metronome marks, so the
  cursor and the audio agree to the millisecond however the tempo changes.

No network is ever touched: verovio's music font (Leipzig) is embedded in each SVG
(``smuflTextFont="embedded"``, never "linked", which would point the browser at a URL), and
its resources are read from the package's own data folder. Text (titles, lyrics) is set in
verovio's default "Times" family; on these machines fonts-liberation provides Liberation
Serif, which has Times' metrics, so text does not overlap in the browser.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

from generation.music.notes import Piece

log = logging.getLogger(__name__)

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


# A phone column is about 320-400 CSS px; a page 100 mm wide at the same scale draws the
# staff at nearly the size the desktop page has in its ~800 px column, and a page 150 mm
# tall holds two or three systems, about one screen.
PHONE_LAYOUT: dict[str, Any] = {"pageWidth": 1000, "pageHeight": 1500}


def _toolkit():
    """A fresh verovio toolkit using only the package's bundled resources."""
    import verovio

    if hasattr(verovio, "enableLog"):  # verovio logs layout warnings to stderr otherwise
        verovio.enableLog(verovio.LOG_OFF)
    tk = verovio.toolkit()
    tk.setOptions(VEROVIO_OPTIONS)
    return tk


def retime(timemap: list[dict[str, Any]], piece: Piece) -> list[dict[str, Any]]:
    """The timemap with each entry's ``tstamp`` (ms) and ``tempo`` taken from the Piece's
    tempo map at the entry's ``qstamp`` (quarter-note beats from the start)."""
    out = []
    for entry in timemap:
        entry = dict(entry)
        if isinstance(entry.get("qstamp"), int | float):
            beat = float(entry["qstamp"])
            entry["tstamp"] = piece.beat_to_seconds(beat) * 1000.0
            if "tempo" in entry:
                entry["tempo"] = next(
                    (bpm for at, bpm in reversed(piece.tempos) if at <= beat + 1e-9),
                    piece.tempo_bpm)
        out.append(entry)
    return out


def engrave_musicxml(musicxml_path: str | Path, out_dir: str | Path,
                     piece: Piece | None = None) -> dict[str, Any]:
    """Engrave an existing MusicXML file into SVG pages and a timemap inside ``out_dir``.

    With ``piece`` (the Piece the file was written from), the timemap's times come from its
    tempo map (see ``retime``); without, from verovio's reading of the file's tempo marks.
    Returns ``{"svg": [paths], "pages": n, "svg_phone": [paths], "timemap": path}``.
    Raises ``RuntimeError`` if verovio cannot read the file.
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
    tk.setOptions(PHONE_LAYOUT)
    tk.redoLayout()
    phone_paths: list[Path] = []
    for page in range(1, int(tk.getPageCount()) + 1):
        path = out_dir / f"score-phone-{page}.svg"
        path.write_text(tk.renderToSVG(page), encoding="utf-8")
        phone_paths.append(path)
    if isinstance(timemap, str):  # older bindings return the JSON text
        timemap = json.loads(timemap)
    if piece is not None:
        timemap = retime(timemap, piece)
    timemap_path = out_dir / "timemap.json"
    timemap_path.write_text(json.dumps(timemap, separators=(",", ":")), encoding="utf-8")
    return {"svg": svg_paths, "pages": pages, "svg_phone": phone_paths,
            "timemap": timemap_path}


def render_notation(piece: Piece, out_dir: str | Path) -> dict[str, Any]:
    """Write ``score.musicxml``, ``score-<n>.svg`` pages and ``timemap.json`` into ``out_dir``.

    Returns ``{"musicxml": Path, "svg": [Path, ...], "pages": int, "svg_phone": [Path, ...],
    "timemap": Path, "check": engraving check counts, "seconds": {"musicxml": s, "engrave": s}}``. Files already there with the same names are
    overwritten; stale extra pages from an earlier, longer rendering are removed so a
    re-render never leaves a mix.
    """
    from generation.render.engraving import engrave_piece
    from generation.render.engraving_check import check_score

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    score = engrave_piece(piece)
    musicxml_path = Path(score.write("musicxml", fp=str(out_dir / "score.musicxml")))
    check = check_score(score)
    if check["problems"]:
        log.warning("engraving check: %d problems in %r: %s", check["problems"],
                    piece.title, "; ".join(check["details"][:5]))
    t1 = time.perf_counter()
    for stale in out_dir.glob("score-*.svg"):
        stale.unlink()
    result = engrave_musicxml(musicxml_path, out_dir, piece=piece)
    t2 = time.perf_counter()
    result["musicxml"] = musicxml_path
    result["check"] = {k: v for k, v in check.items() if k != "details"}
    result["seconds"] = {"musicxml": t1 - t0, "engrave": t2 - t1}
    return result
