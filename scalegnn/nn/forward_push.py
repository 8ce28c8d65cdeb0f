r"""The random-walk matrix of a graph and one level of GBP's forward push.

GBP writes its transition matrix as :math:`T = D^{r-1} \tilde A D^{-r} =
D^{r} W D^{-r}` with the row-stochastic random-walk matrix
:math:`W = D^{-1} \tilde A` (:math:`D` the row sums of :math:`\tilde A`, i.e.
in-degrees in PyG's convention, where an edge ``j -> i`` is
:math:`\tilde A_{ij}`). Everything GBP does happens with :math:`W`:

* the **push** of a residue at node :math:`u` sends
  :math:`W_{vu} R(u) = \tilde A_{vu} R(u) / d(v)` to every :math:`v` that
  :math:`u` points at (a column of :math:`W`, a row of :math:`W^\top`);
* a **random walk** from :math:`s` moves to :math:`u` with probability
  :math:`W_{su}` (a row of :math:`W`: a weighted draw among the sources of
  the edges into :math:`s`).

:func:`build_transition` builds both views once; :func:`push_level` pushes
every above-threshold residue of one level at once (the whole frontier, all
feature columns of the chunk), choosing per level between a row scatter over
the out-edges of the frontier nodes only (sparse frontier; the residues are
then stored row-sparse, so the level costs in proportion to its frontier, not
to ``N x c``) and a CSR SpMM (dense frontier).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import torch
from torch import Tensor

from scalegnn.data.adjacency import normalized_adjacency
from scalegnn.nn.csr_spmm import csr_spmm

__all__ = ["TransitionMatrix", "build_transition", "push_frontier", "push_level", "densify", "PushCounter"]


@dataclass
class TransitionMatrix:
    r"""The random-walk matrix :math:`W = D^{-1}\tilde A` in the layouts GBP needs.

    Attributes:
        num_nodes: :math:`N`.
        degree: ``[N]`` row sums :math:`d` of :math:`\tilde A` (float64).
        W: :math:`W` as CSR (rows: receiving node :math:`v`), for dense pushes.
        Wt_crow, Wt_col, Wt_val: CSR of :math:`W^\top` (row :math:`u` lists the
            :math:`v` that :math:`u` pushes to and :math:`W_{vu}`), for sparse pushes.
        out_count: ``[N]`` number of entries in each row of :math:`W^\top`.
        walk_ptr, walk_next: the rows of :math:`\tilde A` with every edge
            repeated by its multiplicity (duplicates are *not* merged), so a
            uniform pick in ``walk_next[walk_ptr[s]:walk_ptr[s+1]]`` is a step
            with probability exactly :math:`W_{s\cdot}`.
        walk_count: ``walk_ptr[s+1] - walk_ptr[s]`` (the in-degree with multiplicity), kept to save a gather per
            walk step.
    """

    num_nodes: int
    degree: Tensor
    W: Tensor
    Wt_crow: Tensor
    Wt_col: Tensor
    Wt_val: Tensor
    out_count: Tensor
    walk_ptr: Tensor
    walk_next: Tensor
    walk_count: Optional[Tensor] = None

    @property
    def num_entries(self) -> int:
        return int(self.Wt_col.numel())


def _crow(rows: Tensor, n: int) -> Tensor:
    ptr = torch.zeros(n + 1, dtype=torch.long, device=rows.device)
    ptr[1:] = torch.cumsum(torch.bincount(rows, minlength=n), 0)
    return ptr


def build_transition(
    edge_index: Tensor,
    num_nodes: int,
    add_self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
    device: "torch.device | None" = None,
) -> TransitionMatrix:
    """Build :class:`TransitionMatrix` for ``edge_index`` (duplicate edges count with their multiplicity).

    Self-loops follow :func:`~scalegnn.data.adjacency.normalized_adjacency`:
    with ``add_self_loops`` existing loops are replaced by one weight-1 loop
    per node; without it the graph is used as given.

    Raises:
        ValueError: when ``add_self_loops=False`` leaves a node without
            in-edges: its :math:`D^{-r}` and its walk step are undefined.
    """
    device = torch.device(device) if device is not None else edge_index.device
    src, dst = edge_index.to(device).long()
    if add_self_loops:
        keep = src != dst
        loop = torch.arange(num_nodes, device=device)
        src, dst = torch.cat([src[keep], loop]), torch.cat([dst[keep], loop])
    # Walk structure: edges grouped by target (a walk at s steps to a source of an edge into s).
    order = torch.argsort(dst, stable=True)
    walk_next = src[order]
    walk_ptr = _crow(dst, num_nodes)
    count = (walk_ptr[1:] - walk_ptr[:-1])
    isolated = (count == 0).nonzero().flatten()
    if isolated.numel() > 0:
        raise ValueError(
            f"{isolated.numel()} node(s) have no in-edges (first: node {int(isolated[0])}) and "
            "add_self_loops=False: GBP's D^-r and random walks need every degree > 0; "
            "pass add_self_loops=True (the default) or remove those nodes"
        )
    degree = count.to(torch.float64)
    # W = D^-1 A~ with duplicates summed (CSR needs unique entries).
    A = normalized_adjacency(
        edge_index.to(device), num_nodes, "none", add_self_loops=add_self_loops, dtype=torch.float64
    )
    crow, col, val = A.crow_indices(), A.col_indices(), A.values()
    rows = torch.repeat_interleave(torch.arange(num_nodes, device=device), crow[1:] - crow[:-1])
    w_val = (val / degree[rows]).to(dtype)
    W = torch.sparse_csr_tensor(crow, col, w_val, (num_nodes, num_nodes), check_invariants=False)
    # W^T in CSR: entries sorted by column (the pushing node u); a stable sort
    # keeps each column's rows ascending, as CSR stores them.
    order = torch.argsort(col, stable=True)
    Wt_col = rows[order]
    Wt_val = w_val[order]
    out_count = torch.bincount(col, minlength=num_nodes)
    Wt_crow = _crow(col, num_nodes)
    return TransitionMatrix(num_nodes, degree, W, Wt_crow, Wt_col, Wt_val, out_count, walk_ptr, walk_next, count)


@dataclass
class PushCounter:
    """Work done by the pushes: entries pushed, edge updates they imply, levels done by SpMM."""

    pushed_entries: int = 0
    edge_updates: int = 0
    dense_levels: int = 0
    sparse_levels: int = 0


#: cap on the ``edges x columns`` temporary of one scatter pass of :func:`push_frontier`.
_SCATTER_ELEMENTS = 1 << 24


def densify(T: TransitionMatrix, rows: Optional[Tensor], block: Tensor) -> Tensor:
    """The ``[N, c]`` dense form of a row-sparse residue (``rows=None``: ``block`` is already dense)."""
    if rows is None:
        return block
    out = block.new_zeros(T.num_nodes, block.size(1))
    out[rows] = block
    return out


#: rows sampled by :func:`_clearly_dense` (every ``stride``-th row).
_SAMPLE_ROWS = 4096


def _clearly_dense(T: TransitionMatrix, block: Tensor, threshold: Tensor, dense_fraction: float) -> bool:
    """Whether a dense level's frontier certainly exceeds ``dense_fraction`` of the edges, from a row sample.

    Looks at every ``N / 4096``-th row only (graphs of at least 16384 nodes). Used with ``push_all_dense``,
    where the SpMM pushes everything, so the decision changes only the cost,
    never the result's correctness: it says yes only when the sampled
    frontier is at least twice the cut-off, and otherwise the exact test runs.
    """
    n = T.num_nodes
    if n < 4 * _SAMPLE_ROWS or dense_fraction <= 0:
        return False
    stride = n // _SAMPLE_ROWS
    sample = block[::stride]
    hit = ((sample > threshold) | (sample < -threshold)).any(1)
    est = float(T.out_count[::stride][hit].sum()) * stride
    return est >= 2 * dense_fraction * T.num_entries


def push_frontier(
    T: TransitionMatrix,
    rows: Optional[Tensor],
    block: Tensor,
    threshold: Tensor,
    counter: PushCounter,
    dense_fraction: float = 0.1,
    push_all_dense: bool = False,
    magnitude: Optional[Tensor] = None,
) -> Tuple[Optional[Tensor], Tensor, Optional[Tensor]]:
    r"""Push every residue of one level with :math:`|R(u,k)| > \theta_k`; residues stored row-sparse.

    A residue matrix is ``(rows, block)``: the nonzero rows ``rows`` (sorted
    node ids) and their values ``block`` (``[len(rows), c]``); ``rows=None``
    means ``block`` is the dense ``[N, c]`` matrix. The level is pushed either

    * **by rows** (sparse): only the *frontier* nodes :math:`U` (those with at
      least one pushed column) are touched; their masked rows are scattered
      along their out-edges into the rows they reach, which become the rows
      of the result. Cost :math:`O(|{\rm rows}|\, c + c\sum_{u\in U}\deg^+(u)
      + N/8)`, with no ``N x c`` pass; or
    * **by one CSR SpMM** (dense) when the frontier's edges exceed
      ``dense_fraction`` of all edges (a row scatter costs a few times more per
      edge than the SpMM). With ``push_all_dense`` such a level pushes *every*
      entry, not only those above the threshold: the SpMM costs the same
      either way, and nothing is left behind at that level (fewer leftover
      residues, so a smaller error; the push-only bound still holds since
      every leftover entry is still at most :math:`\theta`).

    Args:
        T: the transition matrix.
        rows, block: the level-:math:`\ell` residues (not modified).
        threshold: ``[c]`` per-column thresholds :math:`\theta_k`.
        counter: accumulates the work done (``edge_updates`` counts pushed
            entries times their out-degree, whatever the path).
        dense_fraction: see above.
        push_all_dense: push the whole residue when the level is done by SpMM.
        magnitude: ``|block|`` when the caller has it already (saves passes over the level).

    Returns:
        ``(rows_next, block_next, pushed)``: the level-:math:`\ell+1` residues
        :math:`W (R \odot \mathbb 1[|R| > \theta])` (``rows_next=None`` when
        dense) and the boolean mask of the pushed entries of ``block`` (the
        rest stays as level-:math:`\ell` residue); ``pushed=None`` when every
        entry was pushed (``push_all_dense`` on a dense level).
    """
    n, c = T.num_nodes, block.size(1)
    device = block.device
    if push_all_dense and rows is None and _clearly_dense(T, block, threshold, dense_fraction):
        # A level certainly done by SpMM pushes everything: no N x c mask needed.
        counter.dense_levels += 1
        counter.pushed_entries += block.numel()
        counter.edge_updates += T.num_entries * c
        return None, csr_spmm(T.W, block), None
    # |R| > theta as two compares (no |R| temporary); per-row counts summed as bytes
    # (a bool sum(1) widens to int64 and is ~1.5x slower on CPU).
    mask = magnitude > threshold if magnitude is not None else (block > threshold) | (block < -threshold)
    # Frontier rows by a byte-wise row max (vectorized; a row sum is ~40x slower on CPU), then the
    # per-row counts of pushed columns on the frontier rows only.
    row_any = mask.view(torch.uint8).amax(1) > 0 if c > 0 else mask.any(1)
    out_deg = T.out_count if rows is None else T.out_count[rows]
    local = row_any.nonzero().flatten()
    del row_any
    if c > 0:
        per_row = mask[local].view(torch.uint8).sum(1, dtype=torch.int32).long()
    else:
        per_row = local.new_zeros(local.numel())
    deg_u = out_deg[local]
    frontier_edges = int(deg_u.sum())
    pushed_entries, edge_updates = int(per_row.sum()), int((per_row * deg_u).sum())
    if frontier_edges >= dense_fraction * T.num_entries:
        counter.dense_levels += 1
        if push_all_dense:
            # The SpMM costs the same whatever it pushes: push every entry (nothing is left behind).
            counter.pushed_entries += block.numel()
            counter.edge_updates += int(out_deg.sum()) * c
            return None, csr_spmm(T.W, densify(T, rows, block)), None
        counter.pushed_entries += pushed_entries
        counter.edge_updates += edge_updates
        return None, csr_spmm(T.W, densify(T, rows, torch.where(mask, block, 0.0))), mask
    counter.pushed_entries += pushed_entries
    counter.edge_updates += edge_updates
    counter.sparse_levels += 1
    if frontier_edges == 0:
        return torch.zeros(0, dtype=torch.long, device=device), block.new_zeros(0, c), mask
    u = local if rows is None else rows[local]
    vals = torch.where(mask[local], block[local], 0.0)
    # Expand every frontier node over its out-edges (rows of W^T), all at once.
    entry = torch.repeat_interleave(torch.arange(local.numel(), device=device), deg_u)
    first = torch.cumsum(deg_u, 0) - deg_u
    offset = torch.arange(frontier_edges, device=device) - torch.repeat_interleave(first, deg_u)
    pos = T.Wt_crow[u][entry] + offset
    v = T.Wt_col[pos]
    # Compact ids of the reached rows by a lookup table (N bytes + N longs, no N x c pass).
    seen = torch.zeros(n, dtype=torch.bool, device=device)
    seen[v] = True
    rows_next = seen.nonzero().flatten()
    slot = torch.empty(n, dtype=torch.long, device=device)
    slot[rows_next] = torch.arange(rows_next.numel(), device=device)
    dest = slot[v]
    wv = T.Wt_val[pos].unsqueeze(1)
    block_next = block.new_zeros(rows_next.numel(), c)
    step = max(1, _SCATTER_ELEMENTS // max(c, 1))
    for a in range(0, frontier_edges, step):
        b = min(a + step, frontier_edges)
        block_next.index_add_(0, dest[a:b], vals[entry[a:b]] * wv[a:b])
    return rows_next, block_next, mask


def push_level(
    T: TransitionMatrix,
    R: Tensor,
    threshold: Tensor,
    counter: PushCounter,
    dense_fraction: float = 0.1,
) -> Tuple[Tensor, Tensor]:
    r"""Push every residue of a dense ``[N, c]`` level; :func:`push_frontier` with dense input and output.

    Returns:
        ``(R_next, pushed)``: the ``[N, c]`` level-:math:`\ell+1` residues
        :math:`W (R \odot \mathbb 1[|R| > \theta])` and the boolean mask of
        the pushed entries (the rest stays as level-:math:`\ell` residue).
    """
    rows, block, mask = push_frontier(T, None, R, threshold, counter, dense_fraction)
    return densify(T, rows, block), mask
