"""Fuzz robustness and throughput: stories through check, compile (two providers) and fmt, which
must not change what a story compiles to (request bodies, keys, timeline). Two sets of inputs:
mutations of the examples, and stories built from the grammar's shapes (cast blocks, shots,
scenes with beats, extends, transitions, settings, dialogue, comments, and prose whose lines
read as something else when joined). Prints the counts of tracebacks and meaning changes (target
0 each; exit 1 otherwise) and the throughput against a raw Lark parse of the same inputs.

The inputs are checked on every core (forked worker processes, each with its own copy of the
example folder); the throughput is given per process, beside the raw parse in this one.

    .venv/bin/python bench/fuzz.py [--n 10000] [--seed 1] [--inputs mutated|generated|both] [--jobs N]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
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


CHUNK = 100  # inputs a worker takes at a time
PROVIDERS = ("preview", "together")
_folder: Path
_providers: list


def _start_worker(base: str) -> None:
    global _folder, _providers
    _folder = Path(tempfile.mkdtemp(dir=base)) / "film"  # run_one writes its story here
    shutil.copytree(ROOT / "examples" / "kitten-general", _folder)
    _providers = [get(name) for name in PROVIDERS]


def _check(chunk: list[str]) -> tuple[list, Counter, float]:
    stats: Counter = Counter()
    t0 = time.perf_counter()
    findings = [f for f in (run_one(text, _folder, _providers, stats) for text in chunk) if f]
    return findings, stats, time.perf_counter() - t0


def run(kind: str, n: int, seed: int, pool, jobs: int) -> int:
    """One set of inputs; returns the number of tracebacks and meaning changes."""
    inputs = make_inputs(kind, n, random.Random(seed))
    stats: Counter = Counter()
    findings: list = []
    ours = 0.0  # seconds of checking summed over the workers: one process's time for all inputs
    t0 = time.perf_counter()
    for found, counted, seconds in pool.imap(_check, [inputs[i:i + CHUNK] for i in range(0, n, CHUNK)]):
        findings += found
        stats.update(counted)
        ours += seconds
    wall = time.perf_counter() - t0
    raw = raw_seconds(inputs)
    by_kind = Counter(f.kind for f in findings)
    print(f"{kind + ' inputs':<22} {n}")
    print(f"  tracebacks           {by_kind['exception']}   (target 0)")
    print(f"  meaning changes      {by_kind['fmt']}   (fmt changed what a story compiles to, or refused; target 0)")
    print(f"  positions outside    {by_kind['bad-position']}   (target 0)")
    plans = ", ".join(f"{stats[f'plan {name}']} for {name}" for name in PROVIDERS)
    print(f"  compiled to a plan   {plans}")
    print(f"  rewritten by fmt     {stats['reformatted']}   (each compiled again and compared)")
    print(f"  check+compile+fmt    {ours:.1f} s in one process   {n / ours:,.0f} inputs/s "
          f"(raw Lark parse {n / raw:,.0f} inputs/s, {ours / raw:.1f}×); {wall:.1f} s wall on {jobs} processes")
    for f in findings[:5]:
        print(f"--- {f.kind}: {f.detail.strip().splitlines()[-1][:300]}")
        print("    input: " + repr(f.text[:300]))
    return len(findings)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10_000, help="inputs in each set")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--inputs", choices=["mutated", "generated", "both"], default="both")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    args = ap.parse_args()
    kinds = ["mutated", "generated"] if args.inputs == "both" else [args.inputs]
    with tempfile.TemporaryDirectory() as tmp, \
            multiprocessing.get_context("fork").Pool(args.jobs, _start_worker, (tmp,)) as pool:
        bad = sum(run(kind, args.n, args.seed, pool, args.jobs) for kind in kinds)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
