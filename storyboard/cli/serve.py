"""`storyboard serve` and `watch --serve`: the storyboard page from 127.0.0.1, with a button on each
take that picks it (or drops the pick).

    server = PickServer(Studio(story, provider, out_dir), port=0)   # 0: a free port
    server.start(); server.url  ...  server.stop()

A pick goes through `api.pick_take` / `api.unpick_take`, the code path of `storyboard pick` and
`unpick`, then the film is re-stitched from the cache and the page rewritten; the page reloads
itself (it polls `live.js`, whose stamp changes with every page). A pick never submits a job: with
the free preview provider the clips made from the picked take are drawn again on this machine;
with a paid one the render refuses anything it would send, and the answer names those clips and
the command that renders them (the money gate stays with `storyboard render`).

Who may pick: only the page this run served. Every request must name this server by its Host
(127.0.0.1 or localhost and this port: a DNS-rebinding site's name is refused, GET too, so it
cannot read the page's token); a POST must carry the run's random token (in the served page
only, never in the file on disk), must not come from another Origin (nor, by Sec-Fetch-Site, from
another site) and must be JSON. GET never changes anything. Anything else is 403 and changes
nothing. Standard library only (http.server's ThreadingHTTPServer); picks run one at a time.

Seeking: the players ask for byte ranges, and Chromium seeks only in a file answered with 206
Partial Content, so the files the page shows are served with `Accept-Ranges: bytes` and a single
range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) gets its bytes, streamed in chunks; a range past the
end is 416 with `Content-Range: bytes */size`; several ranges, a malformed one or a stale
`If-Range` get the whole file (200), as RFC 9110 section 14 allows. http.server answers no ranges.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import re
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer

from ..names import output_dir

TOKEN_HEADER = "X-Storyboard-Token"
TOKEN_SLOT = b'<meta name="storyboard-token" content="">'
MAX_BODY = 4096  # a pick is a clip name and a number
LOOPBACK = "127.0.0.1"
MEDIA_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".png", ".jpg", ".jpeg"}
CHUNK = 256 * 1024  # a file is streamed this much at a time, never read whole
ONE_RANGE = re.compile(r"bytes=\s*([0-9]*)-([0-9]*)\s*", re.IGNORECASE)  # RFC 9110 14.1.1, one range-spec
UNSATISFIABLE = (-1, -1)


@dataclass
class Answer:
    """What a pick or unpick did, as the page shows it."""

    status: int
    message: str
    changed: bool = False  # the picks file was written (the page reloads)
    command: str | None = None  # what the writer runs next (clips to render at a paid provider)
    needs_render: list[str] = field(default_factory=list)
    film: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"message": self.message, "changed": self.changed, "command": self.command,
                "needs_render": self.needs_render, "film": self.film}


class Studio:
    """One story's picks and page: pick or unpick, then re-stitch and rewrite the page."""

    def __init__(self, story: Path | str, provider: Any, *, out_dir: Path | str | None = None,
                 state_dir: Path | str | None = None, log=lambda message: None):
        self.story = Path(story)
        self.provider = provider
        self.out_dir = output_dir(self.story.resolve().parent, out_dir)
        self.state_dir = Path(state_dir) if state_dir else None
        self.log = log
        self.lock = threading.Lock()  # one pick, one stitch at a time (and with watch's rebuilds)

    def pick(self, clip: str, take: int) -> Answer:
        from .. import api
        from ..picks import PickError

        with self.lock:
            try:
                chosen = api.pick_take(self.story, self.provider, clip, take)
            except PickError as exc:
                return Answer(HTTPStatus.CONFLICT, str(exc))
            except OSError as exc:
                return Answer(HTTPStatus.INTERNAL_SERVER_ERROR, f"the picks file could not be written: {exc}")
            seed = "no seed" if chosen.seed is None else f"seed {chosen.seed}"
            self.log(f"{clip}: take {take} picked ({chosen.tier}, {seed}) from the page")
            return self._rebuilt(f"{clip}: take {take} picked ({seed})")

    def unpick(self, clip: str) -> Answer:
        from .. import api
        from ..picks import PickError

        with self.lock:
            try:
                gone = api.unpick_take(self.story, self.provider, clip)
            except PickError as exc:
                return Answer(HTTPStatus.CONFLICT, str(exc))
            except OSError as exc:
                return Answer(HTTPStatus.INTERNAL_SERVER_ERROR, f"the picks file could not be written: {exc}")
            if not gone:
                return Answer(HTTPStatus.CONFLICT, f"{clip} has no pick; nothing was changed")
            self.log(f"{clip}: pick dropped from the page")
            return self._rebuilt(f"{clip}: pick dropped; the film plays take 1")

    def rebuild(self) -> Answer:
        """Re-stitch the film from the cache (drawing what the free provider may draw) and
        rewrite the page. Never submits a paid job."""
        with self.lock:
            return self._rebuilt("page rewritten")

    def _rebuilt(self, done: str) -> Answer:
        from .. import api
        from ..render import RenderError

        compiled = api.compile_file(self.story, self.provider)
        if compiled.plan is None:
            errors = sum(1 for d in compiled.diagnostics if d.is_error)
            return Answer(HTTPStatus.OK, f"{done}; the story has {errors} error(s) now, so the film was not "
                                         f"re-stitched (`storyboard check {self.story.name}`)", changed=True)
        plan = compiled.plan
        refuse = {} if not self.provider.paid else {"approve": lambda summary: False, "max_cost": 0.0}
        try:
            result = api.render(plan, self.provider, state_dir=self.state_dir, out_dir=self.out_dir, **refuse)
        except RenderError as exc:
            summary = getattr(exc, "summary", None)
            if summary is None or not summary.submits:
                return Answer(HTTPStatus.OK, f"{done}; the film was not re-stitched: {exc}", changed=True)
            names = [t.name for t in summary.submits]
            return self._page(Answer(
                HTTPStatus.OK, f"{done}. Nothing was sent: {', '.join(names)} must be rendered again at "
                f"{self.provider.label} (they are made from the picked take); run:", changed=True,
                command=render_command(self.story, self.provider), needs_render=names), plan)
        film = str(result.film) if result.film else None
        missing = f"not rendered: {', '.join(result.not_rendered)}" if result.not_rendered else None
        why = result.film_problem or missing
        message = f"{done}; film re-stitched" if film and not why else f"{done}; the film was not re-stitched: {why}"
        return self._page(Answer(HTTPStatus.OK, message, changed=True, film=film), plan)

    def _page(self, answer: Answer, plan) -> Answer:
        from .. import api

        # the render before this one rendered what may be rendered: the page only shows the cache
        shown = api.preview(plan, self.provider, state_dir=self.state_dir, out_dir=self.out_dir, served=True,
                            only=[], on_event=None)
        if shown.page_problem:
            answer.message += f"; the page could not be written: {shown.page_problem}"
        return answer

    def page_path(self) -> Path:
        from ..present.page import PAGE_NAME

        return self.out_dir / PAGE_NAME

    def state_root(self) -> Path:
        """The render state folder, where the clips the page links are cached."""
        from ..render.decide import STATE_DIR_NAME

        return self.state_dir or self.story.resolve().parent / STATE_DIR_NAME

    def web_root(self) -> Path:
        """The folder the server's URLs start in: the one holding the page's folder and the render
        state, so the page's relative links (`../.storyboard/cache/...`) resolve as from file://."""
        return Path(os.path.commonpath([self.out_dir.resolve(), self.state_root().resolve()]))

    def may_show(self, path: Path) -> bool:
        """Only what the page shows: files of the page's folder, and the media files of the render
        state (clips, cards, frames), never its journal or records, nor anything else."""
        try:
            real = path.resolve(strict=True)
        except (OSError, RuntimeError):
            return False
        if not real.is_file():
            return False
        if real.is_relative_to(self.out_dir.resolve()):
            return True
        return real.is_relative_to(self.state_root().resolve()) and real.suffix.lower() in MEDIA_SUFFIXES


