"""Where generated and uploaded files live: the local MEDIA_ROOT (the default) or an
S3-compatible bucket (``STUDIO_STORAGE=s3``, through django-storages' S3Storage as Django's
default storage), so that web processes and workers on different machines share no disk.

Names are relative to MEDIA_ROOT or to the bucket ("tracks/<id>/track.mid", "jobs/<id>/..."),
and every function refuses a name that would leave them. A worker still renders into a local
staging folder (``MEDIA_ROOT/staging``) and publishes the finished folder with
``publish_folder``.
"""

from __future__ import annotations

import posixpath
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage


def remote() -> bool:
    """True when files live in the object store."""
    return getattr(settings, "STUDIO_STORAGE", "local") == "s3"


def media_root() -> Path:
    return Path(settings.MEDIA_ROOT)


def _clean(relative: str) -> str | None:
    """``relative`` as a plain object name, or None when it would leave the root."""
    name = posixpath.normpath(str(relative).replace("\\", "/"))
    if not relative or name.startswith(("/", "..")) or name in (".", ""):
        return None
    return name


def local_path(relative: str) -> Path | None:
    """The existing local file at ``relative`` under MEDIA_ROOT (symbolic links resolved),
    or None: missing, or a path that would lead outside MEDIA_ROOT."""
    root = media_root().resolve()
    path = (root / relative).resolve()
    if root not in path.parents or not path.is_file():
        return None
    return path


def exists(relative: str) -> bool:
    name = _clean(relative)
    if name is None:
        return False
    if remote():
        return default_storage.exists(name)
    return local_path(name) is not None


def size(relative: str) -> int:
    name = _clean(relative)
    if remote():
        return default_storage.size(name)
    return local_path(name).stat().st_size


def save_bytes(relative: str, data: bytes) -> None:
    """Write ``data`` at ``relative`` (replacing what was there)."""
    name = _clean(relative)
    if name is None:
        raise ValueError(f"refusing to write outside the media root: {relative!r}")
    if remote():
        default_storage.save(name, ContentFile(data))
        return
    path = media_root() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def read_bytes(relative: str) -> bytes | None:
    """The file's content, or None when there is no such file."""
    name = _clean(relative)
    if name is None:
        return None
    if remote():
        if not default_storage.exists(name):
            return None
        with default_storage.open(name, "rb") as f:
            return f.read()
    path = local_path(name)
    return path.read_bytes() if path else None


def fetch(relative: str, dest: Path) -> Path | None:
    """A local copy of the stored file at ``dest`` (the file itself when it is local and
    ``dest`` is not needed); None when there is no such file."""
    name = _clean(relative)
    if name is None:
        return None
    if not remote():
        return local_path(name)
    data = read_bytes(name)
    if data is None:
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)
    return dest


def publish_folder(src: Path, relative: str) -> None:
    """Move a finished local folder to ``relative``: a rename under MEDIA_ROOT, or an upload
    of each file to the bucket followed by removing the local folder."""
    name = _clean(relative)
    if name is None:
        raise ValueError(f"refusing to publish outside the media root: {relative!r}")
    if not remote():
        target = media_root() / name
        if target.exists():  # left by a crash between move and commit long ago
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(src), str(target))
        return
    remove_folder(name)  # a half-published earlier try
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        key = f"{name}/{path.relative_to(src).as_posix()}"
        with path.open("rb") as f:
            default_storage.save(key, f)
    shutil.rmtree(src, ignore_errors=True)


def delete(relative: str) -> None:
    """Remove one file (nothing when it is not there)."""
    name = _clean(relative)
    if name is None:
        return
    if remote():
        default_storage.delete(name)
        return
    path = local_path(name)
    if path is not None:
        path.unlink(missing_ok=True)


def remove_folder(relative: str) -> None:
    """Remove everything under ``relative`` (a folder under MEDIA_ROOT or a key prefix)."""
    name = _clean(relative)
    if name is None:
        return
    if remote():
        dirs, files = default_storage.listdir(name)
        for file in files:
            default_storage.delete(f"{name}/{file}")
        for folder in dirs:
            remove_folder(f"{name}/{folder}")
        return
    root = media_root().resolve()
    target = (root / name).resolve()
    if root not in target.parents:
        return
    shutil.rmtree(target, ignore_errors=True)


def signed_url(relative: str, *, content_type: str, disposition: str) -> str:
    """A URL of the stored object that works for STUDIO_SIGNED_URL_SECONDS, answering with
    the given type and disposition (S3 honours Range on it)."""
    return default_storage.url(
        _clean(relative),
        parameters={"ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition,
                    "ResponseCacheControl": "private, no-cache"},
        expire=settings.STUDIO_SIGNED_URL_SECONDS,
    )
