"""The job pipeline: the one small adapter between the jobs layer and the engine.

    validate input -> mood -> model -> MIDI -> MusicXML/SVG/timemap, audio, piano roll

Everything the engine offers is reached through the functions here, imported lazily, so a
missing or broken engine piece becomes ``EngineUnavailable`` with a message a person can
read (the job fails with it) instead of an ImportError that kills the worker.

This module knows nothing about job rows; ``services`` and the worker call it. It imports
Django only for settings.
"""

from __future__ import annotations

import hashlib
import importlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from generation.music.notes import Piece, write_midi
from generation.render.engraving import fit_to_ranges

log = logging.getLogger(__name__)

KINDS = ("compose", "continue", "transfer", "infill", "harmonize")
# repairs of a given piece (a track's MIDI or an upload): the result records what changed
REPAIR_KINDS = ("infill", "harmonize")
MAX_BARS = 64
MAX_VARIANTS = 4
MAX_MOOD_CHARS = 500
ATTRIBUTE_KEYS = ("mode", "tempo_bpm", "tempo_band", "density_band", "register_band", "dynamics")


class InvalidJob(ValueError):
    """The request cannot become a job; the message says why, for the person who sent it."""


class InvalidMidi(InvalidJob):
    """The uploaded MIDI file is the problem (so a form can show it next to the file)."""


class EngineUnavailable(RuntimeError):
    """A part of the engine this job needs is not installed or failed to load."""


class ParserBusy(EngineUnavailable):
    """Every MIDI parse slot of this process is taken; answer 503 with Retry-After."""

    retry_after = 5


# ---------------------------------------------------------------------------------------------
# Engine access (lazy, cached per process)
# ---------------------------------------------------------------------------------------------
def _engine_function(module: str, name: str, what: str) -> Callable[..., Any]:
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        log.warning("engine piece %s missing: %s", module, exc)
        raise EngineUnavailable(f"The {what} is not available on this server yet.") from exc
    func = getattr(mod, name, None)
    if func is None:
        raise EngineUnavailable(f"The {what} is not available on this server yet.")
    return func


def styles() -> tuple[str, ...]:
    from generation.music.schema import STYLES

    return tuple(STYLES)


def interpret_mood(text: str):
    """``generation.ml.mood.interpret_mood``; its MoodError (a ValueError with a message for
    people) becomes InvalidJob."""
    func = _engine_function("generation.ml.mood", "interpret_mood", "mood reader")
    try:
        return func(text)
    except ValueError as exc:
        raise InvalidJob(str(exc)) from exc


def read_midi_upload(upload) -> bytes:
    """The bytes of an uploaded file, at most one byte more than STUDIO_MAX_UPLOAD_BYTES:
    enough for ``validate_midi`` to refuse an oversized file with its own message, without
    holding all of it in memory."""
    return upload.read(settings.STUDIO_MAX_UPLOAD_BYTES + 1)


_parse_slots: tuple[int, threading.BoundedSemaphore] | None = None  # (size, slots)
_parse_slots_lock = threading.Lock()
PARSE_SLOT_WAIT_SECONDS = 0.5  # a moment's patience before answering "busy"
SUMMARY_CACHE_SECONDS = 24 * 3600


def parse_slots() -> threading.BoundedSemaphore:
    """This process's MIDI parse slots (made again if the setting changes)."""
    global _parse_slots
    size = settings.STUDIO_MAX_PARALLEL_PARSES
    with _parse_slots_lock:
        if _parse_slots is None or _parse_slots[0] != size:
            _parse_slots = (size, threading.BoundedSemaphore(size))
        return _parse_slots[1]


def validate_midi(data: bytes):
    """``generation.music.validate.validate_midi``; its MidiValidationError becomes
    InvalidJob with the music layer's one-line message.

    Each parse runs a child process; at most STUDIO_MAX_PARALLEL_PARSES run at once in this
    process, and beyond that ParserBusy is raised at once instead of queueing threads (so a
    burst of uploads cannot starve every other request of the server)."""
    func = _engine_function("generation.music.validate", "validate_midi", "MIDI reader")
    slots = parse_slots()
    if not slots.acquire(timeout=PARSE_SLOT_WAIT_SECONDS):
        raise ParserBusy("Too many MIDI files are being read right now; try again in a moment.")
    try:
        return func(data, max_bytes=settings.STUDIO_MAX_UPLOAD_BYTES)
    except Exception as exc:
        if type(exc).__name__ == "MidiValidationError":
            raise InvalidMidi(str(exc)) from exc
        raise
    finally:
        slots.release()


