"""Late fusion and the choice of its weight."""

import pytest
import torch

from ml.core.fusion import DEFAULT_GRID, choose_fusion_weight, fuse


def test_default_grid_is_0_to_1_by_005():
    assert DEFAULT_GRID[:3] == (0.0, 0.05, 0.1)
    assert len(DEFAULT_GRID) == 21 and DEFAULT_GRID[-1] == 1.0


def test_fuse_uses_text_only_without_photo_and_image_only_without_text():
    p_text = torch.tensor([[0.8, 0.2], [0.8, 0.2], [0.8, 0.2], [0.8, 0.2]])
    p_image = torch.tensor([[0.2, 0.8], [0.2, 0.8], [0.2, 0.8], [0.2, 0.8]])
    has_text = torch.tensor([True, True, False, False])
    has_image = torch.tensor([True, False, True, False])

    fused = fuse(p_text, p_image, 0.25, has_text, has_image)

    expected = [[0.35, 0.65], [0.8, 0.2], [0.2, 0.8], [0.8, 0.2]]
    torch.testing.assert_close(fused, torch.tensor(expected))
    torch.testing.assert_close(fuse(p_text, None, 0.25, has_text, has_image), p_text)


def _branches(seed: int):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(40) % 4
    informative = torch.full((40, 4), 0.1)
    informative[torch.arange(40), y] = 0.7
    noise = torch.rand(40, 4, generator=generator).softmax(dim=1)
    return y, informative, noise


def test_choose_fusion_weight_picks_the_informative_text_branch():
    y, informative, noise = _branches(0)

    w, f1 = choose_fusion_weight(informative, noise, y, grid=DEFAULT_GRID)

    assert (w, f1) == (1.0, 1.0)


def test_choose_fusion_weight_picks_the_informative_image_branch():
    y, informative, noise = _branches(1)

    w, f1 = choose_fusion_weight(noise, informative, y, grid=DEFAULT_GRID)

    assert (w, f1) == (0.0, 1.0)


def test_choose_fusion_weight_balances_complementary_branches():
    y = torch.tensor([0, 1, 0, 1])
    p_text = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    p_image = torch.tensor([[0.3, 0.7], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55]])

    w, f1 = choose_fusion_weight(p_text, p_image, y, grid=DEFAULT_GRID)

    assert f1 == 1.0
    assert 1 / 3 < w < 0.5  # row 0 needs w > 1/3, row 1 needs w < 0.5
    fused = fuse(
        p_text, p_image, w, torch.ones(4, dtype=bool), torch.ones(4, dtype=bool)
    )
    assert fused.argmax(dim=1).tolist() == y.tolist()


def test_choose_fusion_weight_respects_missing_photos():
    y = torch.tensor([0, 1])
    p_text = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    p_image = torch.tensor([[0.0, 1.0], [0.0, 0.0]])  # second row: no photo
    has_image = torch.tensor([True, False])

    w, f1 = choose_fusion_weight(p_text, p_image, y, has_image=has_image)

    assert f1 == pytest.approx(1.0)
    assert w == 1.0  # any w >= 0.6 is right; the log-loss prefers 1.0
