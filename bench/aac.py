"""The film's AAC settings: fidelity and encode cost of what the stitcher uses against the usual
alternatives, on the same material, measured in one run.

    .venv/bin/python bench/aac.py

Encodes 20 s of four kinds of stereo sound with the stitcher's own AacWriter (PyAV, in process),
decodes them with ffmpeg (edit list applied) and prints, per setting, the SNR of each channel
against the input and the encoder's CPU seconds (median of 3). Materials: dual mono (L = R, e.g.
a mono dialogue track), near centre (a shared mix plus a little independent noise per side), wide
(unrelated left and right) and the tones of bench/stitch.py's films.

Targets (exit 1 when missed): the stitcher's setting (storyboard.stitch.AAC_BIT_RATE and
AAC_OPTIONS) costs less CPU in total than 192 kbit/s with the default mid/side search, and its
SNR is never more than 3 dB below it on any channel of any material.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from storyboard.media import probe as media  # noqa: E402
from storyboard.stitch import AAC_BIT_RATE, AAC_OPTIONS, RATE, AacWriter  # noqa: E402

SECONDS = 20
OURS = (AAC_BIT_RATE, AAC_OPTIONS)
SETTINGS = {
    "192k, M/S search (before)": (192_000, {}),
    "128k, M/S search (ffmpeg default)": (128_000, {}),
    f"{AAC_BIT_RATE // 1000}k, " + " ".join(f"-{k} {v}" for k, v in AAC_OPTIONS.items())
    + " (ours)": OURS,
}


def materials() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    n = RATE * SECONDS
    t = np.arange(n) / RATE

    def pink() -> np.ndarray:
        spectrum = np.fft.rfft(rng.standard_normal(n))
        spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
        return np.fft.irfft(spectrum, n)

    def norm(x: np.ndarray) -> np.ndarray:
        return 0.3 * x / np.abs(x).max()

    partials = [220, 277, 330, 440, 554, 660, 880, 1320, 2640, 5280]
    music = norm(sum(np.sin(2 * np.pi * f * t) * (0.5 + 0.5 * np.sin(2 * np.pi * 0.3 * k * t))
                     for k, f in enumerate(partials)) + 3 * pink())
    speech = norm(pink() * (np.sin(2 * np.pi * 3 * t) > 0))
    tones = np.concatenate([0.1 * np.sin(2 * np.pi * (220 + 40 * i) * t[:RATE * 5])
                            for i in range(SECONDS // 5)])
    return {
        "dual mono": np.stack([music, music], 1),
        "near centre": np.stack([music + 0.1 * norm(pink()), music + 0.1 * norm(pink())], 1),
        "wide": np.stack([music, norm(pink()) + 0.5 * speech], 1),
        "bench tones": np.stack([tones, tones], 1),
    }


def encode(pcm: np.ndarray, out: Path, bit_rate: int, options: dict) -> float:
    """CPU seconds of one encode with the stitcher's own writer (the thread's own time)."""
    start = time.thread_time()
    writer = AacWriter(out, bit_rate, options)
    for i in range(0, len(pcm), RATE):
        writer.write(pcm[i:i + RATE])
    writer.close(complete=True)
    return time.thread_time() - start


def decode(path: Path) -> np.ndarray:
    raw = subprocess.run([media.ffmpeg_exe(), "-v", "error", "-i", str(path), "-f", "f32le", "-"],
                         capture_output=True, check=True).stdout
    return np.frombuffer(raw, "<f4").reshape(-1, 2)


def snr(ref: np.ndarray, got: np.ndarray) -> float:
    n = min(len(ref), len(got))
    noise = np.sum((ref[:n] - got[:n]) ** 2)
    return float(10 * np.log10(np.sum(ref[:n] ** 2) / max(noise, 1e-20)))


def main() -> int:
    out = Path("/tmp") / f"bench-aac-{__import__('os').getpid()}.m4a"
    results: dict[tuple[str, str], tuple[float, float, float]] = {}
    try:
        for mat, pcm in materials().items():
            pcm = pcm.astype(np.float32)
            for name, (bit_rate, options) in SETTINGS.items():
                cpu = statistics.median(encode(pcm, out, bit_rate, options) for _ in range(3))
                got = decode(out)
                results[mat, name] = (snr(pcm[:, 0], got[:, 0]), snr(pcm[:, 1], got[:, 1]), cpu)
    finally:
        out.unlink(missing_ok=True)

    print(f"\n{'material':12} {'setting':38} {'SNR L dB':>9} {'SNR R dB':>9} {'CPU s':>6}")
    for (mat, name), (left, right, cpu) in results.items():
        print(f"{mat:12} {name:38} {left:9.1f} {right:9.1f} {cpu:6.2f}")
    before, ours = list(SETTINGS)[0], list(SETTINGS)[-1]
    mats = {m for m, _ in results}
    cost = {s: sum(results[m, s][2] for m in mats) for s in (before, ours)}
    worst = min(min(results[m, ours][c] - results[m, before][c] for c in (0, 1)) for m in mats)
    print(f"\nours / before: CPU {cost[ours] / cost[before]:.2f}x "
          f"({cost[ours]:.2f} s vs {cost[before]:.2f} s for {len(mats) * SECONDS} s of sound); "
          f"worst SNR change {worst:+.1f} dB   (targets: < 1x, >= -3 dB)")
    failures = []
    if cost[ours] >= cost[before]:
        failures.append("our AAC setting is not cheaper than 192k with the M/S search")
    if worst < -3:
        failures.append(f"our AAC setting loses {-worst:.1f} dB of SNR somewhere")
    for f in failures:
        print("MISSED:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
