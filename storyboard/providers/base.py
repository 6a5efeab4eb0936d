"""The provider interface: what every provider tells the compiler (limits, words, request shape,
prices) and what it does for the render engine (create, poll, download). Interface only: every
vendor fact (models, pixel tables, limits, prices, wording) lives in the vendor's own module
(`seedance` for the Seedance 2.0 model family, `together` for Together's API)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ..credentials import scrub

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
    # Whether a request can name its own pixel size (`size: WxH`) rather than resolution and ratio.
    custom_size: bool = True


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
    # A later clip opens on (or morphs from) this clip's last frame: a provider that can return
    # it with the video (ModelArk's `return_last_frame`) asks for it, so nothing is decoded.
    last_frame_wanted: bool = False

    @property
    def has_video_input(self) -> bool:
        return bool(self.reference_videos)


@dataclass(frozen=True)
class Price:
    usd: float | None
    warning: str | None = None
    lower_bound: bool = False  # the provider bills "from" this rate (e.g. clips with video inputs)


@dataclass(frozen=True)
class DraftTake:
    """A picked take that was made at the draft tier, to be finished at the story's resolution."""

    seed: int | None  # the seed the draft was made with
    key: str  # the draft's request key (its file in the cache)
    job_id: str | None = None  # the provider's job that made it, when known


DRAFT_SHORT_SIDE = 480  # a `size:` clip's draft keeps its aspect ratio with this shorter side


def _resolution_pixels(label: str) -> int:
    m = re.match(r"([0-9]+)", label)
    return int(m.group(1)) if m else 1 << 30


# ---- runtime -------------------------------------------------------------------------------

JobState = Literal["running", "completed", "failed"]


