"""Temperature scaling and the expected calibration error."""

import pytest
import torch

from ml.core.calibration import (
    apply_temperature,
    expected_calibration_error,
    fit_temperature,
)
from ml.core.ensemble import BranchScores, fit_fusion


def _overconfident(n: int = 2000, seed: int = 0):
    """Labels drawn from calibrated probabilities, then reported sharpened by 3x."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, 5, generator=generator) * 1.5
    true_probs = logits.softmax(dim=1)
    y = torch.multinomial(true_probs, 1, generator=generator).view(-1)
    reported = (logits * 3.0).softmax(dim=1)
    return reported, y, true_probs


def test_ece_of_hand_made_bins():
    probs = torch.tensor([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]])
    y = torch.tensor([0, 1, 0, 0])

    # bin (0.8667, 0.9333]: accuracy 0.5 vs 0.9; bin (0.6, 0.6667]... 0.6 is in
    # (0.5333, 0.6]: accuracy 1.0 vs 0.6. Each holds half the rows.
    assert expected_calibration_error(probs, y) == pytest.approx(0.5 * 0.4 + 0.5 * 0.4)
    assert expected_calibration_error(torch.zeros(0, 2), []) == 0.0


def test_a_fitted_temperature_undoes_overconfidence_and_lowers_ece():
    reported, y, _ = _overconfident()

    temperature = fit_temperature(reported, y)
    calibrated = apply_temperature(reported, temperature)

    assert temperature == pytest.approx(3.0, rel=0.15)
    before = expected_calibration_error(reported, y)
    after = expected_calibration_error(calibrated, y)
    assert before > 0.15
    assert after < 0.04
    assert (calibrated.argmax(1) == reported.argmax(1)).all()  # ranking unchanged


def test_temperature_on_margins_matches_temperature_on_log_probabilities():
    margins = torch.tensor([[2.0, -1.0, 0.5], [0.1, 0.3, -2.0]])

    by_margin = apply_temperature(margins, 0.5, logits=True)
    by_probs = apply_temperature(margins.softmax(dim=1), 0.5)

    torch.testing.assert_close(by_margin, by_probs)
    torch.testing.assert_close(by_margin, (margins / 0.5).softmax(dim=1))


def test_fit_temperature_without_rows_is_one():
    assert fit_temperature(torch.zeros(0, 3), []) == 1.0


def test_fit_fusion_calibrates_the_fused_output_and_reports_ece():
    reported, y, true_probs = _overconfident(1200, seed=3)
    noise = torch.rand(1200, 5, generator=torch.Generator().manual_seed(0))
    weak = (true_probs + noise).softmax(dim=1)
    ones = torch.ones(1200, dtype=torch.bool)

    fit = fit_fusion(
        {"sharp": BranchScores(reported, ones), "weak": BranchScores(weak, ones)}, y
    )

    assert fit.temperatures["sharp"] == pytest.approx(3.0, rel=0.2)
    assert sum(fit.weights.values()) == pytest.approx(1.0)
    assert fit.report["cross_fitted"] is True
    assert fit.report["ece_before"] > 0.1
    assert fit.report["ece_after"] < 0.05
    assert fit.probs.shape == (1200, 5)
