"""Model versions in service: A/B shares from one setting, a version fixed at submission and
recorded on the track, kept by "regenerate"; a worker loads each version once."""
from __future__ import annotations

import random
from collections import Counter

import pytest
from django.urls import reverse

from generation import pipeline
from generation.ml import engines
from generation.models import Job
from generation.services import submit_job


def test_shares_are_read_and_normalised():
    assert engines.parse_shares("v1=30,v2=10") == {"v1": 0.75, "v2": 0.25}
    assert engines.parse_shares("v2") == {"v2": 1.0}
    assert engines.parse_shares("") == {engines.SERVED: 1.0}
    assert engines.parse_shares("v1=0, v2=5") == {"v2": 1.0}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v3=50", "unknown model version 'v3'"),
        ("v1=half", "the share of v1 must be a number"),
        ("v1=-1", "0 or more"),
        ("v1=1,v1=2", "named twice"),
        ("v1=0,v2=0", "add up to 0"),
    ],
)
def test_a_malformed_share_setting_is_refused_with_its_reason(text, message):
    with pytest.raises(ValueError, match=message):
        engines.parse_shares(text)


def test_a_malformed_share_setting_stops_start_up_naming_the_variable(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import studio.settings as product

    monkeypatch.setenv("STUDIO_MODEL_SHARES", "v1=50,v9=50")
    with pytest.raises(ImproperlyConfigured, match="STUDIO_MODEL_SHARES.*'v9'"):
        importlib.reload(product)
    monkeypatch.delenv("STUDIO_MODEL_SHARES")
    importlib.reload(product)


def test_two_thousand_assignments_follow_the_shares():
    rng = random.Random(16)
    shares = engines.parse_shares("v1=70,v2=30")
    counts = Counter(engines.assign(shares, rng) for _ in range(2000))
    # binomial sd at n=2000, p=0.3 is about 20; 3 sd is 61
    assert abs(counts["v2"] - 600) < 61, counts
    assert counts["v1"] + counts["v2"] == 2000


@pytest.mark.django_db
def test_a_job_gets_its_version_at_submission(owner, settings):
    settings.STUDIO_MODEL_SHARES = {"v2": 1.0}
    job = submit_job(user=owner, kind="compose", params={"style": "chorale", "bars": 2})
    assert job.parameters["model"] == "v2"
    settings.STUDIO_MODEL_SHARES = {"v1": 0.5, "v2": 0.5}
    seen = Counter(
        submit_job(user=owner, kind="compose", params={"style": "chorale", "bars": 2}
                   ).parameters["model"]
        for _ in range(2)
    )
    assert set(seen) <= {"v1", "v2"}


@pytest.mark.django_db
def test_an_unknown_version_is_refused_and_nothing_is_queued(owner):
    from generation.pipeline import InvalidJob

    with pytest.raises(InvalidJob, match="model must be one of v1, v2"):
        submit_job(user=owner, kind="compose", params={"bars": 2}, model_version="v7")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_regenerate_keeps_the_tracks_version_whatever_the_shares(
    client, owner, make_track, settings
):
    track = make_track(owner, parameters={"model": "v1"})
    assert track.parameters["model"] == "v1"  # the track records the job's version
    settings.STUDIO_MODEL_SHARES = {"v2": 1.0}
    client.force_login(owner)
    r = client.post(reverse("studio:track-regenerate", args=[track.id]))
    assert r.status_code == 302
    job = Job.objects.exclude(id=track.job_id).get()
    assert job.parameters["model"] == "v1"
    # a new request from the compose page follows the shares
    fresh = submit_job(user=owner, kind="compose", params={"style": "chorale", "bars": 2})
    assert fresh.parameters["model"] == "v2"


def test_the_worker_picks_the_engine_by_the_jobs_version(settings):
    settings.STUDIO_COMPOSE_MODULE = ""
    settings.STUDIO_MODEL = ""
    assert pipeline.compose_module("v1") == engines.VERSIONS["v1"]
    assert pipeline.compose_module("v2") == engines.VERSIONS["v2"]
    assert pipeline.compose_module(None) == engines.VERSIONS[engines.SERVED]


def test_one_worker_loads_each_served_version_once(settings):
    """The committed v1 and v2 side by side in one process: each loaded once, kept apart."""
    settings.STUDIO_COMPOSE_MODULE = ""
    settings.STUDIO_DEVICE = "cpu"
    settings.STUDIO_MODEL_SHARES = {"v1": 0.5, "v2": 0.5}
    pipeline.warm_up()
    v1, v2 = pipeline.composer_model("v1"), pipeline.composer_model("v2")
    assert v1 is pipeline.composer_model("v1") and v2 is pipeline.composer_model("v2")
    assert v1 is not v2
    assert type(v1).__module__ == engines.VERSIONS["v1"]
    assert type(v2).__module__ == engines.VERSIONS["v2"]