@dataclass
class Job:
    id: str
    state: JobState
    video_url: str | None = None
    last_frame_url: str | None = None  # the provider's own last frame, when it returns one
    cost: float | None = None
    error: str | None = None
    error_code: str | None = None
    # How long the job ran by the provider's own clock, when its answer says: the render engine
    # predicts the next jobs' times from it (its own view from outside includes polling delays).
    seconds: float | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class ProviderError(Exception):
    """The provider refused or failed. `retryable` is true only when nothing was created.
    The message is scrubbed of secrets here, so no provider error can carry a key onward."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None,
                 retryable: bool = False, retry_after: float | None = None):
        super().__init__(scrub(message))
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
    # `create` takes `captions=` (the PlannedClip), `title=` and `edges=` (the seconds the clip
    # overlaps its neighbours in the film) and draws them
    takes_captions: bool = False
    limits: Limits
    hosts_files: bool = False  # a bucket (`host`) can carry the local files `limits` refuses

    # ---- compile time (pure) ----
    def model_id(self, model_setting: str | None) -> str:
        """The request's model for the story's `model:` setting (None: the default model)."""
        raise NotImplementedError

    def limits_for(self, model: str) -> Limits:
        """The limits of one of this provider's models (a model id, as `model_id` gives it): a
        vendor whose models differ (a "fast" model without 1080p) narrows `limits` here, so
        `check` reports what the server would refuse at the story's line."""
        return self.limits

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

    # ---- tiers (compile time, pure) ----
    # Said once by a plan that finishes drafts at the story's resolution, when the provider does
    # not promise that a finish looks like its draft (None: nothing to say).
    draft_caveat: str | None = None

    def draft_spec(self, spec: ClipSpec) -> ClipSpec:
        """The spec at the draft tier: the cheapest resolution at the same aspect ratio (a
        `size:` clip keeps its ratio at a short side of DRAFT_SHORT_SIDE pixels), the same
        prompt, inputs and seed."""
        if spec.width and spec.height:
            scale = DRAFT_SHORT_SIDE / min(spec.width, spec.height)
            if scale >= 1:
                return spec
            return replace(spec, width=_even(spec.width * scale), height=_even(spec.height * scale))
        return replace(spec, resolution=min(self.limits.resolutions, key=_resolution_pixels))

    def finish_draft(self, spec: ClipSpec, draft: DraftTake) -> ClipSpec:
        """The request spec that finishes a picked draft at the final tier (`spec`: the take at
        the story's resolution). Default: the draft's seed and prompt at the final resolution.
        A provider with a true draft-to-final path (Seedance 2.5's `draft_task` on ModelArk)
        overrides this (and `build_request`) to name the draft instead; the engine is unchanged."""
        return replace(spec, seed=draft.seed)

    # ---- run time ----
    def credential_problem(self) -> str | None:
        """Why this provider cannot authenticate (no key, a malformed key), in one line that names
        the setting and quotes none of the key; None when it can, or needs no key. Checked before
        anything is sent. Providers read their keys with `credentials.read_key`."""
        return None

    async def create(self, body: dict[str, Any], *, workdir: Path, **kwargs: Any) -> Job:
        """Submit a resolved request body. Raises ProviderError / AmbiguousSubmit. A provider that
        declares `takes_captions` is also given `captions`, `title` and `edges` (presentation hints)."""
        raise NotImplementedError

    async def get(self, job_id: str) -> Job:
        raise NotImplementedError

    async def download(self, job: Job, dest: Path) -> None:
        """Stream the job's video to `dest` (the caller renames it into place)."""
        raise NotImplementedError

    async def download_last_frame(self, job: Job, dest: Path) -> bool:
        """Save the last frame the provider returned with a finished job (`job.last_frame_url`)
        to `dest`; False when it returned none (the engine then decodes the video's last frame)."""
        return False

    async def aclose(self) -> None:
        return None

    def use_story_host(self, url: str | None) -> None:
        """The story's `host:` setting (a bucket for local files; None: the story has none).
        Providers that host files (`hosts_files`) use it, before the story is checked."""
        return None

    def setting_sources(self) -> dict[str, str]:
        """Where each of the provider's settings came from (an option, a variable, the config
        file, the story), by setting name, for `plan`. Never a value that is a secret."""
        return {}

    def prepare_inputs(self, files: list[tuple[MediaKind, Path]], state_dir: Path | None = None) -> None:
        """Put the local inputs of the clips about to be submitted wherever the provider needs
        them (hosting), before any create; raise ProviderError to send nothing. `state_dir` is
        the render's state folder (where a provider may remember its uploads). Default: none."""
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
    def endpoint(self) -> str | None:
        """The server this provider talks to, written one way (see `normalize_endpoint`), or
        None for a provider that talks to no server (preview)."""
        url = getattr(self, "base_url", None)
        return normalize_endpoint(str(url)) if url else None

    @property
    def namespace(self) -> str:
        """Where the render engine keeps this provider's jobs and clips apart from others': a
        job id or a clip from one server means nothing to another (a fake server, a proxy).
        Keyed by the normalized endpoint, so the same server written another way
        (`localhost` for `127.0.0.1`, a trailing slash) finds the jobs it already has."""
        endpoint = self.endpoint
        if not endpoint:
            return self.name
        import hashlib

        return f"{self.name}-{hashlib.sha256(endpoint.encode()).hexdigest()[:10]}"


LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
DEFAULT_PORTS = {"http": 80, "https": 443}


def _even(x: float) -> int:
    return max(2, int(round(x / 2)) * 2)


def normalize_endpoint(url: str) -> str:
    """One spelling per server: scheme and host in lower case, the scheme's default port
    dropped, no trailing slash, and every loopback name written `127.0.0.1` (the spelling the
    namespaces of earlier versions were made from, so their journals stay where they were).
    User info, query and fragment are not part of a server's identity and are dropped."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()  # urlsplit drops the brackets of an IPv6 literal
    if host in LOOPBACK_HOSTS:
        host = "127.0.0.1"
    try:
        port = parts.port
    except ValueError:  # not a number: keep the text as given, it names no other server
        port = None
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != DEFAULT_PORTS.get(scheme):
        netloc += f":{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"
