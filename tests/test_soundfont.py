"""Which soundfont the audio is rendered with: an explicit path, else SOUNDFONT_PATH, else the
first installed candidate. Tested with links to the one installed soundfont under other names,
so no second soundfont package is needed (and nothing is skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

import generation.render.audio as audio
from generation.render.audio import SoundfontMissing, find_soundfont


@pytest.fixture
def fonts(tmp_path):
    """Three soundfont files (links to the installed one) and a path that does not exist."""
    installed = next((Path(c) for c in audio.SOUNDFONT_CANDIDATES if Path(c).is_file()), None)
    assert installed is not None, "no soundfont installed: `make test` installs fluid-soundfont-gm"
    out = {}
    for name in ("explicit", "environment", "candidate"):
        out[name] = tmp_path / f"{name}.sf2"
        out[name].symlink_to(installed)
    out["missing"] = tmp_path / "missing.sf2"
    return out


def test_an_explicit_soundfont_wins_over_the_environment_and_the_candidates(fonts, monkeypatch):
    monkeypatch.setenv("SOUNDFONT_PATH", str(fonts["environment"]))
    monkeypatch.setattr(audio, "SOUNDFONT_CANDIDATES", (str(fonts["candidate"]),))
    assert find_soundfont(fonts["explicit"]) == fonts["explicit"]


def test_soundfont_path_from_the_environment_wins_over_the_candidates(fonts, monkeypatch):
    monkeypatch.setenv("SOUNDFONT_PATH", str(fonts["environment"]))
    monkeypatch.setattr(audio, "SOUNDFONT_CANDIDATES", (str(fonts["candidate"]),))
    assert find_soundfont() == fonts["environment"]


def test_a_missing_path_falls_through_to_the_first_installed_candidate(fonts, monkeypatch):
    monkeypatch.setenv("SOUNDFONT_PATH", str(fonts["missing"]))
    monkeypatch.setattr(
        audio, "SOUNDFONT_CANDIDATES", (str(fonts["missing"]), str(fonts["candidate"]))
    )
    assert find_soundfont(fonts["missing"]) == fonts["candidate"]


def test_nothing_found_names_every_path_tried(fonts, monkeypatch):
    monkeypatch.setenv("SOUNDFONT_PATH", str(fonts["missing"]))
    monkeypatch.setattr(audio, "SOUNDFONT_CANDIDATES", ("/nowhere/a.sf2",))
    with pytest.raises(SoundfontMissing) as refused:
        find_soundfont()
    assert str(fonts["missing"]) in str(refused.value) and "/nowhere/a.sf2" in str(refused.value)
    assert "SOUNDFONT_PATH" in str(refused.value)
