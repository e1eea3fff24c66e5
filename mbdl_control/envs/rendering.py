"""The ``rgb_array`` picture of every env: a strip chart of recently recorded signals.

Drawn with numpy alone (no matplotlib), about half a millisecond a frame: fast enough for
``RecordVideo`` and for the ``rgb_array`` envs stable-baselines3's helpers build.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise

import numpy as np

#: the ``rgb_array`` frame's height and width in pixels
FRAME_SIZE = (160, 320)
#: how many recent values of each recorded signal an ``rgb_array`` frame shows
RENDER_HISTORY = 50
#: the colour of the zero lines and of the rules between bands
_RULE = np.array([200, 200, 200], dtype=np.uint8)
#: trace colours, cycled over the components of a signal (matplotlib's ``tab10``)
_PALETTE = np.array(
    [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ],
    dtype=np.uint8,
)
#: pixels left free above and below the traces of a band
_MARGIN = 2


def strip_chart(
    signals: Mapping[str, Sequence[np.ndarray]], size: tuple[int, int] = FRAME_SIZE
) -> np.ndarray:
    """An RGB frame (``uint8``, ``size + (3,)``) with one horizontal band per signal, top to
    bottom in the order given: each component a polyline, oldest value left, the newest at
    the right once :data:`RENDER_HISTORY` values are in (the chart then scrolls)."""
    height, width = size
    frame = np.full((height, width, 3), 255, dtype=np.uint8)
    edges = np.linspace(0, height, len(signals) + 1).astype(int)
    for (top, bottom), values in zip(pairwise(edges), signals.values(), strict=True):
        _draw_band(frame[top:bottom], values)
    return frame


def _draw_band(band: np.ndarray, values: Sequence[np.ndarray]) -> None:
    """Draw one signal on one scale for all its components (so their sizes compare), a scale
    that includes zero (so the zero line is drawn); a rule closes the band."""
    band[-1] = _RULE
    if not values:
        return
    # a diverging run must not break the frame: inf and nan become drawable numbers
    series = np.nan_to_num(np.clip(np.stack(list(values)), -1e150, 1e150))
    low, high = min(float(series.min()), 0.0), max(float(series.max()), 0.0)
    height, width = band.shape[:2]
    band[_rows(np.zeros(1), low, high, height)] = _RULE
    columns = np.rint(np.arange(len(series)) * (width - 1) / (RENDER_HISTORY - 1)).astype(int)
    for component, trace in enumerate(series.T):
        color = _PALETTE[component % len(_PALETTE)]
        _polyline(band, columns, _rows(trace, low, high, height), color)


def _rows(values: np.ndarray, low: float, high: float, height: int) -> np.ndarray:
    """The pixel rows of ``values`` in a band of ``height`` rows spanning ``[low, high]``,
    high values up, clear of the margins and of the band's closing rule."""
    top, bottom = _MARGIN, height - 2 - _MARGIN
    return bottom - np.rint((values - low) / ((high - low) or 1.0) * (bottom - top)).astype(int)


def _polyline(band: np.ndarray, columns: np.ndarray, rows: np.ndarray, color: np.ndarray) -> None:
    """Join consecutive points by segments sampled once per pixel of their longer side, so a
    steep segment has no gaps, in one vectorized assignment."""
    steps = np.maximum(np.abs(np.diff(columns)), np.abs(np.diff(rows))).clip(min=1)
    segment = np.repeat(np.arange(len(steps)), steps)
    fraction = (np.arange(len(segment)) - (np.cumsum(steps) - steps)[segment]) / steps[segment]
    xs = np.append(columns[segment] + fraction * np.diff(columns)[segment], columns[-1])
    ys = np.append(rows[segment] + fraction * np.diff(rows)[segment], rows[-1])
    band[np.rint(ys).astype(int), np.rint(xs).astype(int)] = color
