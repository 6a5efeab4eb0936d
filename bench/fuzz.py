"""Fuzz robustness and throughput: stories through check, compile (two providers) and fmt, which
must not change what a story compiles to (request bodies, keys, timeline). Two sets of inputs:
mutations of the examples, and stories built from the grammar's shapes (cast blocks, shots,
scenes with beats, extends, transitions, settings, dialogue, comments, and prose whose lines
read as something else when joined). Prints the counts of tracebacks and meaning changes (target
0 each; exit 1 otherwise) and the throughput against a raw Lark parse of the same inputs.

    .venv/bin/python bench/fuzz.py [--n 10000] [--seed 1] [--inputs mutated|generated|both]
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storyboard.language.parser import raw_parse  # noqa: E402
from storyboard.providers import get  # noqa: E402
from storyboard.testing.fuzz import generate, mutate, run_one  # noqa: E402


def make_inputs(kind: str, n: int, rng: random.Random) -> list[str]:
    if kind == "generated":
        return [generate(rng) for _ in range(n)]
    seeds = sorted(p.read_text(encoding="utf-8") for p in (ROOT / "examples").glob("*/*.story"))
    return [mutate(rng.choice(seeds), rng) for _ in range(n)]


def raw_seconds(inputs: list[str]) -> float:
    t0 = time.perf_counter()
    for text in inputs:
        with contextlib.suppress(Exception):  # a mutant Lark refuses costs as much as one it parses
            raw_parse(text)
    return time.perf_counter() - t0


def run(kind: str, n: int, seed: int, folder: Path, providers) -> int:
    """One set of inputs; returns the number of tracebacks and meaning changes."""
    inputs = make_inputs(kind, n, random.Random(seed))
    stats: Counter = Counter()
    t0 = time.perf_counter()
    findings = [f for f in (run_one(text, folder, providers, stats) for text in inputs) if f]
    ours = time.perf_counter() - t0
    raw = raw_seconds(inputs)
    by_kind = Counter(f.kind for f in findings)
    print(f"{kind + ' inputs':<22} {n}")
    print(f"  tracebacks           {by_kind['exception']}   (target 0)")
    print(f"  meaning changes      {by_kind['fmt']}   (fmt changed what a story compiles to, or refused; target 0)")
    print(f"  positions outside    {by_kind['bad-position']}   (target 0)")
    plans = ", ".join(f"{stats[f'plan {p.name}']} for {p.name}" for p in providers)
    print(f"  compiled to a plan   {plans}")
    print(f"  rewritten by fmt     {stats['reformatted']}   (each compiled again and compared)")
    print(f"  check+compile+fmt    {ours:.1f} s   {n / ours:,.0f} inputs/s "
          f"(raw Lark parse {n / raw:,.0f} inputs/s, {ours / raw:.1f}×)")
    for f in findings[:5]:
        print(f"--- {f.kind}: {f.detail.strip().splitlines()[-1][:300]}")
        print("    input: " + repr(f.text[:300]))
    return len(findings)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="inputs in each set")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inputs", choices=["mutated", "generated", "both"], default="both")
    args = ap.parse_args()
    kinds = ["mutated", "generated"] if args.inputs == "both" else [args.inputs]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "film"
        shutil.copytree(ROOT / "examples" / "kitten-general", folder)
        providers = [get("preview"), get("together")]
        bad = sum(run(kind, args.n, args.seed, folder, providers) for kind in kinds)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