def midi_summary(data: bytes) -> dict:
    """What ``validate_midi`` says about an upload (its summary, or InvalidMidi), remembered in
    the shared cache by the file's SHA-256, so the same file is parsed once (the compose page
    inspects a file, then submits it)."""
    from django.core.cache import cache

    digest = hashlib.sha256(bytes(data)).hexdigest()
    key = f"midi-summary:{settings.STUDIO_MAX_UPLOAD_BYTES}:{digest}"
    try:
        known = cache.get(key)
    except Exception as exc:  # a cache outage costs a parse, nothing more
        log.warning("MIDI summary cache unavailable: %s", exc)
        known = None
    if isinstance(known, dict) and "error" in known:
        raise InvalidMidi(known["error"])
    if isinstance(known, dict) and "summary" in known:
        return known["summary"]
    try:
        validated = validate_midi(data)
    except InvalidMidi as exc:
        result, error = {"error": str(exc)}, exc
    else:
        summary = validated.summary() if hasattr(validated, "summary") else {}
        summary = summary if isinstance(summary, dict) else {"text": str(summary)}
        result, error = {"summary": summary}, None
    try:
        cache.set(key, result, timeout=SUMMARY_CACHE_SECONDS)
    except Exception as exc:
        log.warning("MIDI summary cache unavailable: %s", exc)
    if error is not None:
        raise error
    return result["summary"]




def remember_own_midi(data: bytes) -> None:
    """Put the summary of a MIDI file this server wrote (a track's own) in ``midi_summary``'s
    cache, read in this process: the parse sandbox is for files from outside, and a repair
    is meant to take seconds, not a child process's start on top."""
    from django.core.cache import cache

    from generation.music.notes import piece_from_midi
    from generation.music.validate import summarize

    digest = hashlib.sha256(bytes(data)).hexdigest()
    key = f"midi-summary:{settings.STUDIO_MAX_UPLOAD_BYTES}:{digest}"
    try:
        if cache.get(key) is None:
            cache.set(key, {"summary": summarize(piece_from_midi(bytes(data)))},
                      timeout=SUMMARY_CACHE_SECONDS)
    except Exception as exc:  # a cache outage costs a parse later, nothing more
        log.warning("MIDI summary cache unavailable: %s", exc)


def device() -> str:
    """STUDIO_DEVICE resolved by the engine's own rule (auto: CUDA when present)."""
    from generation.ml.device import select_device

    return str(select_device(getattr(settings, "STUDIO_DEVICE", None)))


def compose_module(version: str | None = None) -> str:
    """Where compose/continue_piece/load_default_model live: the engine module of ``version``
    (a job's recorded version), else of the version in service (STUDIO_MODEL, else
    ``engines.SERVED``). The product's settings do not set STUDIO_COMPOSE_MODULE; the test
    settings (tests/settings.py) may point it at a small stand-in so job-machinery tests do
    not depend on a trained checkpoint, while everything around the model stays the real
    path."""
    from generation.ml import engines

    module = getattr(settings, "STUDIO_COMPOSE_MODULE", "")
    if module:
        return module
    version = version or getattr(settings, "STUDIO_MODEL", "") or engines.SERVED
    if version not in engines.VERSIONS:
        raise ImproperlyConfigured(f"STUDIO_MODEL must be one of {', '.join(engines.VERSIONS)}")
    return engines.VERSIONS[version]


def served_versions() -> list[str]:
    """The versions new jobs are given (STUDIO_MODEL_SHARES), in a fixed order."""
    from generation.ml import engines

    shares = getattr(settings, "STUDIO_MODEL_SHARES", None) or {engines.SERVED: 1.0}
    return sorted(shares)


def assign_version(rng=None) -> str:
    """The model version of a job being submitted: drawn by STUDIO_MODEL_SHARES (A/B)."""
    from generation.ml import engines

    shares = getattr(settings, "STUDIO_MODEL_SHARES", None) or {engines.SERVED: 1.0}
    return engines.assign(shares, rng)


def transfer_module() -> str:
    """Where transfer_style lives (STUDIO_TRANSFER_MODULE, test settings only, as above)."""
    return getattr(settings, "STUDIO_TRANSFER_MODULE", "") or "generation.ml.transfer"


