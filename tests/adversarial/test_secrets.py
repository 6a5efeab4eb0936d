"""Issue 10, item 2: the API key reached stderr, `--json` and the journal when it held a newline.

- A key read with surrounding whitespace (a file's trailing newline or CRLF, pasted spaces) is
  stripped and works.
- A key with a control, space or non-ASCII character inside is refused before any request:
  exit 2, one line naming TOGETHER_API_KEY, none of the key.
- No shape of the key (raw, repr, bytes repr, JSON, URL-encoded, base64) reaches stdout,
  stderr, `--json`, a log record or any file beside the story.
- A create refused on this machine (httpx refusing a header) is not in doubt: nothing was sent.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from render_helpers import FAST_POLL, FAST_RETRY, clip, cli, fast_cli, make_plan, trun, write_film
from storyboard.credentials import read_secret, scrub, secret_problem
from storyboard.render.journal import Journal
from storyboard.providers.base import AmbiguousSubmit, ProviderError
from storyboard.providers.together import TogetherProvider
from storyboard.render import default_state_dir
from test_hardening_secrets import encodings, hits

KEY = "sk-abc-5Tq9Vx2Lm8Rw"
TAIL = KEY[7:]  # a fragment a partial echo would show


def _grep_everything(tmp_path: Path, outputs: list[str], logs: str, secret: str) -> dict[str, list[str]]:
    needles = encodings(secret) | encodings(secret.strip()) | {TAIL}
    found = {str(p): hits(p.read_bytes(), needles) for p in tmp_path.rglob("*") if p.is_file()}
    found["outputs"] = hits("\n".join(outputs), needles)
    found["logs"] = hits(logs, needles)
    return {where: h for where, h in found.items() if h}


def _film(tmp_path: Path) -> Path:
    return write_film(tmp_path / "film", shots=2, extends=(), continues=(), morphs=(), dissolves=())


@pytest.mark.slow
@pytest.mark.parametrize("raw", [f"{KEY}\n", f"{KEY}\r\n", f"  {KEY}  "], ids=["lf", "crlf", "spaces"])
def test_a_key_with_surrounding_whitespace_is_stripped_and_works(raw, tmp_path, fake_together, monkeypatch,
                                                                  caplog):
    caplog.set_level(logging.DEBUG)
    fast_cli(monkeypatch)
    fake = fake_together(api_key=KEY, latency=0.05)
    story = _film(tmp_path)
    r = cli(["render", str(story), "-p", "together", "--base-url", fake.base_url, "--yes", "--json"],
            {"TOGETHER_API_KEY": raw})
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert [c["status"] for c in report["clips"]] == ["rendered", "rendered"], report
    assert fake.stats()["creates"] == 2
    assert (story.parent / ".storyboard").is_dir() and (story.parent / "build").is_dir()
    assert not _grep_everything(tmp_path, [r.output, r.stdout], caplog.text, raw)


@pytest.mark.parametrize("raw", [f"sk-a\nb-{TAIL}", f"{KEY}\u00e9", f"sk-abc {TAIL}", f"{KEY}\x01"],
                         ids=["inner-newline", "non-ascii", "inner-space", "control"])
@pytest.mark.parametrize("command", ["render", "preview"])
def test_a_malformed_key_is_refused_before_any_request(raw, command, tmp_path, fake_together, monkeypatch,
                                                        caplog):
    caplog.set_level(logging.DEBUG)
    fast_cli(monkeypatch)
    fake = fake_together(api_key=KEY, latency=0.05)
    story = _film(tmp_path)
    args = [command, str(story), "-p", "together", "--base-url", fake.base_url, "--yes"]
    r = cli(args + (["--json"] if command == "render" else []), {"TOGETHER_API_KEY": raw})
    assert r.exit_code == 2, r.output
    assert "TOGETHER_API_KEY" in r.text and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1, r.output  # one line
    stats = fake.stats()
    assert (stats["creates"], stats["gets"], stats["rejected"]) == (0, 0, 0)
    assert not (story.parent / ".storyboard" / "jobs").exists()  # nothing journaled, nothing in doubt
    assert not _grep_everything(tmp_path, [r.output, r.stdout], caplog.text, raw)


def test_the_engine_refuses_a_malformed_key_too(tmp_path, fake_together):
    fake = fake_together(api_key=KEY, latency=0.05)
    provider = TogetherProvider(api_key=f"sk-a\nb-{TAIL}", base_url=fake.base_url)
    plan = make_plan(tmp_path, [clip("a", cost=0.28)], provider="together")
    from storyboard.render import RenderError

    with pytest.raises(RenderError, match="TOGETHER_API_KEY") as exc:
        trun(plan, provider)
    assert not hits(str(exc.value), encodings(f"sk-a\nb-{TAIL}") | {TAIL})
    assert fake.stats()["creates"] == 0


# ---- a create that httpx refuses on this machine was never sent ----------------------------------

class _IllegalHeader(TogetherProvider):
    """Any header httpx or h11 refuses (here the key itself, as before keys were checked)."""

    def __init__(self, header: dict[str, str], **kw):
        super().__init__(**kw)
        self.header = header

    def _auth(self) -> dict[str, str]:
        return {k: v.format(key=self.api_key) for k, v in self.header.items()}


@pytest.mark.parametrize("header", [{"Authorization": "Bearer {key}\n"},  # h11: LocalProtocolError at send
                                    {"Authorization": "Bearer {key}", "X-Note": "caf\u00e9"}],  # at build
                         ids=["newline", "non-ascii"])
def test_a_create_refused_before_it_left_the_machine_is_not_in_doubt(header, tmp_path, fake_together):
    fake = fake_together(api_key=KEY, latency=0.05)
    provider = _IllegalHeader(header, api_key=KEY, base_url=fake.base_url, backoff=(0.01, 0.02))
    plan = make_plan(tmp_path, [clip("a", cost=0.28)], provider="together")
    events: list = []
    report = trun(plan, provider, on_event=events.append, poll=FAST_POLL, retry=FAST_RETRY)
    outcome = report["a"]
    assert outcome.status == "failed", (outcome.status, outcome.error)
    assert fake.stats()["creates"] == 0
    record = Journal(default_state_dir(plan), provider.namespace).get(outcome.key)
    assert record is not None and record.state == "unsent", record
    texts = [outcome.error or "", *(e.message for e in events)]
    texts += [p.read_text() for p in (tmp_path / ".storyboard").rglob("*.json")]
    assert not hits("\n".join(texts), encodings(KEY) | encodings(KEY + "\n"))


# ---- the scrubber and the reader, on their own -------------------------------------------------

def test_every_shape_of_a_remembered_secret_is_masked():
    secret = "sk-scrub-Zk3Wq8Yp1Nv6"
    assert read_secret("STORYBOARD_TEST_KEY", f"  {secret}\r\n") == secret
    for form in encodings(secret) | encodings(secret + "\n"):
        for text in (f"error: {form}.", f"<{form}>", json.dumps({"error": f"x {form} y"})):
            assert not hits(scrub(text), encodings(secret)), (form, scrub(text))
    # a provider error scrubs itself, whoever builds its message
    for cls in (ProviderError, AmbiguousSubmit):
        err = cls(f"Illegal header value {('Bearer ' + secret + chr(10)).encode()!r}")
        assert not hits(str(err), encodings(secret)) and "***" in str(err)


@pytest.mark.parametrize("bad", [f"sk-a\nb-{TAIL}", f"{KEY}\u201d", f"sk-abc\t{TAIL}", f"{KEY}\x7f"])
def test_the_refusal_names_the_variable_and_quotes_none_of_the_key(bad):
    problem = secret_problem("TOGETHER_API_KEY", bad)
    assert problem and problem.startswith("TOGETHER_API_KEY ") and "\n" not in problem
    assert TAIL not in problem and "sk-a" not in problem
    assert secret_problem("TOGETHER_API_KEY", KEY) is None


def test_a_password_in_the_base_url_is_a_secret_too(tmp_path):
    import asyncio

    provider = TogetherProvider(api_key=KEY, base_url="http://user:hunter2-Pw9x@127.0.0.1:9",
                                get_attempts=1, connect_timeout=1.0)

    async def attempts() -> list[str]:
        messages = []
        for call in (lambda: provider.create({"model": "m", "prompt": "p"}), lambda: provider.get("job-1")):
            with pytest.raises(ProviderError) as exc:
                await call()
            messages.append(str(exc.value))
        await provider.aclose()
        return messages

    messages = "\n".join(asyncio.run(attempts()))
    assert "127.0.0.1:9" in messages and not hits(messages, encodings("hunter2-Pw9x")), messages
    r = cli(["render", str(_film(tmp_path)), "-p", "together", "--base-url", "ftp://u:hunter2-Pw9x@x/"],
            {"TOGETHER_API_KEY": KEY})
    assert r.exit_code == 2 and "--base-url" in r.text and "hunter2-Pw9x" not in r.output
