"""The style-labelled music data set, built from the corpus shipped inside music21.

Reading (what models and evaluation use; never parses music21):

    from generation.music.corpus import load_corpus, STYLES
    data = load_corpus()
    data.pieces                         # list[PieceInfo]
    data.piece(i_or_id) -> Piece        # materialised from memory-mapped note arrays
    data.iter(split="train", style=None)  # (PieceInfo, Piece) pairs

Building (``manage.py build_dataset``; see ``build_corpus``): parse the sources in parallel,
convert each score to a ``Piece``, quantise it to ``TICKS_PER_QUARTER``, measure attributes,
drop duplicates by a transposition-invariant melody fingerprint, split by a hash of that
fingerprint, freeze the density/register band edges at the training split's tertiles, and
write the prepared cache to ``generation/data/corpus_v1/``:

- ``notes.npy`` (or ``notes.npz`` when large): one structured array of every note, sorted by
  piece, part, onset, pitch; fields piece, part, pitch, velocity, onset, duration (ticks).
- ``pieces.json``: the PieceInfo list (with each piece's slice of the note array, its parts,
  tempo map and meter map).
- ``MANIFEST.json``: counts per style x split, band edges, sha256 of each file, the command
  that rebuilds it, the music21 version.

Sources per style:

- ``chorale``: the distinct files of ``corpus.chorales.Iterator`` (371 chorales, 350 files;
  the duplicates are the same chorale numbered twice, and the fingerprint drops them anyway).
- ``renaissance``: Monteverdi's madrigals (.mxl; the .rntxt files are Roman-numeral analyses,
  not the music, and are left out), Josquin (each .abc file is one work written as one tune a
  voice: the voices are merged into one score), and a deterministic sample of Palestrina's
  1,318 files (``PALESTRINA_FILES``, chosen by a hash of the path): all of Palestrina would be
  three quarters of the style and of the cache, and a 9-minute parse on its own.
- ``german_folk``: Essen ``essenFolksong/*.abc`` except han1/han2 (Chinese), ``irl.abc``
  (Irish songs), ``folkHaydn.abc`` (tunes Haydn quoted, not all German) and the ``test*``
  files (test copies of songs that appear elsewhere).
- ``chinese_folk``: Essen ``han1.abc`` and ``han2.abc``.
- ``celtic``: O'Neill's 1850, Ryan's Mammoth Collection, Aird's Airs.

A style larger than ``limit_per_style`` after de-duplication keeps the pieces with the
smallest hash of their source (a deterministic sample that barely moves when pieces are
added), so that no style dominates training.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from generation.music.notes import Note, Part, Piece

STYLES: list[str] = ["chorale", "renaissance", "german_folk", "chinese_folk", "celtic"]
SPLITS = ("train", "valid", "test")
TICKS_PER_QUARTER = 48  # exact for 64ths, and triplets down to triplet 32nds
FINGERPRINT_NOTES = 48
MIN_NOTES = 8
PALESTRINA_FILES = 300
DEFAULT_LIMIT_PER_STYLE = 2000
CORPUS_VERSION = "corpus_v1"
REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "generation" / "data" / CORPUS_VERSION
EXPAND_DIR = REPO_ROOT / "var" / "cache"
NPY_LIMIT_BYTES = 25 * 1024 * 1024  # above this the committed form is a compressed .npz

NOTE_DTYPE = np.dtype([("piece", "<i4"), ("part", "<i2"), ("pitch", "u1"),
                       ("velocity", "u1"), ("onset", "<i4"), ("duration", "<i4")])

_EXCLUDED_ESSEN = {"han1.abc", "han2.abc", "irl.abc", "folkHaydn.abc"}


@dataclass(frozen=True)
class PieceInfo:
    """One piece of the data set. ``id`` is stable across rebuilds (a hash of ``source``)."""

    id: str
    style: str
    split: str
    title: str
    source: str  # corpus path relative to music21's corpus, plus "#index" inside an Opus
    meter: tuple[int, int]  # the main meter: the one that covers most beats
    key: str  # estimated from the notes, e.g. "D minor"
    mode: str
    bars: int
    attributes: dict[str, Any] = field(hash=False, compare=False)
    fingerprint: str = ""
    note_start: int = 0
    note_count: int = 0
    parts: tuple[tuple[str, int], ...] = ()  # (name, General MIDI program) per part
    tempos: tuple[tuple[float, float], ...] = ((0.0, 120.0),)
    time_signatures: tuple[tuple[float, int, int], ...] = ((0.0, 4, 4),)
    written_key: str | None = None

    @staticmethod
    def from_json(d: dict[str, Any]) -> PieceInfo:
        d = dict(d)
        d["meter"] = tuple(d["meter"])
        d["parts"] = tuple((str(n), int(p)) for n, p in d["parts"])
        d["tempos"] = tuple((float(b), float(t)) for b, t in d["tempos"])
        d["time_signatures"] = tuple((float(b), int(n), int(m)) for b, n, m in
                                     d["time_signatures"])
        return PieceInfo(**d)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------
def notes_to_piece(info: PieceInfo, notes: np.ndarray) -> Piece:
    """Materialise a Piece from its slice of the structured note array."""
    parts = [Part(notes=[], program=prog, name=name) for name, prog in info.parts]
    tpq = float(TICKS_PER_QUARTER)
    for part_i, pitch, vel, onset, dur in zip(notes["part"].tolist(), notes["pitch"].tolist(),
                                              notes["velocity"].tolist(),
                                              notes["onset"].tolist(),
                                              notes["duration"].tolist(), strict=True):
        while part_i >= len(parts):
            parts.append(Part())
        parts[part_i].notes.append(Note(onset / tpq, pitch, dur / tpq, vel))
    return Piece(parts=parts, tempos=list(info.tempos),
                 time_signatures=list(info.time_signatures), key=info.key, title=info.title)


class Corpus:
    """The prepared data set: PieceInfo list plus a memory-mapped note array."""

    def __init__(self, pieces: list[PieceInfo], notes: np.ndarray, manifest: dict[str, Any]):
        self.pieces = pieces
        self.notes = notes
        self.manifest = manifest
        self._by_id = {p.id: i for i, p in enumerate(pieces)}

    def __len__(self) -> int:
        return len(self.pieces)

    def info(self, i_or_id: int | str) -> PieceInfo:
        return self.pieces[self.index(i_or_id)]

    def index(self, i_or_id: int | str) -> int:
        return self._by_id[i_or_id] if isinstance(i_or_id, str) else int(i_or_id)

    def note_array(self, i_or_id: int | str) -> np.ndarray:
        """The piece's rows of the structured note array (ticks at TICKS_PER_QUARTER)."""
        info = self.info(i_or_id)
        return self.notes[info.note_start:info.note_start + info.note_count]

    def piece(self, i_or_id: int | str) -> Piece:
        info = self.info(i_or_id)
        return notes_to_piece(info, np.asarray(self.note_array(i_or_id)))

    def select(self, split: str | None = None, style: str | None = None) -> list[PieceInfo]:
        return [p for p in self.pieces if (split is None or p.split == split)
                and (style is None or p.style == style)]

    def iter(self, split: str | None = "train",
             style: str | None = None) -> Iterator[tuple[PieceInfo, Piece]]:
        """(PieceInfo, Piece) for the pieces of one split (None: all) and style (None: all)."""
        for info in self.select(split, style):
            yield info, self.piece(info.id)

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {s: dict.fromkeys(SPLITS, 0) for s in STYLES}
        for p in self.pieces:
            out.setdefault(p.style, dict.fromkeys(SPLITS, 0))[p.split] += 1
        return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _notes_path(data_dir: Path) -> Path:
    """The .npy to memory-map: the committed one, or the .npz expanded once into var/cache."""
    npy = data_dir / "notes.npy"
    if npy.exists():
        return npy
    npz = data_dir / "notes.npz"
    if not npz.exists():
        raise FileNotFoundError(f"no notes.npy or notes.npz in {data_dir}; "
                                "run `manage.py build_dataset`")
    digest = _sha256(npz)[:16]
    target = EXPAND_DIR / f"{data_dir.name}-{digest}-notes.npy"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        with np.load(npz) as z:
            arr = z["notes"]
        tmp = target.with_name(target.name + f".tmp{os.getpid()}")
        with tmp.open("wb") as f:  # a file object: np.save adds no suffix
            np.save(f, arr)
        os.replace(tmp, target)  # atomic, so a concurrent reader never sees half a file
    return target