def render_command(story: Path, provider: Any) -> str:
    import shlex

    return f"storyboard render {shlex.quote(story.name)} -p {shlex.quote(provider.name)}"


class PickServer:
    """The HTTP server of one Studio, on 127.0.0.1 only."""

    def __init__(self, studio: Studio, *, port: int = 0, token: str | None = None):
        self.studio = studio
        self.token = token or secrets.token_urlsafe(32)
        handler = type("Handler", (_Handler,), {"site": self})
        self.httpd = ThreadingHTTPServer((LOOPBACK, port), handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread: threading.Thread | None = None

    @property
    def page_route(self) -> str:
        """The page's URL path (the page's folder under the web root)."""
        from urllib.parse import quote

        rel = self.studio.page_path().resolve().relative_to(self.studio.web_root())
        return "/" + quote(rel.as_posix())

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}{self.page_route}"

    def hosts(self) -> set[str]:
        return {f"{LOOPBACK}:{self.port}", f"localhost:{self.port}"}

    def origins(self) -> set[str]:
        return {f"http://{h}" for h in self.hosts()}

    def start(self) -> PickServer:
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="storyboard-serve", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Handler(SimpleHTTPRequestHandler):
    """The page (with the token), what it shows (`Studio.may_show`), and the two POSTs."""

    site: PickServer
    server_version = "storyboard"
    sys_version = ""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(self.site.studio.web_root()), **kwargs)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        pass  # the terminal shows picks, not every poster fetched

    def end_headers(self) -> None:
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    # ---- who is asking -------------------------------------------------------------------------

    def _our_host(self) -> bool:
        return (self.headers.get("Host") or "").lower() in self.site.hosts()

    def _refusal(self) -> str | None:
        """Why a POST is not from this run's page, or None."""
        if not self._our_host():
            return "wrong Host (this server answers only to 127.0.0.1 and localhost)"
        origin = self.headers.get("Origin")
        if origin is not None and origin.lower() not in self.site.origins():
            return f"requests from {origin} are refused"
        if self.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return "cross-site requests are refused"
        given = self.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode("utf-8", "replace"), self.site.token.encode()):
            return "no valid token: pick from the page this server serves"
        return None

    # ---- GET ---------------------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if not self._our_host():
            self._json(HTTPStatus.FORBIDDEN, {"message": "wrong Host"})
            return
        path = urlsplit(self.path).path
        if path in ("/", ""):
            self.send_response(HTTPStatus.FOUND)
            self.send_header("Location", self.site.page_route)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == self.site.page_route:
            self._page()
            return
        if not self.site.studio.may_show(Path(self.translate_path(self.path))):
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._our_host() or not self.site.studio.may_show(Path(self.translate_path(self.path))):
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return
        super().do_HEAD()

    def list_directory(self, path):  # the build folder is not browsed
        self.send_error(HTTPStatus.NOT_FOUND, "not found")
        return None

    # ---- files, whole or a byte range --------------------------------------------------------------

    def send_head(self):
        """http.server's, for a file the page shows: `Accept-Ranges: bytes` on every answer and
        206 for one satisfiable range of a GET (ranges are defined for GET only, so HEAD answers
        for the whole file). Returns what `copyfile` streams, or None when all is sent."""
        path = self.translate_path(self.path)
        if not os.path.isfile(path):  # folders (never listed) and missing files: http.server's answers
            return super().send_head()
        try:
            file = open(path, "rb")  # noqa: SIM115 (closed by do_GET/do_HEAD, or below)
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "not found")
            return None
        stat = os.fstat(file.fileno())  # the opened file's size, even if a re-stitch replaces it now
        span = self._asked_range(stat.st_size, self.date_time_string(stat.st_mtime))
        if span == UNSATISFIABLE:
            file.close()
            self._unsatisfiable(stat.st_size)
            return None
        first, last = span or (0, stat.st_size - 1)
        self.send_response(HTTPStatus.PARTIAL_CONTENT if span else HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(path))
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Last-Modified", self.date_time_string(stat.st_mtime))
        self.send_header("Accept-Ranges", "bytes")
        if span:
            self.send_header("Content-Range", f"bytes {first}-{last}/{stat.st_size}")
        self.end_headers()
        file.seek(first)
        return FileSlice(file, last - first + 1)

    def _asked_range(self, size: int, last_modified: str) -> tuple[int, int] | None:
        if self.command != "GET":
            return None
        condition = self.headers.get("If-Range")
        if condition is not None and condition.strip() != last_modified:
            return None  # the client's copy is of another version of the file: send it whole
        return byte_range(self.headers.get("Range"), size)

    def _unsatisfiable(self, size: int) -> None:
        body = f"the file has {size} bytes\n".encode()
        self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
        self.send_header("Content-Range", f"bytes */{size}")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(ConnectionError):
            self.wfile.write(body)

    def copyfile(self, source, outputfile) -> None:
        # a player that seeks drops the answer it was reading: not an error worth a traceback
        with contextlib.suppress(ConnectionError):
            shutil.copyfileobj(source, outputfile, CHUNK)

    def _page(self) -> None:
        try:
            html = self.site.studio.page_path().read_bytes()
        except OSError:
            self._json(HTTPStatus.SERVICE_UNAVAILABLE, {"message": "the page is not written yet"})
            return
        body = html.replace(TOKEN_SLOT, TOKEN_SLOT[:-2] + self.site.token.encode() + b'">', 1)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    # ---- POST --------------------------------------------------------------------------------------

    def do_POST(self) -> None:  # noqa: N802
        refusal = self._refusal()
        if refusal is not None:
            self.site.studio.log(f"refused a {urlsplit(self.path).path} request: {refusal}")
            self._json(HTTPStatus.FORBIDDEN, {"message": refusal})
            return
        path = urlsplit(self.path).path
        if path not in ("/api/pick", "/api/unpick"):
            self._json(HTTPStatus.NOT_FOUND, {"message": f"no such action: {path}"})
            return
        body, problem = self._body()
        if problem is not None:
            self._json(problem[0], {"message": problem[1]})
            return
        answer = self._act(path, body)
        self._json(answer.status, answer.as_json())

    def do_OPTIONS(self) -> None:  # noqa: N802 (a preflight: only another origin sends one)
        self.site.studio.log(f"refused a cross-origin preflight from {self.headers.get('Origin') or 'nowhere'}")
        self._json(HTTPStatus.FORBIDDEN, {"message": "cross-origin requests are refused"})

    def _body(self) -> tuple[dict[str, Any], tuple[int, str] | None]:
        if (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != "application/json":
            return {}, (HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "send JSON")
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 < length <= MAX_BODY:
            return {}, (HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"a pick is at most {MAX_BODY} bytes")
        try:
            data = json.loads(self.rfile.read(length))
        except (ValueError, UnicodeDecodeError):
            return {}, (HTTPStatus.BAD_REQUEST, "the body is not JSON")
        if not isinstance(data, dict) or not isinstance(data.get("clip"), str):
            return {}, (HTTPStatus.BAD_REQUEST, "say which clip: {\"clip\": NAME, \"take\": N}")
        return data, None

    def _act(self, path: str, body: dict[str, Any]) -> Answer:
        studio = self.site.studio
        if path == "/api/unpick":
            return studio.unpick(body["clip"])
        take = body.get("take")
        if isinstance(take, bool) or not isinstance(take, int):
            return Answer(HTTPStatus.BAD_REQUEST, "say which take: {\"clip\": NAME, \"take\": N}")
        return studio.pick(body["clip"], take)

    def _json(self, status: int, data: dict[str, Any]) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body)


