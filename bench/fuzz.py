"""Fuzz throughput and robustness: 10,000 mutated stories through check, compile (two
providers) and fmt. Prints the count of tracebacks (target 0) and the throughput against a raw
Lark parse of the same inputs, measured in this run.

    .venv/bin/python bench/fuzz.py [--n 10000] [--seed 1]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyboard.language.parser import raw_parse  # noqa: E402
from storyboard.providers import get  # noqa: E402
from storyboard.testing.fuzz import mutate, run_one  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    seeds = sorted(p.read_text(encoding="utf-8") for p in (ROOT / "examples").glob("*/*.story"))
    rng = random.Random(args.seed)
    inputs = [mutate(rng.choice(seeds), rng) for _ in range(args.n)]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "film"
        shutil.copytree(ROOT / "examples" / "kitten-general", folder)
        providers = [get("preview"), get("together")]
        t0 = time.perf_counter()
        findings = [f for f in (run_one(text, folder, providers) for text in inputs) if f]
        ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for text in inputs:
        with contextlib.suppress(Exception):  # a mutant Lark refuses costs as much as one it parses
            raw_parse(text)
    raw = time.perf_counter() - t0
    crashes = [f for f in findings if f.kind == "exception"]
    print(f"inputs                 {args.n}")
    print(f"tracebacks             {len(crashes)}   (target 0)")
    print(f"other findings         {len(findings) - len(crashes)}   (positions outside the file, fmt not stable)")
    print(f"check+compile×2+fmt    {ours:.1f} s   {args.n / ours:,.0f} inputs/s")
    print(f"raw Lark parse         {raw:.1f} s   {args.n / raw:,.0f} inputs/s")
    print(f"ratio (ours / raw)     {ours / raw:.1f}×")
    for f in findings[:5]:
        print(f"--- {f.kind}: {f.detail.strip().splitlines()[-1][:300]}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
