"""Clips for blind-session tests: others' public tracks, stored references and a check."""
from __future__ import annotations

import shutil
from pathlib import Path

from django.conf import settings

from studio.models import ListeningClip

SECRET_TITLE = "Zephyr Quarry Lullaby"  # must never reach a listener


def stored_clip(kind: str, rendered_variant, version: str) -> ListeningClip:
    """A reference or an attention check with audio under MEDIA_ROOT/listening/, made from
    the session's rendered variant (rendered exactly like a generated track)."""
    folder, rendered = rendered_variant
    clip = ListeningClip.objects.create(kind=kind, model_version=version, task_kind="compose")
    source = folder / rendered["files"]["audio"]
    relative = f"listening/{clip.token}{source.suffix}"
    target = Path(settings.MEDIA_ROOT) / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    clip.audio = relative
    clip.save(update_fields=["audio"])
    return clip


def fill_pool(make_user, make_track, rendered_variant, *, tracks: int = 2):
    """``tracks`` public tracks by a composer, one reference and one attention check."""
    composer = make_user("composer-zed")
    made = [make_track(composer, visibility="public", title=f"{SECRET_TITLE} {i}",
                       parameters={"model": "v2" if i % 2 else "v1"}) for i in range(tracks)]
    reference = stored_clip(ListeningClip.Kind.REFERENCE, rendered_variant, "reference")
    noise = stored_clip(ListeningClip.Kind.NOISE, rendered_variant, "noise")
    return composer, made, reference, noise
