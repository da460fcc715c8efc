"""The environment readers reject bad values, and production settings pass check --deploy."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from studio import env

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("No", False),
                                           ("off", False), ("", True)])
def test_env_bool_reads_the_usual_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("X_BOOL", raw)
    assert env.env_bool("X_BOOL", True) is expected


@pytest.mark.parametrize("reader, raw", [
    (lambda: env.env_bool("X", False), "maybe"),
    (lambda: env.env_int("X", 1), "twelve"),
    (lambda: env.env_int("X", 1, minimum=1), "0"),
    (lambda: env.env_choice("X", "auto", ["auto", "cpu", "cuda"]), "tpu"),
    (lambda: env.env_list("X", []), "a,,b"),
    (lambda: env.env_url("X", "redis://x", ["redis"]), "http://example.com"),
])
def test_env_readers_reject_bad_values_naming_the_variable(monkeypatch, reader, raw):
    monkeypatch.setenv("X", raw)
    with pytest.raises(ImproperlyConfigured, match="X"):
        reader()


def test_env_list_and_int_parse_good_values(monkeypatch):
    monkeypatch.setenv("X_LIST", "a.example, b.example")
    monkeypatch.setenv("X_INT", " 42 ")
    assert env.env_list("X_LIST", []) == ["a.example", "b.example"]
    assert env.env_int("X_INT", 0, maximum=100) == 42


def _manage(*args, extra_env=None):
    environ = {k: v for k, v in os.environ.items()
               if not k.startswith(("DJANGO_", "DATABASE_URL", "STUDIO_DEVICE"))}
    environ["DJANGO_SETTINGS_MODULE"] = "studio.settings"
    environ.update(extra_env or {})
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)


PRODUCTION = {
    "DJANGO_DEBUG": "false",
    "DJANGO_HTTPS": "true",
    "DJANGO_SECRET_KEY": "p" * 20 + "-Very-long-and-random-secret-for-tests-9f8e7d6c5b4a",
    "DJANGO_ALLOWED_HOSTS": "cadenza.example.org",
}


def test_check_deploy_is_clean_with_production_variables():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", extra_env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_complains_without_https():
    result = _manage("check", "--deploy", "--fail-level", "WARNING",
                     extra_env={**PRODUCTION, "DJANGO_HTTPS": "false"})
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT" in result.stdout + result.stderr


def test_a_malformed_setting_stops_start_up_with_its_name():
    result = _manage("check", extra_env={"STUDIO_DEVICE": "gpu"})
    assert result.returncode != 0
    assert "STUDIO_DEVICE" in result.stderr


def test_a_short_secret_key_is_refused():
    result = _manage("check", extra_env={"DJANGO_SECRET_KEY": "short"})
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize(("extra", "named"), [
    ({"STUDIO_STORAGE": "s3"}, "STUDIO_S3_BUCKET"),
    ({"STUDIO_STORAGE": "s3", "STUDIO_S3_BUCKET": "b", "STUDIO_S3_ENDPOINT_URL": "minio:9000"},
     "STUDIO_S3_ENDPOINT_URL"),
    ({"STUDIO_STORAGE": "ftp"}, "STUDIO_STORAGE"),
])
def test_object_storage_settings_that_cannot_work_stop_start_up_with_their_name(extra, named):
    result = _manage("check", extra_env=extra)
    assert result.returncode != 0
    assert named in result.stderr
