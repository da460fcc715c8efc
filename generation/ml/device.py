"""Which torch device the engine runs on: ``select_device("auto"|"cpu"|"cuda")``.

``pref`` defaults to the STUDIO_DEVICE environment variable (auto when unset). "auto" takes
CUDA when a GPU is present, else the CPU; asking for "cuda" without one raises, so a
misconfigured deployment fails loudly instead of silently running slow.
"""

from __future__ import annotations

import os

import torch


def select_device(pref: str | torch.device | None = None) -> torch.device:
    if isinstance(pref, torch.device):
        pref = str(pref)
    pref = (pref or os.environ.get("STUDIO_DEVICE") or "auto").strip().lower()
    if pref == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if pref == "cpu":
        return torch.device("cpu")
    if pref.startswith("cuda"):
        if not torch.cuda.is_available():
            raise RuntimeError("STUDIO_DEVICE asks for CUDA but no GPU is available")
        return torch.device(pref)
    raise ValueError(f"unknown device preference {pref!r} (auto, cpu or cuda)")