def infill_module() -> str:
    """Where infill/harmonize live (STUDIO_INFILL_MODULE, test settings only, as above)."""
    return getattr(settings, "STUDIO_INFILL_MODULE", "") or "generation.ml.infill"


def infill_model():
    """The model that rewrites bars and harmonizes (the v2 grid model, whatever version
    composes), loaded once per process and device like the composer."""
    load = _engine_function(infill_module(), "load_default_model", "repair model")
    try:
        return load(device=device())
    except FileNotFoundError as exc:
        raise EngineUnavailable("The repair model has not been trained yet.") from exc


def composer_model(version: str | None = None):
    """The continuation/compose model of ``version`` on STUDIO_DEVICE. Each engine's loader
    keeps one per process and device, so a worker serving v1 and v2 side by side loads each
    once (the worker warms them up)."""
    load = _engine_function(compose_module(version), "load_default_model", "composition model")
    try:
        return load(device=device())
    except FileNotFoundError as exc:
        raise EngineUnavailable("The composition model has not been trained yet.") from exc


def warm_up() -> None:
    """Load what can be loaded before the first job (called at worker start): every version
    in service."""
    for version in served_versions():
        started = time.perf_counter()
        try:
            composer_model(version)
            log.info("composition model %s ready on %s in %.1f s", version, device(),
                     time.perf_counter() - started)
        except Exception as exc:  # a missing model fails the jobs that need it, not the worker
            log.warning("worker starts without the composition model %s: %s", version, exc)
    try:  # a rewrite of 4 bars is meant to take seconds: not a model load on top
        infill_model()
    except Exception as exc:
        log.warning("worker starts without the repair model: %s", exc)


# ---------------------------------------------------------------------------------------------
# Validation of a request (runs at submission, before anything is queued)
# ---------------------------------------------------------------------------------------------
def _number(params: dict, key: str, default, low, high, kind=float):
    raw = params.get(key, default)
    if raw is None or raw == "":
        return default
    try:
        value = kind(raw)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
        raise InvalidJob(f"{key} must be a number.") from None
    if kind is float and value != value:  # NaN
        raise InvalidJob(f"{key} must be a number.")
    if not (low <= value <= high):
        raise InvalidJob(f"{key} must be between {low} and {high}.")
    return value


def clean_parameters(kind: str, params: dict[str, Any], midi_bytes: bytes | None) -> dict:
    """Check a request and return the parameters a job stores.

    Promises: unknown kinds, styles, attribute names/values, out-of-range numbers, a missing
    or invalid MIDI file (through the music layer's validation) all raise InvalidJob; a seed
    is always chosen here so a track can be made again. The mood text is read by the mood
    reader and its attributes stored (explicit attributes win over the mood's).
    """
    if kind not in KINDS:
        raise InvalidJob(f"kind must be one of {', '.join(KINDS)}.")
    params = dict(params or {})
    clean: dict[str, Any] = {"kind": kind}
    known = styles()

    style = (params.get("style") or "").strip() if isinstance(params.get("style"), str) else ""
    if params.get("style") not in (None, "") and not isinstance(params.get("style"), str):
        raise InvalidJob("style must be a name.")
    if style and style not in known:
        raise InvalidJob(f"style must be one of {', '.join(known)}.")

    attributes = params.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidJob("attributes must be an object.")
    attributes = _clean_attributes(attributes)

    clean["bars"] = _number(params, "bars", 16, 1, MAX_BARS, int)
    clean["variants"] = _number(params, "variants", 1, 1, MAX_VARIANTS, int)
    clean["temperature"] = _number(params, "temperature", 1.0, 0.1, 2.0)
    clean["top_p"] = _number(params, "top_p", 0.95, 0.1, 1.0)
    seed = _number(params, "seed", None, 0, 2**31 - 1, int)
    clean["seed"] = seed if seed is not None else random.SystemRandom().randrange(2**31)

    mood = params.get("mood") or ""
    if not isinstance(mood, str):
        raise InvalidJob("mood must be text.")
    mood = mood.strip()
    if len(mood) > MAX_MOOD_CHARS:
        raise InvalidJob(f"The mood text is too long (at most {MAX_MOOD_CHARS} characters).")
    if mood:
        reading = interpret_mood(mood)
        mood_attributes = _clean_attributes(
            dict(getattr(reading, "attributes", {}) or {}), strict=False
        )
        clean["mood"] = mood
        clean["mood_attributes"] = mood_attributes
        attributes = {**mood_attributes, **attributes}
        hint = getattr(reading, "style_hint", None)
        if not style and hint in known:
            style = hint
    if kind == "compose" and not style:
        # the model writes in one style; without a choice or a hint, the seed picks one
        style = known[clean["seed"] % len(known)]
    clean["attributes"] = attributes
    clean["style"] = style

    if kind == "compose":
        if midi_bytes:
            raise InvalidJob("compose takes no MIDI file; use continue or transfer.")
    else:
        if not midi_bytes:
            raise InvalidJob(f"{kind} needs a MIDI file in the field 'midi'.")
        clean["input_summary"] = midi_summary(midi_bytes)
    if kind == "transfer":
        to_style = params.get("to_style") or ""
        if to_style not in known:
            raise InvalidJob(f"to_style must be one of {', '.join(known)}.")
        clean["to_style"] = to_style
        clean["variants"] = 1  # the style transfer is deterministic: one result
    if kind in REPAIR_KINDS:
        clean.pop("bars", None)  # the length is the given piece's
        clean.update(_clean_repair(kind, params, clean.get("input_summary") or {}))
    return clean


