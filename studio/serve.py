"""daphne, with request bodies capped on the socket: ``python -m studio.serve [daphne args]``.

daphne (through Twisted) stores a request's whole body before it calls the application: a
body of unknown length (chunked) goes to a temporary file however large it grows. This
launcher runs daphne's own command line with a request class that counts the body's bytes
as they arrive and answers 413 as soon as they pass ``studio.bodylimit.body_limit`` for the
request's path; the body is kept in memory (it is never larger than the limit) and nothing
is written to disk. ``BodyLimitMiddleware`` applies the same limits inside the application,
for any other ASGI server.
"""

from __future__ import annotations

import sys
from io import BytesIO
from urllib.parse import unquote

from daphne import http_protocol
from daphne.cli import CommandLineInterface

# After a 413 the connection stays half-open this long, discarding what the client still
# sends, so that it reads the answer instead of a connection reset; then it is closed.
LINGER_SECONDS = 2.0


class CappedWebRequest(http_protocol.WebRequest):
    """daphne's request, refusing a body over its path's limit while it arrives."""

    body_refused = False

    def gotLength(self, length):  # noqa: N802 (Twisted's name)
        from studio.bodylimit import body_limit

        # Twisted has read the request line and the headers, not yet the body
        target = getattr(self.channel, "_path", b"/") or b"/"
        path = unquote(target.split(b"?", 1)[0].decode("latin-1"))
        self.body_limit = body_limit(path)
        self.body_seen = 0
        self.content = BytesIO()
        if length is not None and length > self.body_limit:
            self._refuse()

    def handleContentChunk(self, data):  # noqa: N802
        if self.body_refused:
            return
        self.body_seen += len(data)
        if self.body_seen > self.body_limit:
            self._refuse()
            return
        self.content.write(data)

    def process(self):
        if self.body_refused:
            return None
        return super().process()

    def _refuse(self) -> None:
        from twisted.internet import reactor

        from studio.bodylimit import TOO_LARGE_MESSAGE

        self.body_refused = True
        self.content = BytesIO()
        transport = self.channel.transport
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(TOO_LARGE_MESSAGE)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + TOO_LARGE_MESSAGE
        )
        transport.loseWriteConnection()
        reactor.callLater(LINGER_SECONDS, transport.abortConnection)


def main(argv: list[str] | None = None) -> None:
    # daphne's HTTPFactory builds each request from this module-level name
    http_protocol.WebRequest = CappedWebRequest
    CommandLineInterface().run(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
