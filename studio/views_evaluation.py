"""The evaluation dashboard (staff only): what listeners say about each model version."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from studio import charts, evaluation, export
from studio.models import RATING_MAX, RATING_MIN, REFERENCE_VERSION

QUESTION_LABELS = {"more_musical": N_("Which is more musical"),
                   "fits_mood": N_("Which fits the mood better")}


def _version_label(version: str) -> str:
    return _("Human references") if version == REFERENCE_VERSION else version


@staff_member_required
def evaluation_dashboard(request: HttpRequest) -> HttpResponse:
    board = evaluation.dashboard(seed=0)
    rows = []
    means = []
    for g in board.groups:
        overall = g.means["overall"]
        rows.append({
            "group": g,
            "label": f"{_version_label(g.version)} · {g.task_kind or '—'}",
            "chart": charts.histogram(
                g.histogram, title=_("Overall scores of %(v)s, %(t)s") % {
                    "v": g.version, "t": g.task_kind}),
        })
        if overall:
            means.append(charts.Interval(f"{g.version} · {g.task_kind}", overall.value,
                                         overall.low, overall.high))
    reference = None
    if board.reference:
        ref = board.reference.means["overall"]
        reference = {
            "group": board.reference,
            "chart": charts.histogram(board.reference.histogram,
                                      title=_("Overall scores of the human references")),
        }
        if ref:
            means.append(charts.Interval(_("Human references"), ref.value, ref.low, ref.high,
                                         emphasis=True))
    means_chart = charts.intervals(
        means, title=_("Mean overall score, 95%% intervals") % {}, lo=RATING_MIN, hi=RATING_MAX,
        ticks=range(RATING_MIN, RATING_MAX + 1)) if means else None
    strengths = []
    for question, by_version in board.strengths.items():
        items = [charts.Interval(_version_label(v), e.value, e.low, e.high,
                                 emphasis=v == REFERENCE_VERSION)
                 for v, e in by_version.items()]
        span = max([abs(i.low) for i in items] + [abs(i.high) for i in items] + [1.0])
        span = float(int(span) + 1)
        strengths.append({
            "question": _(QUESTION_LABELS.get(question, question)),
            "rows": [{"version": _version_label(v), "estimate": e}
                     for v, e in by_version.items()],
            "chart": charts.intervals(
                items, title=_("Bradley-Terry log-strength, %(q)s") % {
                    "q": _(QUESTION_LABELS.get(question, question))},
                lo=-span, hi=span, ticks=[-span, -span / 2, 0, span / 2, span]),
        })
    win_rates = [{**w, "question": _(QUESTION_LABELS.get(w["question"], w["question"])),
                  "a": _version_label(w["a"]), "b": _version_label(w["b"])}
                 for w in board.win_rates]
    return render(request, "studio/evaluation.html", {
        "board": board, "rows": rows, "reference": reference, "means_chart": means_chart,
        "strengths": strengths, "win_rates": win_rates, "objective": board.objective,
    })


@staff_member_required
def evaluation_export(request: HttpRequest) -> HttpResponse:
    """The same rows as ``manage.py export_ratings``, as a CSV download."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="ratings.csv"'
    export.write_csv(response)
    return response
