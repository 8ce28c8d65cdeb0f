r"""GBP: generalized PageRank propagation by bidirectional push and walks.

`"Scalable Graph Neural Networks via Bidirectional Propagation"
<https://arxiv.org/abs/2010.15421>`_ (Chen et al., NeurIPS 2020) decouples a
GNN into a precomputed propagation

.. math::
    P = \sum_{\ell=0}^{L} w_\ell\, T^\ell X, \qquad T = D^{r-1} \tilde A D^{-r},

and an MLP trained on the rows of :math:`P` it needs. :func:`gbp_precompute`
estimates those rows without ever forming :math:`T^\ell X` for the whole
graph at full precision; :func:`gbp_exact` is the plain SpMM reference
(Horner's scheme). :class:`GBP` is the classifier.

The algorithm (the paper's Algorithm 1, level-synchronous and vectorized)
-------------------------------------------------------------------------
With :math:`W = D^{-1}\tilde A` (row-stochastic) we have
:math:`T^\ell = D^r W^\ell D^{-r}`, so for one feature column :math:`x`,

.. math::
    P = D^r \sum_\ell w_\ell H^{(\ell)}, \qquad H^{(\ell)} = W^\ell y, \quad y = D^{-r} x .

**Forward push** (from the features). Start with the level-0 residue
:math:`R^{(0)} = y`. At level :math:`\ell = 0..L-1`, every entry with
:math:`|R^{(\ell)}(u)| > \theta` is *pushed*: it becomes reserve
:math:`Q^{(\ell)}(u)` and adds :math:`W_{vu} R^{(\ell)}(u) = \tilde A_{vu}
R^{(\ell)}(u)/d(v)` to :math:`R^{(\ell+1)}(v)` for every :math:`v` that
:math:`u` points at; smaller entries stay as residue. Level :math:`L` is not
pushed. The threshold is :math:`\theta = r_{max} \lVert D^{-r} x\rVert_1`,
i.e. :math:`r_{max}` applied to the *column-normalized* :math:`D^{-r}X` as in
the paper; in the units of :math:`T^\ell x` it is
:math:`r_{max}\lVert D^{-r}x\rVert_1\, d(u)^{r}` -- relative to the degree, so
high-degree nodes (whose :math:`D^{-r}` residues are small) are rarely pushed,
which is what makes the push cheap. Let :math:`\tilde R^{(\ell)}` denote the
level-:math:`\ell` residue before its push and :math:`R^{(\ell)}` what is left
after it. By induction on :math:`\ell` (the pushed mass is exactly what moves
up one level),

.. math::
    H^{(\ell)} = \tilde R^{(\ell)} + \sum_{t=0}^{\ell-1} W^{\ell-t} R^{(t)} .

**Reverse walks** (from the nodes of interest :math:`V_t`). The unknown terms
are :math:`(W^j R^{(t)})(s)`, :math:`j \ge 1`. From each :math:`s \in V_t`,
:math:`n_r` random walks of :math:`L` steps (each step to :math:`u` with
probability :math:`W_{\cdot u}`) give visit frequencies :math:`S^{(j)}(s,u)`
with :math:`\mathbb E[S^{(j)}] = W^j`, hence the **unbiased** estimate

.. math::
    \hat P(s) = d(s)^r \Big[\sum_{\ell=0}^{L} w_\ell \tilde R^{(\ell)}(s)
      + \sum_{j=1}^{L} \big(S^{(j)} G_j\big)(s)\Big],
    \qquad G_j = \sum_{t=0}^{L-j} w_{t+j} R^{(t)} .

Implementation: the push is level-synchronous over all columns of a chunk.
Level 0 (the features) is dense; a level whose frontier (nodes with a pushed
column) is small is pushed by a row scatter over the frontier's out-edges and
its result is kept **row-sparse** (the reached rows only), so the following
levels cost in proportion to their frontiers, with no ``N x c`` pass; a level
with a large frontier is one CSR SpMM (see
:func:`~scalegnn.nn.forward_push.push_frontier`). Such an SpMM costs the same
whatever it pushes, so by default (``push_all_dense``) it pushes the *whole*
level, leaving no residue behind there: a departure from the paper's
per-entry rule that only removes leftover residues (the identity above holds
for any choice of pushed entries, so the estimate stays unbiased and the
error bound below still holds). All walks advance together (one vectorized
draw per step; by default the first steps of a node's :math:`n_r` walks are
drawn by systematic sampling over its in-neighbours, which keeps the average
of the walks unbiased and removes the first step's variance); the correction reads the leftover residues only at the rows
the walks visit, level by level, right after each push (no ``N x c``
intermediate: an ``embedding_bag`` over every target's visits for a dense
residue, a node -> row lookup and a gather of the hits for a row-sparse one).

**Error.** Every leftover residue satisfies :math:`|R^{(t)}(u)| \le \theta` and
:math:`W` is row-stochastic, so with no walks (``walks_per_node=0``, the
correction dropped)

.. math::
    |P(s) - \hat P(s)| \le d(s)^r\, \theta \sum_{\ell=1}^{L} \ell\, |w_\ell| ,

which for column-normalized features and :math:`\sum_\ell w_\ell \le 1` is at
most :math:`L\, r_{max}\, d(s)^r` -- the paper's form :math:`\varepsilon\,
d(s)^r`. With :math:`n_r` walks, each walk's contribution to the correction
is bounded by :math:`B = \theta\sum_\ell \ell|w_\ell|`, so by Hoeffding (for
independent walks, ``stratify_walks=False``; the stratified first step is not covered by
it, and the tests check that it stays within the same bound)
:math:`|P(s)-\hat P(s)| \le d(s)^r B \sqrt{2\ln(2/\delta)/n_r}` with
probability :math:`1-\delta` (the paper's trade-off between :math:`r_{max}`
and :math:`n_r`). As :math:`r_{max} \to 0` every residue is pushed and
:math:`\hat P = P` exactly.

Cost. The push touches :math:`\sum_{\text{pushed }(u,k)} \deg^{+}(u)` edges;
the walks take :math:`|V_t| n_r L` steps and the correction reads at most
:math:`|V_t| n_r L` rows of ``F`` values per level that has a leftover residue. Embeddings for a subset of nodes therefore
cost less than for all of them (see :class:`GBPStats`).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from scalegnn.data.validate import validate_edge_index, validate_node_ids
from scalegnn.nn.column_chunks import progress_bar
from scalegnn.nn.csr_spmm import repeated_spmm
from scalegnn.nn.out_of_core import FeatureSource, ResultSink, block_budget, compute_device, stream_blocks
from scalegnn.nn.forward_push import PushCounter, TransitionMatrix, build_transition, push_frontier
from scalegnn.nn.propagation_weights import as_weights, ppr_weights
from scalegnn.nn.reverse_walks import sample_walks
from scalegnn.nn.reordering import apply_reordering, reordered_adjacency
from scalegnn.nn.sgc import _is_edge_index, resolve_adjacency

__all__ = ["gbp_precompute", "gbp_exact", "GBP", "GBPStats", "transition_matrix"]

WeightsLike = Union[Tensor, Sequence[float]]
FeaturesLike = Union[Tensor, np.ndarray, str, os.PathLike]


@dataclass
class GBPStats:
    """Work and time of one :func:`gbp_precompute` call (summed over column chunks).

    Attributes:
        num_targets: rows computed (:math:`|V_t|`).
        pushed_entries: residue entries pushed (node, column, level).
        push_edge_updates: edge updates those pushes imply (work of the push).
        dense_push_levels / sparse_push_levels: levels done by SpMM / by row scatter (row-sparse residues).
        walk_steps: random-walk steps taken (:math:`|V_t| n_r L`).
        correction_updates: multiply-adds of the walk correction: the
            leftover residue rows read along the walks (one per visit of a
            level with a dense leftover residue, one per hit on a row-sparse
            one), times the columns.
        visited_nodes: distinct nodes the walks reach (counted only with ``return_stats``).
        chunks: number of column chunks.
        time_walks / time_push / time_total: seconds.
    """

    num_targets: int = 0
    pushed_entries: int = 0
    push_edge_updates: int = 0
    dense_push_levels: int = 0
    sparse_push_levels: int = 0
    walk_steps: int = 0
    correction_updates: int = 0
    visited_nodes: int = 0
    chunks: int = 0
    time_walks: float = 0.0
    time_push: float = 0.0
    time_total: float = 0.0

    @property
    def total_work(self) -> int:
        """Push edge updates + walk steps + correction multiply-adds."""
        return self.push_edge_updates + self.walk_steps + self.correction_updates


def _edge_index_of(graph: Any) -> Tuple[Tensor, Optional[int]]:
    if isinstance(graph, Tensor):
        return graph, None
    edge_index = getattr(graph, "edge_index", None)
    if edge_index is None:
        raise TypeError(
            "graph must be an edge_index tensor, an object with .edge_index (a PyG Data) "
            f"or a TransitionMatrix, got {type(graph).__name__}"
        )
    return edge_index, getattr(graph, "num_nodes", None)


def transition_matrix(
    graph: Any,
    num_nodes: int,
    add_self_loops: bool = True,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
) -> TransitionMatrix:
    """The :class:`~scalegnn.nn.forward_push.TransitionMatrix` of ``graph``; build it once to reuse across calls."""
    if isinstance(graph, TransitionMatrix):
        if graph.num_nodes != num_nodes:
            raise ValueError(f"the transition matrix has {graph.num_nodes} nodes but x has {num_nodes} rows")
        return graph
    edge_index, n_graph = _edge_index_of(graph)
    if n_graph is not None and n_graph != num_nodes:
        raise ValueError(f"the graph has {n_graph} nodes but x has {num_nodes} rows")
    validate_edge_index(edge_index, num_nodes)
    return build_transition(edge_index, num_nodes, add_self_loops, dtype, device)


def _check_r(r: float) -> None:
    if not 0.0 <= r <= 1.0:
        raise ValueError(f"the convolution coefficient r must satisfy 0 <= r <= 1, got r={r}")


def _resolve_nodes(nodes: Optional[Tensor], n: int, device: torch.device) -> Optional[Tensor]:
    if nodes is None:
        return None
    nodes = torch.as_tensor(nodes)
    validate_node_ids(nodes, n, name="nodes")
    if nodes.dtype == torch.bool:
        nodes = nodes.nonzero().flatten()
    return nodes.to(device=device, dtype=torch.long).flatten()


def _add_rows(acc: Tensor, rows: Optional[Tensor], block: Tensor, uniq: Optional[Tensor],
              tslot: Optional[Tensor], alpha: float) -> None:
    """``acc += alpha * R[targets]`` for a residue ``R`` stored as ``(rows, block)`` (``rows=None``: dense)."""
    if rows is None:
        acc.add_(block if uniq is None else block.index_select(0, uniq), alpha=alpha)
    elif uniq is None:
        acc.index_add_(0, rows, block, alpha=alpha)
    else:
        dest = tslot[rows]
        keep = (dest >= 0).nonzero().flatten()
        acc.index_add_(0, dest[keep], block[keep], alpha=alpha)


def _add_scaled_rows(acc: Tensor, block: Tensor, scale: Tensor, uniq: Optional[Tensor], alpha: float) -> None:
    """``acc += alpha * (scale[:, None] * block)[targets]`` for a dense ``block`` (``uniq=None``: all rows)."""
    if uniq is None:
        acc.addcmul_(block, scale.unsqueeze(1), value=alpha)
    else:
        acc.addcmul_(block.index_select(0, uniq), scale.index_select(0, uniq).unsqueeze(1), value=alpha)


#: bytes of one row slab of :func:`_scaled_abs_stats` (one reused buffer that stays in cache).
_SLAB_BYTES = 1 << 20


def _scaled_abs_stats(block: Tensor, scale: Tensor) -> Tuple[Tensor, Tensor]:
    """Per column, the sum and the max over rows of ``|scale[:, None] * block|``, one row slab at a time.

    One read of ``block`` and no ``N x c`` temporary (on the arxiv-size graph 4-5x faster than
    ``(block * scale).abs()`` followed by ``sum(0)`` and ``amax(0)``)."""
    n, c = block.shape
    total = block.new_zeros(c)
    peak = block.new_zeros(c)
    step = max(1, _SLAB_BYTES // max(1, c * block.element_size()))
    buf = block.new_empty(min(step, n), c)
    for a in range(0, n, step):
        b = min(a + step, n)
        slab = torch.mul(block[a:b], scale[a:b].unsqueeze(1), out=buf[: b - a])
        slab.abs_()
        total.add_(slab.sum(0))
        torch.maximum(peak, slab.amax(0), out=peak)
    return total, peak


#: cap on the ``hits x columns`` temporary of one gather of :class:`_WalkCorrection`.
_GATHER_ELEMENTS = 1 << 22


class _WalkCorrection:
    r"""The walk term :math:`\sum_{j\ge1} S^{(j)} G_j = \sum_t \sum_{j \le L-t} w_{t+j} S^{(j)} R^{(t)}`, row-sparse.

    Built once from the walks' positions (shared by all column chunks). Per
    chunk, :meth:`add_level` takes level :math:`t`'s leftover residue
    :math:`R^{(t)}` right after its push and adds, for every target
    :math:`s`, :math:`\frac{1}{n_r}\sum_{\text{walks}} \sum_{j \le L-t}
    w_{t+j} R^{(t)}(u_j)` over its walks' positions :math:`u_j`, reading only
    the rows the walks visit. The positions stay in the sampler's step-major
    layout ``[L, targets x n_r]``, so the visits of steps :math:`\le L-t` are
    a contiguous prefix (no transposed copy):

    * a dense residue: one unweighted ``embedding_bag`` per step :math:`j`
      (the :math:`n_r` visits of a target at step :math:`j` are a bag),
      scaled by :math:`w_{t+j}/n_r`; cost one ``c``-row per visit, no
      ``N x c`` temporary; pushed entries on a few frontier rows are
      subtracted row-sparse afterwards;
    * a row-sparse residue (rows ``rows``): the visits are looked up in a
      node -> row table (integers only) and only the visits that land on
      ``rows`` are gathered.

    A level that the push emptied (dense levels with ``push_all_dense``) costs
    nothing. The result equals :math:`\sum_j S^{(j)} G_j` computed walk by walk
    (the tests compare it with such a per-walk loop) and is unbiased.
    """

    def __init__(self, positions: Tensor, num_nodes: int, num_targets: int, walks_per_node: int,
                 weights: Sequence[float], dtype: torch.dtype):
        L = positions.size(0)
        device = positions.device
        self.L, self.n_r, self.weights = L, walks_per_node, list(weights)
        self.pos = positions.contiguous()  # [L, num_targets * n_r]; walks of target i are columns i*n_r...
        self.w = [float(v) / walks_per_node for v in self.weights]
        self.w_t = torch.tensor(self.w, dtype=dtype, device=device)
        self.rslot = torch.full((num_nodes,), -1, dtype=torch.long, device=device)
        self.num_targets = num_targets
        self.offsets = torch.arange(0, num_targets * walks_per_node, walks_per_node, device=device)
        self.first = self._first_step_runs(dtype)
        self.out: Optional[Tensor] = None
        self.updates = 0

    def _first_step_runs(self, dtype: torch.dtype) -> Optional[Tuple[Tensor, Tensor, Tensor]]:
        """Step 1's visits merged into runs of equal consecutive nodes within a target's walks: ``(nodes, counts,
        offsets)`` for one weighted ``embedding_bag``, or ``None`` when that saves little.

        Systematic sampling of the first step (``stratify_walks``) sends a node's walks to its in-neighbours in
        order, so walks that enter the same neighbour are adjacent: reading its row once with weight = the
        number of walks gives the same sum with fewer random row reads (on the arxiv-size graph, 205k rows
        instead of 677k for 40 walks)."""
        if self.n_r < 2 or self.pos.size(0) == 0 or self.num_targets == 0:
            return None
        first = self.pos[0]
        new = torch.ones(first.numel(), dtype=torch.bool, device=first.device)
        new[1:] = first[1:] != first[:-1]
        new[:: self.n_r] = True  # a run never crosses from one target's walks to the next
        starts = new.nonzero().flatten()
        if 4 * starts.numel() > 3 * first.numel():  # fewer than 25% of the reads saved: not worth a weighted bag
            return None
        counts = torch.diff(starts, append=starts.new_tensor([first.numel()])).to(dtype)
        return first.index_select(0, starts), counts, torch.searchsorted(starts, self.offsets)

    def _bag(self, j: int, table: Tensor, row_scale: Optional[Tensor]) -> Tensor:
        """``[targets, c]``: per target, the sum of ``row_scale[u] * table[u]`` over its walks' positions ``u`` after
        step ``j + 1`` (``row_scale=None``: 1)."""
        if j == 0 and self.first is not None:
            nodes, counts, offsets = self.first
            weight = counts if row_scale is None else counts * row_scale.index_select(0, nodes)
            return F.embedding_bag(nodes, table, offsets, mode="sum", per_sample_weights=weight)
        idx = self.pos[j]
        if row_scale is None:
            return F.embedding_bag(idx.view(self.num_targets, self.n_r), table, mode="sum")
        return F.embedding_bag(idx, table, self.offsets, mode="sum", per_sample_weights=row_scale.index_select(0, idx))

    def begin(self) -> None:
        self.out = None

    def add_level(self, level: int, rows: Optional[Tensor], block: Tensor, pushed: Optional[Tensor],
                  row_scale: Optional[Tensor] = None) -> None:
        """Add level ``level``'s leftover residue: ``block`` (rows ``rows``, ``None``: all) without its ``pushed`` entries.

        ``row_scale`` (``[N]``, only for a dense level from which nothing was pushed): the residue is
        ``row_scale[:, None] * block``, applied per visit instead of as an ``N x c`` product."""
        if pushed is None or block.size(0) == 0:  # everything was pushed / nothing is left
            return
        if row_scale is not None and (rows is not None or pushed.numel() != 0):
            raise ValueError("row_scale is only for a dense level from which nothing was pushed")
        c = block.size(1)
        steps = self.L - level  # walk steps 1..L-level read this level
        per_step = self.num_targets * self.n_r
        if self.out is None:
            self.out = torch.zeros(self.num_targets, c, dtype=block.dtype, device=block.device)
        if rows is None:
            # Dense residue: bags of the whole level; when the pushed entries sit on a few frontier rows,
            # they are then subtracted row-sparse (no N x c masked copy of the level is made).
            if pushed.numel() == 0:  # nothing was pushed at all
                frontier = torch.zeros(0, dtype=torch.long, device=block.device)
            else:
                frontier = (pushed.view(torch.uint8).amax(1) > 0).nonzero().flatten()
            few = 4 * frontier.numel() <= block.size(0)
            table = block if few else torch.where(pushed, 0.0, block)
            for j in range(steps):
                self.out.add_(self._bag(j, table, row_scale), alpha=self.w[level + 1 + j])
            self.updates += per_step * steps * c
            if not few or frontier.numel() == 0:
                return
            rows = frontier
            left = torch.where(pushed[frontier], -block[frontier], 0.0)
        else:
            left = torch.where(pushed, 0.0, block)
        self.rslot[rows] = torch.arange(rows.numel(), device=rows.device)
        src = self.rslot.index_select(0, self.pos[:steps].reshape(-1))
        self.rslot[rows] = -1
        hits = (src >= 0).nonzero().flatten()
        step = max(1, _GATHER_ELEMENTS // max(c, 1))
        for a in range(0, hits.numel(), step):
            h = hits[a:a + step]
            j = torch.div(h, per_step, rounding_mode="floor")
            weight = self.w_t.index_select(0, j + (level + 1))
            vals = left.index_select(0, src.index_select(0, h)).mul_(weight.unsqueeze(1))
            self.out.index_add_(0, torch.div(h - j * per_step, self.n_r, rounding_mode="floor"), vals)
        self.updates += hits.numel() * c

    def result(self) -> Optional[Tensor]:
        """``[num_targets, c]``: the walk term of every target (``None`` if no residue was left)."""
        out, self.out = self.out, None
        return out


def gbp_precompute(
    x: FeaturesLike,
    graph: Any,
    weights: WeightsLike,
    r: float = 0.5,
    rmax: float = 1e-4,
    walks_per_node: int = 0,
    nodes: Optional[Tensor] = None,
    chunk_size: Optional[int] = None,
    seed: int = 0,
    *,
    add_self_loops: bool = True,
    device: Optional[Union[str, torch.device]] = None,
    memory_budget: Optional[int] = None,
    dense_fraction: float = 0.1,
    push_all_dense: bool = True,
    stratify_walks: bool = True,
    progress: Optional[bool] = None,
    return_stats: bool = False,
    out: Optional[Union[str, os.PathLike]] = None,
) -> Union[Tensor, Path, Tuple[Union[Tensor, Path], GBPStats]]:
    r"""Estimate rows of :math:`P = \sum_{\ell=0}^L w_\ell (D^{r-1}\tilde A D^{-r})^\ell X` by bidirectional propagation.

    The method and its error bounds are in this module's docstring.

    Args:
        x: ``[N, F]`` floating features (NaN/inf raise ``ValueError``); also
            a numpy array / ``np.memmap`` or an ``.npy`` path, read one column
            block at a time (see :mod:`scalegnn.nn.out_of_core`).
        graph: ``edge_index`` ``[2, E]`` (PyG convention), a PyG ``Data``,
            or a prebuilt :func:`transition_matrix` (reused across calls).
        weights: :math:`w_0..w_L` (see :mod:`scalegnn.nn.propagation_weights`).
        r: convolution coefficient, :math:`0 \le r \le 1` (0.5: symmetric).
        rmax: push threshold relative to each column's :math:`\lVert D^{-r}x\rVert_1`;
            must be positive. Smaller is more exact and more work.
        walks_per_node: :math:`n_r` random walks per target node correcting
            the residues left by the push; 0 gives the deterministic,
            push-only estimate.
        nodes: ids (or a boolean mask) of the nodes whose rows are wanted
            (train/val/test); ``None`` for all nodes.
        chunk_size: feature columns processed at once (default: from
            ``memory_budget``).
        seed: seed of the walks (same seed, same result).
        add_self_loops: use :math:`\tilde A = A + I` (default, as the paper
            and GCN). ``False`` uses :math:`A` as given and raises
            ``ValueError`` if some node has no in-edge.
        device: where to compute (default ``x.device``); the result is
            returned on ``x.device``.
        memory_budget: bytes the per-chunk buffers may take.
        dense_fraction: out-edges of a level's frontier nodes (as a fraction
            of all edges) above which the level is pushed by one CSR SpMM
            instead of a row scatter over the frontier's edges; below it the
            residues stay row-sparse (see :func:`~scalegnn.nn.forward_push.push_frontier`).
        push_all_dense: a level pushed by SpMM pushes all its entries, not
            only those above the threshold (same cost, nothing left behind;
            default). ``False`` follows the paper's rule on every level.
        stratify_walks: draw the first steps of a node's walks by systematic
            sampling over its in-neighbours (unbiased, less variance; default)
            rather than independently (``False``, the paper's walks; see
            :func:`~scalegnn.nn.reverse_walks.sample_walks`).
        progress: show a progress bar (default: for large inputs).
        return_stats: also return :class:`GBPStats`.
        out: path of a new ``.npy`` file for the result, written one column
            block at a time (see :func:`~scalegnn.nn.sgc.sgc_precompute`).

    Returns:
        ``[len(nodes), F]`` (or ``[N, F]``) estimate :math:`\hat P`, in
        ``nodes`` order, with ``x``'s dtype and device (CPU for array/file
        features), or the result file's ``Path`` with ``out``; and the stats
        when ``return_stats``.
    """
    start_time = time.perf_counter()
    source = FeatureSource(x)
    w = as_weights(weights)
    L = w.numel() - 1
    _check_r(r)
    if not (isinstance(rmax, (int, float)) and rmax > 0 and rmax == rmax and rmax != float("inf")):
        raise ValueError(f"rmax must be a positive finite threshold, got {rmax!r}")
    if not isinstance(walks_per_node, int) or isinstance(walks_per_node, bool) or walks_per_node < 0:
        raise ValueError(f"walks_per_node must be a non-negative integer, got {walks_per_node!r}")
    n, num_cols = source.shape
    home = source.device
    device = compute_device(device, home)
    dtype = source.dtype
    T = transition_matrix(graph, n, add_self_loops, dtype, device)
    targets = _resolve_nodes(nodes, n, device)
    num_targets = n if targets is None else targets.numel()
    stats = GBPStats(num_targets=num_targets)

    deg = T.degree
    scale_in = deg.pow(-r).to(dtype)
    scale_out = deg.pow(r).to(dtype)
    scale_out_t = scale_out if targets is None else scale_out[targets]
    wl = [float(v) for v in w]
    use_walks = walks_per_node > 0 and L >= 1 and num_targets > 0
    corr: Optional[_WalkCorrection] = None
    if use_walks:
        t0 = time.perf_counter()
        gen = torch.Generator(device=device)
        gen.manual_seed(int(seed))
        starts = torch.arange(n, device=device) if targets is None else targets
        positions = sample_walks(T, starts, walks_per_node, L, gen, stratify_first_step=stratify_walks)
        corr = _WalkCorrection(positions, n, num_targets, walks_per_node, wl, dtype)
        if return_stats:  # a pass over all visits: only when asked for
            seen = torch.zeros(n, dtype=torch.bool, device=device)
            seen.index_fill_(0, positions.flatten(), True)
            stats.visited_nodes = int(seen.sum())
            del seen
        del positions
        stats.walk_steps = num_targets * walks_per_node * L
        stats.time_walks = time.perf_counter() - t0
    # A chunk keeps R, R_next, the mask and a temporary (~4 N x c) and the target rows (twice with walks).
    buffers = 4 + (2 if use_walks else 1) * num_targets / n + (0 if source.in_memory else 1)
    plan = block_budget(num_cols, n, source.itemsize, buffers, chunk_size, memory_budget, device,
                        streamed=not source.in_memory)
    chunks = plan.blocks
    stats.chunks = len(chunks)
    counter = PushCounter()
    sink = ResultSink((num_targets, num_cols), dtype, out, device=home)
    source.window_bytes = sink.window_bytes = plan.window
    # Row-sparse residues are added to the target rows through a lookup table
    # (node -> accumulator row, -1 if none): no N x c pass.
    if targets is None:
        uniq = inv = tslot = None
        num_acc = n
    else:
        uniq, inv = torch.unique(targets, return_inverse=True)
        tslot = torch.full((n,), -1, dtype=torch.long, device=device)
        tslot[uniq] = torch.arange(uniq.numel(), device=device)
        num_acc = uniq.numel()
    work = float(T.num_entries) * num_cols * L
    t_push = time.perf_counter()
    def compute(cols: slice, block: Tensor) -> Tensor:
        rows = None  # residue of the current level: block holds rows `rows` (None: all N)
        c = block.size(1)
        # ||D^-r x||_1 and max |D^-r x| per column, in row slabs: no N x c temporary
        norm1, peak = _scaled_abs_stats(block, scale_in)
        threshold = rmax * norm1
        # (an empty frontier is pushed by rows unless dense_fraction makes even it a dense level)
        nothing_pushed = dense_fraction * T.num_entries > 0 and bool((peak <= threshold).all())
        # Level 0's residue is D^-r X. When nothing is pushed from it, it is never formed: the target rows and
        # the walks' visits are scaled as they are read (raw = X, scaled by `row_scale`).
        row_scale = scale_in if nothing_pushed else None
        if not nothing_pushed:
            block = block * scale_in.unsqueeze(1)
        acc = torch.zeros(num_acc, c, dtype=dtype, device=device)
        if use_walks:
            corr.begin()
        for ell in range(L + 1):
            if ell == 0 and row_scale is not None:
                _add_scaled_rows(acc, block, row_scale, uniq, wl[0])
            else:
                _add_rows(acc, rows, block, uniq, tslot, wl[ell])
            if ell == L:
                break
            if ell == 0 and nothing_pushed:
                counter.sparse_levels += 1
                rows_next, block_next = torch.zeros(0, dtype=torch.long, device=device), block.new_zeros(0, c)
                pushed = torch.zeros(0, dtype=torch.bool, device=device)  # marker: no entry pushed
            else:
                rows_next, block_next, pushed = push_frontier(T, rows, block, threshold, counter, dense_fraction,
                                                              push_all_dense)
            if use_walks:  # level ell's leftover residue, used by the walks' steps j <= L - ell
                corr.add_level(ell, rows, block, pushed, row_scale if ell == 0 else None)
            del pushed
            rows, block = rows_next, block_next
            bar.update(1)
        del block
        res = acc if inv is None else acc[inv]
        if use_walks:
            term = corr.result()
            if term is not None:
                res = res + term
        return res * scale_out_t.unsqueeze(1)

    try:
        with progress_bar(len(chunks) * max(L, 1), "gbp_precompute (blocks x levels)", progress, work) as bar:
            stream_blocks(source, chunks, compute, sink, device)
    except BaseException:
        sink.abort()
        raise
    result = sink.result()
    stats.time_push = time.perf_counter() - t_push
    if use_walks:
        stats.correction_updates = corr.updates
    stats.pushed_entries = counter.pushed_entries
    stats.push_edge_updates = counter.edge_updates
    stats.dense_push_levels = counter.dense_levels
    stats.sparse_push_levels = counter.sparse_levels
    stats.time_total = time.perf_counter() - start_time
    return (result, stats) if return_stats else result


def gbp_exact(
    x: FeaturesLike,
    graph: Any,
    weights: WeightsLike,
    r: float = 0.5,
    chunk_size: Optional[int] = None,
    *,
    add_self_loops: bool = True,
    device: Optional[Union[str, torch.device]] = None,
    memory_budget: Optional[int] = None,
    progress: Optional[bool] = None,
    out: Optional[Union[str, os.PathLike]] = None,
    reorder: Optional[str] = "auto",
) -> Union[Tensor, Path]:
    r""":math:`\sum_{\ell=0}^L w_\ell T^\ell X` exactly, by :math:`L` CSR SpMMs per column chunk.

    The full-graph reference that :func:`gbp_precompute` approximates; same
    arguments. ``graph`` may also be a prebuilt normalized ``[N, N]`` sparse
    :math:`T`, used as is. ``x`` may be a numpy array / ``np.memmap`` or an
    ``.npy`` path and ``out`` the path of a new ``.npy`` result file: column
    blocks are then streamed (:mod:`scalegnn.nn.out_of_core`) and the peak
    memory is the graph plus four ``N x block`` buffers. ``reorder`` relabels
    the nodes for the SpMM's locality (``"auto"``, ``"rcm"``, ``"degree"``, ``"dbg"``
    or ``None``; see :func:`~scalegnn.nn.sgc.sgc_precompute`); the result is
    in the caller's order.
    """
    source = FeatureSource(x)
    w = as_weights(weights)
    _check_r(r)
    n, f = source.shape
    home = source.device
    device = compute_device(device, home)
    if isinstance(graph, Tensor) and not (graph.layout == torch.strided and not torch.is_floating_point(graph)):
        adj = graph
    else:
        edge_index, n_graph = _edge_index_of(graph)
        if n_graph is not None and n_graph != n:
            raise ValueError(f"the graph has {n_graph} nodes but x has {n} rows")
        adj = edge_index
    L = w.numel() - 1
    streamed = not source.in_memory
    method = apply_reordering(reorder, _is_edge_index(adj))
    plan = block_budget(f, n, source.itemsize, 4 + int(streamed) + int(method is not None), chunk_size,
                        memory_budget, device, streamed=streamed)
    chunks = plan.blocks
    order = None
    if method is None:
        Tm = resolve_adjacency(adj, n, "gen", r, add_self_loops, source.dtype, device)
    else:
        order = reordered_adjacency(adj, n, "gen", r, add_self_loops, source.dtype, device, method)
        Tm = order.matrix
    sink = ResultSink((n, f), source.dtype, out, device=home)
    source.window_bytes = sink.window_bytes = plan.window
    work = float(Tm.values().numel()) * f * L
    wl = [float(v) for v in w]
    try:
        with progress_bar(len(chunks) * max(L, 1), "gbp_exact (blocks x hops)", progress, work) as bar:
            def compute(cols: slice, h: Tensor) -> Tensor:
                if order is not None:
                    h = order.to_local(h)
                acc = wl[0] * h
                for ell, h in enumerate(repeated_spmm(Tm, h, L), start=1):
                    acc.add_(h, alpha=wl[ell])
                    bar.update(1)
                return acc if order is None else order.to_caller(acc)

            stream_blocks(source, chunks, compute, sink, device)
    except BaseException:
        sink.abort()
        raise
    return sink.result()


class GBP(torch.nn.Module):
    r"""The GBP classifier: an MLP on bidirectionally propagated features.

    From `"Scalable Graph Neural Networks via Bidirectional Propagation"
    <https://arxiv.org/abs/2010.15421>`_ (Chen et al., NeurIPS 2020). The
    features are :math:`P = \sum_{\ell=0}^L w_\ell (D^{r-1}\tilde A D^{-r})^\ell X`,
    precomputed once with :func:`gbp_precompute` for the nodes that are
    trained on or evaluated; the model is

    .. math::
        \hat Y = \mathrm{MLP}(P),

    with ``num_layers`` linear layers, each hidden one followed by optional
    batch norm, ReLU and dropout, and a residual connection on the
    ``hidden -> hidden`` layers (as in the reference implementation).

    Args:
        in_channels: input features :math:`F`.
        hidden_channels: hidden width.
        out_channels: outputs (classes).
        num_layers: linear layers (default 2).
        dropout: dropout before every linear layer (default 0.5).
        batch_norm: batch norm after each hidden linear layer (default True).
        weights: :math:`w_0..w_L` used when ``forward`` is given a graph
            (default PPR with :math:`\alpha = 0.1`, :math:`L = 10`).
        r: convolution coefficient for the graph mode (default 0.5).
        rmax, walks_per_node, seed: push threshold, walks and seed for the
            graph mode (default: ``rmax=1e-7``, no walks: near-exact).
        add_self_loops: add :math:`I` in the graph mode (default True).

    Shapes:
        - input: ``x`` :math:`(N, F)` precomputed features, or raw features
          with ``edge_index`` :math:`(2, E)` (propagated first, not cached,
          like a PyG layer)
        - output: :math:`(N, C)` logits
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 2,
        dropout: float = 0.5,
        batch_norm: bool = True,
        weights: Optional[WeightsLike] = None,
        r: float = 0.5,
        rmax: float = 1e-7,
        walks_per_node: int = 0,
        seed: int = 0,
        add_self_loops: bool = True,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be at least 1, got {num_layers}")
        _check_r(r)
        self.in_channels = in_channels
        self.hidden_channels = hidden_channels
        self.out_channels = out_channels
        self.num_layers = num_layers
        self.dropout = dropout
        self.register_buffer("weights", as_weights(ppr_weights(0.1, 10) if weights is None else weights))
        self.r, self.rmax, self.walks_per_node, self.seed = r, rmax, walks_per_node, seed
        self.add_self_loops = add_self_loops
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.lins = torch.nn.ModuleList(torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = torch.nn.ModuleList(
            torch.nn.BatchNorm1d(b) if batch_norm else torch.nn.Identity() for b in dims[1:-1]
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.lins:
            lin.reset_parameters()
        for norm in self.norms:
            if hasattr(norm, "reset_parameters"):
                norm.reset_parameters()

    def forward(self, x: Tensor, edge_index: Any = None) -> Tensor:
        """Logits; propagates ``x`` first when ``edge_index`` is given."""
        if edge_index is not None:
            x = gbp_precompute(
                x, edge_index, self.weights, self.r, self.rmax, self.walks_per_node,
                seed=self.seed, add_self_loops=self.add_self_loops,
            )
        for i, lin in enumerate(self.lins):
            x_in = x
            x = F.dropout(x, self.dropout, training=self.training)
            x = lin(x)
            if i < len(self.lins) - 1:
                x = F.relu(self.norms[i](x))
                if x_in.shape == x.shape:
                    x = x + x_in
        return x

    def __repr__(self) -> str:
        return (f"{self.__class__.__name__}({self.in_channels}, {self.hidden_channels}, "
                f"{self.out_channels}, num_layers={self.num_layers}, L={self.weights.numel() - 1}, r={self.r})")
