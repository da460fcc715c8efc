"""Template filters that say the worker's words in the visitor's language."""

from __future__ import annotations

import re

from django import template
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_noop

register = template.Library()

# the stages a job passes through (generation.pipeline, generation.services); the progress
# page's script (static/js/progress.js) holds the same list for the live updates
STAGES = (
    gettext_noop("waiting for a worker"), gettext_noop("waiting for a worker (retrying)"),
    gettext_noop("starting"), gettext_noop("reading the input"), gettext_noop("reading the mood"),
    gettext_noop("composing"), gettext_noop("transferring the style"), gettext_noop("saving"),
    gettext_noop("done"), gettext_noop("failed"), gettext_noop("cancelled"),
)
_WRITING = re.compile(r"^writing the score and audio \((\d+) of (\d+)\)$")


@register.filter
def stage_label(stage: str | None) -> str:
    """A job's stage as the visitor reads it, capitalised ("" for none)."""
    if not stage:
        return ""
    m = _WRITING.match(stage)
    if m:
        text = gettext("writing the score and audio (%(i)s of %(n)s)") % {
            "i": m.group(1), "n": m.group(2)}
    else:
        text = gettext(stage) if stage in STAGES else stage
    return capfirst(text)
