"""What every fake provider server shares, so that a fake for one more vendor is only its protocol.

- `server`: `FakeServer`, the base class of a fake: lifecycle, Bearer auth, the job API (create,
  get, download) with its faults, stats and run-time control under `/_fake/`.
- `handler`: the loopback HTTP plumbing: routing, JSON bodies, error answers, dropped connections.
- `jobs`: the job lifecycle on a clock, the clips (real MP4 files) and their expiring URLs.
- `faults`: which faults can be injected and how each request draws one (counted or seeded chaos).
- `cli`: the command line every fake shares (`--port 0` prints the base URL first, then serves).

A vendor's fake (see `storyboard/testing/fake_together.py`) adds its routes, its validation rules
and error wording, its prices and the shape of its job answers.
"""
