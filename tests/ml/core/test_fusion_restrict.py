"""Restricting fused probabilities to some candidate classes (a split category's
products are predicted over the new categories it maps to)."""

import pytest
import torch

from ml.core.fusion import restrict


def test_restrict_zeroes_the_other_classes_and_renormalises():
    probs = torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.1, 0.6, 0.1, 0.2]])

    restricted = restrict(probs, [1, 3])

    expected = [[0.0, 0.2 / 0.3, 0.0, 0.1 / 0.3], [0.0, 0.6 / 0.8, 0.0, 0.2 / 0.8]]
    torch.testing.assert_close(restricted, torch.tensor(expected))
    torch.testing.assert_close(restricted.sum(dim=-1), torch.ones(2))


def test_restrict_of_one_row_and_of_classes_with_no_mass():
    # a single row works, and allowed classes with no mass at all share it equally
    torch.testing.assert_close(
        restrict(torch.tensor([1.0, 0.0, 0.0]), [2, 1, 2]),
        torch.tensor([0.0, 0.5, 0.5]),
    )
    torch.testing.assert_close(
        restrict(torch.tensor([0.25, 0.75]), [0]), torch.tensor([1.0, 0.0])
    )


@pytest.mark.parametrize("allowed", [[], [4], [-1]])
def test_restrict_refuses_no_class_or_a_class_out_of_range(allowed):
    with pytest.raises(ValueError):
        restrict(torch.tensor([0.5, 0.5, 0.0, 0.0]), allowed)
