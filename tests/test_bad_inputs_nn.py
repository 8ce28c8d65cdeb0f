"""Every public function of ``scalegnn.nn`` (and ``scalegnn.sampling``) fed its bad inputs.

One table, one parametrized test: each row is ``(id, callable, expected_exception, message_regex)``.
The callable takes no argument and must raise ``expected_exception`` with a message matching
``message_regex`` (``re.search``): the message has to name the argument and the bad value, so a
row that only checks the exception type is not enough.

``ACCEPTED`` lists the valid forms that must keep working (numpy integers and 0-d integer tensors
where an int is meant, ...): ``(id, callable)``, the callable must not raise.

Engineers owning other modules of ``scalegnn.nn`` append their rows in the marked blocks below
(one block per module, keep rows cheap: tiny tensors, no training).
"""
from __future__ import annotations

from typing import Any, Callable, List, Tuple, Type

import numpy as np
import pytest
import torch

from scalegnn.nn.column_chunks import column_chunks
from scalegnn.nn.mincut_pool import MinCutPool, dense_mincut_pool, sparse_mincut_pool
from scalegnn.nn.propagation_weights import as_weights, heat_kernel_weights, ppr_weights, sgc_weights

Case = Tuple[str, Callable[[], Any], Type[BaseException], str]

# ----------------------------------------------------------------------------------------------
# Small inputs shared by the rows (build them inside the lambdas' bodies only through these
# helpers, so that a row never depends on another row's side effects).
# ----------------------------------------------------------------------------------------------


def ring(n: int = 6) -> torch.Tensor:
    """``edge_index`` of an undirected ring on ``n`` nodes."""
    i = torch.arange(n)
    j = (i + 1) % n
    return torch.stack([torch.cat([i, j]), torch.cat([j, i])])


def feats(n: int = 6, f: int = 3) -> torch.Tensor:
    return torch.randn(n, f, generator=torch.Generator().manual_seed(0))


def with_nan(t: torch.Tensor, value: float = float("nan")) -> torch.Tensor:
    t = t.clone()
    t.view(-1)[1] = value
    return t


CASES: List[Case] = []
ACCEPTED: List[Tuple[str, Callable[[], Any]]] = []

# ==============================================================================================
# mincut_pool.py (data/nn validation engineer)
# ==============================================================================================
CASES += [
    ("MinCutPool/num_clusters=1", lambda: MinCutPool(3, 1), ValueError, r"num_clusters.*1"),
    ("MinCutPool/in_channels=0", lambda: MinCutPool(0, 2), ValueError, r"in_channels.*0"),
    ("sparse_mincut_pool/x-s-rows", lambda: sparse_mincut_pool(feats(6), ring(6), torch.randn(5, 2)),
     ValueError, r"x has 6 rows.*s has 5"),
    ("sparse_mincut_pool/edge-out-of-range", lambda: sparse_mincut_pool(feats(6), ring(7), torch.randn(6, 2)),
     ValueError, r"edge_index has node index 6 out of range"),
    ("dense_mincut_pool/adj-shape", lambda: dense_mincut_pool(feats(6), torch.ones(5, 5), torch.randn(6, 2)),
     ValueError, r"adj must be \[1, 6, 6\]"),
]

# ==============================================================================================
# column_chunks.py, propagation_weights.py (data/nn validation engineer)
# ==============================================================================================
CASES += [
    ("column_chunks/chunk_size=0", lambda: column_chunks(8, 10, 4, 2, chunk_size=0), ValueError,
     r"chunk_size.*0"),
    ("ppr_weights/alpha=0", lambda: ppr_weights(0.0, 3), ValueError, r"alpha must be .*\(0.0, 1.0\], got 0.0"),
    ("heat_kernel_weights/t=0", lambda: heat_kernel_weights(0.0, 3), ValueError, r"t must be a positive finite number, got 0.0"),
    ("sgc_weights/K=-1", lambda: sgc_weights(-1), ValueError, r"K must be a non-negative integer, got -1"),
    ("as_weights/nan", lambda: as_weights([0.5, float("nan")]), ValueError, r"NaN or inf"),
]

# ==============================================================================================
# sampling/random_partition.py (data/nn validation engineer)
# ==============================================================================================

# ==============================================================================================
# sgc.py, gbp.py, forward_push.py, reverse_walks.py (propagation engineer): append rows here
# ==============================================================================================

# ==============================================================================================
# reversible.py, rev_gnn.py, deq_gnn.py, shared_dropout.py (RevGNN engineer): append rows here
# ==============================================================================================


@pytest.mark.parametrize("call,exc,match", [pytest.param(c, e, m, id=i) for i, c, e, m in CASES])
def test_bad_input_raises_a_clear_error(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize("call", [pytest.param(c, id=i) for i, c in ACCEPTED])
def test_valid_input_forms_are_accepted(call):
    call()


def test_case_ids_are_unique():
    ids = [c[0] for c in CASES] + [a[0] for a in ACCEPTED]
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