_LOADED: dict[Path, Corpus] = {}


def load_corpus(data_dir: str | Path | None = None) -> Corpus:
    """Open the prepared cache (cached per process). Never parses music21."""
    data_dir = Path(data_dir) if data_dir else DATA_DIR
    key = data_dir.resolve()
    if key not in _LOADED:
        pieces = [PieceInfo.from_json(d) for d in
                  json.loads((data_dir / "pieces.json").read_text(encoding="utf-8"))]
        notes = np.load(_notes_path(data_dir), mmap_mode="r")
        manifest_path = data_dir / "MANIFEST.json"
        manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
        _LOADED[key] = Corpus(pieces, notes, manifest)
    return _LOADED[key]


# ---------------------------------------------------------------------------------------------
# Fingerprint, split, sampling
# ---------------------------------------------------------------------------------------------
def melody_fingerprint(piece: Piece, n_notes: int = FINGERPRINT_NOTES) -> str:
    """Transposition- and tempo-notation-invariant fingerprint of the top voice's opening.

    The top voice is the first part's skyline (its highest pitch at each onset). The first
    ``n_notes`` of it give an interval sequence (semitones) and a rhythm: inter-onset times
    divided by their median, rounded to 1/4, so a tune written in halved note values (L:1/16
    against L:1/8) fingerprints the same. Returns a hex sha1.
    """
    part = next((p for p in piece.parts if p.notes and not p.is_drum), None)
    if part is None:
        return hashlib.sha1(b"empty").hexdigest()
    top: dict[float, int] = {}
    for n in part.notes:
        k = round(n.onset, 4)
        top[k] = max(top.get(k, -1), n.pitch)
    onsets = sorted(top)[:n_notes + 1]
    pitches = np.array([top[o] for o in onsets], dtype=np.int64)
    intervals = np.diff(pitches[:n_notes]).tolist()
    iois = np.diff(np.array(onsets, dtype=np.float64))
    if iois.size:
        med = float(np.median(iois)) or 1.0
        rhythm = np.round(iois / med * 4).astype(np.int64).tolist()
    else:
        rhythm = []
    return hashlib.sha1(json.dumps([intervals, rhythm]).encode()).hexdigest()


