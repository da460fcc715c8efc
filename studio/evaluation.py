"""Reads for evaluation: every stored answer as plain rows (export), attention-check outcomes,
and the dashboard's figures per model version and task (statistics in ``studio.evalstats``).

Rules that make the figures trustworthy, in one place:
- owners' ratings of their own tracks are kept but never counted;
- raters who failed an attention check are left out of the figures (their answers stay and
  are exported with the outcome);
- the attention checks themselves (random-note clips, second hearings) are not scores;
- a rating's model version is the served version name recorded at submission ("v1", "v2"),
  else, for tracks made before versions were recorded, the checkpoint id the track kept.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio import evalstats
from studio.models import (
    RATING_AXES,
    REFERENCE_VERSION,
    BlindRating,
    ListeningClip,
    PairwiseAnswer,
    Rating,
)

# An attention check fails when a clip of random notes gets more than this overall score,
# or when a second hearing of a clip differs from the first by more than REPEAT_TOLERANCE.
NOISE_MAX_SCORE = 2
REPEAT_TOLERANCE = 1


class Source:
    TRACK_PAGE = "track_page"
    BLIND_SINGLE = "blind_single"
    BLIND_PAIRWISE = "blind_pairwise"
    REFERENCE = "reference"
    ATTENTION_CHECK = "attention_check"


class Attention:
    PASSED = "passed"
    FAILED = "failed"
    NONE = "not_checked"


def version_name(parameters: dict | None, model_version: str) -> str:
    return (parameters or {}).get("model") or model_version or "unknown"


def rater_key(user_id: int | None, fallback: str) -> str:
    """Who answered, as a key for grouping (never shown): the account, else a stand-in that
    keeps an anonymous rater's answers apart from everyone else's."""
    return f"u{user_id}" if user_id is not None else fallback


def attention_outcomes() -> dict[str, str]:
    """rater key -> passed / failed, for raters who met at least one check."""
    outcome: dict[str, str] = {}
    first_hearing: dict[tuple[int, int], int] = {}
    rows = BlindRating.objects.select_related("clip", "session").order_by("id")
    for r in rows:
        if not r.repeat:
            first_hearing[(r.session_id, r.clip_id)] = r.overall
    for r in rows:
        key = rater_key(r.session.user_id, f"s{r.session_id}")
        failed = None
        if r.clip.kind == ListeningClip.Kind.NOISE:
            failed = r.overall > NOISE_MAX_SCORE
        elif r.repeat and (r.session_id, r.clip_id) in first_hearing:
            failed = abs(r.overall - first_hearing[(r.session_id, r.clip_id)]) > REPEAT_TOLERANCE
        if failed is not None and outcome.get(key) != Attention.FAILED:
            outcome[key] = Attention.FAILED if failed else Attention.PASSED
    return outcome


@dataclass
class Answer:
    """One stored answer, flattened: a score row or a pairwise row."""

    kind: str  # "rating" | "pairwise"
    id: int
    source: str
    rater: str
    model_version: str
    task_kind: str
    parameters: dict[str, Any]
    scores: dict[str, int] = field(default_factory=dict)  # overall, mood_match, style_match
    # pairwise: the other clip's version and task, and the choices ("a"/"b")
    other_version: str = ""
    other_task_kind: str = ""
    choices: dict[str, str] = field(default_factory=dict)
    owner_rating: bool = False
    check: bool = False  # the answer is itself an attention check
    is_demo: bool = False
    created_at: str = ""


def all_answers() -> Iterator[Answer]:
    """Every stored rating and pairwise answer, once each, oldest first within each table."""
    for r in Rating.objects.order_by("id"):
        yield Answer(
            "rating", r.id, Source.TRACK_PAGE, rater_key(r.user_id, f"r{r.id}"),
            version_name(r.parameters, r.model_version), r.task_kind, r.parameters,
            scores={a: getattr(r, a) for a in RATING_AXES}, owner_rating=r.listener_owns_track,
            is_demo=r.is_demo, created_at=r.created_at.isoformat(),
        )
    for b in BlindRating.objects.select_related("clip", "session").order_by("id"):
        clip = b.clip
        check = clip.kind == ListeningClip.Kind.NOISE or b.repeat
        source = (Source.ATTENTION_CHECK if check else Source.REFERENCE
                  if clip.kind == ListeningClip.Kind.REFERENCE else Source.BLIND_SINGLE)
        yield Answer(
            "rating", b.id, source, rater_key(b.session.user_id, f"s{b.session_id}"),
            clip.model_version, clip.task_kind, clip.parameters,
            scores={a: getattr(b, a) for a in RATING_AXES}, check=check,
            is_demo=b.session.is_demo, created_at=b.created_at.isoformat(),
        )
    for p in PairwiseAnswer.objects.select_related("clip_a", "clip_b", "session").order_by("id"):
        yield Answer(
            "pairwise", p.id, Source.BLIND_PAIRWISE,
            rater_key(p.session.user_id, f"s{p.session_id}"),
            p.clip_a.model_version, p.clip_a.task_kind, p.clip_a.parameters,
            other_version=p.clip_b.model_version, other_task_kind=p.clip_b.task_kind,
            choices={"more_musical": p.more_musical, "fits_mood": p.fits_mood},
            is_demo=p.session.is_demo, created_at=p.created_at.isoformat(),
        )


def pseudonymiser(salt: str | None = None):
    """rater key -> a pseudonym (salted SHA-256): stable within one export, unlinkable
    across exports (a fresh random salt each time)."""
    salt = salt if salt is not None else secrets.token_hex(16)

    def pseudonym(key: str) -> str:
        return "rater-" + hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:12]

    return pseudonym


# ---------------------------------------------------------------------------------------------
# the dashboard's figures
# ---------------------------------------------------------------------------------------------
@dataclass
class GroupFigures:
    version: str
    task_kind: str
    ratings: int
    raters: int
    means: dict[str, evalstats.Estimate | None]
    histogram: list[int]  # overall scores 1..5
    gap: evalstats.Estimate | None = None  # overall minus the references'


@dataclass
class Dashboard:
    groups: list[GroupFigures]
    reference: GroupFigures | None
    versions: list[str]
    win_rates: list[dict[str, Any]]
    strengths: dict[str, dict[str, evalstats.Estimate]]  # question -> version -> log-strength
    objective: list[dict[str, Any]]
    counted_raters: int
    excluded_raters: int
    owner_ratings: int
    demo: bool


def dashboard(*, seed: int = 0) -> Dashboard:
    """Figures per (model version, task) from counted answers (see the module docstring)."""
    outcomes = attention_outcomes()
    failed = {k for k, v in outcomes.items() if v == Attention.FAILED}
    scores: dict[tuple[str, str], dict[str, dict[str, list[int]]]] = defaultdict(
        lambda: defaultdict(lambda: defaultdict(list)))
    reference: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    pairs: dict[str, dict[str, list[tuple[str, str]]]] = defaultdict(lambda: defaultdict(list))
    owner_ratings = 0
    raters_seen: set[str] = set()
    demo = False
    for a in all_answers():
        demo = demo or a.is_demo
        if a.owner_rating:
            owner_ratings += 1
            continue
        if a.check or a.rater in failed:
            continue
        raters_seen.add(a.rater)
        if a.kind == "pairwise":
            if a.model_version == a.other_version:
                continue
            for question, choice in a.choices.items():
                win, lose = ((a.model_version, a.other_version) if choice == "a"
                             else (a.other_version, a.model_version))
                pairs[question][a.rater].append((win, lose))
            continue
        target = (reference if a.model_version == REFERENCE_VERSION
                  else scores[(a.model_version, a.task_kind)])
        for axis, value in a.scores.items():
            target[axis][a.rater].append(value)

    ref_group = _group(REFERENCE_VERSION, "", reference, seed) if reference else None
    groups = []
    for (version, task), by_axis in sorted(scores.items()):
        group = _group(version, task, by_axis, seed)
        if reference:
            group.gap = evalstats.gap_with_ci(by_axis["overall"], reference["overall"], seed=seed)
        groups.append(group)

    versions = sorted({v for q in pairs.values() for cs in q.values() for c in cs for v in c},
                      key=lambda v: (v == REFERENCE_VERSION, v))
    strengths = {
        q: evalstats.bradley_terry_with_ci(versions, by_rater, seed=seed)
        for q, by_rater in sorted(pairs.items())
    }
    win_rates = []
    for q, by_rater in sorted(pairs.items()):
        comps = [c for cs in by_rater.values() for c in cs]
        wins = evalstats.win_matrix(versions, comps)
        for i, a in enumerate(versions):
            for j, b in enumerate(versions):
                n = wins[i, j] + wins[j, i]
                if i < j and n:
                    win_rates.append({"question": q, "a": a, "b": b, "games": int(n),
                                      "a_wins": int(wins[i, j]), "a_rate": wins[i, j] / n})
    return Dashboard(
        groups=groups, reference=ref_group, versions=versions, win_rates=win_rates,
        strengths=strengths, objective=objective_figures(),
        counted_raters=len(raters_seen), excluded_raters=len(failed),
        owner_ratings=owner_ratings, demo=demo,
    )


def _group(version: str, task: str, by_axis: dict[str, dict[str, list[int]]], seed: int
           ) -> GroupFigures:
    overall = by_axis["overall"]
    histogram = [0] * 5
    for values in overall.values():
        for v in values:
            histogram[v - 1] += 1
    return GroupFigures(
        version=version, task_kind=task, ratings=sum(histogram), raters=len(overall),
        means={axis: evalstats.mean_with_ci(by_axis[axis], seed=seed) for axis in RATING_AXES},
        histogram=histogram,
    )


def evaluation_report_path() -> Path:
    """The machine evaluation that measures v1 and v2 side by side (evaluate_v2)."""
    from generation.ml import engines

    return engines.EVALUATION_REPORT


def objective_figures(path: Path | None = None) -> list[dict[str, Any]]:
    """Per version: control accuracy (all three attributes), the two-sample classifier's
    accuracy at telling generated from real (0.5 = cannot), bits per note on held-out music,
    and the share of excerpts copied from training. Empty when the report is missing."""
    path = path or evaluation_report_path()
    try:
        report = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    v1 = report.get("v1", {})

    def bits(version: str) -> float | None:
        per_style = report.get("nll", {}).get(version, {})
        values = [s["bits_per_note"] for s in per_style.values() if "bits_per_note" in s]
        return round(sum(values) / len(values), 3) if values else None

    return [
        {"version": "v1", "control": v1.get("control", {}).get("all_three"),
         "two_sample": v1.get("two_sample", {}).get("overall"), "bits_per_note": bits("v1"),
         "copy": v1.get("copy")},
        {"version": "v2", "control": report.get("served", {}).get("control", {}).get("all_three"),
         "two_sample": report.get("two_sample", {}).get("overall"),
         "bits_per_note": bits("v2"), "copy": report.get("copy", {}).get("generated")},
    ]


def has_real_answers() -> bool:
    """Any rating or listening answer that is not demo data."""
    return (Rating.objects.filter(is_demo=False).exists()
            or BlindRating.objects.filter(session__is_demo=False).exists()
            or PairwiseAnswer.objects.filter(session__is_demo=False).exists())
