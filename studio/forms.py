"""Forms of the studio pages. They check what a person typed and say what is wrong next to
the field; the jobs layer (``generation.pipeline.clean_parameters``) checks again, so a
request that gets past a form is still never queued when it is bad."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from generation import pipeline
from generation.ml.mood import STYLE_NAMES
from generation.models import Track
from generation.music.schema import STYLES, band_names, tempo_band
from studio.models import RATING_MAX, RATING_MIN

WAYS = [
    ("compose", _("From a mood")),
    ("continue", _("Continue my MIDI")),
    ("transfer", _("Change its style")),
]


# Example moods under the mood box, in the visitor's language (each one's translation is the
# example a Chinese visitor sees, so both languages get moods written in their own words).
MOOD_EXAMPLES = [
    _("stormy night at sea, restless"),
    _("calm sea at dawn"),
    _("a joyful village dance"),
    _("missing someone on a rainy night"),
]


def _style_label(style: str):
    """The style's name for people, translated when the page is rendered."""
    return capfirst(_(STYLE_NAMES[style]))


STYLE_CHOICES = [(s, _style_label(s)) for s in STYLES]
# empty: the mood (or, for a seed, the model) decides
FROM_MOOD = ("", _("Automatic"))


def _band_choices(attr: str) -> list[tuple[str, str]]:
    # the values are marked for translation in generation.ml.mood (_MUSIC_WORDS)
    return [FROM_MOOD, *[(v, capfirst(_(v))) for v in band_names(attr)]]