def split_of(fingerprint: str) -> str:
    """Split by a hash of the fingerprint: 80% train, 10% valid, 10% test, fixed forever.

    Depends on nothing but the fingerprint, so adding pieces never moves another piece and
    duplicates (same fingerprint) can never straddle splits.
    """
    bucket = int(hashlib.sha256(("split:" + fingerprint).encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 80 else ("valid" if bucket < 90 else "test")


def _source_rank(source: str) -> str:
    return hashlib.sha256(("sample:" + source).encode()).hexdigest()


def piece_id(style: str, source: str) -> str:
    return f"{style}-{hashlib.sha1(source.encode()).hexdigest()[:12]}"


def _source_sort_key(source: str) -> tuple[str, int]:
    path, _, idx = source.partition("#")
    return (path, int(idx) if idx else -1)


def dedupe(records: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Keep the first record of each fingerprint (styles in STYLES order, then by source).

    Returns (kept, number dropped).
    """
    order = sorted(records, key=lambda r: (STYLES.index(r["style"]) if r["style"] in STYLES
                                           else len(STYLES), _source_sort_key(r["source"])))
    seen: set[str] = set()
    kept = []
    for r in order:
        if r["fingerprint"] in seen:
            continue
        seen.add(r["fingerprint"])
        kept.append(r)
    return kept, len(records) - len(kept)


# ---------------------------------------------------------------------------------------------
# Sources and parsing (build time only)
# ---------------------------------------------------------------------------------------------
def _corpus_root() -> Path:
    import music21

    return Path(music21.__file__).parent / "corpus"


def source_files(styles: Sequence[str] = STYLES) -> list[tuple[str, str]]:
    """(style, corpus-relative path) for every file the data set is built from."""
    from music21 import corpus

    root = _corpus_root()
    rel = sorted(str(p.relative_to(root)) for p in map(Path, corpus.getCorePaths()))
    out: list[tuple[str, str]] = []
    for style in styles:
        if style == "chorale":
            from music21.corpus import chorales

            names = sorted(set(chorales.Iterator(returnType="filename")))
            for name in names:
                path = corpus.getWork(name)
                path = path[0] if isinstance(path, list) else path
                out.append((style, str(Path(path).relative_to(root))))
        elif style == "renaissance":
            pal = [p for p in rel if p.startswith("palestrina/")]
            pal = sorted(sorted(pal, key=_source_rank)[:PALESTRINA_FILES])
            # .rntxt files are Roman-numeral analyses of the madrigals (block chords), not
            # the music: the madrigals themselves are there as .mxl.
            out += [(style, p) for p in rel if p.startswith(("monteverdi/", "josquin/"))
                    and not p.endswith(".rntxt")]
            out += [(style, p) for p in pal]
        elif style == "german_folk":
            out += [(style, p) for p in rel if p.startswith("essenFolksong/")
                    and Path(p).name not in _EXCLUDED_ESSEN
                    and not Path(p).name.startswith("test")]
        elif style == "chinese_folk":
            out += [(style, p) for p in rel if Path(p).name in ("han1.abc", "han2.abc")
                    and p.startswith("essenFolksong/")]
        elif style == "celtic":
            out += [(style, p) for p in rel
                    if p.startswith(("oneills1850/", "ryansMammoth/", "airdsAirs/"))]
        else:
            raise ValueError(f"unknown style {style!r}")
    return out


def quantize(piece: Piece) -> Piece:
    """The piece with onsets and durations rounded to the cache's tick grid (min 1 tick)."""
    tpq = TICKS_PER_QUARTER
    parts = []
    for p in piece.parts:
        notes = sorted({Note(round(n.onset * tpq) / tpq, int(n.pitch),
                             max(1, round(n.duration * tpq)) / tpq,
                             int(min(127, max(1, n.velocity)))) for n in p.notes})
        parts.append(Part(notes=notes, program=p.program, is_drum=p.is_drum, name=p.name))
    return Piece(parts=parts, tempos=list(piece.tempos),
                 time_signatures=list(piece.time_signatures), key=piece.key, title=piece.title)


def _record(style: str, source: str, score, title: str) -> dict[str, Any] | None:
    from generation.music.attributes import measure_attributes
    from generation.music.notes import piece_from_music21
    from generation.music.pianoroll import main_meter

    piece = quantize(piece_from_music21(score, title=title))
    piece.parts = [p for p in piece.parts if p.notes and not p.is_drum]
    n_notes = sum(len(p.notes) for p in piece.parts)
    if n_notes < MIN_NOTES:
        return None
    if min(n.onset for p in piece.parts for n in p.notes) < 0:
        return None
    rows = [(pi, n.pitch, n.velocity, round(n.onset * TICKS_PER_QUARTER),
             round(n.duration * TICKS_PER_QUARTER))
            for pi, p in enumerate(piece.parts) for n in p.notes]
    written_key = piece.key
    meter = main_meter(piece)
    attrs = measure_attributes(piece)
    return {
        "style": style, "source": source, "title": title,
        "rows": np.array(rows, dtype=np.int64),
        "parts": [(p.name, int(p.program)) for p in piece.parts],
        "tempos": [(float(b), float(t)) for b, t in piece.tempos],
        "time_signatures": [(float(b), int(n), int(d)) for b, n, d in piece.time_signatures],
        "meter": list(meter),
        "bars": max(1, math.ceil(piece.end_beat / (meter[0] * 4 / meter[1]) - 1e-9)),
        "written_key": written_key, "attributes": attrs,
        "fingerprint": melody_fingerprint(piece),
    }


def _title(score, fallback: str) -> str:
    md = getattr(score, "metadata", None)
    title = (md.title if md is not None and md.title else "") or fallback
    return str(title)[:200]


def parse_source(job: tuple[str, str]) -> tuple[str, str, list[dict[str, Any]], str | None,
                                                 float]:
    """Parse one corpus file into records (an Opus gives one record per score).

    Returns (style, path, records, error or None, seconds). Never raises: a file that fails
    is reported and skipped.
    """
    from music21 import converter, stream

    style, rel = job
    t0 = time.time()
    records: list[dict[str, Any]] = []
    try:
        # converter.parse on the absolute path hits music21's pickle cache (warmed separately)
        parsed = converter.parse(str(_corpus_root() / rel))
        if style == "renaissance" and isinstance(parsed, stream.Opus):
            # Josquin's .abc files hold one work a file, one voice a tune: merge the voices.
            parsed = parsed.mergeScores()
        if isinstance(parsed, stream.Opus):
            for i, score in enumerate(parsed.scores):
                source = f"{rel}#{i}"
                try:
                    rec = _record(style, source, score, _title(score, source))
                except Exception as e:  # one bad tune must not lose the whole book
                    rec = None
                    records.append({"error": f"{source}: {e!r}"[:200]})
                if rec:
                    records.append(rec)
        else:
            rec = _record(style, rel, parsed, _title(parsed, Path(rel).stem))
            if rec:
                records.append(rec)
        errors = [r["error"] for r in records if "error" in r]
        records = [r for r in records if "error" not in r]
        return style, rel, records, ("; ".join(errors)[:300] or None), time.time() - t0
    except Exception as e:
        return style, rel, records, repr(e)[:300], time.time() - t0


# ---------------------------------------------------------------------------------------------
# Building
# ---------------------------------------------------------------------------------------------
def write_pieces_json(path: Path, infos: Sequence[dict[str, Any]]) -> None:
    """One piece a line: compact, yet a rebuild's diff shows which pieces changed."""
    lines = [json.dumps(d, ensure_ascii=False, separators=(",", ":")) for d in infos]
    path.write_text("[\n" + ",\n".join(lines) + "\n]\n", encoding="utf-8")


def _tertiles(values: Sequence[float]) -> list[float]:
    arr = np.asarray(values, dtype=np.float64)
    return [round(float(np.quantile(arr, 1 / 3)), 4), round(float(np.quantile(arr, 2 / 3)), 4)]


def build_corpus(styles: Sequence[str] = STYLES, workers: int = 2,
                 limit_per_style: int | None = DEFAULT_LIMIT_PER_STYLE,
                 out_dir: Path | None = None, refreeze_bands: bool = False,
                 command: str = "", progress: bool = True,
                 log=print) -> dict[str, Any]:
    """Parse, convert, measure, de-duplicate, split and write the prepared cache.

    ``limit_per_style`` caps files (before parsing; by hash of the path) and pieces (after
    de-duplication; by hash of the source). Band edges are written into the schema only while
    unset, or when ``refreeze_bands``. Returns the manifest.
    """
    import multiprocessing as mp

    import music21
    from tqdm import tqdm

    from generation.music import schema

    out_dir = Path(out_dir) if out_dir else DATA_DIR
    t_start = time.time()
    jobs = source_files(styles)
    if limit_per_style:
        by_style: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for j in jobs:
            by_style[j[0]].append(j)
        jobs = [j for s in styles for j in
                sorted(by_style[s], key=lambda j: _source_rank(j[1]))[:limit_per_style]]
    # big Opus books first, so that the pool does not end waiting on one of them
    jobs.sort(key=lambda j: -(_corpus_root() / j[1]).stat().st_size)

    records: list[dict[str, Any]] = []
    errors: list[str] = []
    ctx = mp.get_context("fork")
    with ctx.Pool(max(1, workers), maxtasksperchild=50) as pool:
        it = pool.imap_unordered(parse_source, jobs, chunksize=1)
        for _style, rel, recs, err, _dt in tqdm(it, total=len(jobs), disable=not progress,
                                                desc="parsing", unit="file"):
            records.extend(recs)
            if err:
                errors.append(f"{rel}: {err}")
    t_parse = time.time() - t_start
    n_parsed = len(records)
    records, n_dupes = dedupe(records)

    capped: Counter[str] = Counter()
    if limit_per_style:
        by_style_r: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in records:
            by_style_r[r["style"]].append(r)
        kept = []
        for s, rs in by_style_r.items():
            rs = sorted(rs, key=lambda r: _source_rank(r["source"]))
            capped[s] = max(0, len(rs) - limit_per_style)
            kept += rs[:limit_per_style]
        records = kept
    records.sort(key=lambda r: (STYLES.index(r["style"]), _source_sort_key(r["source"])))
    for r in records:
        r["split"] = split_of(r["fingerprint"])

    # Band edges: tertiles of the training split, frozen once written.
    train = [r for r in records if r["split"] == "train"]
    measured = {"density_band": _tertiles([r["attributes"]["density"] for r in train]),
                "register_band": _tertiles([r["attributes"]["register"] for r in train])}
    current = {a: schema.band_edges(a) for a in measured}
    if refreeze_bands or any(v is None for v in current.values()):
        schema.write_band_edges(measured)
        log(f"froze band edges: {measured}")
    else:
        log(f"band edges already frozen, kept: {current} (training tertiles now: {measured})")
    for r in records:
        a = r["attributes"]
        a["density_band"] = schema.density_band(a["density"])
        a["register_band"] = schema.register_band(a["register"])

    # Note array and PieceInfo list.
    infos: list[dict[str, Any]] = []
    chunks = []
    start = 0
    for i, r in enumerate(records):
        rows = r["rows"]
        arr = np.zeros(len(rows), dtype=NOTE_DTYPE)
        arr["piece"] = i
        arr["part"], arr["pitch"], arr["velocity"] = rows[:, 0], rows[:, 1], rows[:, 2]
        arr["onset"], arr["duration"] = rows[:, 3], rows[:, 4]
        arr.sort(order=["part", "onset", "pitch"])
        chunks.append(arr)
        a = r["attributes"]
        info = PieceInfo(
            id=piece_id(r["style"], r["source"]), style=r["style"], split=r["split"],
            title=r["title"], source=r["source"], meter=tuple(r["meter"]), key=a["key"],
            mode=a["mode"], bars=int(r["bars"]), attributes=a, fingerprint=r["fingerprint"],
            note_start=start, note_count=len(arr), parts=tuple(map(tuple, r["parts"])),
            tempos=tuple(map(tuple, r["tempos"])),
            time_signatures=tuple(map(tuple, r["time_signatures"])),
            written_key=r["written_key"])
        infos.append(asdict(info))
        start += len(arr)
    notes = np.concatenate(chunks) if chunks else np.zeros(0, dtype=NOTE_DTYPE)

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in ("notes.npy", "notes.npz"):
        (out_dir / old).unlink(missing_ok=True)
    if notes.nbytes > NPY_LIMIT_BYTES:
        np.savez_compressed(out_dir / "notes.npz", notes=notes)
        files = ["notes.npz", "pieces.json"]
    else:
        np.save(out_dir / "notes.npy", notes)
        files = ["notes.npy", "pieces.json"]
    write_pieces_json(out_dir / "pieces.json", infos)
    counts: dict[str, dict[str, int]] = {s: dict.fromkeys(SPLITS, 0) for s in styles}
    for r in records:
        counts[r["style"]][r["split"]] += 1
    manifest = {
        "version": CORPUS_VERSION,
        "note": ("Prepared cache, committed on purpose: it is small and saves every test and "
                 "evaluation a ~20-minute music21 parse. load_corpus() reads it and never "
                 "parses; rebuild only when the sources or the conversion change."),
        "rebuild_command": command or "python manage.py build_dataset",
        "music21_version": music21.__version__,
        "ticks_per_quarter": TICKS_PER_QUARTER,
        "note_fields": list(NOTE_DTYPE.names),
        "pieces": len(records), "notes": int(len(notes)),
        "counts": counts,
        "totals": {s: sum(c.values()) for s, c in counts.items()},
        "parsed_records": n_parsed, "duplicates_dropped": n_dupes,
        "capped_by_limit": dict(capped), "limit_per_style": limit_per_style,
        "palestrina_files_sampled": PALESTRINA_FILES,
        "band_edges": {a: list(schema.band_edges(a) or []) for a in measured},
        "training_tertiles_at_build": measured,
        "parse_errors": errors[:50], "parse_error_count": len(errors),
        "build_seconds": round(time.time() - t_start, 1),
        "parse_seconds": round(t_parse, 1),
        "files": {f: {"sha256": _sha256(out_dir / f), "bytes": (out_dir / f).stat().st_size}
                  for f in files},
    }
    (out_dir / "MANIFEST.json").write_text(json.dumps(manifest, indent=2) + "\n",
                                           encoding="utf-8")
    _LOADED.pop(out_dir.resolve(), None)
    return manifest
