"""Bad input is a normal case: random and mutated stories never crash check, compile or fmt,
and every diagnostic points inside the file. (bench/fuzz.py runs 10,000 of these.)"""

import random
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from budget import examples
from storyboard.providers import get
from storyboard.testing.fuzz import mutate, run_one

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SEEDS = sorted(p.read_text(encoding="utf-8") for p in EXAMPLES.glob("*/*.story"))
PROVIDERS = [get("preview"), get("together")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    dest = tmp_path_factory.mktemp("fuzz") / "film"
    shutil.copytree(EXAMPLES / "kitten-general", dest)
    return dest


def _assert_clean(finding):
    assert finding is None, f"{finding.kind}: {finding.detail}\n--- input ---\n{finding.text[:2000]}"


@settings(max_examples=examples(200), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), which=st.integers(0, 100))
def test_mutated_examples_never_crash(folder, seed, which):
    rng = random.Random(seed)
    _assert_clean(run_one(mutate(SEEDS[which % len(SEEDS)], rng), folder, PROVIDERS))


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parts=st.lists(st.sampled_from(list("shotcenxdig @:\"#\n  \t5s1.-_Kx小猫()")
                                      + ["shot a 5s:\n  ", "\n  @K: \"x\"\n", "scene s 8s:\n  ", "\ncut\n"]),
                      max_size=120))
def test_random_text_never_crashes(folder, parts):
    _assert_clean(run_one("".join(parts), folder, PROVIDERS))


def test_pathological_inputs(folder):
    cases = [
        "",
        "\n\n\n",
        "shot a 5s:\n" + "  x\n" * 2000,
        "title: " + "x" * 200_000 + "\n",
        "".join(" " * (2 * k) + "a:\n" for k in range(300)),
        "shot a 99999999999999999999999999999s:\n  x\n",
        "shot a 5s:\n  x\ndissolve " + "9" * 400 + "s\nshot b 5s:\n  y\n",
        "seed: " + "9" * 500 + "\n",
        "\ufeffshot a 5s:\r\n  x\r\n",
        "shot a 5s:\n  @" + "K" * 10_000 + " runs\n",
        "include: " + "x" * 5000 + "\nshot a 5s:\n  x\n",  # longer than a file name may be
        "character K:\n  image: " + "y" * 5000 + ".png\nshot a 5s:\n  @K\n",
        "include: a\x00b.story\nshot a 5s:\n  x\n",
        "character K:\n  image: a\x00.png\nshot a 5s:\n  @K\n",
    ]
    for text in cases:
        _assert_clean(run_one(text, folder, PROVIDERS))
