"""Serving a track's files: access checked like the API, HTTP Range for audio, a download
name, ``X-Content-Type-Options: nosniff``. MEDIA_ROOT is never listed or served directly.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from django.http import Http404, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.urls import reverse
from django.utils.text import slugify

from generation import storage
from generation.models import Track

CHUNK_BYTES = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
# A position with more digits than this is past the end of any file (and int() refuses
# strings of more than 4,300 digits).
_MAX_DIGITS = 18
_PAST_ANY_FILE = 10**_MAX_DIGITS

# kind -> (content type, disposition when not asked to download)
FILE_KINDS: dict[str, tuple[str, str]] = {
    "midi": ("audio/midi", "attachment"),
    "musicxml": ("application/vnd.recordare.musicxml+xml", "attachment"),
    "svg": ("image/svg+xml", "inline"),
    "svg_phone": ("image/svg+xml", "inline"),  # the same score laid out for a phone's width
    "timemap": ("application/json", "inline"),
    "audio": ("", "inline"),  # type from the extension
    "pianoroll": ("image/png", "inline"),
    # a style transfer's seed, rendered beside the result for comparison
    "original_audio": ("", "inline"),
    "original_pianoroll": ("image/png", "inline"),
}
# kinds the track page reads with fetch(); with object storage these are answered here, the
# others (audio, images, downloads) redirect to a signed URL of the bucket
FETCHED_BY_SCRIPT = ("svg", "svg_phone", "timemap")
AUDIO_TYPES = {".mp3": "audio/mpeg", ".ogg": "audio/ogg", ".wav": "audio/wav"}


def track_file_name(track: Track, kind: str, page: int = 1) -> str:
    """The stored name of the file of ``kind`` for ``track`` (relative to MEDIA_ROOT or the
    bucket), or Http404. Names come from the Track row (written by the worker)."""
    if kind not in FILE_KINDS:
        raise Http404("no such file")
    value = (track.files or {}).get(kind)
    if isinstance(value, list):
        if not 1 <= page <= len(value):
            raise Http404("no such page")
        value = value[page - 1]
    if not value:
        raise Http404("no such file")
    return value


def track_file_path(track: Track, kind: str, page: int = 1) -> Path:
    """The file of ``kind`` for ``track`` on local disk, or Http404. Paths are checked to
    stay under MEDIA_ROOT all the same."""
    path = media_file(track_file_name(track, kind, page))
    if path is None:
        raise Http404("no such file")
    return path


def track_file_bytes(track: Track, kind: str, page: int = 1) -> bytes:
    """The content of a track's file wherever it is stored, or Http404."""
    data = storage.read_bytes(track_file_name(track, kind, page))
    if data is None:
        raise Http404("no such file")
    return data


def media_file(relative: str) -> Path | None:
    """The existing file at ``relative`` under MEDIA_ROOT, or None (missing, or a path that
    would lead outside MEDIA_ROOT)."""
    return storage.local_path(relative)


def file_url(track: Track, kind: str, *, token: str | None = None, page: int | None = None,
             download: bool = False) -> str:
    """URL of one of a track's files through the access-checked file views; with a share
    token it works for anyone holding the link (and stops when the link is revoked)."""
    if token:
        url = reverse("generation:api-shared-file", args=[token, kind])
    else:
        url = reverse("generation:api-track-file", args=[track.id, kind])
    query = [q for q in (f"page={page}" if page else "", "download=1" if download else "") if q]
    return url + ("?" + "&".join(query) if query else "")


def file_urls(track: Track, token: str | None = None) -> dict:
    """The URL of each file the track has (kinds of FILE_KINDS; "svg" is the first page),
    plus ``svg_pages`` and ``svg_phone_pages``: one URL per page of the score as laid out
    for a wide screen and for a phone (tracks made before phone layouts have none)."""
    files = track.files or {}
    out = {kind: file_url(track, kind, token=token) for kind in FILE_KINDS if files.get(kind)}
    for kind, key in (("svg", "svg_pages"), ("svg_phone", "svg_phone_pages")):
        out[key] = [file_url(track, kind, token=token, page=i)
                    for i in range(1, len(files.get(kind) or []) + 1)]
    return out


def _file_iterator(path: Path, start: int, length: int):
    with path.open("rb") as f:
        f.seek(start)
        remaining = length
        while remaining > 0:
            chunk = f.read(min(CHUNK_BYTES, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """One ``bytes=`` range -> (start, end inclusive); None when absent or not one simple
    range (then the whole file is sent, as RFC 9110 allows); "unsatisfiable" for 416."""
    match = _RANGE.match(header.strip()) if header else None
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        length = _position(last)
        if length == 0:
            return "unsatisfiable"
        return (max(0, size - length), size - 1)
    start = _position(first)
    end = _position(last) if last else size - 1
    if start >= size or end < start:
        return "unsatisfiable"
    return (start, min(end, size - 1))


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= _MAX_DIGITS else _PAST_ANY_FILE


def serve_track_file(request, track: Track, kind: str, page: int = 1) -> HttpResponse:
    """The response for one file of a track the caller may see (access is checked by the
    caller, the same way as for the track's metadata).

    With object storage the answer is a redirect to a signed URL that works for
    STUDIO_SIGNED_URL_SECONDS (the store answers Range requests itself); the access check
    runs on every request here, so a track made private stops being reachable through its
    files at once, and through URLs handed out before within that many seconds."""
    name = track_file_name(track, kind, page)
    suffix_of_file = PurePosixPath(name).suffix
    content_type, disposition = FILE_KINDS[kind]
    if kind in ("audio", "original_audio"):
        content_type = AUDIO_TYPES.get(suffix_of_file, "application/octet-stream")
    if request.GET.get("download"):
        disposition = "attachment"
    base = slugify(track.title)[:60] or f"track-{track.pk}"
    suffix = f"-{page}" if kind == "svg" else ""
    filename = f"{base}{suffix}{suffix_of_file}"
    if storage.remote() and kind in FETCHED_BY_SCRIPT:
        # small, and read by the page's fetch(): served from here, so the bucket needs no
        # CORS rule and the page's connect-src stays 'self'
        data = storage.read_bytes(name)
        if data is None:
            raise Http404("no such file")
        response = HttpResponse(data, content_type=content_type)
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
        response["X-Content-Type-Options"] = "nosniff"
        response["Cache-Control"] = "private, no-cache"
        return response
    if storage.remote():
        if not storage.exists(name):
            raise Http404("no such file")
        response = HttpResponseRedirect(storage.signed_url(
            name, content_type=content_type, disposition=f'{disposition}; filename="{filename}"'))
        response["Cache-Control"] = "private, no-store"
        return response
    return serve_path(request, track_file_path(track, kind, page), content_type=content_type,
                      disposition=f'{disposition}; filename="{filename}"')


def serve_path(request, path: Path, *, content_type: str, disposition: str) -> HttpResponse:
    """A file under MEDIA_ROOT with HTTP Range support, never cached by shared caches (the
    caller has checked access)."""
    size = path.stat().st_size
    wanted = parse_range(request.headers.get("Range", ""), size)
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = StreamingHttpResponse(
            _file_iterator(path, 0, size), status=200, content_type=content_type
        )
        response["Content-Length"] = str(size)
    else:
        start, end = wanted
        length = end - start + 1
        response = StreamingHttpResponse(
            _file_iterator(path, start, length), status=206, content_type=content_type
        )
        response["Content-Length"] = str(length)
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    # Every request is checked again, so that making a track private (or staff hiding it)
    # takes effect at once: no shared cache may keep a copy.
    response["Cache-Control"] = "private, no-cache"
    return response
