"""N-way late fusion: renormalised weights for missing inputs, the simplex grid, the
choice of weights, and the fitted (stacking) alternative."""

import pytest
import torch

from ml.core.fusion import choose_weights, fuse, shares, simplex_grid, stacking_weights


def test_simplex_grid_has_every_point_summing_to_one():
    assert simplex_grid(2, 0.5) == [(0.0, 1.0), (0.5, 0.5), (1.0, 0.0)]
    assert len(simplex_grid(3)) == 231
    assert len(simplex_grid(4)) == 1771
    assert all(abs(sum(p) - 1.0) < 1e-9 for p in simplex_grid(3))


def test_fuse_renormalises_the_weights_of_the_branches_a_row_has():
    p_a = torch.tensor([[0.8, 0.2]] * 4)
    p_b = torch.tensor([[0.4, 0.6]] * 4)
    p_c = torch.tensor([[0.0, 1.0]] * 4)
    probs = {"a": p_a, "b": p_b, "c": p_c}
    available = {
        "a": torch.tensor([True, True, False, False]),
        "b": torch.tensor([True, True, False, True]),
        "c": torch.tensor([True, False, True, False]),
    }
    weights = {"a": 0.5, "b": 0.25, "c": 0.25}

    fused = fuse(probs, available, weights)

    expected = [
        [0.5 * 0.8 + 0.25 * 0.4, 0.5 * 0.2 + 0.25 * 0.6 + 0.25],  # all three
        [(0.5 * 0.8 + 0.25 * 0.4) / 0.75, (0.5 * 0.2 + 0.25 * 0.6) / 0.75],  # a, b
        [0.0, 1.0],  # c only
        [0.4, 0.6],  # b only
    ]
    torch.testing.assert_close(fused, torch.tensor(expected))


def test_a_row_whose_branches_all_weigh_zero_gets_equal_shares():
    probs = {"a": torch.tensor([[1.0, 0.0]]), "b": torch.tensor([[0.0, 1.0]])}
    available = {"a": torch.tensor([True]), "b": torch.tensor([True])}

    fused = fuse(probs, {**available}, {"a": 0.0, "b": 0.0, "c": 1.0})

    torch.testing.assert_close(fused, torch.tensor([[0.5, 0.5]]))
    assert shares({"a": 0.0, "b": 0.0, "c": 1.0}, {"a": True, "b": True}) == {
        "a": 0.5,
        "b": 0.5,
        "c": 0.0,
    }


def test_shares_are_the_weights_of_the_available_branches_renormalised():
    weights = {"text": 0.3, "tfidf": 0.5, "image": 0.2}

    assert shares(weights, {"text": True, "tfidf": True, "image": False}) == {
        "text": 0.375,
        "tfidf": 0.625,
        "image": 0.0,
    }
    assert shares(weights, {"text": True, "tfidf": True, "image": True}) == weights


def _branches(seed: int):
    generator = torch.Generator().manual_seed(seed)
    y = torch.arange(40) % 4
    informative = torch.full((40, 4), 0.1)
    informative[torch.arange(40), y] = 0.7
    noise = torch.rand(40, 4, generator=generator).softmax(dim=1)
    return y, informative, noise


def test_choose_weights_puts_all_the_weight_on_the_informative_branch():
    y, informative, noise = _branches(0)
    ones = torch.ones(40, dtype=torch.bool)
    probs = {"noise": noise, "good": informative, "noise2": noise.flip(0)}

    weights, f1 = choose_weights(probs, dict.fromkeys(probs, ones), y)

    assert f1 == 1.0
    assert weights == {"noise": 0.0, "good": 1.0, "noise2": 0.0}


def test_choose_weights_balances_complementary_branches():
    y = torch.tensor([0, 1, 0, 1])
    p_text = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    p_image = torch.tensor([[0.3, 0.7], [0.1, 0.9], [0.6, 0.4], [0.45, 0.55]])
    ones = torch.ones(4, dtype=torch.bool)

    weights, f1 = choose_weights(
        {"text": p_text, "image": p_image}, {"text": ones, "image": ones}, y
    )

    assert f1 == 1.0
    assert 1 / 3 < weights["text"] < 0.5  # row 0 needs > 1/3, row 1 < 0.5
    assert weights["image"] == pytest.approx(1.0 - weights["text"])


def test_choose_weights_respects_missing_inputs():
    y = torch.tensor([0, 1])
    p_text = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    p_image = torch.tensor([[0.0, 1.0], [0.0, 0.0]])  # second row: no photo
    available = {
        "text": torch.tensor([True, True]),
        "image": torch.tensor([True, False]),
    }

    weights, f1 = choose_weights({"text": p_text, "image": p_image}, available, y)

    assert f1 == 1.0
    assert weights == {"text": 1.0, "image": 0.0}  # the log-loss prefers 1.0


def test_stacking_weights_lean_on_the_informative_branch():
    y, informative, noise = _branches(2)
    ones = torch.ones(40, dtype=torch.bool)

    weights = stacking_weights(
        {"good": informative, "noise": noise}, {"good": ones, "noise": ones}, y
    )

    assert weights["good"] > 0.95
    assert weights["good"] + weights["noise"] == pytest.approx(1.0, abs=1e-5)
