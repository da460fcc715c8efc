"""``manage.py runworker generation``: channels' runworker with ``DoorbellWorker``, which
receives a doorbell only when the worker is free (see generation.consumers).

This command shadows channels' own because ``generation`` comes before ``channels`` in
INSTALLED_APPS (as daphne's runserver shadows Django's).
"""

from channels.management.commands.runworker import Command as ChannelsRunworker


class Command(ChannelsRunworker):
    help = "Run the generation worker: takes queued jobs when a doorbell rings and it is free."

    @property
    def worker_class(self):
        from generation.consumers import DoorbellWorker

        return DoorbellWorker
