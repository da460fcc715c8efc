"""The composition models the studio can serve, by version name, and which one it serves.

One table (``VERSIONS``): the name a person uses ("v1", "v2") -> the engine module, which
has ``load_default_model``, ``compose`` and ``continue_piece`` with the same arguments.
``SERVED`` is the version new jobs and the command line use unless told otherwise; v2
replaced v1 there once it beat v1 on the goals of its model card (v1 stays loadable).
"""

from __future__ import annotations

import importlib
from types import ModuleType

VERSIONS: dict[str, str] = {
    "v1": "generation.ml.compose",  # event-token Transformer (checkpoints/transformer)
    "v2": "generation.ml.compose_v2",  # voice-grid Transformer (checkpoints/grid_v2)
}
SERVED = "v1"  # v2 takes over once its evaluation beats v1 (see its model card)


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
