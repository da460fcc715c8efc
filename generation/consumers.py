"""Placeholder consumers until the jobs work lands (the names are what studio.asgi routes)."""

import logging

from channels.consumer import SyncConsumer
from channels.generic.websocket import WebsocketConsumer

log = logging.getLogger(__name__)


class GenerationWorker(SyncConsumer):
    def job_run(self, message):
        log.info("job.run received for %s (no pipeline yet)", message.get("job_id"))


class JobProgressConsumer(WebsocketConsumer):
    def connect(self):
        self.close(code=4404)
