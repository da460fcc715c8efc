"""The engine API the worker calls: ``compose(...)`` from attributes, ``continue_piece(...)``
from a seed, both returning ``GeneratedPiece`` variants. No Django here.

Promises:
- ``compose`` writes ``bars`` new bars conditioned on the style and the attribute bands
  (mode, density_band, register_band); the meter is sampled by the model for the style unless
  given; the tempo is written from ``tempo_bpm`` (a rendering parameter, not learned).
- ``continue_piece`` returns the seed's own notes verbatim (the same Note objects' values, not
  re-quantized) in the seed's own parts, followed by ``bars`` new bars that start at the first
  bar line after the seed's last note-off (``boundary_beat``), in the seed's meter, tempo and
  key; mode is measured from the seed, density and register too unless ``attributes`` gives
  them, and the style is the one under which the model finds the seed most likely (unless
  given). Drums are kept and
  not continued. A seed longer than the model's context is continued from its last bars.
- The same seed and settings give the same notes, alone or as one variant among several.
- ``candidates`` > 1 samples that many continuations per variant and keeps the one whose
  re-measured mode, density band and register band match the request best.
- Every result carries ``model_version`` (the first 12 hex digits of the weights' sha256).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch

from generation.ml.device import select_device
from generation.ml.guidance import GuideTarget
from generation.ml.sampling import SampleSettings, _window, sample
from generation.music.notes import Note, Part, Piece
from generation.music.tokenizer import Tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CHECKPOINT = REPO_ROOT / "generation" / "checkpoints" / "transformer"

# General MIDI programs a freshly composed piece is written for, per style and track.
STYLE_PROGRAMS: dict[str, list[int]] = {
    "chorale": [19, 19, 19, 19],  # church organ
    "renaissance": [52, 52, 52, 52, 52, 52],  # choir aahs
    "german_folk": [0],  # acoustic grand piano
    "chinese_folk": [73],  # flute
    "celtic": [40],  # violin
}
DEFAULT_ATTRIBUTES = {"mode": "major", "density_band": "moderate", "register_band": "middle"}
# Candidates sampled per variant; the one whose measured attributes match the request best is
# kept (attribute-guided reranking on top of the conditioning prefix). 1 = plain sampling.
# 8 because the bare model follows the density and register tokens but hardly the mode token
# (flipping it moves the validation loss by < 0.001 nats/token), so one sample in two has the
# requested mode; see reports/evaluation.md for the bare and the reranked accuracy.
DEFAULT_CANDIDATES = 8
# Strength of the attribute guidance (``guidance.py``): a feedback bias on the logits that
# keeps each row's running density and mean pitch inside the requested bands and its notes in
# a key of the requested mode. 0 = off.
DEFAULT_GUIDANCE = 3.0


@dataclass
class GeneratedPiece:
    """One variant. ``piece`` holds the whole result (seed + new bars for a continuation)."""

    piece: Piece
    seed: int  # the sampling seed that reproduces it
    variant: int  # 1-based
    model_version: str
    style: str
    attributes: dict  # the conditioning used: mode, density_band, register_band
    boundary_beat: float = 0.0  # where the new music starts (0 for compose)
    new_bars: int = 0
    tokens: list[int] = field(default_factory=list, repr=False)  # the new tokens


@dataclass
class MusicEngine:
    """A loaded checkpoint: model, tokenizer, device and version."""

    model: torch.nn.Module
    tok: Tokenizer
    device: torch.device
    version: str
    directory: Path
    meta: dict
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


def model_version(weights_path: str | Path) -> str:
    """First 12 hex digits of the sha256 of the weights file."""
    h = hashlib.sha256()
    with Path(weights_path).open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()[:12]


def load_model(directory: str | Path = DEFAULT_CHECKPOINT,
               device: str | torch.device | None = None) -> MusicEngine:
    from generation.ml.train_transformer import load_checkpoint

    directory = Path(directory)
    dev = device if isinstance(device, torch.device) else select_device(device)
    model, tok, meta = load_checkpoint(directory, dev)
    return MusicEngine(model, tok, dev, model_version(directory / "model.safetensors"),
                       directory, meta)


_DEFAULT: dict[str, MusicEngine] = {}
_DEFAULT_LOCK = threading.Lock()


def load_default_model(device: str | torch.device | None = None) -> MusicEngine:
    """The committed checkpoint, loaded once per process and device."""
    key = str(select_device(device))
    with _DEFAULT_LOCK:
        if key not in _DEFAULT:
            _DEFAULT[key] = load_model(DEFAULT_CHECKPOINT, key)
        return _DEFAULT[key]


def _seeds(seed: int | None, variants: int) -> list[int]:
    base = secrets.randbelow(2**31) if seed is None else int(seed)
    return [(base + i) % (2**63) for i in range(variants)]


def _bands(attributes: dict | None, fallback: dict) -> dict:
    out = dict(fallback)
    for key in ("mode", "density_band", "register_band"):
        if attributes and attributes.get(key):
            out[key] = attributes[key]
    return out


def _check(tok: Tokenizer, style: str, bands: dict) -> None:
    c = tok.config
    if style not in c.styles:
        raise ValueError(f"unknown style {style!r}; one of {', '.join(c.styles)}")
    for key, allowed in (("mode", c.modes), ("density_band", c.density_bands),
                         ("register_band", c.register_bands)):
        if bands[key] not in allowed:
            raise ValueError(f"{key} must be one of {', '.join(allowed)}")


def compose(attributes: dict, style: str, bars: int = 8, temperature: float = 1.0,
            top_p: float = 0.95, seed: int | None = None, variants: int = 1,
            tempo_bpm: float | None = None, meter: tuple[int, int] | None = None,
            model: MusicEngine | None = None,
            candidates: int = DEFAULT_CANDIDATES,
            guidance: float = DEFAULT_GUIDANCE) -> list[GeneratedPiece]:
    """New pieces of ``bars`` bars from the style and attribute bands (see module doc)."""
    engine = model or load_default_model()
    tok = engine.tok
    bands = _bands(attributes, DEFAULT_ATTRIBUTES)
    _check(tok, style, bands)
    if bars < 1 or variants < 1:
        raise ValueError("bars and variants must be at least 1")
    tempo = float(tempo_bpm or (attributes or {}).get("tempo_bpm") or 100.0)
    prompt = tok.prefix(style, bands["mode"], bands["density_band"], bands["register_band"],
                        meter or (4, 4))
    if meter is None:
        prompt = prompt[:-1]  # let the model pick a meter that suits the style
    seeds = _seeds(seed, variants)
    settings = SampleSettings(bars=bars, temperature=temperature, top_p=top_p,
                              guide=_guide(bands, guidance))
    programs = STYLE_PROGRAMS.get(style, [0])

    def matches(new: list[int]) -> int:
        return _matches(tok.decode(prompt + new, programs=programs), bands)

    outs = _sample_best(engine, prompt, seeds, settings, candidates, matches)
    results = []
    for i, (s, new) in enumerate(zip(seeds, outs, strict=True)):
        piece = tok.decode(prompt + new, programs=programs, tempo_bpm=tempo,
                           title=f"{style.replace('_', ' ')} {i + 1}")
        piece.parts = [p for p in piece.parts if p.notes] or piece.parts[:1]
        piece = _with_dynamics(_with_estimated_key(piece), (attributes or {}).get("dynamics"),
                               tok.config.default_velocity)
        results.append(GeneratedPiece(piece, s, i + 1, engine.version, style, bands,
                                      0.0, new.count(tok.bar), new))
    return results


def _guide(bands: dict, strength: float) -> GuideTarget | None:
    """The guidance target for the requested mode, density and register bands (None when
    off). The mode's bias is a third of the others': its profile spans about three logits."""
    if strength <= 0:
        return None
    return GuideTarget.for_bands(bands.get("density_band"), bands.get("register_band"),
                                 strength, strength, bands.get("mode"), strength / 3)


def _candidate_seed(seed: int, c: int) -> int:
    """Seed of the c-th candidate of a variant (candidate 0 uses the variant's own seed)."""
    return seed if c == 0 else (seed + c * 1_000_003 * 7919) % (2**63)


def _matches(piece: Piece, bands: dict) -> int:
    """How many of mode, density band and register band the piece's notes measure as."""
    from generation.music.attributes import measure_attributes

    if not piece.note_count:
        return 0
    got = measure_attributes(piece)
    return sum(got.get(k) == bands[k] for k in ("mode", "density_band", "register_band"))


def _sample_best(engine: MusicEngine, prompt: list[int], seeds: list[int],
                 settings: SampleSettings, candidates: int, score) -> list[list[int]]:
    """Sample ``candidates`` continuations per variant in one batch; keep, per variant, the
    one whose measured attributes match the request best (the first on ties). With
    candidates=1 this is plain sampling. Deterministic: candidate seeds derive from the
    variant's seed, and each row samples independently of the others."""
    k = max(1, int(candidates))
    row_seeds = [_candidate_seed(s, c) for s in seeds for c in range(k)]
    with engine.lock:
        rows = sample(engine.model, engine.tok, [prompt] * len(row_seeds), row_seeds,
                      settings, engine.device)
    out = []
    for v in range(len(seeds)):
        group = rows[v * k:(v + 1) * k]
        if k == 1:
            out.append(group[0])
            continue
        scores = [score(new) for new in group]
        out.append(group[max(range(k), key=lambda c: (scores[c], -c))])
    return out


def _with_dynamics(piece: Piece, dynamics: str | None, default_velocity: int) -> Piece:
    """Shift velocities so that the model's mf lands on the mood's dynamic (a rendering
    parameter like tempo: the schema maps pp..ff to velocities)."""
    from generation.music.schema import load_schema

    table = load_schema()["attributes"]["dynamics"]["velocity"]
    if dynamics not in table:
        return piece
    shift = int(table[dynamics]) - default_velocity
    for part in piece.parts:
        part.notes = [replace(n, velocity=min(127, max(1, n.velocity + shift)))
                      for n in part.notes]
    return piece


def _with_estimated_key(piece: Piece) -> Piece:
    from generation.music.key import estimate_key

    if piece.note_count:
        piece.key = estimate_key(piece)
    return piece


def guess_style(engine: MusicEngine, body: list[int], meter: tuple[int, int],
                bands: dict) -> str:
    """The style under whose prefix the model finds the seed's tokens most likely."""
    tok = engine.tok
    body = body[: engine.model.config.block_size - tok.PREFIX_LEN]
    rows = [tok.prefix(s, bands["mode"], bands["density_band"], bands["register_band"], meter)
            + body for s in tok.config.styles]
    idx = torch.tensor(rows, device=engine.device)
    with torch.no_grad():
        logits, _ = engine.model(idx[:, :-1])
    logp = torch.log_softmax(logits.float(), dim=-1)
    target = idx[:, 1:]
    scores = logp.gather(-1, target[..., None])[..., 0][:, tok.PREFIX_LEN - 1:].sum(dim=1)
    return tok.config.styles[int(torch.argmax(scores))]


def continue_piece(seed_piece: Piece, bars: int = 8, temperature: float = 1.0,
                   top_p: float = 0.95, seed: int | None = None, variants: int = 1,
                   style: str | None = None, attributes: dict | None = None,
                   model: MusicEngine | None = None,
                   candidates: int = DEFAULT_CANDIDATES,
                   guidance: float = DEFAULT_GUIDANCE) -> list[GeneratedPiece]:
    """The seed followed by ``bars`` new bars, ``variants`` times (see module doc)."""
    from generation.music.attributes import measure_attributes

    engine = model or load_default_model()
    tok = engine.tok
    if bars < 1 or variants < 1:
        raise ValueError("bars and variants must be at least 1")
    pitched = [p for p in seed_piece.parts if not p.is_drum]
    if not any(p.notes for p in pitched):
        raise ValueError("the seed has no pitched notes to continue")
    modelled = replace(seed_piece, parts=pitched)
    measured = measure_attributes(modelled)
    fallback = {k: measured.get(k) or DEFAULT_ATTRIBUTES[k] for k in DEFAULT_ATTRIBUTES}
    bands = _bands(attributes, fallback)
    bands["mode"] = fallback["mode"]  # the continuation stays in the seed's key and mode
    first_meter = seed_piece.time_signature
    seed_events = tok.events(modelled)  # raises UnsupportedPiece (a ValueError) on odd meters
    body = tok.encode(modelled, events=seed_events)
    lines = seed_events[0]  # the bar lines the tokens carry
    last_ts = lines[-1][1]
    boundary = (lines[-1][0] + tok.timesig_steps[last_ts]) / tok.q
    last_meter = tuple(tok.config.time_signatures[last_ts])
    if style is None:
        style = guess_style(engine, body, first_meter, bands)
    _check(tok, style, bands)
    prompt = tok.prefix(style, bands["mode"], bands["density_band"], bands["register_band"],
                        first_meter) + body
    limit = engine.model.config.block_size
    if len(prompt) > limit - 32:
        prompt = _window(tok, prompt, limit)  # the seed's last bars, with the meter in force
    n_tracks = min(len(pitched), tok.config.max_tracks)
    seeds = _seeds(seed, variants)
    settings = SampleSettings(bars=bars, temperature=temperature, top_p=top_p,
                              max_tracks=n_tracks, guide=_guide(bands, guidance))

    def matches(new: list[int]) -> int:  # judged on the new bars alone
        return _matches(tok.decode(new, meter_map=[(0.0, *last_meter)]), bands)

    outs = _sample_best(engine, prompt, seeds, settings, candidates, matches)
    results = []
    for i, (s, new) in enumerate(zip(seeds, outs, strict=True)):
        cont = tok.decode(new, meter_map=[(0.0, *last_meter)], start_beat=boundary,
                          programs=[p.program for p in pitched[:n_tracks]])
        parts = [Part(notes=sorted(p.notes), program=p.program, is_drum=p.is_drum,
                      name=p.name) for p in seed_piece.parts]
        pitched_idx = [j for j, p in enumerate(seed_piece.parts) if not p.is_drum]
        for t, part in enumerate(cont.parts):
            target = parts[pitched_idx[min(t, len(pitched_idx) - 1)]]
            target.notes.extend(Note(n.onset, n.pitch, n.duration, n.velocity)
                                for n in part.notes)
        sigs = list(seed_piece.time_signatures)
        for beat, num, den in cont.time_signatures:
            current = [x for x in sigs if x[0] <= beat + 1e-9][-1]
            if (current[1], current[2]) != (num, den):
                sigs.append((beat, num, den))
        piece = Piece(parts=parts, tempos=list(seed_piece.tempos), time_signatures=sigs,
                      key=measured.get("key") or seed_piece.key,
                      title=(seed_piece.title or "seed") + " (continued)")
        results.append(GeneratedPiece(piece, s, i + 1, engine.version, style, bands,
                                      boundary, new.count(tok.bar), new))
    return results


# ---------------------------------------------------------------------------------------------
# File-level helpers shared by `manage.py compose`, `manage.py continue_midi` and the worker
# ---------------------------------------------------------------------------------------------
class ComposeInputError(ValueError):
    """Bad user input (mood text, attributes, seed file): one line a person can read."""


def write_variants(results: list[GeneratedPiece], out_dir: str | Path) -> dict:
    """Write variant-1.mid ... into ``out_dir``; the JSON-able description of the files."""
    from generation.music.notes import write_midi

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    variants = []
    for g in results:
        path = write_midi(g.piece, out / f"variant-{g.variant}.mid")
        variants.append({"files": {"midi": str(path)}, "seed": g.seed, "style": g.style,
                         "boundary_beat": g.boundary_beat, "new_bars": g.new_bars,
                         "notes": g.piece.note_count})
    return {"files": dict(variants[0]["files"]) if variants else {}, "variants": variants}


def parse_attributes(text: str | None) -> dict:
    """Attributes from a JSON object; only the schema's names are kept."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ComposeInputError(f"--attributes is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise ComposeInputError("--attributes must be a JSON object")
    return data


def compose_to_files(out_dir: str | Path, *, mood: str | None = None,
                     attributes: dict | None = None, style: str | None = None, bars: int = 8,
                     temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                     variants: int = 1, model: MusicEngine | None = None,
                     guidance: float = DEFAULT_GUIDANCE,
                     candidates: int | None = None, version: str | None = None) -> dict:
    """Mood text or attributes -> MIDI files; returns the JSON the CLI prints. ``version``
    names the model (``engines.VERSIONS``; default the served one) unless ``model`` is
    given; ``candidates`` defaults to that engine's own."""
    from generation.ml import engines

    _check_numbers(bars, temperature, top_p, variants)
    _check_steering(guidance, candidates)
    seconds: dict[str, float] = {}
    t = time.time()
    attrs = dict(attributes or {})
    if mood is not None:
        from generation.ml.mood import MoodError, interpret_mood

        try:
            m = interpret_mood(mood)
        except MoodError as exc:
            raise ComposeInputError(str(exc)) from None
        attrs = {**m.attributes, **attrs}
        style = style or m.style_hint
    seconds["mood"] = round(time.time() - t, 3)
    t = time.time()
    engine = model or _load(version)
    module = engines.module_of(engine)
    candidates = candidates or module.DEFAULT_CANDIDATES
    seconds["load_model"] = round(time.time() - t, 3)
    style = style or "chorale"
    t = time.time()
    try:
        results = module.compose(attrs, style, bars=bars, temperature=temperature, top_p=top_p,
                          seed=seed, variants=variants, tempo_bpm=attrs.get("tempo_bpm"),
                          model=engine, candidates=candidates, guidance=guidance)
    except ValueError as exc:
        raise ComposeInputError(str(exc)) from None
    seconds["generate"] = round(time.time() - t, 3)
    t = time.time()
    out = write_variants(results, out_dir)
    seconds["write"] = round(time.time() - t, 3)
    return {**out, "attributes": {**attrs, **results[0].attributes}, "style": style,
            "model_version": engine.version, "guidance": guidance, "candidates": candidates,
            "seconds": seconds}


def continue_midi_file(path: str | Path, out_dir: str | Path, *, bars: int = 8,
                       temperature: float = 1.0, top_p: float = 0.95, seed: int | None = None,
                       variants: int = 1, style: str | None = None,
                       attributes: dict | None = None,
                       model: MusicEngine | None = None,
                       guidance: float = DEFAULT_GUIDANCE,
                       candidates: int | None = None, version: str | None = None) -> dict:
    """A seed MIDI file (validated like an upload) -> continued MIDI files; the CLI's JSON.
    ``version`` and ``candidates`` as for ``compose_to_files``."""
    from generation.ml import engines
    from generation.music.tokenizer import UnsupportedPiece
    from generation.music.validate import MidiValidationError, validate_midi

    _check_numbers(bars, temperature, top_p, variants)
    _check_steering(guidance, candidates)
    seconds: dict[str, float] = {}
    t = time.time()
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ComposeInputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        seed_piece = validate_midi(data).piece
    except MidiValidationError as exc:
        raise ComposeInputError(str(exc)) from None
    seconds["validate"] = round(time.time() - t, 3)
    t = time.time()
    engine = model or _load(version)
    module = engines.module_of(engine)
    candidates = candidates or module.DEFAULT_CANDIDATES
    seconds["load_model"] = round(time.time() - t, 3)
    t = time.time()
    try:
        results = module.continue_piece(seed_piece, bars=bars, temperature=temperature, top_p=top_p,
                                 seed=seed, variants=variants, style=style,
                                 attributes=attributes, model=engine,
                                 candidates=candidates, guidance=guidance)
    except (UnsupportedPiece, ValueError) as exc:
        raise ComposeInputError(str(exc)) from None
    seconds["generate"] = round(time.time() - t, 3)
    t = time.time()
    out = write_variants(results, out_dir)
    seconds["write"] = round(time.time() - t, 3)
    return {**out, "attributes": results[0].attributes, "style": results[0].style,
            "boundary_beat": results[0].boundary_beat, "model_version": engine.version,
            "guidance": guidance, "candidates": candidates, "seconds": seconds}


def _load(version: str | None):
    from generation.ml import engines

    try:
        return engines.load(version)
    except ValueError as exc:  # an unknown version name
        raise ComposeInputError(str(exc)) from None


def _check_steering(guidance: float, candidates: int | None) -> None:
    if not 0.0 <= guidance <= 10.0:
        raise ComposeInputError("guidance must be between 0 (off) and 10")
    if candidates is not None and not 1 <= candidates <= 16:
        raise ComposeInputError("candidates must be between 1 and 16")


def _check_numbers(bars: int, temperature: float, top_p: float, variants: int) -> None:
    if not 1 <= bars <= 64:
        raise ComposeInputError("bars must be between 1 and 64")
    if not 0.05 <= temperature <= 3.0:
        raise ComposeInputError("temperature must be between 0.05 and 3")
    if not 0.05 <= top_p <= 1.0:
        raise ComposeInputError("top-p must be between 0.05 and 1")
    if not 1 <= variants <= 8:
        raise ComposeInputError("variants must be between 1 and 8")
