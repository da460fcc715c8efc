"""A job's websocket stops with the session that opened it: after log-out, a password change
or account deletion it is closed at the next event instead of streaming on."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.services import delete_account
from generation import services
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def _listen_then(owner, after, events: int = 1):
    """Open the owner's job socket through the whole site, call ``after(client)``, send a
    progress event; returns the messages the socket got after its first state."""
    from studio.asgi import application

    job = services.submit_job(user=owner, kind="compose", params={"bars": 2})
    client = Client()
    client.force_login(owner)
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()

    async def run():
        headers = [(b"origin", b"http://localhost"), (b"host", b"localhost"), (b"cookie", cookie)]
        communicator = WebsocketCommunicator(application, f"/ws/jobs/{job.id}/", headers=headers)
        connected, _ = await communicator.connect()
        assert connected
        await communicator.receive_json_from(timeout=5)  # the state at connect
        from asgiref.sync import sync_to_async

        await sync_to_async(after)(client)
        state = {**services.job_state(job), "stage": "composing"}
        for _ in range(events):
            await get_channel_layer().group_send(job.group_name,
                                                 {"type": "job.progress", "state": state})
        got = [await communicator.receive_output(timeout=5) for _ in range(events)]
        await communicator.disconnect()
        return got

    return async_to_sync(run)()


def test_the_socket_streams_while_the_session_lives(owner):
    got = _listen_then(owner, lambda client: None, events=2)
    assert [m["type"] for m in got] == ["websocket.send", "websocket.send"]


@pytest.mark.parametrize("what", ["log out", "change password", "delete account"])
def test_the_socket_closes_when_the_session_ends(owner, what):
    def end(client):
        if what == "log out":
            assert client.post("/accounts/logout/").status_code == 302
        elif what == "change password":
            other = Client()  # from another device: this session's hash no longer matches
            other.force_login(owner)
            other.post("/accounts/password/change/", {
                "old_password": PASSWORD, "new_password1": "an0ther-Strong-secret",
                "new_password2": "an0ther-Strong-secret"})
        else:
            delete_account(user=owner)

    got = _listen_then(owner, end)
    assert got[0]["type"] == "websocket.close" and got[0]["code"] == 4401
