"""`storyboard serve` answers byte ranges, so the page's players can seek (Chromium seeks only in
a file answered 206 Partial Content): each single-range form gets exactly its bytes with
Content-Range, a range past the end is 416 with `bytes */size`, what RFC 9110 lets a server ignore
(several ranges, bad syntax, a stale If-Range, a HEAD) gets the whole file with
`Accept-Ranges: bytes`, files the page does not show stay 404 (and another Host 403) whatever
the Range, a file is streamed in chunks (never held whole), and a player hanging up mid-file is no
traceback. No rendering here: the files are bytes laid out where a render puts them."""

from __future__ import annotations

import http.client
import os
import socket
import struct
import threading
import time
import tracemalloc
from email.utils import formatdate

import pytest

from storyboard.cli.serve import CHUNK, UNSATISFIABLE, PickServer, Studio, byte_range
from storyboard.providers import get

SIZE = 100_003  # odd, so no range lines up with a chunk by luck
BIG = 24 * 1024 * 1024  # more than loopback's socket buffers hold


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A story's folder as a render leaves it: a film in build/, a clip and a journal in the
    render state, a story; and a server for it."""
    folder = tmp_path_factory.mktemp("ranges")
    story = folder / "film.story"
    story.write_text("title: Ranges\n\nshot one 4s:\n  A kitten naps.\n", encoding="utf-8")
    film = folder / "build" / "Ranges.animatic.mp4"
    clip = folder / ".storyboard" / "cache" / "preview" / "ab" / "clip.mp4"
    for path in (film, clip):
        path.parent.mkdir(parents=True, exist_ok=True)
    film.write_bytes(os.urandom(SIZE))
    clip.write_bytes(os.urandom(SIZE))
    (folder / ".storyboard" / "journal.json").write_text('{"jobs": []}', encoding="utf-8")
    (folder / ".storyboard" / "cache" / "preview" / "ab" / "record.json").write_text("{}", encoding="utf-8")
    (folder / "build" / "big.mp4").write_bytes(os.urandom(BIG))
    (folder / "build" / "empty.mp4").write_bytes(b"")
    (folder / "build" / "outside.mp4").symlink_to(story)
    server = PickServer(Studio(story, get("preview"))).start()
    yield folder, server
    server.stop()


def fetch(server: PickServer, path: str, headers: dict | None = None, *, method: str = "GET",
          host: str | None = None) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request(method, path, headers={"Host": host or f"127.0.0.1:{server.port}", **(headers or {})})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, body


FILM = "/build/Ranges.animatic.mp4"
CLIP = "/.storyboard/cache/preview/ab/clip.mp4"


@pytest.mark.parametrize("url", [FILM, CLIP])
@pytest.mark.parametrize(("asked", "first", "last"), [
    ("bytes=0-0", 0, 0),
    ("bytes=10-99", 10, 99),
    ("bytes=99990-", 99990, SIZE - 1),
    ("bytes=0-", 0, SIZE - 1),
    ("bytes=-500", SIZE - 500, SIZE - 1),
    ("bytes=-999999", 0, SIZE - 1),  # a suffix longer than the file: all of it
    ("bytes=50000-999999", 50000, SIZE - 1),  # a last byte past the end: up to the end
    ("bytes=100002-100002", SIZE - 1, SIZE - 1),
    ("BYTES= 7-8 ", 7, 8),  # the unit is case-insensitive; spaces around are tolerated
])
def test_one_range_is_answered_206_with_exactly_its_bytes(site, url, asked, first, last):
    folder, server = site
    whole = (folder / url.lstrip("/")).read_bytes()
    status, headers, body = fetch(server, url, {"Range": asked})
    assert status == 206, (asked, headers)
    assert body == whole[first:last + 1]
    assert headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert headers["content-length"] == str(last - first + 1)
    assert headers["accept-ranges"] == "bytes" and headers["content-type"] == "video/mp4"
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("asked", ["bytes=100003-", f"bytes={SIZE}-{SIZE + 10}", "bytes=999999999999999999999-",
                                   "bytes=-0"])
def test_a_range_past_the_end_is_416_with_the_size(site, asked):
    _, server = site
    status, headers, body = fetch(server, FILM, {"Range": asked})
    assert status == 416 and headers["content-range"] == f"bytes */{SIZE}"
    assert headers["content-length"] == str(len(body)) and str(SIZE).encode() in body


def test_any_range_of_an_empty_file_is_416_and_the_whole_of_it_is_200(site):
    _, server = site
    for asked in ("bytes=0-", "bytes=-1", "bytes=0-0"):
        status, headers, _ = fetch(server, "/build/empty.mp4", {"Range": asked})
        assert status == 416 and headers["content-range"] == "bytes */0", asked
    status, headers, body = fetch(server, "/build/empty.mp4")
    assert status == 200 and body == b"" and headers["content-length"] == "0"


@pytest.mark.parametrize("asked", [
    "bytes=0-1,5-6",  # several ranges: RFC 9110 lets a server send the whole file
    "bytes=0-1, -5",
    "bytes=9-3",  # last before first: not a range
    "bytes=-",
    "bytes=a-b",
    "bytes=+1-2",
    "bytes=1_0-20",  # int() would read this; the grammar does not
    "items=0-1",
    "0-1",
    "",
])
def test_what_a_server_may_ignore_gets_the_whole_file_with_accept_ranges(site, asked):
    folder, server = site
    status, headers, body = fetch(server, FILM, {"Range": asked})
    assert status == 200, asked
    assert body == (folder / FILM.lstrip("/")).read_bytes()
    assert headers["accept-ranges"] == "bytes" and headers["content-length"] == str(SIZE)
    assert "content-range" not in headers


def test_the_whole_file_and_head_say_accept_ranges(site):
    folder, server = site
    status, headers, body = fetch(server, CLIP)
    assert status == 200 and body == (folder / CLIP.lstrip("/")).read_bytes()
    assert headers["accept-ranges"] == "bytes" and headers["content-length"] == str(SIZE)
    # ranges are defined for GET only: a HEAD describes the whole file, and has no body
    for asked in (None, "bytes=0-9", "bytes=999999-"):
        status, headers, body = fetch(server, CLIP, {"Range": asked} if asked else {}, method="HEAD")
        assert (status, body) == (200, b""), asked
        assert headers["accept-ranges"] == "bytes" and headers["content-length"] == str(SIZE)
        assert headers["content-type"] == "video/mp4" and "content-range" not in headers


def test_if_range_sends_the_range_only_while_the_file_is_the_same(site):
    folder, server = site
    film = folder / FILM.lstrip("/")
    _, headers, _ = fetch(server, FILM, method="HEAD")
    same = headers["last-modified"]
    assert same == formatdate(film.stat().st_mtime, usegmt=True)
    status, headers, body = fetch(server, FILM, {"Range": "bytes=5-9", "If-Range": same})
    assert status == 206 and body == film.read_bytes()[5:10]
    for other in (formatdate(film.stat().st_mtime - 60, usegmt=True), '"an-etag"', "nonsense"):
        status, headers, body = fetch(server, FILM, {"Range": "bytes=5-9", "If-Range": other})
        assert status == 200 and len(body) == SIZE and "content-range" not in headers, other


@pytest.mark.parametrize("url", [
    "/film.story", "/build/../film.story", "/.storyboard/journal.json",
    "/.storyboard/cache/preview/ab/record.json", "/.storyboard/", "/build/", "/build/outside.mp4",
    "/build/missing.mp4", "/build/Ranges.animatic.mp4/", "/../../etc/passwd",
])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_range_does_not_open_what_the_page_does_not_show(site, url, method):
    _, server = site
    for asked in ("bytes=0-10", "bytes=-10", "bytes=999999-"):
        status, headers, body = fetch(server, url, {"Range": asked}, method=method)
        assert status == 404, (url, asked)
        assert "content-range" not in headers and b"kitten" not in body and b"jobs" not in body


def test_another_host_is_refused_whatever_the_range(site):
    _, server = site
    for host in ("evil.example", f"evil.example:{server.port}"):
        status, headers, body = fetch(server, FILM, {"Range": "bytes=0-10"}, host=host)
        assert status == 403 and "content-range" not in headers and len(body) < 100
        status, headers, _ = fetch(server, FILM, {"Range": "bytes=0-10"}, host=host, method="HEAD")
        assert status == 404 and "content-range" not in headers


def _read_all(server: PickServer, path: str, headers: dict) -> tuple[int, int]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request("GET", path, headers={"Host": f"127.0.0.1:{server.port}", **headers})
    resp = conn.getresponse()
    got = 0
    while chunk := resp.read(64 * 1024):  # read and dropped: the test holds no copy either
        got += len(chunk)
    conn.close()
    return resp.status, got


def test_a_big_file_is_streamed_in_chunks_never_held_whole(site):
    _, server = site
    fetch(server, FILM, {"Range": "bytes=0-1"})  # first answers load what stays (the MIME types)
    tracemalloc.start()
    try:
        for headers, status, length in (({"Range": "bytes=1000-"}, 206, BIG - 1000), ({}, 200, BIG),
                                        ({"Range": f"bytes=-{BIG // 2}"}, 206, BIG // 2)):
            held = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            assert _read_all(server, "/build/big.mp4", headers) == (status, length)
            peak = tracemalloc.get_traced_memory()[1] - held
            assert peak < 8 * CHUNK, f"{peak} bytes held at once to send {length}"
    finally:
        tracemalloc.stop()


def _request_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if "process_request_thread" in t.name]


def test_a_player_that_hangs_up_mid_file_leaves_no_traceback_and_the_server_answers(site, capsys):
    _, server = site
    for asked in ("bytes=0-", None):
        elsewhere = set(_request_threads())  # other servers' answers still open in this process
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        range_line = f"Range: {asked}\r\n" if asked else ""
        sock.sendall(f"GET /build/big.mp4 HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n{range_line}\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.0 20")
        # a seeking player drops the connection: a reset, so the server's next write fails
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
        deadline = time.monotonic() + 20
        while set(_request_threads()) - elsewhere and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not set(_request_threads()) - elsewhere, "the answer to a closed connection never ended"
    assert "Traceback" not in capsys.readouterr().err
    assert fetch(server, FILM, {"Range": "bytes=0-3"})[0] == 206


def test_byte_range_reads_the_header_as_rfc_9110_says():
    assert byte_range(None, 10) is None
    assert byte_range("bytes=2-4", 10) == (2, 4)
    assert byte_range("bytes=2-", 10) == (2, 9)
    assert byte_range("bytes=-3", 10) == (7, 9)
    assert byte_range("bytes=-30", 10) == (0, 9)
    assert byte_range("bytes=10-", 10) == UNSATISFIABLE
    assert byte_range("bytes=-0", 10) == UNSATISFIABLE
    assert byte_range("bytes=0-", 0) == UNSATISFIABLE
    assert byte_range("bytes=4-2", 10) is None
    assert byte_range("bytes=1-2,4-5", 10) is None
    assert byte_range("bytes=١-٢", 10) is None  # only ASCII digits (DIGIT)


def test_the_slice_never_reads_past_its_range(site):
    from storyboard.cli.serve import FileSlice

    film = site[0] / FILM.lstrip("/")
    with film.open("rb") as f:
        f.seek(10)
        part = FileSlice(f, 5)
        assert part.read(3) + part.read(100) + part.read() == film.read_bytes()[10:15]
        assert part.read() == b""
