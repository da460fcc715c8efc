"""ASGI entry point: HTTP (Django), websockets (job progress) and the background
``generation`` channel that `manage.py runworker generation` consumes."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
# Django must be set up before anything imports models (consumers do).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ChannelNameRouter, ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from generation.consumers import GenerationWorker, JobProgressConsumer  # noqa: E402
from studio.bodylimit import BodyLimitMiddleware  # noqa: E402

websocket_urlpatterns = [
    path("ws/jobs/<int:job_id>/", JobProgressConsumer.as_asgi()),
]

application = ProtocolTypeRouter({
    # request bodies over their path's limit are refused before Django reads them
    "http": BodyLimitMiddleware(django_asgi_app),
    "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    "channel": ChannelNameRouter({"generation": GenerationWorker.as_asgi()}),
})
