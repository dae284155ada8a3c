"""The one windowing rule of predict / calibrate / pseudo-labels (`bench.sequence_lifting`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from liftbench.bench.sequence_lifting import lift_windows, window_starts


def _seen_frames(window: int):
    """A 'lifter' that returns each frame's index within its window (x) and the frame value (y)."""
    calls = []

    def predict(x: torch.Tensor) -> torch.Tensor:
        assert x.shape[1] == window
        calls.append(x.shape[0])
        pos = torch.arange(window, dtype=x.dtype)[None, :, None].expand(x.shape[0], -1, 17)
        return torch.stack([pos, x[..., 0], torch.zeros_like(pos)], -1)

    return predict, calls


def test_window_starts_cover_every_frame_once_with_an_end_aligned_tail():
    assert window_starts(62, 27) == [0, 27, 35]
    assert window_starts(54, 27) == [0, 27]
    assert window_starts(27, 27) == [0]


def test_every_frame_is_predicted_from_its_own_window():
    frames = np.arange(62, dtype=float)
    x = np.zeros((2, 62, 17, 3))
    x[..., 0] = frames[None, :, None]
    predict, calls = _seen_frames(27)
    out = lift_windows(predict, x, 27, batch_size=4)
    assert out.shape == (2, 62, 17, 3) and sum(calls) == 2 * 3
    np.testing.assert_array_equal(out[0, :, 0, 1], frames)  # each frame's own value
    # frames 54..61 come from the end-aligned window starting at 35
    np.testing.assert_array_equal(out[0, 54:, 0, 0], np.arange(19, 27))


def test_a_clip_shorter_than_the_window_is_edge_padded():
    x = np.zeros((1, 10, 17, 3))
    x[..., 0] = np.arange(10)[None, :, None]
    predict, _ = _seen_frames(27)
    out = lift_windows(predict, x, 27)
    assert out.shape == (1, 10, 17, 3)
    np.testing.assert_array_equal(out[0, :, 0, 1], np.arange(10))  # padding dropped again
    np.testing.assert_array_equal(out[0, :, 0, 0], np.arange(8, 18))  # 8 padded frames before


def test_frame_wise_lifters_take_the_whole_sequence_and_bad_shapes_fail():
    predict, calls = _seen_frames(5)
    assert lift_windows(predict, np.zeros((3, 5, 17, 3)), None).shape == (3, 5, 17, 3)
    with pytest.raises(ValueError, match=r"\(C, N, J, 3\)"):
        lift_windows(predict, np.zeros((5, 17, 3)), None)


def test_a_lifter_that_takes_shorter_clips_gets_them_unpadded():
    x = np.zeros((1, 10, 17, 3))
    x[..., 0] = np.arange(10)[None, :, None]
    predict, _ = _seen_frames(10)  # asserts it is called with 10 frames
    out = lift_windows(predict, x, 243, min_window=1)
    np.testing.assert_array_equal(out[0, :, 0, 1], np.arange(10))


def test_centre_frame_lifters_see_every_frame_at_their_window_centre():
    x = np.zeros((2, 12, 17, 3))
    x[..., 0] = np.arange(12)[None, :, None]
    predict, calls = _seen_frames(5)
    out = lift_windows(predict, x, 5, batch_size=4, centre=True)
    assert out.shape == (2, 12, 17, 3)
    np.testing.assert_array_equal(out[1, :, 3, 1], np.arange(12))  # its own frame's value
    np.testing.assert_array_equal(out[0, :, 0, 0], np.full(12, 2))  # always the centre index
