"""Issue 14, fal's money: a clip with video input is estimated, and `--max-cost` checked, at its
upper bound (15 s of input plus the output seconds at the video-input rate, fal's token formula
counting input seconds too). The fake bills from its own copy of fal's table, with the real
length of a reference video its storage holds, and never through the product's estimate, so an
estimate below the bill fails here."""

from __future__ import annotations

import inspect
import shutil
from pathlib import Path

import pytest

from provider_helpers import small_fake
from render_helpers import cli, fast_cli
from storyboard.providers.base import ClipSpec
from storyboard.providers.fal import FalProvider
from storyboard.testing import fake_fal
from storyboard.testing.fake_fal import FakeFal

KEY = "fal-key-id:fal-secret-m0ney"
ROOT = Path(__file__).resolve().parents[1]
LAMP = ROOT / "examples/lighthouse/props/lamp-turn.mp4"
RATE_720P = 0.3024


def spec(**kw) -> ClipSpec:
    base = dict(prompt="@Video1 turns.", seconds=5, model="bytedance/seedance-2.0", resolution="720p", ratio="16:9")
    return ClipSpec(**{**base, **kw})


def test_the_fake_bills_from_its_own_table_not_the_products_estimate():
    source = inspect.getsource(fake_fal)
    assert "providers.fal" not in source and "price_body" not in source
    with FakeFal(api_key=KEY) as fake:
        body = {"endpoint": "bytedance/seedance-2.0/text-to-video",
                "input": {"prompt": "x", "duration": "5", "resolution": "720p", "aspect_ratio": "16:9"}}
        assert fake.price(body) == pytest.approx(RATE_720P * 5)
        refs = {"endpoint": "bytedance/seedance-2.0/reference-to-video",
                "input": {**body["input"], "video_urls": ["https://e.com/v.mp4"]}}
        assert fake.price(refs) == pytest.approx(RATE_720P * 0.6 * (15 + 5))  # an unfetched video: its most


def test_the_estimate_is_never_below_the_bill_and_exact_without_video_input(tmp_path):
    with small_fake(FakeFal, KEY) as fake:
        provider = FalProvider(api_key=KEY, base_url=fake.base_url, backoff=(0.01, 0.02))
        stored = provider.hosted_url(shutil.copy(LAMP, tmp_path / "lamp.mp4"))  # a real, short video in fal storage
        specs = [spec(prompt="A lamp.", seconds=s, resolution=r, ratio=q) for s, r, q in
                 ((4, "480p", "16:9"), (15, "720p", "9:16"), (8, "1080p", "21:9"))]
        specs += [spec(seconds=s, reference_videos=v, resolution=r) for s, v, r in
                  ((4, (stored,), "480p"), (15, (stored,), "720p"), (5, ("https://e.com/v.mp4",), "720p"),
                   (6, (stored, "https://e.com/w.mp4"), "1080p"))]
        for s in specs:
            body = provider.build_request(s)
            estimate, billed = provider.price(s).usd, fake.price(body)
            assert estimate is not None and estimate >= billed - 1e-9, (s, estimate, billed)
            if not s.reference_videos:
                assert estimate == pytest.approx(billed)
        lamp_only = specs[3]
        assert fake.price(provider.build_request(lamp_only)) < provider.price(lamp_only).usd / 2  # its real length


@pytest.mark.slow
def test_max_cost_compares_against_the_upper_bound(tmp_path, monkeypatch):
    """One 4 s 480p clip with a local reference video: $1.00 covers its output seconds at the
    video-input rate ($0.34, the old lower bound) but not the 15 s of input fal may bill
    ($1.60 in all): refused, nothing uploaded, nothing sent."""
    fast_cli(monkeypatch)
    folder = tmp_path / "f"
    folder.mkdir()
    shutil.copy(LAMP, folder / "lamp.mp4")
    story = folder / "lamp.story"
    story.write_text("title: Lamp\nresolution: 480p\n\nshot one 4s:\n  A brass lamp turns.\n  motion: lamp.mp4\n",
                     encoding="utf-8")
    with small_fake(FakeFal, KEY) as fake:
        args = ["render", str(story), "-p", "fal", "--base-url", fake.base_url, "--yes", "--max-cost"]
        r = cli([*args, "1.00"], {"FAL_KEY": KEY})
        assert r.exit_code == 2 and "the estimate $1.60 for 1 clip(s) exceeds --max-cost $1.00" in r.text, r.output
        assert fake.stats()["creates"] == 0 and fake.files.all() == []
        r = cli([*args, "1.61"], {"FAL_KEY": KEY})
        assert r.exit_code == 0, r.output
        (job,) = fake.stats()["jobs"]
        assert 0 < job["cost"] <= 1.61  # billed for the video's real length: under the cap
