"""How local files reach an API that takes only URLs: a bucket the writer named, or the
vendor's own storage.

`FileHosting` is mixed into a job-API provider (Together, ModelArk, fal, Replicate). For a local
video or audio (or an image too big to go inline whole) it uses, in order:
1. the bucket named by `--host`, the story's `host:`, STORYBOARD_HOST or the config file (an
   `S3Host`, see `storyboard.hosting`), when one is named: the writer chose where files go;
2. else the vendor's own storage when it has one (`storage_class`: fal storage, Replicate files);
3. else nothing: `check` reports SB305 at the line, with a hint naming the `host` setting.

Vendor storage is content-addressed like the bucket: `UploadLedger` remembers in the render's
state folder the URL each file (by its SHA-256) was given and when it expires, so a file is
uploaded once ever, and again only when its URL would expire before a render could finish.
Uploads happen in `prepare_inputs`, after the render was confirmed (`--yes` or the prompt) and
before the first create: a failure is one line naming the file and the storage, and nothing is
sent. Messages never carry the key (`ProviderError` scrubs them) nor a signed upload URL.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import mimetypes
import os
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .. import config
from ..config import Sourced
from ..credentials import key_source
from .base import MediaKind, ProviderError
from .inline import MAX_INLINE_IMAGE

log = logging.getLogger("storyboard.providers.hosted")

# A remembered URL is used again only if it lives this much longer: a render (queue, job, the
# vendor fetching the file) must finish while the file is still there.
REUSE_MARGIN = 6 * 3600
UPLOAD_ATTEMPTS = 3  # an upload is free and makes nothing billable: a dropped one is sent again
LEDGER_FOLDER = "uploads"
CONTENT_TYPES = {".mp4": "video/mp4", ".mov": "video/quicktime", ".mp3": "audio/mpeg", ".wav": "audio/wav",
                 ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp"}


class StorageError(ProviderError):
    """A file could not be put in the vendor's storage: one line naming the file."""

    def __init__(self, message: str, *, status: int | None = None):
        super().__init__(message, status=status, code="hosting")


class _Retry(Exception):
    """An upload attempt that failed in a way worth one more (a dropped connection, a 5xx)."""


@dataclass(frozen=True)
class Upload:
    url: str
    expires_at: float | None  # seconds since the epoch; None when the vendor keeps it for good


def content_type(path: Path) -> str:
    suffix = Path(path).suffix.lower()
    return CONTENT_TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] or "application/octet-stream"


def content_name(path: Path, digest: str) -> str:
    """The name a file is stored under: its SHA-256 and extension (never the writer's file name)."""
    return f"{digest}{Path(path).suffix.lower()}"


def parse_time(value: Any) -> float | None:
    """An ISO 8601 time (`2024-08-23T12:26:51.079Z`) as seconds since the epoch; None if absent
    or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


class UploadLedger:
    """sha256 -> (URL, expiry) of the files already in a vendor's storage, kept in one JSON file
    per endpoint in the state folder (replaced atomically, readable by the owner only). A damaged
    or missing ledger only costs an upload."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self._files: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        if self.path is None:
            return {}
        try:
            data = json.loads(self.path.read_text("utf-8"))
        except (OSError, ValueError):
            return {}
        files = data.get("files") if isinstance(data, dict) else None
        return files if isinstance(files, dict) else {}

    def url(self, digest: str, now: float | None = None) -> str | None:
        """The remembered URL of this content, unless it expires within REUSE_MARGIN."""
        entry = self._files.get(digest)
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            return None
        expires = entry.get("expires_at")
        if expires is None:
            return entry["url"]
        if not isinstance(expires, (int, float)) or expires - (now or time.time()) < REUSE_MARGIN:
            return None
        return entry["url"]

    def remember(self, digest: str, upload: Upload) -> None:
        from ..atomic import write_text

        self._files[digest] = {"url": upload.url, "expires_at": upload.expires_at, "uploaded_at": time.time()}
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            write_text(self.path, json.dumps({"version": 1, "files": self._files}, indent=1), mode=0o600)


