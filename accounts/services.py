"""Account state changes. Views stay thin; this is where deletion does its work."""

from __future__ import annotations

import logging

from django.contrib.auth import get_user_model
from django.db import transaction

log = logging.getLogger(__name__)


@transaction.atomic
def delete_account(*, user) -> None:
    """Delete a user with their tracks, jobs and files.

    Ratings they gave stay as anonymous evaluation data: the Rating model's foreign key to
    the user is ``SET_NULL``, so the rows outlive the account without naming anyone.
    """
    # Imported here so that accounts loads without the jobs layer's models at import time;
    # an ImportError must surface: skipping this would leave the user's files behind.
    from generation.services import delete_user_content

    delete_user_content(user=user)
    username = user.username
    get_user_model().objects.filter(pk=user.pk).delete()
    log.info("deleted account %s", username)
