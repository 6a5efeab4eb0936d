"""Decoded sound as the mixer takes it: float32 stereo at 48 kHz, in blocks (clips and scores)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ..media.probe import open_media
from .base import RATE


def pcm_chunks(path: Path, start: list[float] | None = None) -> Iterator[np.ndarray]:
    """A file's first audio track as float32 (n, 2) blocks at 48 kHz; `start` gets the time of its
    first sample."""
    with open_media(path, pictures=False) as container:
        stream = container.streams.audio[0]
        resampler = None
        for frame in container.decode(stream):
            if start is not None and not start and frame.pts is not None:
                start.append(float(frame.pts * frame.time_base))
            if resampler is None and frame.format.name == "fltp" and frame.rate == RATE \
                    and frame.layout.nb_channels == 2:
                yield frame.to_ndarray().T  # already the mix format: skip swresample
                continue
            resampler = resampler or av.AudioResampler(format="flt", layout="stereo", rate=RATE)
            for out in resampler.resample(frame):
                yield out.to_ndarray().reshape(-1, 2)
        if resampler is not None:
            for out in resampler.resample(None):
                yield out.to_ndarray().reshape(-1, 2)
