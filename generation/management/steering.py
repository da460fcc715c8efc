"""The sampling options `compose` and `continue_midi` share."""

from __future__ import annotations


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


def steering_options(opts: dict) -> dict:
    """{"guidance", "candidates"} from parsed options, the engine's defaults where unset."""
    from generation.ml.compose import DEFAULT_CANDIDATES, DEFAULT_GUIDANCE

    return {
        "guidance": DEFAULT_GUIDANCE if opts["guidance"] is None else opts["guidance"],
        "candidates": DEFAULT_CANDIDATES if opts["candidates"] is None else opts["candidates"],
    }