MAX_VOICES = 16


def _bar_number(params: dict, key: str, total: int | None) -> int:
    value = _number(params, key, None, 1, total or 10_000, int)
    if value is None:
        raise InvalidJob(f"{key} is missing: say which bars to rewrite (e.g. 5 to 8).")
    return value


def _clean_voices(raw) -> list[int]:
    """[] (every voice), or the chosen voices, 1 = the highest line: a list of numbers or
    text like "2,3"."""
    if raw in (None, "", []):
        return []
    if isinstance(raw, str):
        raw = [v for v in raw.replace(" ", "").split(",") if v]
    if not isinstance(raw, list):
        raise InvalidJob("voices must be a list of voice numbers, like 2,3.")
    voices = []
    for v in raw:
        try:
            number = int(v)
        except (TypeError, ValueError, OverflowError):
            raise InvalidJob("voices must be a list of voice numbers, like 2,3.") from None
        if not 1 <= number <= MAX_VOICES:
            raise InvalidJob(f"voices must be between 1 and {MAX_VOICES}.")
        voices.append(number)
    return sorted(set(voices))


def _clean_repair(kind: str, params: dict, summary: dict) -> dict:
    """The repair's own parameters and ``change``, its description in words."""
    if kind == "harmonize":
        style = params.get("style") or "chorale"
        return {"style": style, "change": "harmonized"}
    total = summary.get("bars") if isinstance(summary.get("bars"), int) else None
    start = _bar_number(params, "start_bar", total)
    end = _bar_number(params, "end_bar", total)
    if end < start:
        raise InvalidJob(f"An empty selection: bar {end} comes before bar {start}.")
    voices = _clean_voices(params.get("voices"))
    change = f"bar {start} rewritten" if start == end else f"bars {start}-{end} rewritten"
    if voices:
        change += f" (voice{'s' if len(voices) > 1 else ''} {', '.join(map(str, voices))})"
    return {"start_bar": start, "end_bar": end, "voices": voices, "change": change}


def _clean_attributes(attributes: dict[str, Any], strict: bool = True) -> dict[str, Any]:
    """Keep the schema's attributes with allowed values; ``strict`` rejects anything else."""
    from generation.music.schema import load_schema

    schema = load_schema()["attributes"]
    out: dict[str, Any] = {}
    for key, value in attributes.items():
        if key not in ATTRIBUTE_KEYS or key not in schema:
            if strict:
                raise InvalidJob(f"Unknown attribute {key!r}.")
            continue
        spec = schema[key]
        if spec.get("type") == "number":
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError):  # OverflowError: a huge int
                if strict:
                    raise InvalidJob(f"{key} must be a number.") from None
                continue
            if not (spec["min"] <= number <= spec["max"]):
                if strict:
                    raise InvalidJob(f"{key} must be between {spec['min']} and {spec['max']}.")
                continue
            out[key] = number
        else:
            if value not in spec["values"]:
                if strict:
                    raise InvalidJob(f"{key} must be one of {', '.join(spec['values'])}.")
                continue
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# Running a job
# ---------------------------------------------------------------------------------------------
class Cancelled(Exception):
    """The job stopped being ours (cancelled by its owner, or re-queued elsewhere)."""


