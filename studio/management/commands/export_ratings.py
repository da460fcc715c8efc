"""``manage.py export_ratings [--format csv|json]``: every rating and every pairwise answer,
once each, on stdout (CSV: a header, then one row per answer; an empty database gives the
header alone; JSON: a list).

Raters appear under pseudonyms (a salted SHA-256 of the account, with a fresh random salt
per export): stable within one export, not linkable across exports or to accounts.
"""

from __future__ import annotations

import io

from django.core.management.base import BaseCommand

from studio.export import json_text, write_csv


class Command(BaseCommand):
    help = "Print every rating and pairwise answer (pseudonymous raters) as CSV or JSON."

    def add_arguments(self, parser):
        parser.add_argument("--format", choices=["csv", "json"], default="csv")

    def handle(self, *args, **options):
        if options["format"] == "json":
            self.stdout.write(json_text())
            return
        buffer = io.StringIO()
        write_csv(buffer)
        self.stdout.write(buffer.getvalue(), ending="")
