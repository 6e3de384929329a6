"""The precision curve that routes products by confidence."""

import torch

from ml.core.calibration import precision_curve, threshold_for_precision


def test_precision_and_coverage_by_threshold():
    probs = torch.tensor([[0.95, 0.05], [0.85, 0.15], [0.3, 0.7], [0.6, 0.4]])
    y = torch.tensor([0, 1, 1, 1])  # right, wrong, right, wrong

    curve = precision_curve(probs, y, step=0.1)

    assert [row[0] for row in curve] == [
        0.0,
        0.1,
        0.2,
        0.3,
        0.4,
        0.5,
        0.6,
        0.7,
        0.8,
        0.9,
    ]
    # every row: 2 of 4 right
    assert curve[0] == [0.0, 0.5, 1.0]
    # top >= 0.7: rows 0 (0.95), 1 (0.85), 2 (0.7) -> 2 of 3 right
    assert curve[7] == [0.7, 0.6667, 0.75]
    # top >= 0.9: row 0 only
    assert curve[9] == [0.9, 1.0, 0.25]


def test_threshold_is_the_lowest_that_reaches_the_target():
    curve = [[0.0, 0.5, 1.0], [0.5, 0.8, 0.6], [0.8, 0.96, 0.3], [0.9, 1.0, 0.0]]

    assert threshold_for_precision(curve, 0.95) == 0.8
    assert threshold_for_precision(curve, 0.8) == 0.5
    # precision 1.0 with nothing covered does not count
    assert threshold_for_precision(curve, 0.99, default=0.97) == 0.97
