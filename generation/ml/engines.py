"""The composition models the studio can serve, by version name, and which one it serves.

One table (``VERSIONS``): the name a person uses ("v1", "v2") -> the engine module, which
has ``load_default_model``, ``compose`` and ``continue_piece`` with the same arguments.
``SERVED`` is the version new jobs and the command line use unless told otherwise; v2
replaced v1 there once it beat v1 in the blind listening test (v1 stays loadable and servable).

Several versions can serve side by side (A/B): ``parse_shares("v1=50,v2=50")`` reads the
studio's STUDIO_MODEL_SHARES setting and ``assign(shares, rng)`` draws one version for a new
job in proportion to its share. A worker loads each version's weights once (each engine
module keeps one loaded model per device).
"""

from __future__ import annotations

import importlib
import random
from pathlib import Path
from types import ModuleType

VERSIONS: dict[str, str] = {
    "v1": "generation.ml.compose",  # event-token Transformer (checkpoints/transformer)
    "v2": "generation.ml.compose_v2",  # voice-grid Transformer (checkpoints/grid_v2)
}
SERVED = "v2"  # since its blind test beat v1 (grid_v2/JUDGEMENT.md); v1 stays servable
# The machine evaluation of the versions side by side (``python -m generation.ml.evaluate_v2``
# writes it beside the v2 weights); named here so readers need not import torch to find it.
EVALUATION_REPORT = Path(__file__).resolve().parent.parent / "checkpoints" / "grid_v2" / (
    "EVALUATION.json")


def module_for(version: str | None = None) -> ModuleType:
    name = version or SERVED
    if name not in VERSIONS:
        raise ValueError(f"unknown model version {name!r}; one of {', '.join(VERSIONS)}")
    return importlib.import_module(VERSIONS[name])


def load(version: str | None = None, device=None):
    """The committed checkpoint of ``version`` (default: the served one), loaded once."""
    return module_for(version).load_default_model(device=device)


def module_of(engine) -> ModuleType:
    """The engine module that made ``engine`` (by its class's module)."""
    for path in VERSIONS.values():
        module = importlib.import_module(path)
        if type(engine).__module__ == module.__name__:
            return module
    return importlib.import_module(VERSIONS["v1"])


def parse_shares(text: str) -> dict[str, float]:
    """``"v1=50,v2=50"`` -> ``{"v1": 0.5, "v2": 0.5}`` (shares normalised to sum to 1).

    A bare name (``"v2"``) is a share of 100%. Empty text: the served version alone. Raises
    ValueError naming the problem: an unknown version, a share that is not a number or is
    negative, a version named twice, or shares that add up to nothing.
    """
    text = (text or "").strip()
    if not text:
        return {SERVED: 1.0}
    raw: dict[str, float] = {}
    for item in text.split(","):
        name, _, weight = item.strip().partition("=")
        name = name.strip()
        if name not in VERSIONS:
            raise ValueError(f"unknown model version {name!r}; one of {', '.join(VERSIONS)}")
        if name in raw:
            raise ValueError(f"model version {name!r} is named twice")
        try:
            value = float(weight) if weight.strip() else 100.0
        except ValueError:
            raise ValueError(f"the share of {name} must be a number, not {weight!r}") from None
        if not value >= 0 or value == float("inf"):
            raise ValueError(f"the share of {name} must be a number of 0 or more")
        raw[name] = value
    total = sum(raw.values())
    if total <= 0:
        raise ValueError("the model shares add up to 0: give at least one version a share")
    return {name: value / total for name, value in raw.items() if value > 0}


def assign(shares: dict[str, float], rng: random.Random | None = None) -> str:
    """One version for a new job, drawn in proportion to ``shares`` (from parse_shares)."""
    rng = rng or random.SystemRandom()
    names = sorted(shares)  # a fixed order: a seeded rng gives the same draws every run
    return rng.choices(names, weights=[shares[n] for n in names])[0]