def chosen_attributes(params: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a job's parameters that the person set, not those the mood reader
    supplied (``mood_attributes``): what a repeat of the request keeps."""
    mood_attrs = params.get("mood_attributes") or {}
    return {k: v for k, v in (params.get("attributes") or {}).items() if mood_attrs.get(k) != v}


class ComposeForm(forms.Form):
    """The compose page: three ways in, the mood's attributes, shared options."""

    way = forms.ChoiceField(
        choices=WAYS, initial="compose", widget=forms.RadioSelect, label=_("How do you want to start?")
    )
    mood = forms.CharField(
        label=_("Mood"),
        required=False,
        max_length=pipeline.MAX_MOOD_CHARS,
        widget=forms.Textarea(
            attrs={"rows": 2, "autocomplete": "off",
                   "placeholder": _("stormy night at sea, restless")}
        ),
        help_text=_("English or Chinese, words or emoji."),
    )
    midi = forms.FileField(
        label=_("MIDI file"),
        required=False,
        widget=forms.ClearableFileInput(attrs={"accept": ".mid,.midi,audio/midi"}),
        help_text=_("A .mid file up to 1 MB."),
    )
    # required when the way is "transfer" (checked in clean(): the other ways ignore it)
    to_style = forms.ChoiceField(
        label=_("Target style"), required=False,
        choices=[("", _("Choose a style")), *STYLE_CHOICES]
    )
    # the mood's attributes, each one changeable; empty means "as the mood says"
    mode = forms.ChoiceField(label=_("Mode"), required=False, choices=_band_choices("mode"))
    tempo_bpm = forms.IntegerField(
        label=_("Tempo (beats per minute)"), required=False, min_value=30, max_value=240
    )
    # the bands are read within the chosen style (attributes_schema.json by_style)
    density_band = forms.ChoiceField(
        label=_("Note density"), required=False, choices=_band_choices("density_band"),
        help_text=_("Within the style: a sparse chorale moves less than most chorales."),
    )
    register_band = forms.ChoiceField(
        label=_("Register"), required=False, choices=_band_choices("register_band"),
        help_text=_("Within the style: a high chorale sits higher than most chorales."),
    )
    style = forms.ChoiceField(label=_("Style"), required=False, choices=[FROM_MOOD, *STYLE_CHOICES])
    # shared options
    bars = forms.IntegerField(
        label=_("Length in bars"), initial=16, min_value=1, max_value=pipeline.MAX_BARS
    )
    temperature = forms.FloatField(
        label=_("Temperature"),
        initial=1.0,
        min_value=0.1,
        max_value=2.0,
        widget=forms.NumberInput(attrs={"step": "0.1"}),
        help_text=_("Lower is safer, higher is more adventurous."),
    )
    variants = forms.IntegerField(
        label=_("Variants"),
        initial=1,
        min_value=1,
        max_value=pipeline.MAX_VARIANTS,
        help_text=_("How many versions to make (1-4)."),
    )
    seed = forms.IntegerField(
        label=_("Random seed"),
        required=False,
        min_value=0,
        max_value=2**31 - 1,
        help_text=_("The same seed and settings make the same music."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.midi_bytes: bytes | None = None

    def clean_mood(self) -> str:
        text = (self.cleaned_data.get("mood") or "").strip()
        if text:
            # the reader's refusal (too long, no words) shown next to the field; the reading
            # itself is made once more when the job is submitted, in microseconds
            from generation.pipeline import InvalidJob, interpret_mood

            try:
                interpret_mood(text)
            except InvalidJob as exc:
                raise forms.ValidationError(str(exc)) from None
        return text

    def clean_midi(self):
        upload = self.cleaned_data.get("midi")
        if not upload:
            return upload
        from generation.pipeline import read_midi_upload

        # The file is read here and validated once (size included), by
        # generation.services.submit_job; the view shows that error next to this field.
        self.midi_bytes = read_midi_upload(upload)
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        way = data.get("way")
        if way == "compose" and not data.get("mood") and "mood" not in self.errors:
            self.add_error("mood", _("Describe a mood, e.g. “calm sea at dawn”."))
        if way in ("continue", "transfer") and not self.midi_bytes and "midi" not in self.errors:
            self.add_error("midi", _("Choose a MIDI file to start from."))
        if way == "transfer" and not data.get("to_style"):
            self.add_error("to_style", _("Choose the style to move it into."))
        return data

    def job_request(self) -> tuple[str, dict[str, Any], bytes | None]:
        """kind, parameters and MIDI bytes for ``generation.services.submit_job``."""
        data = self.cleaned_data
        kind = data["way"]
        attributes: dict[str, Any] = {}
        for name in ("mode", "density_band", "register_band"):
            if data.get(name):
                attributes[name] = data[name]
        if data.get("tempo_bpm"):
            attributes["tempo_bpm"] = data["tempo_bpm"]
            # the band follows an explicit tempo, so the two never disagree
            attributes["tempo_band"] = tempo_band(data["tempo_bpm"])
        params: dict[str, Any] = {
            "bars": data["bars"],
            "temperature": data["temperature"],
            "variants": data["variants"],
            "attributes": attributes,
            "style": data.get("style") or "",
        }
        if data.get("seed") is not None:
            params["seed"] = data["seed"]
        if data.get("mood"):
            params["mood"] = data["mood"]
        if kind == "transfer":
            params["to_style"] = data["to_style"]
        return kind, params, (self.midi_bytes if kind != "compose" else None)

    @classmethod
    def initial_from_parameters(cls, params: dict[str, Any]) -> dict[str, Any]:
        """Form values that repeat an earlier request (regenerate with changes, try again)."""
        # only what the person chose themselves goes back into the attribute fields
        chosen = chosen_attributes(params)
        initial: dict[str, Any] = {
            "way": "compose",
            "mood": params.get("mood", ""),
            "bars": params.get("bars", 16),
            "temperature": params.get("temperature", 1.0),
            "variants": params.get("variants", 1),
            "style": params.get("style", ""),
        }
        for name in ("mode", "density_band", "register_band", "tempo_bpm"):
            if name in chosen:
                initial[name] = int(chosen[name]) if name == "tempo_bpm" else chosen[name]
        return initial


class RatingForm(forms.Form):
    """Three axes, 1-5, and an optional comment."""

    SCORE_CHOICES = [(i, str(i)) for i in range(RATING_MIN, RATING_MAX + 1)]

    overall = forms.TypedChoiceField(
        label=_("Overall musical quality"), choices=SCORE_CHOICES, coerce=int, widget=forms.RadioSelect
    )
    mood_match = forms.TypedChoiceField(
        label=_("Match to the requested mood"),
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    style_match = forms.TypedChoiceField(
        label=_("Fit to the requested style"),
        choices=SCORE_CHOICES,
        coerce=int,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comment"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class VisibilityForm(forms.Form):
    visibility = forms.ChoiceField(
        label=_("Who can listen"), choices=Track.Visibility.choices, widget=forms.RadioSelect
    )


class TransferForm(forms.Form):
    to_style = forms.ChoiceField(label=_("New style"), choices=STYLE_CHOICES)


class ReportForm(forms.Form):
    reason = forms.CharField(
        label=_("What is wrong with this track?"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