class VendorStorage:
    """A vendor's own file storage: a local file uploaded once (by content) and its URL.

    A vendor subclass says what it is called (`label`), where it lives (`origin`) and how one
    upload goes (`upload`, which raises `_Retry` for a failure worth another attempt)."""

    label = "storage"

    def __init__(self, provider: Any):
        self.provider = provider
        self.ledger = UploadLedger()
        self._digests: dict[Path, tuple[tuple[int, int, int], str]] = {}

    @property
    def origin(self) -> str:
        raise NotImplementedError

    def bind(self, state_dir: Path | None) -> None:
        """Remember uploads in this state folder, one ledger per storage endpoint (a fake's
        files are not the real vendor's)."""
        if state_dir is not None:
            endpoint = hashlib.sha256(self.origin.encode()).hexdigest()[:10]
            path = Path(state_dir) / LEDGER_FOLDER / f"{self.provider.name}-{endpoint}.json"
            if path != self.ledger.path:
                self.ledger = UploadLedger(path)

    def where(self, path: Path) -> str:
        """Where `path` goes, for `plan`."""
        return f"{self.label} ({self.origin})"

    def holds(self, path: Path) -> bool:
        """Whether the storage has `path` already, for long enough that a render will not upload it."""
        return self.ledger.url(self.digest(path)) is not None

    def url_for(self, path: Path) -> str:
        """The file's URL in the vendor's storage, uploading it unless it is there already."""
        path = Path(path).resolve()
        digest = self.digest(path)
        url = self.ledger.url(digest)
        if url is None:
            upload = self._upload_with_retries(path, digest)
            self.ledger.remember(digest, upload)
            url = upload.url
            log.info("%s: uploaded %s", self.label, path.name)
        return url

    def digest(self, path: Path) -> str:
        """The file's SHA-256, read once per version of the file."""
        from ..digest import file_sha256

        path = Path(path).resolve()
        try:
            st = path.stat()
        except OSError as exc:
            raise self.error(path, f"cannot read it ({exc.strerror or exc})") from None
        identity = (st.st_size, st.st_mtime_ns, st.st_ino)
        known = self._digests.get(path)
        if known is None or known[0] != identity:
            try:
                known = (identity, file_sha256(path))
            except OSError as exc:
                raise self.error(path, f"cannot read it ({exc.strerror or exc})") from None
            self._digests[path] = known
        return known[1]

    def _upload_with_retries(self, path: Path, digest: str) -> Upload:
        delay = self.provider.backoff[0]
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            try:
                return self.upload(path, digest)
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise self.error(path, f"its URL is not a usable http(s) URL ({exc})") from None
            except _Retry as exc:
                if attempt == UPLOAD_ATTEMPTS:
                    raise self.error(path, f"{exc} ({attempt} attempts); run again") from None
                log.info("%s: %s; trying again in %.1f s", self.label, exc, delay)
                time.sleep(delay)
                delay = min(delay * 2, self.provider.backoff[1])
        raise AssertionError("unreachable")

    def upload(self, path: Path, digest: str) -> Upload:
        raise NotImplementedError

    # ---- what every vendor's upload shares ----
    def error(self, path: Path, reason: str, status: int | None = None) -> StorageError:
        return StorageError(f"cannot upload {path} to {self.label} ({self.origin}): {reason}", status=status)

    def client(self) -> httpx.Client:
        return httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0),
                            headers={"User-Agent": f"storyboard ({self.provider.name} provider)"})

    def send(self, client: httpx.Client, path: Path, request: httpx.Request, what: str) -> httpx.Response:
        """Send one request of an upload; a refusal raises StorageError, a failure worth another
        attempt `_Retry`. Never names the URL: signed upload URLs are credentials."""
        try:
            resp = client.send(request)
        except httpx.UnsupportedProtocol:
            raise
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise _Retry(f"cannot reach {urlsplit(str(request.url)).netloc} ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            raise _Retry(f"the {what} was cut off ({type(exc).__name__}: {exc})") from None
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise _Retry(f"the {what} was answered HTTP {resp.status_code}")
        if not resp.is_success:
            raise self.error(path, self.refusal(resp, what), status=resp.status_code)
        return resp

    def refusal(self, resp: httpx.Response, what: str) -> str:
        if "Authorization" not in resp.request.headers:
            # A signed URL: its storage's error may echo the signature, so only its code is said.
            code = re.search(r"<Code>([A-Za-z]{1,64})</Code>", resp.text or "")
            return f"the {what} was refused: HTTP {resp.status_code}" + (f" ({code.group(1)})" if code else "")
        if resp.status_code in (401, 403):
            return (f"the {self.provider.key_noun} was refused (HTTP {resp.status_code}); "
                    f"check {self.provider.key_variable}")
        message, _ = self.provider.error_detail(resp)
        return f"the {what} was refused: HTTP {resp.status_code}: {message}"

    def answer(self, path: Path, resp: httpx.Response, *fields: str) -> dict[str, Any]:
        """The JSON object of a successful answer, which must hold `fields`."""
        try:
            data = resp.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or any(not data.get(f) for f in fields):
            raise self.error(path, f"its answer has no {' or '.join(fields)}")
        return data


def http_url(value: Any) -> bool:
    try:
        parts = urlsplit(value) if isinstance(value, str) else None
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return False
    return bool(parts and parts.scheme in ("http", "https") and parts.netloc)


class FileHosting:
    """Local videos and audios (and images too big to go inline) sent as URLs: through a named
    bucket, else the vendor's storage. Mixed in before `JobApiProvider` (it calls on to its
    `credential_problem` and `resolve_media`)."""

    hosts_files = True
    storage_class: type[VendorStorage] | None = None  # the vendor's own storage, if it has one
    host: Any = None  # the S3Host, once a bucket is named
    storage: VendorStorage | None = None
    _host_problem: str | None = None
    _base_host: Sourced | None = None
    sources: dict[str, str]
    limits: Any

    def _init_settings(self, api_key: str | None, host: Any) -> None:
        """Where the key came from, the bucket (or the vendor's storage), for `plan`."""
        self.sources = {"key": key_source(self.key_variable) if api_key is None else "given"}  # type: ignore[attr-defined]
        self.storage = self.storage_class(self) if self.storage_class is not None else None
        self._base_host = sourced(host, "--host", "host")
        self._use_host(self._base_host)

    @property
    def uploader(self) -> Any:
        """What carries local files: the bucket, the vendor's storage, or None."""
        return self.host if self.host is not None else self.storage

    def hosted_url(self, path: Path) -> str | None:
        uploader = self.uploader
        return self._hosted(uploader, path) if uploader is not None else None

    def uploads(self, kind: MediaKind, path: Path) -> bool:
        """Whether a local file goes by upload: videos and audios, and images too big to go
        inline whole (sent as they are rather than shrunk), when something carries them."""
        if self.uploader is None:
            return False
        if kind != "image":
            return True
        try:
            return Path(path).stat().st_size > MAX_INLINE_IMAGE
        except OSError:
            return False

    def resolve_media(self, kind: MediaKind, *, path: Path | None, url: str | None) -> str:
        if kind == "image" and path is not None and self.uploads(kind, path):
            return self._hosted(self.uploader, path)
        return super().resolve_media(kind, path=path, url=url)  # type: ignore[misc]

    def setting_sources(self) -> dict[str, str]:
        return dict(self.sources)

    def use_story_host(self, url: str | None) -> None:
        """The story's `host:` setting: it overrides STORYBOARD_HOST and the config file, and
        `--host` overrides it. None (a story without one) goes back to those."""
        base = self._base_host
        if url and not (base and base.source == "--host"):
            self._use_host(Sourced(url, "the story's host:"))
        else:
            self._use_host(base)

    def _use_host(self, chosen: Sourced | None) -> None:
        """Host local videos and audios in this bucket (an S3Host or s3:// URL), else in the
        vendor's storage. A URL that is not a bucket's is reported before anything is sent."""
        self.host, self._host_problem = bucket(chosen)
        self.sources["host"] = chosen.source if chosen else "none"
        self.limits = type(self).limits
        if self.uploader is not None:  # images still go inline
            self.limits = dataclasses.replace(self.limits, local_media=frozenset({"image", "video", "audio"}))

    def prepare_inputs(self, files: list[tuple[MediaKind, Path]], state_dir: Path | None = None) -> None:
        """Upload the local videos and audios before any create."""
        uploader = self.uploader
        if uploader is None:
            return
        if uploader is self.storage:
            self.storage.bind(state_dir)
        for kind, path in files:
            if self.uploads(kind, path):
                self._hosted(uploader, path)

    def _hosted(self, uploader: Any, path: Path) -> str:
        from ..hosting import HostingError

        try:
            return uploader.url_for(path)
        except HostingError as exc:
            raise ProviderError(str(exc), code="hosting") from None

    def credential_problem(self) -> str | None:
        return self._host_problem or super().credential_problem()  # type: ignore[misc]


def sourced(option: Any, option_name: str, default_name: str) -> Sourced | None:
    """An option given here, else its default from the environment or the config file."""
    if option is not None:
        return Sourced(option, option_name)
    return config.default(default_name)


def bucket(chosen: Sourced | None) -> tuple[Any, str | None]:
    """The bucket to host local files in (from an S3Host or a URL), and the problem with it if
    it is not a bucket URL (reported before anything is sent)."""
    from ..hosting import S3Host

    if chosen is None or not chosen.value:
        return None, None
    if not isinstance(chosen.value, str):
        return chosen.value, None
    try:
        return S3Host(chosen.value), None
    except ValueError as exc:
        return None, f"{exc} (from {chosen.source})"


def env_url(variable: str) -> str | None:
    value = os.environ.get(variable, "").strip()
    return value.rstrip("/") or None
