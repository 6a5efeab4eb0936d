"""The provider interface: what every provider tells the compiler (limits, words, request shape,
prices) and what it does for the render engine (create, poll, download). Interface only: every
vendor fact (models, pixel tables, limits, prices, wording) lives in the vendor's own module
(`seedance` for the Seedance 2.0 model family, `together` for Together's API)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

MediaKind = Literal["image", "video", "audio"]


@dataclass(frozen=True)
class Limits:
    """What a model accepts in one request (the checker's rules come from here)."""

    max_reference_images: int
    max_reference_videos: int
    max_reference_audios: int
    max_files: int
    max_frame_images: int
    min_prompt: int
    max_prompt: int
    min_seconds: int
    max_seconds: int
    resolutions: tuple[str, ...]
    ratios: tuple[str, ...]
    # Local files of these kinds can be sent (inlined or uploaded); others need URLs.
    local_media: frozenset[str] = frozenset({"image", "video", "audio"})


@dataclass(frozen=True)
class FrameImage:
    source: str  # placeholder or URL
    frame: Literal["first", "last"]


@dataclass(frozen=True)
class ClipSpec:
    """A provider-neutral generation request, produced by the compiler."""

    prompt: str
    seconds: int
    model: str
    resolution: str | None = None
    ratio: str | None = None
    width: int | None = None
    height: int | None = None
    seed: int | None = None
    audio: bool = True
    negative: str | None = None
    frame_images: tuple[FrameImage, ...] = ()
    reference_images: tuple[str, ...] = ()
    reference_videos: tuple[str, ...] = ()
    reference_audios: tuple[str, ...] = ()

    @property
    def has_video_input(self) -> bool:
        return bool(self.reference_videos)


@dataclass(frozen=True)
class Price:
    usd: float | None
    warning: str | None = None
    lower_bound: bool = False  # the provider bills "from" this rate (e.g. clips with video inputs)


# ---- runtime -------------------------------------------------------------------------------

JobState = Literal["running", "completed", "failed"]


@dataclass
class Job:
    id: str
    state: JobState
    video_url: str | None = None
    cost: float | None = None
    error: str | None = None
    error_code: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class ProviderError(Exception):
    """The provider refused or failed. `retryable` is true only when nothing was created."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 retryable: bool = False, retry_after: float | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.retryable = retryable
        self.retry_after = retry_after


class AmbiguousSubmit(ProviderError):
    """A create request failed after it may have reached the server: it may have been created
    (and billed). It must never be retried blindly."""


class Provider:
    """Base class. Subclasses set the class attributes and implement the methods."""

    name: str = "base"
    label: str = "base"  # how people name the provider ("Together")
    paid: bool = False
    model_label: str = "the model"  # how hints name the model the requests are for ("Seedance 2.0")
    limits: Limits

    # ---- compile time (pure) ----
    def model_id(self, model_setting: str | None) -> str:
        """The request's model for the story's `model:` setting (None: the default model)."""
        raise NotImplementedError

    def index_word(self, kind: MediaKind, n: int) -> str:
        """How a prompt refers to the n-th (1-based) input of a kind."""
        raise NotImplementedError

    def pixel_size(self, resolution: str, ratio: str) -> tuple[int, int]:
        raise NotImplementedError

    def build_request(self, spec: ClipSpec) -> dict[str, Any]:
        raise NotImplementedError

    def price(self, spec: ClipSpec) -> Price:
        return Price(0.0)

    def quote(self, body: dict[str, Any], tier: str | None = None) -> Price:
        """The price of a request body (what `price` gives for its spec), or of the same body
        rendered at another of `limits.resolutions` (`tier`)."""
        return Price(0.0)

    # ---- run time ----
    async def create(self, body: dict[str, Any], *, workdir: Path, **kwargs: Any) -> Job:
        """Submit a resolved request body. Raises ProviderError / AmbiguousSubmit. Providers may
        take presentation hints as keywords (preview: `captions`, `title`) and ignore others."""
        raise NotImplementedError

    async def get(self, job_id: str) -> Job:
        raise NotImplementedError

    async def download(self, job: Job, dest: Path) -> None:
        """Stream the job's video to `dest` (the caller renames it into place)."""
        raise NotImplementedError

    async def aclose(self) -> None:
        return None

    def resolve_media(self, kind: MediaKind, *, path: Path | None, url: str | None) -> str:
        """The request value for one input at submit time (render engine hook).

        `path` is a local file (a story file, or a rendered clip / extracted frame in the cache),
        `url` the provider's URL for it when one is known (a rendered clip's `video_url`).
        Default: the local absolute path (providers that read local files, like preview).
        Remote providers override this (inline images, URLs for video/audio) and raise
        ProviderError(retryable=False) for an input they cannot send."""
        if path is not None:
            return str(Path(path).resolve())
        if url is not None:
            return url
        raise ProviderError(f"no file or URL for a {kind} input")

    @property
    def namespace(self) -> str:
        """Where the render engine keeps this provider's jobs and clips apart from others': a
        job id or a clip from one server means nothing to another (a fake server, a proxy)."""
        url = getattr(self, "base_url", None)
        if not url:
            return self.name
        import hashlib

        return f"{self.name}-{hashlib.sha256(str(url).encode()).hexdigest()[:10]}"
