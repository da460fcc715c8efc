"""``manage.py bench`` on a database that was never migrated says so in one line."""

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.migrations.executor import MigrationExecutor


@pytest.mark.django_db
def test_bench_on_an_unmigrated_database_says_to_migrate(monkeypatch):
    # the fault injected: the migration plan is not empty (a fresh database file)
    monkeypatch.setattr(MigrationExecutor, "migration_plan",
                        lambda self, targets, clean_start=False: [("generation", "0001")])
    with pytest.raises(CommandError, match="not migrated"):
        call_command("bench", "--jobs", "1")


@pytest.mark.django_db
def test_bench_refuses_zero_jobs_before_starting_anything():
    with pytest.raises(CommandError, match="at least 1"):
        call_command("bench", "--jobs", "0")