@dataclass
class Variant:
    """One rendered variant in a staging folder, ready to become a Track."""

    number: int
    folder: Path
    files: dict[str, Any]  # names relative to ``folder``; "svg" is a list of pages
    title: str
    seed: int
    model_version: str
    attributes: dict[str, Any] = field(default_factory=dict)
    duration_seconds: float = 0.0


# progress(percent, stage) -> False when the job is no longer ours (stop between stages)
Progress = Callable[[int, str], bool]


def _check(progress: Progress, percent: int, stage: str) -> None:
    if not progress(percent, stage):
        raise Cancelled(stage)


@dataclass
class Generated:
    """One model output: the whole piece, the seed that makes it again, the model version,
    and (continuations) the beat where the model's music starts."""

    piece: Piece
    seed: int
    model_version: str
    boundary_beat: float | None = None
    # facts the engine reports beside the music (a transfer's guessed source style and route)
    facts: dict[str, Any] = field(default_factory=dict)
    style: str | None = None  # what the attributes are measured within (None: corpus-wide)


def _as_generated(result: Any) -> Generated:
    """The engine's GeneratedPiece (generation.ml.compose) as the pipeline's Generated; a
    compose result's boundary_beat of 0 means "no seed"."""
    return Generated(
        piece=result.piece,
        seed=int(result.seed),
        model_version=str(result.model_version)[:80],
        boundary_beat=float(result.boundary_beat) if result.boundary_beat else None,
        style=getattr(result, "style", None),
    )


def generate_pieces(
    kind: str, params: dict[str, Any], seed_piece: Piece | None, variants: int
) -> list[Generated]:
    """Run the model for ``variants`` results.

    compose: ``compose(attributes, style, bars=, temperature=, top_p=, seed=, variants=,
    tempo_bpm=, model=)``; continue: ``continue_piece(seed_piece, bars=, ..., style=,
    attributes=, model=)``; both return a list of GeneratedPiece. transfer:
    ``transfer_style(piece, to_style)`` returns a TransferResult. A ValueError from the engine
    is about this request (an unknown style, a meter the model cannot write) and fails the
    job with its message.
    """
    seed = int(params.get("seed", 0))
    if kind == "transfer":
        # the CycleGAN is deterministic: one variant, whatever was asked
        transfer = _engine_function(transfer_module(), "transfer_style", "style transfer model")
        try:
            result = transfer(seed_piece, to_style=params["to_style"])
        except FileNotFoundError as exc:
            raise EngineUnavailable("The style transfer models have not been trained yet.") from exc
        except ValueError as exc:  # TransferError: unknown style or no trained route
            raise InvalidJob(str(exc)) from exc
        # a TransferResult (generation.ml.transfer); an unchanged piece has no model version
        generated = Generated(result.piece, seed, str(result.model_version or "cyclegan")[:80],
                              style=params["to_style"])
        generated.facts = {
            "source_style": result.source_style,
            "source_style_guessed": bool(result.guessed),
            "route": list(result.route),
            "unchanged": bool(result.unchanged),
        }
        return [generated]

    if kind in REPAIR_KINDS:
        return _repair_pieces(kind, params, seed_piece, variants)
    # the version drawn at submission; jobs queued before versions were recorded have none
    version = params.get("model") or None
    model = composer_model(version)
    module = compose_module(version)
    attributes = dict(params.get("attributes") or {})
    common = {
        "bars": int(params.get("bars", 16)),
        "temperature": float(params.get("temperature", 1.0)),
        "top_p": float(params.get("top_p", 0.95)),
        "seed": seed,
        "variants": variants,
        "model": model,
    }
    try:
        if kind == "compose":
            compose = _engine_function(module, "compose", "composition model")
            results = compose(
                attributes,
                params.get("style") or styles()[0],
                tempo_bpm=attributes.get("tempo_bpm"),
                **common,
            )
        else:
            cont = _engine_function(module, "continue_piece", "composition model")
            results = cont(
                seed_piece, style=params.get("style") or None, attributes=attributes, **common
            )
    except ValueError as exc:
        raise InvalidJob(f"The model cannot make this: {exc}") from exc
    return [_as_generated(r) for r in results]


