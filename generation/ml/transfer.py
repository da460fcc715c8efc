"""Style transfer of a whole piece: the engine API the worker calls.

    from generation.ml.transfer import transfer_style
    result = transfer_style(piece, to_style="celtic")            # source style guessed
    result = transfer_style(piece, "chorale", from_style="celtic")
    result.piece, result.source_style, result.guessed, result.route, result.model_version

What it does: the piece is quantised to the sixteenth grid and cut into 4-bar phrases of its
own meter by the piano-roll codec (3/4 and 6/8 phrases are 48 steps padded to the model's 64;
see ``generation.music.pianoroll``); each phrase goes through the CycleGAN generator(s) of the
route; the generator's probabilities are turned into notes by ``decode_phrase`` (an
onset-aware rule, not a bare 0.5 threshold); the phrases are stitched back at their original
beats with the original tempo map and meter map, and the result is one part played by a
General MIDI instrument that suits the target style.

Routing: the trained pairs form a star around a hub style; a transfer with no direct pair goes
source -> hub -> target (``route`` lists every style on the way). When the source already is
the target style the piece comes back unchanged (``unchanged=True``) and no model runs.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from generation.music.notes import Piece

REPO_ROOT = Path(__file__).resolve().parents[2]
CYCLEGAN_DIR = REPO_ROOT / "generation" / "checkpoints" / "cyclegan"

# General MIDI programs (0-based) chosen for each target style. GM has no erhu: the koto (107)
# is the plucked Chinese-sounding timbre GM offers; the shamisen (106) is Japanese and more
# percussive.
STYLE_PROGRAMS: dict[str, tuple[int, str]] = {
    "chorale": (19, "Church Organ"),
    "renaissance": (52, "Choir Aahs"),
    "german_folk": (21, "Accordion"),
    "chinese_folk": (107, "Koto"),
    "celtic": (110, "Fiddle"),
}
DEFAULT_FACTS = {"pitch_low": 36, "pitch_high": 96, "max_voices": 4, "onsets_per_step": 0.2}
MIN_STEPS = 2  # shortest note the decoder writes: one-step notes are stutters, not music
HOLD_THRESHOLD = 0.35  # a started note keeps sounding while its probability stays above this
ONSET_THRESHOLD = 0.5  # first try for starting a note...
ONSET_FLOOR = 0.2  # ...lowered step by step down to this to keep at least KEEP_DENSITY
KEEP_DENSITY = 0.5  # of the source phrase's onsets (a near-empty phrase is not a transfer)
TARGET_DENSITY_SHARE = 1.0  # ...and the target style's mean onsets per step
OUT_OF_KEY_WEIGHT = 0.4  # onset scores of pitch classes outside the source's key are scaled
# When the target has fewer voices than the source phrase (a motet or chorale made into a
# one-voice folk tune) the generator's votes at the source's top-line notes are multiplied by
# this: the tune the listener knows survives the reduction instead of a new line in its place.
TOP_LINE_WEIGHT = 4.0
_TONICS = {"C": 0, "C#": 1, "D-": 1, "D": 2, "D#": 3, "E-": 3, "E": 4, "F": 5, "F#": 6,
           "G-": 6, "G": 7, "G#": 8, "A-": 8, "A": 9, "A#": 10, "B-": 10, "B": 11, "C-": 11}


class TransferError(ValueError):
    """A transfer that cannot be done (unknown style, no route); the message is for users."""


@dataclass
class TransferResult:
    piece: Piece
    source_style: str
    guessed: bool  # True when source_style came from the style classifier
    route: list[str]  # styles visited, source first, target last
    model_version: str  # hash of the generator weights used ("" when unchanged)
    unchanged: bool = False  # source == target: the input piece is returned as is
    style_scores: dict[str, float] = field(default_factory=dict)  # classifier's mean probs


# ---------------------------------------------------------------------------------------------
# Models on disk
# ---------------------------------------------------------------------------------------------
def trained_pairs(root: Path = CYCLEGAN_DIR) -> list[tuple[str, str]]:
    """(style_a, style_b) of every pair with a checkpoint under ``root``."""
    out = []
    for d in sorted(Path(root).glob("*__*")):
        if (d / "config.json").exists() and (d / "model.safetensors").exists():
            a, b = d.name.split("__", 1)
            out.append((a, b))
    return out


def find_route(source: str, target: str, pairs: list[tuple[str, str]]) -> list[str]:
    """Shortest chain of styles from source to target over the trained pairs (breadth first,
    so a direct pair always wins over the hub). Raises TransferError when none exists."""
    graph: dict[str, set[str]] = {}
    for a, b in pairs:
        graph.setdefault(a, set()).add(b)
        graph.setdefault(b, set()).add(a)
    prev: dict[str, str | None] = {source: None}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        if node == target:
            route = [node]
            while prev[route[-1]] is not None:
                route.append(prev[route[-1]])
            return route[::-1]
        for nxt in sorted(graph.get(node, ())):
            if nxt not in prev:
                prev[nxt] = node
                queue.append(nxt)
    raise TransferError(f"No trained style-transfer model connects {source} to {target}.")


@lru_cache(maxsize=16)
def _load_pair(directory: str):
    from generation.ml.cyclegan import CycleGANModel

    return CycleGANModel.load(directory).eval()


def load_hop(source: str, target: str, root: Path = CYCLEGAN_DIR):
    """(generator, target style facts, weights hash) for one hop of a route."""
    from generation.ml.cyclegan import generator_hash

    for a, b in trained_pairs(root):
        if {a, b} == {source, target}:
            model = _load_pair(str(Path(root) / f"{a}__{b}"))
            gen = model.generator_for(source, target)
            facts = model.config.style_facts.get(target, DEFAULT_FACTS)
            return gen, facts, generator_hash(gen)
    raise TransferError(f"No trained style-transfer model for {source} -> {target}.")


@lru_cache(maxsize=1)
def _classifier():
    from generation.ml.style_classifier import StyleClassifier

    return StyleClassifier.load()


# ---------------------------------------------------------------------------------------------
# Decoding probabilities into playable notes
# ---------------------------------------------------------------------------------------------
def _fold_into_range(grid: np.ndarray, low: int, high: int) -> np.ndarray:
    """Move rows outside [low, high] (indices into the 84 pitches) by octaves into the range,
    keeping the stronger value where two land on one cell: out-of-range notes keep their
    pitch class instead of vanishing."""
    out = grid.copy()
    n = grid.shape[0]
    for p in range(n):
        if low <= p <= high:
            continue
        q = p
        while q < low:
            q += 12
        while q > high:
            q -= 12
        out[p] = 0.0
        if low <= q <= high:
            out[q] = np.maximum(out[q], grid[p])
    return out


def key_scale(piece: Piece) -> np.ndarray:
    """Twelve booleans: the pitch classes of the piece's estimated key (major scale, or
    natural minor plus the raised seventh). The transfer keeps the source's key: the style
    is in the idiom (texture, rhythm, scale degrees used), the key is content."""
    from generation.music.key import estimate_key

    tonic, mode = estimate_key(piece).split()
    root = _TONICS.get(tonic, 0)
    steps = (0, 2, 4, 5, 7, 9, 11) if mode == "major" else (0, 2, 3, 5, 7, 8, 10, 11)
    scale = np.zeros(12, dtype=bool)
    scale[[(root + d) % 12 for d in steps]] = True
    return scale


def rolls_scale(rolls: np.ndarray) -> np.ndarray:
    """``key_scale`` of the notes in (N, 2, 84, 64) rolls, laid end to end."""
    from generation.music.pianoroll import phrases_to_piece

    return key_scale(phrases_to_piece(np.asarray(rolls)))


def top_line(rolls: np.ndarray) -> np.ndarray:
    """(N, 2, P, T) rolls reduced to their top line: at each step only the highest sounding
    pitch sounds, with its onset where the source has one there."""
    rolls = np.asarray(rolls)
    sounding = rolls[:, 0] > 0.5
    n_pitch = sounding.shape[1]
    # index of the highest sounding pitch per (phrase, step); -1 where nothing sounds
    top = np.where(sounding.any(axis=1), n_pitch - 1 - np.argmax(sounding[:, ::-1], axis=1), -1)
    out = np.zeros_like(rolls)
    phrase, step = np.nonzero(top >= 0)
    pitch = top[phrase, step]
    out[phrase, 0, pitch, step] = 1
    out[phrase, 1, pitch, step] = rolls[phrase, 1, pitch, step] > 0.5
    return out


def _favour_top_line(probs: np.ndarray, source: np.ndarray) -> np.ndarray:
    """``probs`` with the generator's votes for the source's top line scaled by
    TOP_LINE_WEIGHT: onsets where the line starts a note, sounding exactly where it sounds
    (no slack: a hold stretched past the line's note would block the next one)."""
    line = top_line(np.asarray(source)[None])[0] > 0.5
    out = np.array(probs, dtype=np.float32, copy=True)
    for channel in (0, 1):
        out[channel] = np.where(line[channel], np.clip(out[channel] * TOP_LINE_WEIGHT, 0, 1),
                                out[channel])
    return out


def decode_phrase(probs: np.ndarray, facts: dict | None = None, n_steps: int = 64,
                  source: np.ndarray | None = None,
                  scale: np.ndarray | None = None, keep_top_line: bool = True) -> np.ndarray:
    """Turn a generator's (2, 84, 64) probabilities into a binary (2, 84, 64) roll that plays.

    Promises: every note starts with an onset and lasts at least MIN_STEPS steps (or until the
    phrase ends); no pitch re-strikes within MIN_STEPS of its last onset (no one-step
    stutters); at most ``facts["max_voices"]`` notes sound at once; every note lies within
    the target style's pitch range (out-of-range material is folded by octaves); nothing
    sounds past ``n_steps`` (the phrase's valid steps, 48 in 3/4).

    Rule: a note may start at (pitch, step) when the onset score sqrt(onset * sounding) is
    above the onset threshold and a voice is free (strongest candidates first); it holds while
    its sounding probability stays above HOLD_THRESHOLD. With ``scale`` (12 booleans, the
    source's key) onset scores of pitch classes neither in it nor in the source phrase are
    scaled by OUT_OF_KEY_WEIGHT. When the source phrase has more voices than the target
    allows, the votes at the source's top line are first scaled by TOP_LINE_WEIGHT, so a
    reduction to fewer voices keeps the tune (``keep_top_line=False`` turns this off, for a
    ``source`` that is not what the generator was given). The onset
    threshold starts at 0.5 and
    is lowered (to 0.2 at least) until the phrase keeps KEEP_DENSITY of the source phrase's
    onsets and reaches the target style's mean onset density, so a timid generator neither
    leaves holes in the piece nor stays sparser than the style it transfers into.
    """
    from generation.music.pianoroll import N_PITCHES, PITCH_LOW

    facts = {**DEFAULT_FACTS, **(facts or {})}
    low = max(0, int(facts["pitch_low"]) - PITCH_LOW)
    high = min(N_PITCHES - 1, int(facts["pitch_high"]) - PITCH_LOW)
    voices = max(1, int(facts["max_voices"]))
    if keep_top_line and source is not None \
            and (np.asarray(source)[0] > 0.5).sum(axis=0).max() > voices:
        probs = _favour_top_line(probs, source)
    sound = _fold_into_range(np.asarray(probs[0], dtype=np.float32), low, high)[:, :n_steps]
    onset = _fold_into_range(np.asarray(probs[1], dtype=np.float32), low, high)[:, :n_steps]
    score = np.sqrt(np.clip(onset, 0, 1) * np.clip(sound, 0, 1))
    if scale is not None:  # out-of-key notes need a clearly stronger vote to start
        pcs = (np.arange(score.shape[0]) + PITCH_LOW) % 12
        allowed = np.asarray(scale, dtype=bool).copy()
        if source is not None:  # the source's own pitch classes are never out of key
            allowed[pcs[source[1].any(axis=1)]] = True
        score[~allowed[pcs]] *= OUT_OF_KEY_WEIGHT

    # How many onsets the phrase should at least have: half the source's (within what the
    # voice count allows), and the target style's usual density (density is part of a
    # style: a folk tune made into a motet needs more notes than the tune had).
    want = int(np.ceil(TARGET_DENSITY_SHARE * float(facts["onsets_per_step"]) * n_steps))
    if source is not None:
        want = max(want, int(np.ceil(KEEP_DENSITY * min(float(source[1, :, :n_steps].sum()),
                                                         voices * n_steps / MIN_STEPS))))
    threshold = ONSET_THRESHOLD
    while True:
        roll = _greedy_notes(score, sound, threshold, voices, n_steps)
        if roll[1].sum() >= want or threshold <= ONSET_FLOOR + 1e-9:
            break
        threshold = max(ONSET_FLOOR, threshold - 0.05)
    out = np.zeros((2, probs.shape[1], probs.shape[2]), dtype=np.float32)
    out[:, :, :n_steps] = roll
    return out


def _greedy_notes(score: np.ndarray, sound: np.ndarray, threshold: float, voices: int,
                  n_steps: int) -> np.ndarray:
    n_pitch = score.shape[0]
    roll = np.zeros((2, n_pitch, n_steps), dtype=np.float32)
    active: dict[int, int] = {}  # pitch -> onset step of the note now sounding
    last_onset = np.full(n_pitch, -10_000)
    for t in range(n_steps):
        # release notes whose sound fades, but never before MIN_STEPS
        for p, start in list(active.items()):
            if t - start >= MIN_STEPS and sound[p, t] < HOLD_THRESHOLD:
                del active[p]
        cands = np.flatnonzero(score[:, t] >= threshold)
        # strongest first; between near-equal candidates the higher pitch wins, so a
        # one-voice target keeps the top line (where a source's melody usually is)
        order = np.lexsort((-cands, -np.round(score[cands, t], 1)))
        for p in cands[order]:
            p = int(p)
            if t - last_onset[p] < MIN_STEPS:
                continue  # would be a one-step stutter
            if p in active:
                # a re-strike of a held pitch: only when the onset is clearly a new attack
                if score[p, t] < max(threshold, 0.5) or score[p, t] <= score[p, t - 1]:
                    continue
            elif len(active) >= voices:
                continue
            active[p] = t
            last_onset[p] = t
            roll[1, p, t] = 1.0
        for p in active:
            roll[0, p, t] = 1.0
    return roll


# ---------------------------------------------------------------------------------------------
# The API
# ---------------------------------------------------------------------------------------------
@torch.no_grad()
def transfer_rolls(rolls: np.ndarray, route: list[str], valid_steps: int | np.ndarray = 64,
                   root: Path = CYCLEGAN_DIR, batch: int = 32,
                   scale: np.ndarray | None = None) -> tuple[np.ndarray, list[str]]:
    """Binary (N, 2, 84, 64) rolls through every hop of ``route``; returns the decoded rolls
    of the last hop and the weights hash of each hop's generator. ``valid_steps`` (one number
    or one per phrase) bounds where notes may sound in each phrase."""
    current = np.asarray(rolls, dtype=np.float32)
    limits = np.broadcast_to(np.asarray(valid_steps), (len(current),))
    hashes = []
    for source, target in zip(route[:-1], route[1:], strict=True):
        gen, facts, digest = load_hop(source, target, root)
        hashes.append(digest)
        x = torch.from_numpy(current)
        probs = torch.cat([gen(x[i:i + batch]) for i in range(0, len(x), batch)]).numpy() \
            if len(x) else np.zeros_like(current)
        current = np.stack([decode_phrase(p, facts, int(n), source=s, scale=scale)
                            for p, s, n in zip(probs, current, limits, strict=True)]) \
            if len(current) else current
    return current, hashes


def transfer_style(piece: Piece, to_style: str, from_style: str | None = None,
                   root: Path = CYCLEGAN_DIR) -> TransferResult:
    """Transfer ``piece`` into ``to_style``.

    ``from_style`` None: the style classifier guesses it from the mean of its per-phrase
    probabilities (``guessed=True``). Same source and target: the piece is returned unchanged
    (``unchanged=True``, empty route hop list: ``route == [style]``). The output keeps the
    input's length in bars, tempo map and meter map; it is one part with the target style's
    General MIDI instrument. Raises TransferError (a ValueError) for an unknown style or no
    route, FileNotFoundError when no model has been trained at all.
    """
    from generation.music.corpus import STYLES
    from generation.music.pianoroll import phrases_to_piece, piece_to_phrases

    if to_style not in STYLES:
        raise TransferError(f"Unknown target style {to_style!r}; choose one of "
                            f"{', '.join(STYLES)}.")
    if from_style is not None and from_style not in STYLES:
        raise TransferError(f"Unknown source style {from_style!r}; choose one of "
                            f"{', '.join(STYLES)}.")
    phrases = piece_to_phrases(piece)
    binary = (np.asarray(phrases.rolls) > 0.5).astype(np.float32)
    guessed, scores = False, {}
    if from_style is None:
        from generation.ml.style_classifier import guess_style

        nonempty = binary[binary[:, 1].reshape(len(binary), -1).sum(axis=1) > 0]
        from_style, scores = guess_style(_classifier(), nonempty if len(nonempty) else binary)
        guessed = True
    if from_style == to_style:
        return TransferResult(piece=piece, source_style=from_style, guessed=guessed,
                              route=[from_style], model_version="", unchanged=True,
                              style_scores=scores)
    pairs = trained_pairs(root)
    if not pairs:  # the pipeline reads this as "models not trained yet"
        raise FileNotFoundError(f"no style-transfer checkpoints under {root}; run "
                                "`manage.py train_cyclegan --all`")
    route = find_route(from_style, to_style, pairs)
    # Notes may sound up to the end of the source's last bar, not into the padding after it.
    from generation.music.pianoroll import STEPS_PER_QUARTER

    end_step = int(round(piece.bars * piece.bar_beats * STEPS_PER_QUARTER))
    starts = np.round(np.asarray(phrases.starts) * STEPS_PER_QUARTER).astype(int)
    limits = np.clip(end_step - starts, 1, phrases.phrase_steps)
    out, hashes = transfer_rolls(binary, route, limits, root, scale=key_scale(piece))
    program, name = STYLE_PROGRAMS.get(to_style, (0, "Piano"))
    phrases.rolls = out
    result = phrases_to_piece(phrases, program=program,
                              title=f"{piece.title or 'Untitled'} ({to_style})")
    result.parts[0].name = name
    _reach_last_bar(result, piece)
    result.key = None  # the transfer may change the key; the renderer estimates it again
    return TransferResult(piece=result, source_style=from_style, guessed=guessed,
                          route=route, model_version=_version(hashes), unchanged=False,
                          style_scores=scores)


def _reach_last_bar(result: Piece, source: Piece) -> None:
    """If the transfer falls silent before the source's last bar, hold its last notes into
    that bar so the piece keeps its length in bars (a held final chord, not added notes)."""
    from dataclasses import replace

    if not result.parts or not result.parts[0].notes or source.bars == 0:
        return
    last_bar_start = (source.bars - 1) * source.bar_beats
    if result.end_beat > last_bar_start + 1e-9:
        return
    notes = result.parts[0].notes
    last_onset = max(n.onset for n in notes)
    target_end = min(source.end_beat, source.bars * source.bar_beats)
    result.parts[0].notes = sorted(
        replace(n, duration=target_end - n.onset) if abs(n.onset - last_onset) < 1e-9 else n
        for n in notes)


def _version(hashes: list[str]) -> str:
    """One generator: its weights hash; a route through the hub: a hash of the hops' hashes
    (the hops are listed in ``route``)."""
    if len(hashes) == 1:
        return hashes[0]
    return hashlib.sha256(json.dumps(hashes).encode()).hexdigest()[:12]
