"""Hosting: local files put where a URL-only API can fetch them (an S3-compatible bucket).

`--host s3://bucket/prefix` (or `STORYBOARD_HOST`, or `host` in the config file) names the
bucket; any endpoint works (AWS, R2, MinIO, Backblaze) through `AWS_ENDPOINT_URL`, and the
credentials come from the usual AWS variables and profiles, read by boto3 as every AWS tool
reads them. Objects are named by content (`<prefix><sha256><.ext>`), so a file is uploaded once
ever: a HEAD finds it before any PUT. A PUT is atomic in S3 (an upload cut off creates nothing)
and is sent with the file's SHA-256 checksum, which the server verifies, so nothing partial ever
sits under the final name. The API gets a presigned GET URL that outlives the job.

Messages name the bucket and the file, never a key, a signature or a presigned URL (those are
credentials): the secret key is registered with `credentials.remember` and every message goes
through `credentials.scrub`.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import DEFAULTS
from .credentials import remember, scrub
from .digest import file_sha256

HOST_VARIABLE = DEFAULTS["host"]
URL_LIFETIME = 7 * 24 * 3600  # the longest a SigV4 presigned URL may live; a job takes minutes

# What S3-compatible servers answer, in words a user can act on.
REFUSALS = {
    "NoSuchBucket": "the bucket does not exist",
    "InvalidAccessKeyId": "the endpoint does not know the access key (check AWS_ACCESS_KEY_ID or AWS_PROFILE)",
    "SignatureDoesNotMatch": "the secret key was refused (check AWS_SECRET_ACCESS_KEY or AWS_PROFILE)",
    "AccessDenied": "access denied: the credentials may not write to this bucket",
    "BadDigest": "the upload was damaged on the way (its checksum did not match); run again",
    "InvalidDigest": "the upload was damaged on the way (its checksum did not match); run again",
}


class HostingError(Exception):
    """A file could not be hosted: one line naming the bucket and the file, scrubbed."""

    def __init__(self, message: str):
        super().__init__(scrub(message))


@dataclass(frozen=True)
class Bucket:
    name: str
    prefix: str  # "" or ends with "/"

    def __str__(self) -> str:
        return f"s3://{self.name}/{self.prefix}"


def parse_host(url: str) -> Bucket:
    """`s3://bucket/some/prefix` -> Bucket("bucket", "some/prefix/"); ValueError otherwise."""
    parts = urlsplit(url.strip())
    if parts.scheme != "s3" or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"the host must look like s3://bucket/prefix, not {url!r}")
    prefix = parts.path.strip("/")
    return Bucket(parts.netloc, f"{prefix}/" if prefix else "")


class S3Host:
    """Uploads local files to one bucket and hands out presigned GET URLs for them."""

    def __init__(self, url: str, *, client: Any = None, lifetime: int = URL_LIFETIME):
        self.bucket = parse_host(url)
        self.lifetime = lifetime
        self._client = client
        self._urls: dict[Path, str] = {}

    def __repr__(self) -> str:
        return f"S3Host({str(self.bucket)!r})"

    def object_name(self, path: Path, digest: str | None = None) -> str:
        """The file's content address in the bucket (the extension kept: vendors read it)."""
        return f"{self.bucket.prefix}{digest or file_sha256(path)}{Path(path).suffix.lower()}"

    def where(self, path: Path) -> str:
        """Where `path` goes, for the plan: s3://bucket/prefix/<sha256>.ext."""
        return f"s3://{self.bucket.name}/{self.object_name(path)}"

    def url_for(self, path: Path) -> str:
        """A presigned GET URL for `path`, uploading it first unless the bucket has it."""
        path = Path(path).resolve()
        if path not in self._urls:
            name = self._ensure(path)
            self._urls[path] = self._presign(path, name)
        return self._urls[path]

    def upload_all(self, paths: list[Path]) -> None:
        """Host every file (before any create: a failure here sends nothing)."""
        for p in dict.fromkeys(Path(p).resolve() for p in paths):
            self.url_for(p)

    # ---- boto3 ----
    def client(self) -> Any:
        if self._client is None:
            self._client = self._new_client()
        return self._client

    def _new_client(self) -> Any:
        import boto3
        import botocore.config
        import botocore.exceptions

        try:
            session = boto3.session.Session()
            creds = session.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:  # a broken profile, say
            raise HostingError(f"cannot use the bucket {self.bucket}: {_describe(exc)}") from None
        if creds is not None:  # whatever source they came from, they never reach a message
            frozen = creds.get_frozen_credentials()
            remember(frozen.secret_key)
            remember(frozen.token)
        config = botocore.config.Config(retries={"max_attempts": 3, "mode": "standard"},
                                        connect_timeout=10, read_timeout=60, signature_version="s3v4")
        return session.client("s3", config=config)

    def _ensure(self, path: Path) -> str:
        """The object name of `path` in the bucket, uploaded unless already there whole."""
        digest = file_sha256(path)
        name = self.object_name(path, digest)
        size = path.stat().st_size
        if self._has(path, name, size):
            return name
        checksum = base64.b64encode(bytes.fromhex(digest)).decode("ascii")
        try:
            with open(path, "rb") as body:
                self.client().put_object(Bucket=self.bucket.name, Key=name, Body=body, ContentLength=size,
                                         ChecksumSHA256=checksum)
        except HostingError:
            raise
        except Exception as exc:
            raise self._error("upload", path, exc) from None
        return name

    def _has(self, path: Path, name: str, size: int) -> bool:
        try:
            head = self.client().head_object(Bucket=self.bucket.name, Key=name)
        except HostingError:
            raise
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self._error("look for", path, exc) from None
        return int(head.get("ContentLength", -1)) == size

    def _presign(self, path: Path, name: str) -> str:
        try:
            return self.client().generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket.name, "Key": name}, ExpiresIn=self.lifetime)
        except Exception as exc:
            raise self._error("sign a URL for", path, exc) from None

    def _error(self, action: str, path: Path, exc: Exception) -> HostingError:
        return HostingError(f"cannot {action} {path} in the bucket {self.bucket}: {_reason(exc, self.bucket)}")


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error") or {}
        return str(error.get("Code") or response.get("ResponseMetadata", {}).get("HTTPStatusCode") or "")
    return ""


def _reason(exc: Exception, bucket: Bucket) -> str:
    import botocore.exceptions as bx

    code = _code(exc)
    if code in REFUSALS:
        return REFUSALS[code]
    if code in ("403", "Forbidden"):
        return "the endpoint refused the credentials (HTTP 403)"
    if code == "404":
        return f"the bucket {bucket.name} does not exist (HTTP 404)"
    if isinstance(exc, bx.NoCredentialsError):
        return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE"
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError)):
        return "cannot reach the endpoint (check AWS_ENDPOINT_URL)"
    if isinstance(exc, (bx.ConnectionClosedError, bx.ReadTimeoutError, OSError)):
        return f"the upload was cut off ({_describe(exc)}); nothing was left under the final name, run again"
    return _describe(exc)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
