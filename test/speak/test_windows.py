"""Windows of a video longer than the model's training clips, and how their mels are joined."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lipsound2.inference.video_speaker import join_units, join_windows, window_bounds


@pytest.mark.parametrize("num_frames", [1, 74, 75, 76, 138, 139, 140, 500, 1501])
def test_windows_cover_the_video_with_full_windows_and_the_overlap(num_frames):
    window, overlap = 75, 12
    bounds = window_bounds(num_frames, window, overlap)
    if num_frames <= window:
        assert bounds == [(0, num_frames)]
        return
    assert bounds[0][0] == 0 and bounds[-1][1] == num_frames
    assert all(b - a == window for a, b in bounds)
    overlaps = [prev_end - start for (_, prev_end), (start, _) in zip(bounds, bounds[1:])]
    assert min(overlaps) >= overlap
    # the fewest windows: one less could not cover the video with that overlap
    assert (len(bounds) - 1) * (window - overlap) + overlap < num_frames


def test_bad_window_settings_are_refused():
    with pytest.raises(ValueError, match="overlap"):
        window_bounds(100, 10, 10)
    with pytest.raises(ValueError, match="overlap"):
        window_bounds(100, 0, 0)


def test_joined_windows_of_one_mel_give_that_mel_back():
    """Windows that agree on their overlap join seamlessly, whatever the mel frames per video frame."""
    rng = np.random.default_rng(0)
    num_frames, per_frame = 301, 2.5
    mel = rng.standard_normal((math.floor(num_frames * per_frame), 80)).astype(np.float32)
    bounds = window_bounds(num_frames, 75, 12)
    parts = [mel[math.floor(a * per_frame) : math.floor(b * per_frame)] for a, b in bounds]
    np.testing.assert_allclose(join_windows(parts, bounds, per_frame, -11.5), mel, atol=1e-5)


def test_overlaps_fade_from_one_window_to_the_next_and_short_windows_are_padded_with_silence():
    bounds = [(0, 10), (6, 16)]  # overlap of 4 video frames = 10 mel frames at 2.5
    first, second = np.zeros((25, 2), np.float32), np.ones((24, 2), np.float32)  # the second one short
    joined = join_windows([first, second], bounds, 2.5, -11.5)
    assert joined.shape == (40, 2)
    np.testing.assert_array_equal(joined[:15], 0)
    blend = joined[15:25, 0]
    assert np.all(np.diff(blend) > 0) and 0 < blend[0] < 0.1 and 0.9 < blend[-1] < 1
    np.testing.assert_array_equal(joined[25:39], 1)
    assert joined[39, 0] == -11.5


def test_joined_windows_of_one_unit_sequence_give_those_units_back():
    rng = np.random.default_rng(1)
    num_frames, per_frame = 301, 2.5
    units = rng.integers(0, 200, math.floor(num_frames * per_frame)).astype(np.int32)
    bounds = window_bounds(num_frames, 75, 12)
    parts = [units[math.floor(a * per_frame) : math.floor(b * per_frame)] for a, b in bounds]
    joined = join_units(parts, bounds, per_frame)
    assert joined.dtype == np.int32
    np.testing.assert_array_equal(joined, units)


def test_overlapped_frames_take_the_units_of_the_window_weighing_more():
    """The units switch windows where the mel's cross-fade weights cross; a short window is
    padded with its last unit."""
    bounds = [(0, 10), (6, 16)]  # as the mel test above: overlap at mel frames 15..24
    first, second = np.full(25, 3, np.int32), np.arange(24, dtype=np.int32) + 10  # the second short
    joined = join_units([first, second], bounds, 2.5)
    mel = join_windows([np.zeros((25, 1)), np.ones((24, 1))], bounds, 2.5, -11.5)[:, 0]
    assert joined.shape == (40,)
    from_first = joined == 3
    # the first window's units exactly where its weight in the mel is the larger
    np.testing.assert_array_equal(from_first[:39], mel[:39] < 0.5)
    np.testing.assert_array_equal(from_first, np.arange(40) < 20)
    np.testing.assert_array_equal(joined[20:39], second[5:24])
    assert joined[39] == second[-1]
