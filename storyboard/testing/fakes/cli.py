"""The command line every fake server shares: where it listens, the key it accepts, how its jobs
behave, one option per fault; it prints its base URL first (so `--port 0` can be scripted),
then serves until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import dataclasses
import logging
import re
import signal
import sys
import threading
from typing import Any

from .faults import CHAOS_KINDS, FAULT_HELP, Faults, parse_chaos_kinds
from .jobs import RENDERERS
from .server import FakeServer


def fake_parser(prog: str, description: str, *, key_variable: str) -> argparse.ArgumentParser:
    """The shared options; a fake adds its own before parsing."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--api-key", help=f"the one key accepted (default: ${key_variable} or 'fake-key')")
    p.add_argument("--latency", type=float, default=2.0, help="seconds a job takes")
    p.add_argument("--queued", type=float, default=0.0, help="seconds a job reports 'queued' first")
    p.add_argument("--clip-size", type=_wxh, help="render clips at WxH instead of the requested size "
                                                    "(faster; duration unchanged, `size` still reports the request)")
    p.add_argument("--renderer", choices=sorted(RENDERERS), default="animatic")
    p.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    group = p.add_argument_group("faults (counts apply to the next N requests)")
    for fld in dataclasses.fields(Faults):
        group.add_argument("--" + fld.name.replace("_", "-"), **_fault_option(fld))
    return p


def _wxh(text: str) -> tuple[int, int]:
    match = re.fullmatch(r"(\d+)[xX](\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError("expected WxH, e.g. 160x90")
    return int(match.group(1)), int(match.group(2))


def _fault_option(fld: dataclasses.Field[Any]) -> dict[str, Any]:
    """argparse keywords for one `Faults` field."""
    help_ = FAULT_HELP.get(fld.name)
    if fld.name == "chaos_kinds":
        return {"type": parse_chaos_kinds, "default": CHAOS_KINDS, "metavar": "LIST",
                "help": f"comma list of {','.join(CHAOS_KINDS)} (default: all)"}
    if fld.name == "fail_on":
        return {"metavar": "TEXT", "help": help_}
    if fld.name == "chaos":
        return {"type": int, "metavar": "SEED", "help": help_}
    if fld.name == "chaos_rate":
        return {"type": float, "default": fld.default, "metavar": "RATE", "help": help_}
    if fld.type in ("float", "float | None"):
        return {"type": float, "default": fld.default, "metavar": "SECONDS", "help": help_}
    return {"type": int, "default": fld.default, "metavar": "N", "help": help_}


def server_options(args: argparse.Namespace) -> dict[str, Any]:
    """The `FakeServer` keywords (faults included) from parsed shared options."""
    faults = {fld.name: getattr(args, fld.name) for fld in dataclasses.fields(Faults)}
    return {"api_key": args.api_key, "host": args.host, "port": args.port, "latency": args.latency,
            "queued": args.queued, "clip_size": args.clip_size, "renderer": args.renderer, **faults}


def serve(fake: FakeServer, what: str, *, verbose: bool) -> int:
    """Serve until SIGINT or SIGTERM; the base URL is the first line on stdout."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(asctime)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    with fake:
        print(fake.base_url, flush=True)
        print(f"{what} at {fake.base_url} (stats: {fake.base_url}/_fake/stats); Ctrl-C to stop",
              file=sys.stderr, flush=True)
        while not stop.wait(0.2):
            pass
    return 0
