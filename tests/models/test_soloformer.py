"""SoloFormer: 3D relative position index, window masking, shifted-window receptive field."""

import torch

from liftbench.geometry.skeletons import H36M17
from liftbench.models import create_lifter
from liftbench.models.soloformer import BODY_CHART, SoloBlock, relative_position_index


def test_body_chart_is_mirror_symmetric_and_unique():
    assert len(set(BODY_CHART)) == 17
    for j, (r, c) in enumerate(BODY_CHART):
        assert BODY_CHART[H36M17.flip[j]] == (r, 4 - c)


def test_relative_index_encodes_frame_row_and_column_offsets():
    w = 3
    idx = relative_position_index(w)
    assert idx.shape == (w * 17, w * 17)
    size = (2 * w - 1) * 13 * 9
    assert idx.min() >= 0 and idx.max() < size
    centre = ((w - 1) * 13 + 6) * 9 + 4
    assert torch.all(idx.diagonal() == centre)  # a token with itself: (0, 0, 0)
    # the same joint pair one frame apart has the same index in every window position
    assert idx[0 * 17 + 8, 1 * 17 + 10] == idx[1 * 17 + 8, 2 * 17 + 10]
    # pairs with the same (Δframe, Δrow, Δcol) share an entry: hips→knees on both sides
    assert idx[1, 2] == idx[4, 5]
    assert idx[1, 2] != idx[2, 1]
    # different offsets never collide
    pairs = {}
    rc = torch.tensor(BODY_CHART)
    for a in range(w * 17):
        for b in range(w * 17):
            key = (a // 17 - b // 17, *(rc[a % 17] - rc[b % 17]).tolist())
            assert pairs.setdefault(key, int(idx[a, b])) == int(idx[a, b])
    assert len(set(pairs.values())) == len(pairs)


def test_padded_windows_match_the_unpadded_clip():
    torch.manual_seed(0)
    block = SoloBlock(16, 2, window=4, shift=0, mlp_ratio=2.0).eval()
    x = torch.randn(2, 6, 17, 16)  # windows [0, 4) and [4, 6) + 2 padded frames
    with torch.no_grad():
        y = block(x)
        torch.testing.assert_close(y[:, :4], block(x[:, :4]))
        torch.testing.assert_close(y[:, 4:], block(x[:, 4:]), rtol=1e-5, atol=1e-5)
        # frames in another window do not interact in an unshifted block
        x2 = x.clone()
        x2[:, 5] += 1.0
        torch.testing.assert_close(block(x2)[:, :4], y[:, :4])


def test_shifted_blocks_connect_neighbouring_windows():
    torch.manual_seed(0)
    model = create_lifter("soloformer", dim=16, depth=2, num_heads=2, window=4).eval()
    x = torch.randn(1, 8, 17, 3)
    x2 = x.clone()
    x2[:, 5] += 1.0  # frame 5: the second unshifted window, the shifted window [2, 6)
    with torch.no_grad():
        y, y2 = model(x), model(x2)
    assert not torch.allclose(y[:, 3], y2[:, 3])  # reached through the shifted block
    torch.testing.assert_close(y[:, 0], y2[:, 0])  # frame 0's windows never contain frame 5
    assert model.forward_features(x).shape == (1, 8, 17, 16)
