"""What `compose` and `continue_midi` share: their sampling options and their way of
ending (one JSON object on stdout, or one line on stderr and exit status 2)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

_SAMPLING = ("bars", "temperature", "top_p", "seed", "variants")


def add_sampling_arguments(parser) -> None:
    """--bars, --temperature, --top-p, --seed, --variants, --guidance, --candidates."""
    parser.add_argument("--bars", type=int, default=8)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-p", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--variants", type=int, default=1)
    parser.add_argument("--guidance", type=float, default=None,
                        help="attribute guidance strength, 0 = off (default: the engine's, "
                             "see generation/ml/guidance.py)")
    parser.add_argument("--candidates", type=int, default=None,
                        help="samples per variant, the best-matching kept (default: the "
                             "engine's; 1 = plain sampling)")
    parser.add_argument("--model", default=None,
                        help="model version, v1 or v2 (default: the one the studio serves)")


def sampling_options(opts: dict) -> dict:
    """The engine keyword arguments of the options above, the engine's defaults where unset."""
    from generation.ml.compose import DEFAULT_GUIDANCE

    return {
        **{k: opts[k] for k in _SAMPLING},
        "guidance": DEFAULT_GUIDANCE if opts["guidance"] is None else opts["guidance"],
        "candidates": opts["candidates"],  # None: the engine's own default
        "version": opts.get("model"),
    }


def print_result(stdout, run: Callable[[], dict]) -> None:
    """Write ``run()``'s JSON to ``stdout``; bad input (ComposeInputError) exits 2 with one
    line on stderr."""
    from generation.ml.compose import ComposeInputError

    try:
        result = run()
    except ComposeInputError as exc:
        sys.stderr.write(f"error: {exc}\n")
        sys.exit(2)
    stdout.write(json.dumps(result))