def _repair_pieces(kind: str, params: dict[str, Any], piece: Piece | None,
                   variants: int) -> list[Generated]:
    """infill(piece, start_bar, end_bar, voices=, seed=, model=) or harmonize(piece, style=,
    seed=, model=), once per variant (seed, seed+1, ...). The engine's InfillError (a
    ValueError: a piece the model cannot repair) fails the job with its message."""
    engine = infill_model()
    seed = int(params.get("seed", 0))
    style = params.get("style") or "chorale"  # harmonize's style (infill finds its own)
    out = []
    for i in range(variants):
        try:
            if kind == "infill":
                run = _engine_function(infill_module(), "infill", "repair model")
                result = run(piece, int(params["start_bar"]), int(params["end_bar"]),
                             voices=list(params.get("voices") or []) or None,
                             seed=seed + i, model=engine)
            else:
                run = _engine_function(infill_module(), "harmonize", "repair model")
                result = run(piece, style=style, seed=seed + i, model=engine)
        except ValueError as exc:
            raise InvalidJob(f"The model cannot do this: {exc}.") from exc
        out.append(Generated(result, seed + i, str(getattr(engine, "version", ""))[:80],
                             style=style if kind == "harmonize" else None))
    return out


def _measure(piece: Piece, style: str | None = None) -> dict[str, Any]:
    """The result's attributes as the page shows them: bands within its style, the way the
    v2 composer reads a request ("sparse" = sparser than most pieces of that style)."""
    try:
        from generation.music.attributes import measure_attributes

        return {
            k: v
            for k, v in measure_attributes(piece, style).items()
            if isinstance(v, str | int | float | bool)
        }
    except Exception as exc:  # attributes are a description, never a reason to fail a job
        log.warning("could not measure attributes: %s", exc)
        return {}


def audio_format() -> str:
    # MP3 plays in every browser (Safari included); OGG is available through settings.
    return getattr(settings, "STUDIO_AUDIO_FORMAT", "mp3")


def render_variant(
    piece: Piece,
    folder: Path,
    *,
    boundary_beat: float | None,
    timings: dict[str, float],
    original: Piece | None = None,
    dynamics: str | None = None,
) -> dict[str, Any]:
    """Write MIDI, MusicXML, SVG pages, timemap, audio and piano roll into ``folder``; with
    ``original`` (a style transfer's seed), also its audio and piano roll to compare."""
    from generation.render.audio import render_audio
    from generation.render.notation import render_notation
    from generation.render.pianoroll_image import render_pianoroll

    folder.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    write_midi(piece, folder / "track.mid")
    try:
        notation = render_notation(piece, folder)
    except Exception:
        # A score music21 or verovio cannot engrave (an odd rhythm) should not cost the
        # listener the music: the track keeps its MIDI and audio, without a score.
        log.exception("notation failed; the track will have no score")
        notation = None
        for partial in (
            "score.musicxml",
            "timemap.json",
            *[p.name for p in folder.glob("score-*.svg")],
        ):
            (folder / partial).unlink(missing_ok=True)
    t1 = time.perf_counter()
    fmt = audio_format()
    audio = render_audio(
        piece,
        folder / f"track.{fmt}",
        soundfont=getattr(settings, "SOUNDFONT_PATH", None) or None,
        fmt=fmt,
        dynamics=dynamics,
    )
    t2 = time.perf_counter()
    roll: dict[str, Any] = {}
    render_pianoroll(piece, folder / "pianoroll.png", boundary_beat=boundary_beat, layout=roll)
    t3 = time.perf_counter()
    files: dict[str, Any] = {
        "midi": "track.mid",
        "audio": audio.path.name,
        "pianoroll": "pianoroll.png",
    }
    if notation is not None:
        files["musicxml"] = "score.musicxml"
        files["svg"] = [p.name for p in notation["svg"]]
        files["svg_phone"] = [p.name for p in notation["svg_phone"]]
        files["timemap"] = "timemap.json"
    if original is not None:
        seed_audio = render_audio(
            original,
            folder / f"original.{fmt}",
            soundfont=getattr(settings, "SOUNDFONT_PATH", None) or None,
            fmt=fmt,
        )
        t4 = time.perf_counter()
        render_pianoroll(original, folder / "original-pianoroll.png")
        files["original_audio"] = seed_audio.path.name
        files["original_pianoroll"] = "original-pianoroll.png"
        timings["audio"] = timings.get("audio", 0.0) + (t4 - t3)
        timings["pianoroll"] = timings.get("pianoroll", 0.0) + (time.perf_counter() - t4)
    timings["notation"] = timings.get("notation", 0.0) + (t1 - t0)
    timings["audio"] = timings.get("audio", 0.0) + (t2 - t1)
    timings["pianoroll"] = timings.get("pianoroll", 0.0) + (t3 - t2)
    return {"files": files, "duration_seconds": audio.duration_seconds, "roll": roll}