# ---- byte ranges (RFC 9110 section 14) ---------------------------------------------------------

def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The first and last byte a `Range:` header asks for in a file of `size` bytes; None for the
    whole file (no header, another unit, several ranges, bad syntax: a server may ignore those);
    UNSATISFIABLE when the one range asked for starts past the end (or is an empty suffix)."""
    if header is None:
        return None
    found = ONE_RANGE.fullmatch(header.strip())
    if found is None or (not found[1] and not found[2]):
        return None
    first, last = found[1], found[2]
    if not first:  # bytes=-n: the last n bytes (the whole file when it is shorter)
        n = int(last)
        return UNSATISFIABLE if n == 0 or size == 0 else (max(0, size - n), size - 1)
    start = int(first)
    if last and int(last) < start:
        return None  # bytes=9-3 is not a range (RFC 9110 14.1.1): ignored, not refused
    if start >= size:
        return UNSATISFIABLE
    return start, (min(int(last), size - 1) if last else size - 1)


class FileSlice:
    """`length` bytes of an open file from where it stands, read `CHUNK` at a time by
    `shutil.copyfileobj`; closing it closes the file."""

    def __init__(self, file, length: int):
        self.file = file
        self.left = length

    def read(self, size: int = CHUNK) -> bytes:
        wanted = self.left if size is None or size < 0 else min(size, self.left)
        data = self.file.read(min(wanted, CHUNK))
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.file.close()


# ---- the commands ------------------------------------------------------------------------------

def _check_port(port: int) -> None:
    from .common import fail

    if not 0 <= port <= 65535:
        raise fail("--port must be a number from 1 to 65535 (or 0: a free one)")


def _listen(studio: Studio, port: int) -> PickServer:
    from .common import fail

    try:
        return PickServer(studio, port=port).start()
    except OSError as exc:
        raise fail(f"cannot serve on {LOOPBACK}:{port}: {exc.strerror or exc} (choose another --port)") from None


def _announce(server: PickServer, open_page: bool) -> None:
    import sys

    from .common import say

    say(f"serving the storyboard page at {server.url} (this machine only); pick takes there, Ctrl-C stops")
    sys.stdout.write(f"{server.url}\n")
    sys.stdout.flush()
    if open_page:
        import webbrowser

        webbrowser.open(server.url)


def watch_and_serve(story: Path, *, out_dir: str | None, port: int, interval: float, open_page: bool) -> int:
    """`watch --serve`: the watch loop (free preview provider) and the pick server, one lock."""
    from ..exitcodes import ExitCode
    from ..providers import get
    from .common import err, say
    from .watch import watch as watch_loop

    _check_port(port)

    def log(message: str) -> None:
        err.print(message, markup=False, highlight=False, soft_wrap=True)

    studio = Studio(story, get("preview"), out_dir=out_dir, log=log)
    server = _listen(studio, port)
    try:
        watch_loop(story, out_dir=out_dir, interval=interval, log=log, served=studio.lock,
                   on_ready=lambda page: _announce(server, open_page))
    except KeyboardInterrupt:
        say("stopped watching and serving")
        return ExitCode.INTERRUPTED
    finally:
        server.stop()
    return ExitCode.OK


def serve(file: str = typer.Argument(..., help="The .story file."),
          provider: str = typer.Option(None, "--provider", "-p", help="Whose takes to show and pick (picks are "
                                       "kept per provider; default: preview)."),
          base_url: str = typer.Option(None, "--base-url", help="The provider's API base URL (selects its cache)."),
          out_dir: str = typer.Option(None, "--out", "-o", help="Folder for the page (default: build/ beside the "
                                      "story)."),
          port: int = typer.Option(0, "--port", metavar="N", help="The port (default: a free one)."),
          open_: bool = typer.Option(False, "--open", help="Open the page in the web browser.")):
    """Serve the storyboard page from 127.0.0.1 with a button on each take that picks it; the
    film is re-stitched from the cache after each pick. Never submits a paid job: clips that a
    pick makes stale at a paid provider are named, with the command that renders them."""
    from ..exitcodes import ExitCode
    from .common import compile_or_exit, err, fail, provider_named, say, story_path

    p = story_path(file)
    _check_port(port)
    prov = provider_named(provider, **({"base_url": base_url} if base_url else {}))
    compile_or_exit(file, prov, quiet_warnings=True)
    studio = Studio(p, prov, out_dir=out_dir,
                    log=lambda m: err.print(m, markup=False, highlight=False, soft_wrap=True))
    first = studio.rebuild()
    say(first.message + (f"\n  {first.command}" if first.command else ""))
    if not studio.page_path().is_file():
        raise fail(f"the page could not be written in {studio.out_dir}")
    server = _listen(studio, port)
    _announce(server, open_)
    try:
        while True:  # the server answers in its own threads; Ctrl-C ends this one
            time.sleep(3600)
    except KeyboardInterrupt:
        say("stopped serving")
        raise typer.Exit(ExitCode.INTERRUPTED) from None
    finally:
        server.stop()
