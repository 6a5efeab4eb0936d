"""Issue 14: the story's `host:` (carried to the provider, `--host` overriding it), the
`--together-fields` flag beside its variable, and keys and defaults from the environment first,
then the user config file (refused when others can read it, never written), with `plan` saying
where each value came from."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from render_helpers import KEY, cli
from storyboard.api import check_file, compile_file
from storyboard.config import ConfigError, config_path, default, key
from storyboard.providers.together import TogetherProvider

ROOT = Path(__file__).resolve().parents[1]
VARIABLES = ("TOGETHER_API_KEY", "STORYBOARD_PROVIDER", "STORYBOARD_HOST", "STORYBOARD_TOGETHER_FIELDS")


@pytest.fixture
def clean_env(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def write_config(text: str, mode: int = 0o600) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)
    return path


def tea_house(tmp_path: Path, host: str | None = None) -> Path:
    shutil.copytree(ROOT / "examples" / "tea-house", tmp_path / "tea-house")
    story = tmp_path / "tea-house" / "tea-house.story"
    if host is not None:
        story.write_text(f"host: {host}\n" + story.read_text(encoding="utf-8"), encoding="utf-8")
    return story


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics if d.is_error]


# ---- the story's host: -------------------------------------------------------------------------

def test_a_story_host_lets_together_take_local_videos_and_audios(tmp_path, clean_env):
    without = tea_house(tmp_path / "a")
    with_host = tea_house(tmp_path / "b", host="s3://films/tea")
    provider = TogetherProvider(api_key=KEY)
    assert "SB305" in codes(check_file(without, provider))
    result = compile_file(with_host, provider)
    assert result.ok, [str(d) for d in result.diagnostics]
    assert str(provider.host.bucket) == "s3://films/tea/" and provider.setting_sources()["host"] == "the story's host:"
    assert "SB305" in codes(check_file(without, provider))  # the next story without one: no bucket again


def test_a_host_that_is_not_a_bucket_url_is_reported_at_its_line(tmp_path, clean_env):
    story = tea_house(tmp_path, host="https://films/tea")
    r = cli(["check", str(story), "-p", "together"], {"TOGETHER_API_KEY": KEY})
    assert r.exit_code == 1 and "SB103" in r.output and "s3://bucket/prefix" in r.text


def test_the_host_option_overrides_the_story_and_the_story_the_environment(tmp_path, clean_env, monkeypatch):
    story = tea_house(tmp_path, host="s3://story-bucket/tea")
    monkeypatch.setenv("STORYBOARD_HOST", "s3://env-bucket/x")
    args = ["plan", str(story), "-p", "together", "--json"]
    by_story = json.loads(cli(args, {"TOGETHER_API_KEY": KEY}).stdout)
    assert by_story["uploads"] and all(u["to"].startswith("s3://story-bucket/tea/") for u in by_story["uploads"])
    assert by_story["sources"]["host"] == "the story's host:"
    by_option = json.loads(cli([*args, "--host", "s3://option-bucket/y"], {"TOGETHER_API_KEY": KEY}).stdout)
    assert all(u["to"].startswith("s3://option-bucket/y/") for u in by_option["uploads"])
    assert by_option["sources"]["host"] == "--host"
    plain = tea_house(tmp_path / "plain")
    by_env = json.loads(cli(["plan", str(plain), "-p", "together", "--json"], {"TOGETHER_API_KEY": KEY}).stdout)
    assert all(u["to"].startswith("s3://env-bucket/x/") for u in by_env["uploads"])
    assert by_env["sources"]["host"] == "STORYBOARD_HOST"


# ---- --together-fields ---------------------------------------------------------------------------

def test_the_fields_flag_overrides_the_variable(tmp_path, clean_env, monkeypatch):
    story = tea_house(tmp_path)
    monkeypatch.setenv("STORYBOARD_TOGETHER_FIELDS", "page")
    args = ["plan", str(story), "-p", "together", "--json", "--host", "s3://b/p"]
    page = json.loads(cli(args, {"TOGETHER_API_KEY": KEY}).stdout)
    assert page["sources"]["together_fields"] == "STORYBOARD_TOGETHER_FIELDS"
    r = cli([*args, "--together-fields", "openapi"], {"TOGETHER_API_KEY": KEY})
    assert json.loads(r.stdout)["sources"]["together_fields"] == "--together-fields"
    bad = cli([*args, "--together-fields", "sdk"], {"TOGETHER_API_KEY": KEY})
    assert bad.exit_code == 2 and "page" in bad.output and "openapi" in bad.output


def test_the_fields_flag_picks_the_spelling_sent(tmp_path, clean_env):
    provider = TogetherProvider(api_key=KEY, field_names="openapi")
    assert provider.fields["audio_inputs"] == "audio_inputs"
    assert provider.setting_sources()["together_fields"] == "--together-fields"


# ---- the config file -----------------------------------------------------------------------------

def test_keys_and_defaults_come_from_the_config_file_when_the_environment_has_none(tmp_path, clean_env, monkeypatch):
    path = write_config(f'provider = "together"\nhost = "s3://cfg-bucket/films"\ntogether_fields = "openapi"\n'
                        f'[keys]\nTOGETHER_API_KEY = "{KEY}"\n')
    before = path.read_bytes(), path.stat().st_mtime_ns
    provider = TogetherProvider()
    assert provider.api_key == KEY and provider.field_dialect == "openapi"
    assert str(provider.host.bucket) == "s3://cfg-bucket/films/"
    sources = provider.setting_sources()
    assert {sources["key"], sources["host"], sources["together_fields"]} == {f"config file {path}"}
    monkeypatch.setenv("TOGETHER_API_KEY", "sk-from-the-environment-1234")
    monkeypatch.setenv("STORYBOARD_HOST", "s3://env-bucket/x")
    again = TogetherProvider()
    assert again.api_key == "sk-from-the-environment-1234" and again.setting_sources()["key"] == "TOGETHER_API_KEY"
    assert str(again.host.bucket) == "s3://env-bucket/x/" and again.setting_sources()["host"] == "STORYBOARD_HOST"
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before  # never written


def test_plan_says_where_each_value_came_from_and_never_shows_a_key(tmp_path, clean_env):
    path = write_config(f'provider = "together"\n[keys]\nTOGETHER_API_KEY = "{KEY}"\n')
    story = tea_house(tmp_path)
    r = cli(["plan", str(story), "--host", "s3://b/p"])
    assert r.exit_code == 0, r.output
    assert "(together, " in r.text  # the provider from the config file
    assert f"provider from config file {path}" in r.text and f"key from config file {path}" in r.text
    assert "host from --host" in r.text and "together_fields from default" in r.text
    assert KEY not in r.output
    data = json.loads(cli(["plan", str(story), "--json", "--host", "s3://b/p"]).stdout)
    assert data["provider"] == "together" and data["sources"]["provider"] == f"config file {path}"


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_config_file_others_can_read_is_refused_in_one_line(tmp_path, clean_env, mode):
    path = write_config(f'[keys]\nTOGETHER_API_KEY = "{KEY}"\n', mode)
    with pytest.raises(ConfigError, match="chmod 600"):
        key("TOGETHER_API_KEY")
    story = tea_house(tmp_path)
    r = cli(["plan", str(story), "-p", "together", "--host", "s3://b/p"])
    assert r.exit_code == 2 and str(path) in r.text and "other users can read it" in r.text
    assert KEY not in r.output and len(r.output.strip().splitlines()) == 1


def test_the_environment_wins_without_reading_the_file(tmp_path, clean_env, monkeypatch):
    write_config('provider = "together"\n', 0o644)  # unreadable for us: never opened
    monkeypatch.setenv("STORYBOARD_PROVIDER", "preview")
    found = default("provider")
    assert found and found.value == "preview" and found.source == "STORYBOARD_PROVIDER"


def test_a_broken_config_file_is_one_line(tmp_path, clean_env):
    path = write_config("provider = \n")
    story = tea_house(tmp_path)
    r = cli(["plan", str(story)])
    assert r.exit_code == 2 and str(path) in r.text and "not valid TOML" in r.text
    write_config("[keys]\nTOGETHER_API_KEY = 42\n")
    with pytest.raises(ConfigError, match="keys.TOGETHER_API_KEY"):
        key("TOGETHER_API_KEY")


def test_no_config_file_means_the_old_defaults(tmp_path, clean_env):
    assert not config_path().exists() and default("provider") is None and key("TOGETHER_API_KEY") is None
    r = cli(["plan", str(tea_house(tmp_path))])
    assert r.exit_code == 0 and "(preview, " in r.text and "provider from default" in r.text
    assert not config_path().exists() and not os.path.exists(config_path().parent)
