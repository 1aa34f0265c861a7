"""Batch sharding of the scan: a fixed split that changes no number."""

import numpy as np
import pytest

from skrnn import _parallel
from skrnn._cells import CELLS
from skrnn._network import Architecture, draw_masks, init_params, loss_and_grad


def _run(cell, bidirectional):
    rng = np.random.RandomState(0)
    arch = Architecture(
        cell,
        (5, 4),
        3,
        2,
        bidirectional=bidirectional,
        return_sequences=True,
        dropout=0.2,
        recurrent_dropout=0.2,
    )
    params = init_params(arch, np.random.RandomState(1))
    lengths = np.array([7, 3, 5, 1, 7, 6, 2, 4, 7])
    X = rng.normal(size=(9, 7, 3))
    Y = rng.normal(size=(9, 7, 2))
    w = (np.arange(7)[None, :] < lengths[:, None]).astype(float)
    masks = draw_masks(arch, np.random.RandomState(2), 9, np.float64)
    return loss_and_grad(arch, "squared_error", params, X, lengths, Y, w, masks=masks)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_sharded_scan_equals_the_unsharded_scan(monkeypatch, cell, bidirectional):
    whole = _run(cell, bidirectional)
    monkeypatch.setattr(_parallel, "MIN_SHARD_WORK", 1)
    monkeypatch.setattr(_parallel, "MIN_SHARD_ROWS", 1)
    assert len(_parallel.batch_shards(9, 4, 4)) == 2
    for threads in (1, 2):
        _parallel.set_max_threads(threads)
        try:
            value, grads, state = _run(cell, bidirectional)
        finally:
            _parallel.set_max_threads(None)
        assert value == pytest.approx(whole[0], rel=1e-12)
        for name, g in grads.items():
            np.testing.assert_allclose(g, whole[1][name], rtol=1e-10, atol=1e-12)


def test_split_depends_on_shape_only_and_respects_worker_budget(monkeypatch):
    assert _parallel.batch_shards(64, 512, 128) == [slice(0, 64)]
    assert _parallel.batch_shards(128, 1024, 256) == [slice(0, 64), slice(64, 128)]
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _parallel.max_threads() == 1
    with pytest.raises(ValueError, match="positive int"):
        _parallel.set_max_threads(0)
