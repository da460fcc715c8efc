"""Malformed input is answered 4xx, never 500: Range headers with thousands of digits, JSON
nested deeper than the parser can follow, Infinity / NaN / huge numbers in job parameters,
ids longer than the database's integers."""

# ruff: noqa: F811 - the fixtures imported from tests.studio_fixtures are test arguments
from __future__ import annotations

import json

import pytest
from django.test import Client

from generation.models import Job
from tests.jobs_fixtures import api
from tests.studio_fixtures import make_track, rendered_variant  # noqa: F401

pytestmark = [pytest.mark.django_db]

HUGE = "9" * 5000  # more digits than int() reads (4300)
LONG = "9" * 40  # fits int(), not a 64-bit database integer
NESTED = "[" * 100_000 + "]" * 100_000  # deeper than Python's recursion limit


@pytest.fixture
def track(owner, make_track):
    return make_track(owner)


@pytest.mark.parametrize("header, status", [
    (f"bytes={HUGE}-", 416),
    (f"bytes={LONG}-", 416),
    (f"bytes=0-{HUGE}", 206),
    (f"bytes=-{HUGE}", 206),
    (f"bytes={HUGE}-{HUGE}", 416),
])
def test_a_range_with_thousands_of_digits_is_answered_without_an_error(
        owner, track, header, status):
    client = api(owner)
    url = f"/api/tracks/{track.id}/files/audio"
    whole = b"".join(client.get(url).streaming_content)
    response = client.get(url, HTTP_RANGE=header)
    assert response.status_code == status
    if status == 206:  # "to the end" / "the last N bytes" with N past the start: the whole file
        assert b"".join(response.streaming_content) == whole
        assert response["Content-Range"] == f"bytes 0-{len(whole) - 1}/{len(whole)}"


@pytest.mark.parametrize("body", [
    NESTED,
    '{"kind": "compose", "attributes": ' + NESTED + "}",
])
def test_deeply_nested_json_is_400_everywhere(owner, track, body):
    client = api(owner)
    for method, url in [("post", "/api/jobs/"), ("patch", f"/api/tracks/{track.id}/"),
                        ("post", "/api/mood/")]:
        response = getattr(client, method)(url, body, content_type="application/json")
        assert response.status_code == 400, (url, response.content[:200])
        assert "error" in response.json()
    assert not Job.objects.filter(status=Job.Status.QUEUED).exists()


@pytest.mark.parametrize("raw", [
    '{"bars": Infinity}',
    '{"bars": -Infinity}',
    '{"seed": NaN}',
    '{"temperature": Infinity}',
    '{"variants": 1e999}',
    '{"attributes": {"tempo_bpm": Infinity}}',
    '{"attributes": {"tempo_bpm": NaN}}',
    '{"attributes": {"tempo_bpm": ' + "9" * 4000 + "}}",
    '{"bars": ' + "9" * 4000 + "}",
    '{"seed": ' + HUGE + "}",
])
def test_non_finite_or_huge_numbers_in_job_parameters_are_400(owner, raw):
    response = api(owner).post("/api/jobs/", raw, content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert "error" in response.json()
    assert not Job.objects.exists()


@pytest.mark.parametrize("attributes", [
    '{"tempo_bpm": Infinity}', '{"tempo_bpm": ' + "9" * 4000 + "}", NESTED,
])
def test_a_multipart_job_request_with_bad_attributes_is_400(owner, attributes):
    response = api(owner).post("/api/jobs/", {"kind": "compose", "attributes": attributes})
    assert response.status_code == 400, response.content[:200]
    assert not Job.objects.exists()


def test_ids_longer_than_a_database_integer_are_404(owner, track):
    client = api(owner)
    for url in [f"/api/tracks/{LONG}/", f"/api/jobs/{LONG}/",
                f"/api/tracks/{LONG}/files/audio", f"/api/tracks/{track.id}/files/svg?page={LONG}"]:
        assert client.get(url).status_code == 404, url
    session = Client()
    session.force_login(owner)
    for url in [f"/tracks/{LONG}/", f"/jobs/{LONG}/"]:
        assert session.get(url).status_code == 404, url
    assert session.get(f"/compose/?track={LONG}").status_code == 200
    assert session.get(f"/compose/?job={LONG}").status_code == 200


def test_a_well_formed_request_is_still_accepted(owner):
    body = json.dumps({"kind": "compose", "bars": 2, "attributes": {"tempo_bpm": 100}})
    response = api(owner).post("/api/jobs/", body, content_type="application/json")
    assert response.status_code == 202, response.content[:300]
