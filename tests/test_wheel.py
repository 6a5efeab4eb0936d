"""The wheel is complete: built from the checkout, installed into a fresh venv, it compiles an
example exactly as the checkout does (the grammar and the templates ship inside the package).

Fast enough for every `make test` (a few seconds): the wheel is built without an isolated build
environment (hatchling is a test dependency), and the fresh venv borrows the already installed
dependencies through a .pth file instead of downloading them; storyboard itself is the wheel's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KITTEN = ROOT / "examples" / "kitten-general" / "kitten-general.story"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=240, **kw)
    assert proc.returncode == 0, f"{cmd} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", out, ROOT], cwd=ROOT)
    wheels = list(out.glob("storyboard-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory) -> Path:
    """A fresh venv with the wheel installed; dependencies come from this interpreter's
    site-packages, appended after the venv's own (so the wheel's storyboard wins)."""
    root = tmp_path_factory.mktemp("venv") / "env"
    _run([sys.executable, "-m", "venv", "--without-pip", root])
    py = root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "zz_borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    _run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "--no-index", "--quiet",
          "--disable-pip-version-check", wheel])
    return root


def test_wheel_contains_the_grammar_and_templates(wheel: Path):
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "storyboard/language/story.lark" in names
    templates = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "storyboard").rglob("templates/*.j2"))
    assert len(templates) >= 2  # the prompt template and the page template
    for t in templates:
        assert t in names
    assert "storyboard/__init__.py" in names and "storyboard/providers/together.py" in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "storyboard = storyboard.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()
    packaged = zipfile.ZipFile(wheel).read("storyboard/language/story.lark").decode("utf-8")
    assert packaged == (ROOT / "storyboard" / "language" / "story.lark").read_text(encoding="utf-8")
    assert not any(n.startswith(("tests/", "examples/", "bench/")) for n in names)


def test_installed_package_is_the_wheels(venv: Path, tmp_path: Path):
    py = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    code = ("import json, storyboard, storyboard.language.parser as p; "
            "print(json.dumps([storyboard.__file__, p.grammar_text() == "
            "(__import__('importlib.resources').resources.files('storyboard.language') / 'story.lark')"
            ".read_text(encoding='utf-8')]))")
    where, packaged_grammar = json.loads(_run([py, "-c", code], cwd=tmp_path).stdout)
    assert Path(where).resolve().is_relative_to(venv.resolve()), where
    assert not Path(where).resolve().is_relative_to(ROOT), where
    assert packaged_grammar


def test_installed_cli_compiles_an_example(venv: Path, tmp_path: Path):
    script = venv / ("Scripts/storyboard.exe" if os.name == "nt" else "bin/storyboard")
    assert script.exists()
    from_wheel = _run([script, "compile", "--provider", "together", KITTEN], cwd=tmp_path)
    from_checkout = _run([sys.executable, "-m", "storyboard", "compile", "--provider", "together", KITTEN],
                         cwd=tmp_path)
    plan = json.loads(from_wheel.stdout)
    assert [c["name"] for c in plan["clips"]] == ["opening", "charge", "battle", "battle+1", "dawn"]
    assert from_wheel.stdout == from_checkout.stdout
    check = _run([script, "check", KITTEN], cwd=tmp_path)
    assert "no problems" in check.stderr
