"""`storyboard serve` / `watch --serve` (issue 12): the page from 127.0.0.1, a pick from the page
written through the CLI's code path, the film re-stitched from the picked take, and every request
that does not come from the served page refused (403) with nothing changed: no token, a wrong
token, another Origin, another site, a DNS-rebinding Host (GET too: the token stays unreadable).
At a paid provider a pick submits nothing: the clips it makes stale are named, with the command."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path

import pytest

from render_helpers import SOAK_KEY, cli
from storyboard.cli.serve import TOKEN_HEADER, PickServer, Studio
from storyboard.picks import picks_path, read_picks
from storyboard.providers import get
from takes_page_helpers import centre, copy_film, near, render_takes_film, take_file


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    return render_takes_film(tmp_path_factory.mktemp("serve") / "film")


@pytest.fixture
def served(rendered, tmp_path):
    path = copy_film(rendered, tmp_path / "film")
    said: list[str] = []
    studio = Studio(path, get("preview"), log=said.append)
    assert studio.rebuild().changed
    server = PickServer(studio).start()
    server.said = said
    yield path, server
    server.stop()


def request(server: PickServer, method: str, path: str, body: dict | None = None, *, token: str | None = "ok",
            headers: dict | None = None, host: str | None = None) -> tuple[int, dict | bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    sent = {"Host": host or f"127.0.0.1:{server.port}"}
    if body is not None:
        sent["Content-Type"] = "application/json"
    if token is not None:
        sent[TOKEN_HEADER] = server.token if token == "ok" else token
    sent.update(headers or {})
    conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=sent)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    if resp.getheader("Content-Type", "").startswith("application/json"):
        return resp.status, json.loads(data)
    return resp.status, data


@pytest.mark.slow
def test_the_page_carries_the_token_only_when_served_and_only_to_its_own_host(served):
    path, server = served
    status, html = request(server, "GET", server.page_route, token=None)
    assert status == 200 and server.token.encode() in html
    assert b'class="pick-button" data-action="pick" data-clip="opening" data-take="2"' in html
    on_disk = (path.parent / "build" / "storyboard.html").read_bytes()
    assert server.token.encode() not in on_disk  # the file on disk never holds it
    for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1:{server.port + 1}"):
        status, answer = request(server, "GET", server.page_route, token=None, host=host)
        assert status == 403 and server.token.encode() not in json.dumps(answer).encode()
    status, _ = request(server, "GET", "/", token=None, host=f"localhost:{server.port}")
    assert status == 302
    assert server.page_route == "/build/storyboard.html"
    # what the page shows, and nothing else: no folder listings, not the story, not the journal
    for shown in re.findall(rb'(?:src|poster)="([^"]+)"', html):
        url = "/build/" + shown.decode()
        assert request(server, "GET", url, token=None)[0] == 200, url
    assert any(b"../.storyboard/cache/preview/" in m for m in re.findall(rb'src="([^"]+)"', html))
    hidden = ["/build/posters/", "/takes.story", "/build/../takes.story", "/.storyboard/",
              *("/" + p.relative_to(path.parent).as_posix() for p in (path.parent / ".storyboard").rglob("*.json"))]
    assert len(hidden) > 5
    for url in hidden:
        assert request(server, "GET", url, token=None)[0] == 404, url


@pytest.mark.slow
def test_requests_not_from_the_served_page_are_refused_and_change_nothing(served):
    path, server = served
    pick = {"clip": "opening", "take": 2}
    film = path.parent / "build" / "Takes Page.animatic.mp4"
    before = film.read_bytes()
    refused = [
        request(server, "POST", "/api/pick", pick, token=None),
        request(server, "POST", "/api/pick", pick, token="x" * 43),
        request(server, "POST", "/api/pick", pick, headers={"Origin": "http://evil.example"}),
        request(server, "POST", "/api/pick", pick, headers={"Origin": "null"}),
        request(server, "POST", "/api/pick", pick, headers={"Sec-Fetch-Site": "cross-site"}),
        request(server, "POST", "/api/pick", pick, host=f"evil.example:{server.port}"),
        request(server, "POST", "/api/unpick", {"clip": "opening"}, token=None),
    ]
    assert [status for status, _ in refused] == [403] * len(refused)
    assert "no valid token" in refused[0][1]["message"] and "evil.example" in refused[2][1]["message"]
    # GET never changes anything, whatever it names
    assert request(server, "GET", "/api/pick?clip=opening&take=2")[0] == 404
    # a form post (no JSON) with the token is still refused
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/api/pick", body="clip=opening&take=2",
                 headers={"Content-Type": "application/x-www-form-urlencoded", TOKEN_HEADER: server.token})
    assert conn.getresponse().status == 415
    conn.close()
    assert not picks_path(path).exists() and film.read_bytes() == before
    assert any("refused" in line for line in server.said)


@pytest.mark.slow
def test_a_pick_from_the_page_writes_the_picks_file_and_re_stitches_the_film_from_the_picked_take(served):
    path, server = served
    film = path.parent / "build" / "Takes Page.animatic.mp4"
    take1, take2 = take_file(path, "opening", 1), take_file(path, "opening", 2)
    assert near(centre(film, 1.0), centre(take1, 1.0)) and not near(centre(take1, 1.0), centre(take2, 1.0))
    stamp = (path.parent / "build" / "live.js").read_text()
    status, answer = request(server, "POST", "/api/pick", {"clip": "opening", "take": 2},
                             headers={"Origin": f"http://127.0.0.1:{server.port}", "Sec-Fetch-Site": "same-origin"})
    assert status == 200 and answer["changed"] and "film re-stitched" in answer["message"], answer
    found = read_picks(path).of("preview")
    assert found["opening"].take == 2  # as `storyboard pick` writes it (same function)
    assert json.loads(cli(["takes", str(path), "opening", "--json"]).stdout)["takes"][1]["picked"]
    assert near(centre(film, 1.0), centre(take2, 1.0))
    assert (path.parent / "build" / "live.js").read_text() != stamp  # the open page reloads itself
    html = request(server, "GET", server.page_route, token=None)[1].decode()
    assert re.search(r'<figure class="take plays picked" data-take="2" data-clip="opening"', html)
    # errors are answers, not tracebacks, and change nothing
    status, answer = request(server, "POST", "/api/pick", {"clip": "openin", "take": 2})
    assert status == 409 and "did you mean 'opening'" in answer["message"]
    status, answer = request(server, "POST", "/api/pick", {"clip": "opening", "take": "2"})
    assert status == 400
    assert read_picks(path).of("preview")["opening"].take == 2
    # unpick: the film plays take 1 again
    status, answer = request(server, "POST", "/api/unpick", {"clip": "opening"})
    assert status == 200 and answer["changed"]
    assert not picks_path(path).exists() and near(centre(film, 1.0), centre(take1, 1.0))
    status, answer = request(server, "POST", "/api/unpick", {"clip": "opening"})
    assert status == 409 and "has no pick" in answer["message"]


@pytest.mark.slow
def test_picking_re_renders_the_dependants_for_free_with_the_preview_provider(served):
    path, server = served
    ext = path.parent / ".storyboard"
    before = {p.name for p in (ext / "cache").rglob("*.mp4")}
    status, answer = request(server, "POST", "/api/pick", {"clip": "second", "take": 2})
    assert status == 200 and answer["command"] is None and "film re-stitched" in answer["message"], answer
    made = {p.name for p in (ext / "cache").rglob("*.mp4")} - before
    assert len(made) == 2  # second+1's two takes, made from the picked take (drawn here, free)


@pytest.mark.slow
def test_at_a_paid_provider_a_pick_sends_nothing_and_names_the_clips_to_render(tmp_path, fake_together, monkeypatch):
    from render_helpers import TEST_POLL, fast_cli

    fast_cli(monkeypatch, poll=TEST_POLL)
    fake = fake_together(api_key=SOAK_KEY, latency=0.02)
    monkeypatch.setenv("TOGETHER_API_KEY", SOAK_KEY)
    path = tmp_path / "takes.story"
    path.write_text("title: Paid\nsize: 640x360\n\nshot second 4s:\n  A yawn.\n  takes: 2\n\n"
                    "extend second 4s:\n  A stretch.\n", encoding="utf-8")
    r = cli(["render", str(path), "-p", "together", "--base-url", fake.base_url, "--yes"])
    assert r.exit_code == 0, r.output
    creates = fake.stats()["creates"]
    assert creates == 3
    said: list[str] = []
    studio = Studio(path, get("together", api_key=SOAK_KEY, base_url=fake.base_url), log=said.append)
    answer = studio.pick("second", 2)
    assert answer.changed and answer.needs_render == ["second+1"], answer
    assert answer.command == "storyboard render takes.story -p together"
    assert "Nothing was sent" in answer.message
    assert fake.stats()["creates"] == creates  # the pick spent nothing
    assert read_picks(path).of("together")["second"].take == 2
    assert (tmp_path / "build" / "storyboard.html").is_file()  # the page still shows what there is
    # picking take 1 back: everything is cached, the film is re-stitched, still nothing sent
    answer = studio.pick("second", 1)
    assert answer.command is None and "film re-stitched" in answer.message, answer
    assert fake.stats()["creates"] == creates


def test_serve_command_refuses_a_bad_port_and_a_broken_story(tmp_path):
    path = tmp_path / "bad.story"
    path.write_text("title: Bad\n\nshot one 99s:\n  Too long.\n", encoding="utf-8")
    r = cli(["serve", str(path)])
    assert r.exit_code != 0 and "bad.story:3" in r.output and "Traceback" not in r.output
    r = cli(["serve", str(path), "--port", "70000"])
    assert r.exit_code == 2 and "--port must be" in r.output


@pytest.mark.slow
def test_watch_serve_builds_the_film_and_a_page_with_pick_buttons(rendered, tmp_path):
    import threading

    from storyboard.cli.watch import watch

    path = copy_film(rendered, tmp_path / "film")
    film = path.parent / "build" / "Takes Page.animatic.mp4"
    film.unlink()
    cycles = []
    watch(path, iterations=1, log=lambda m: None, on_cycle=cycles.append, served=threading.Lock())
    assert cycles[0].ok and film.is_file()  # stitched by the watch cycle itself
    html = cycles[0].page.read_text(encoding="utf-8")
    assert '<meta name="storyboard-token" content="">' in html and "connect-src 'self'" in html
    assert html.count('class="pick-button"') == 7


@pytest.mark.slow
def test_watch_serve_on_the_command_line_refuses_a_bad_port(rendered):
    r = cli(["watch", str(rendered), "--serve", "--port", "-1"])
    assert r.exit_code == 2 and "--port must be" in r.output
