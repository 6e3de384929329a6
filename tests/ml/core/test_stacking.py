"""Out-of-fold predictions that fit the fusion over every training row."""

import torch

from ml.core.branches import stratified_folds
from ml.core.engine import best_epoch


def test_folds_cover_every_row_once_with_each_category_spread():
    rows = list(range(100, 130))
    targets = [0] * 15 + [1] * 10 + [2] * 5

    folds = stratified_folds(targets, rows, 5, seed=0)

    assert len(folds) == 5
    assert sorted(i for fold in folds for i in fold) == rows
    for fold in folds:  # 3 of category 0, 2 of 1, 1 of 2 in each fold
        held = [targets[rows.index(i)] for i in fold]
        assert sorted(held) == [0, 0, 0, 1, 1, 2]


def test_fewer_folds_when_a_category_is_small_and_none_when_it_cannot_cut():
    rows = list(range(9))
    folds = stratified_folds([0] * 6 + [1] * 3, rows, 5, seed=0)
    assert len(folds) == 3  # the smallest category has 3 rows
    assert sorted(i for fold in folds for i in fold) == rows

    # a category with one row: plain folds, still every row once
    folds = stratified_folds([0] * 8 + [1], rows, 5, seed=0)
    assert len(folds) == 5
    assert sorted(i for fold in folds for i in fold) == rows

    assert stratified_folds([0, 1], [0, 1], 1, seed=0) == []
    assert stratified_folds([0], [0], 5, seed=0) == []


def test_best_epoch_is_the_one_fit_keeps():
    history = [
        {"epoch": 1, "val_weighted_f1": 0.5, "val_loss": 1.0},
        {"epoch": 2, "val_weighted_f1": 0.8, "val_loss": 0.9},
        {"epoch": 3, "val_weighted_f1": 0.8, "val_loss": 0.7},
        {"epoch": 4, "val_weighted_f1": 0.7, "val_loss": 0.5},
    ]
    assert best_epoch(history) == 3
    assert best_epoch([]) == 1


def test_oof_predictions_come_from_models_that_did_not_see_the_row():
    from ml.core.branches import Run, out_of_fold
    from ml.core.config import TrainingConfig

    y = torch.tensor([0, 1] * 10)
    run = Run(
        config=TrainingConfig(fusion_folds=4),
        labels=["a", "b"],
        y=y,
        train_idx=list(range(14)),
        val_idx=[14, 15],
        fusion_idx=[16, 17, 18, 19],
        work_dir=None,
        device=torch.device("cpu"),
        fingerprint={},
        progress=None,
        writer=None,
        data_hash="",
        stack_rows=list(range(20)),
    )
    calls: list[tuple[set[int], set[int]]] = []

    def predict(fit_rows, held):
        calls.append((set(fit_rows), set(held)))
        return torch.tensor([[float(i), 1.0] for i in held])

    # rows 0..17 only (say 18 and 19 have no text)
    out = out_of_fold(run, list(range(18)), predict)

    assert len(calls) == 4
    for fit, held in calls:  # the other folds' rows fit, the fold's are predicted
        assert fit | held == set(range(18)) and not fit & held
    assert out[:18, 0].tolist() == [float(i) for i in range(18)]
    assert out[18:].abs().sum() == 0  # not predicted: unavailable
    run.stack_rows = None
    assert out_of_fold(run, list(range(18)), predict) is None
