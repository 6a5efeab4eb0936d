"""What every provider's tests do against its fake server: start the fake with small, fast
clips, run a scenario with a fresh provider pointed at it, and wait for a job to finish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from storyboard.providers.base import Job, Provider


def small_fake(fake_class: type, key: str, **kw: Any):
    """A fake of `fake_class` whose clips are tiny testcards and whose jobs finish quickly."""
    kw.setdefault("latency", 0.2)
    kw.setdefault("clip_size", (64, 36))
    kw.setdefault("renderer", "testcard")
    return fake_class(api_key=key, **kw)


def run_scenario(provider_class: type, fake: Any, scenario: Callable[[Any], Awaitable[Any]], key: str,
                 **options: Any) -> Any:
    """Run `scenario(provider)` with a fresh provider at the fake (fast backoff unless given)."""
    options.setdefault("backoff", (0.05, 0.2))

    async def main() -> Any:
        provider = provider_class(api_key=options.pop("api_key", key), base_url=fake.base_url, **options)
        try:
            return await scenario(provider)
        finally:
            await provider.aclose()

    return asyncio.run(main())


async def finished(provider: Provider, job_id: str, timeout: float = 15) -> Job:
    """The job once it is no longer running (polled every 50 ms)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = await provider.get(job_id)
        if job.state != "running":
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")