def run_pipeline(
    *,
    kind: str,
    params: dict[str, Any],
    input_path: Path | None,
    staging: Path,
    progress: Progress,
    timings: dict[str, float],
    title: str = "",
) -> list[Variant]:
    """Run a whole job into ``staging`` and return its variants (not yet Tracks).

    Raises InvalidJob (bad input), EngineUnavailable (engine piece missing), Cancelled
    (``progress`` said stop), or whatever the engine raised (a bug or out of memory).
    """
    _check(progress, 2, "reading the input")
    seed_piece: Piece | None = None
    if kind in ("continue", "transfer", *REPAIR_KINDS):
        if input_path is None or not input_path.is_file():
            raise InvalidJob("The uploaded MIDI file is missing.")
        if kind in REPAIR_KINDS and params.get("source"):
            # a copy of a track's own MIDI (services.submit_track_job), not an upload
            from generation.music.notes import piece_from_midi

            seed_piece = piece_from_midi(input_path.read_bytes())
        else:
            seed_piece = validate_midi(input_path.read_bytes()).piece
    _check(progress, 8, "reading the mood")
    variants = int(params.get("variants", 1))
    _check(progress, 10, "composing" if kind != "transfer" else "transferring the style")
    t0 = time.perf_counter()
    generated = generate_pieces(kind, params, seed_piece, variants)
    timings["model"] = time.perf_counter() - t0
    out: list[Variant] = []
    base_title = title or _default_title(kind, params)
    for i, result in enumerate(generated, start=1):
        _check(
            progress,
            60 + int(35 * (i - 1) / max(1, len(generated))),
            f"writing the score and audio ({i} of {len(generated)})",
        )
        # the composer writes the mood's dynamics into the velocities; the audio's level
        # follows them too (a seed's own loudness is the user's, so only for compose)
        dynamics = (params.get("attributes") or {}).get("dynamics") if kind == "compose" else None
        # notes the model wrote outside the instrument's range are taken by octaves into it,
        # before anything is written, so the score, the MIDI and the audio agree
        piece = fit_to_ranges(result.piece)
        piece.title = base_title if len(generated) == 1 else f"{base_title} ({i})"
        folder = staging / f"variant-{i}"
        rendered = render_variant(
            piece,
            folder,
            boundary_beat=result.boundary_beat,
            timings=timings,
            original=seed_piece if kind in ("transfer", *REPAIR_KINDS) else None,
            dynamics=dynamics,
        )
        out.append(
            Variant(
                number=i,
                folder=folder,
                files=rendered["files"],
                title=piece.title,
                seed=result.seed,
                model_version=result.model_version,
                attributes={**_measure(piece, result.style), **result.facts, "layout": {**layout_of(piece), **rendered.get("roll", {})}},
                duration_seconds=rendered["duration_seconds"],
            )
        )
    _check(progress, 97, "saving")
    return out


def layout_of(piece: Piece) -> dict[str, Any]:
    """Where the bars are, for pages that select them: how many, quarter-note beats and
    seconds per bar (at the first tempo), and the number of lines (1 = the highest)."""
    from generation.music.grid import line_order

    bpm = piece.tempos[0][1] if piece.tempos else 120.0
    return {
        "bars": piece.bars,
        "bar_beats": piece.bar_beats,
        "bar_seconds": round(piece.bar_beats * 60.0 / bpm, 4),
        "end_beat": max(piece.end_beat, piece.bar_beats),
        "voices": len(line_order(piece)),
    }


def _default_title(kind: str, params: dict[str, Any]) -> str:
    source = (params.get("source") or {}).get("title") or "Upload"
    if kind in REPAIR_KINDS:
        return f"{source}: {params.get('change', '')}"[:200]
    mood = (params.get("mood") or "").strip()
    if kind == "transfer":
        return f"Seed in the style of {params.get('to_style', '').replace('_', ' ')}"
    if kind == "continue":
        return "Continuation" + (f": {mood[:60]}" if mood else "")
    if mood:
        return mood[:80]
    style = (params.get("style") or "").replace("_", " ")
    return f"New {style} piece".replace("  ", " ") if style else "New piece"
