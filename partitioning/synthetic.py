r"""Synthetic graphs: degree-corrected stochastic block models with power-law degrees.

The generator is a Chung–Lu model (Chung & Lu, "Connected components in random
graphs with given expected degree sequences", 2002) with planted blocks, i.e.
a degree-corrected stochastic block model (Karrer & Newman, 2011):

* every vertex :math:`i` gets a weight :math:`w_i \propto (i + i_0)^{-1/(\gamma-1)}`
  (shuffled over the vertices), so expected degrees follow a power law
  :math:`P(d) \propto d^{-\gamma}`; weights are capped at :math:`\sqrt{m}` (the
  structural cutoff under which Chung–Lu edge probabilities stay :math:`\le 1`);
* an edge picks its first endpoint :math:`u` with probability :math:`\propto w_u`;
  with probability ``intra_block_fraction`` its second endpoint is drawn
  :math:`\propto w` inside the block of :math:`u`, otherwise from the whole graph;
* self-loops and duplicates are discarded and more edges drawn until the
  requested count is reached.

Everything is vectorized numpy; memory peaks at about 40 bytes per directed
edge (≈2.4 GB for 60M directed edges), and the result is deterministic for a
given ``seed``.
"""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp

__all__ = ["SYNTHETIC_KINDS", "parse_synthetic_name", "powerlaw_sbm_graph", "powerlaw_weights", "synthetic_features",
           "synthetic_graph_blocks"]

_CHUNK = 1 << 22  # edges drawn per vectorized batch (bounds temporary memory)
_MAX_ROUNDS = 64


def powerlaw_weights(num_nodes: int, exponent: Optional[float], max_weight: float,
                     rng: np.random.Generator) -> np.ndarray:
    r"""Expected-degree weights with a power-law tail, in random vertex order.

    ``exponent=None`` gives equal weights (a plain, non-degree-corrected SBM).
    Otherwise :math:`w_r = (r + 1)^{-1/(\gamma - 1)}` for ranks :math:`r`,
    rescaled so the mean is 1 and clipped at ``max_weight`` times the mean.
    """
    if exponent is None:
        return np.ones(num_nodes, dtype=np.float64)
    if exponent <= 1.0:
        raise ValueError(f"exponent must be > 1 for a power law, got {exponent}")
    w = np.arange(1, num_nodes + 1, dtype=np.float64) ** (-1.0 / (exponent - 1.0))
    w /= w.mean()
    np.minimum(w, max_weight, out=w)
    return w[rng.permutation(num_nodes)]


def _sample_from(cum: np.ndarray, lo: np.ndarray, hi: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Positions ``p`` with ``cum[p-1] <= r < cum[p]`` for ``r`` uniform in ``[lo, hi)``."""
    r = lo + rng.random(lo.shape[0]) * (hi - lo)
    pos = np.searchsorted(cum, r, side="right")
    return np.minimum(pos, cum.shape[0] - 1)


def powerlaw_sbm_graph(
    num_nodes: int,
    num_edges: int,
    num_blocks: int = 1,
    exponent: Optional[float] = 2.5,
    intra_block_fraction: float = 0.8,
    seed: int = 0,
) -> Tuple[sp.csr_matrix, np.ndarray]:
    r"""A symmetric power-law graph with planted blocks (degree-corrected SBM).

    Args:
        num_nodes: number of vertices :math:`n \ge 1`.
        num_edges: number of **directed** edges, counting both directions of
            every undirected edge (PyG's ``num_edges`` convention); must be even
            and at most :math:`n(n-1)`.
        num_blocks: number of planted blocks (communities). ``1`` gives a plain
            power-law (Chung–Lu) graph. Blocks have equal sizes (±1) and random
            members.
        exponent: power-law exponent :math:`\gamma` of the degree distribution
            (``2.5`` by default; real social/citation graphs have 2–3). ``None``
            gives equal expected degrees: a classic SBM / Erdős–Rényi graph.
        intra_block_fraction: probability that an edge's second endpoint is
            drawn inside the first endpoint's block; the rest are drawn from the
            whole graph, so the realized intra-block share is about
            ``f + (1 - f) / num_blocks``.
        seed: seed of the ``numpy`` generator; equal seeds give equal graphs.

    Returns:
        ``(adj, blocks)``: ``adj`` an ``[n, n]`` ``scipy.sparse.csr_matrix``
        (``float32`` ones, ``int32`` indices when they fit, sorted indices),
        symmetric, without self-loops or duplicate entries; ``blocks`` an
        ``int64`` array of block ids in ``[0, num_blocks)``.

    The realized ``adj.nnz`` equals ``num_edges`` **exactly**: duplicates and
    self-loops are replaced by fresh draws until the undirected count reaches
    ``num_edges / 2``, and a uniformly random surplus is dropped. Only requests
    so dense that fresh draws keep colliding (more than a few tens of percent
    of all vertex pairs, with a heavy tail) can stop short after 64 rounds of
    redraws; that case raises ``RuntimeError`` rather than returning fewer edges.
    """
    from partitioning.validation import check_fraction, check_int, check_seed

    num_nodes = check_int("num_nodes", num_nodes, 1)
    num_edges = check_int("num_edges", num_edges, 0)
    num_blocks = check_int("num_blocks", num_blocks)
    seed = check_seed(seed)
    if exponent is not None:
        exponent = check_fraction("exponent", exponent, 1.0 + 1e-9, float("inf"))
    intra_block_fraction = check_fraction("intra_block_fraction", intra_block_fraction, 0.0, 1.0 + 1e-12)
    if num_edges % 2:
        raise ValueError(f"num_edges counts both directions of each undirected edge and must be even, got {num_edges}")
    max_edges = num_nodes * (num_nodes - 1)
    if num_edges > max_edges:
        raise ValueError(f"num_edges={num_edges} exceeds n(n-1)={max_edges}, the most a simple graph on {num_nodes} nodes has")
    if not 1 <= num_blocks <= num_nodes:
        raise ValueError(f"num_blocks must be in [1, num_nodes={num_nodes}], got {num_blocks}")

    rng = np.random.default_rng(seed)
    n = num_nodes
    blocks = rng.permutation(n) % num_blocks
    mean_degree = max(num_edges / n, 1e-12)
    weights = powerlaw_weights(n, exponent, max(np.sqrt(num_edges) / mean_degree, 1.0), rng)

    # Vertices sorted by block: block b occupies order[start[b]:start[b+1]].
    order = np.argsort(blocks, kind="stable")
    start = np.concatenate([[0], np.cumsum(np.bincount(blocks, minlength=num_blocks))])
    cum = np.cumsum(weights[order])
    cum_start = np.concatenate([[0.0], cum])[start]  # cumulative weight before each block
    total = cum[-1]

    target = num_edges // 2
    keys = np.empty(0, dtype=np.int64)  # undirected edges as u * n + v with u < v, sorted
    for _ in range(_MAX_ROUNDS):
        missing = target - keys.shape[0]
        if missing <= 0:
            break
        draw = int(missing * 1.1) + 64
        fresh = [keys]
        for lo in range(0, draw, _CHUNK):
            size = min(_CHUNK, draw - lo)
            u_pos = _sample_from(cum, np.zeros(size), np.full(size, total), rng)
            u = order[u_pos]
            b = blocks[u]
            intra = rng.random(size) < intra_block_fraction
            v_lo = np.where(intra, cum_start[b], 0.0)
            v_hi = np.where(intra, cum_start[b] + (cum[start[b + 1] - 1] - cum_start[b]), total)
            v = order[_sample_from(cum, v_lo, v_hi, rng)]
            keep = u != v
            a, c = np.minimum(u[keep], v[keep]), np.maximum(u[keep], v[keep])
            fresh.append(a.astype(np.int64) * n + c)
        keys = _sorted_unique(np.concatenate(fresh))
    if keys.shape[0] < target:
        raise RuntimeError(
            f"could only place {2 * keys.shape[0]} of {num_edges} directed edges after {_MAX_ROUNDS} rounds; "
            "the request is too dense for this degree distribution (lower num_edges or raise exponent)")
    if keys.shape[0] > target:
        keep = np.sort(rng.choice(keys.shape[0], size=target, replace=False))
        keys = keys[keep]
    return _symmetric_csr(keys, n), blocks.astype(np.int64)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """``np.unique`` for a 1-D integer array, by an in-place sort (numpy's hash path is slower here)."""
    a.sort()
    if a.shape[0] < 2:
        return a
    keep = np.empty(a.shape[0], dtype=bool)
    keep[0] = True
    np.not_equal(a[1:], a[:-1], out=keep[1:])
    return a[keep]


def _symmetric_csr(keys: np.ndarray, n: int) -> sp.csr_matrix:
    """CSR of the symmetric pattern of the undirected edges ``u * n + v`` (``u < v``)."""
    u, v = np.divmod(keys, n)
    directed = np.concatenate([keys, v * n + u])
    del u, v
    directed.sort()
    row, col = np.divmod(directed, n)
    del directed
    index_dtype = np.int32 if n < 2**31 and row.shape[0] < 2**31 else np.int64
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(np.bincount(row, minlength=n), out=indptr[1:])
    indices = col.astype(index_dtype)
    del row, col
    data = np.ones(indices.shape[0], dtype=np.float32)
    adj = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    adj.has_sorted_indices = True
    return adj


SYNTHETIC_KINDS = ("powerlaw", "sbm")
DEFAULT_NUM_BLOCKS = 40  # like ogbn-arxiv's 40 classes
_SUFFIX = {"k": 10**3, "m": 10**6, "g": 10**9, "b": 10**9}


def _parse_count(text: str, what: str, name: str) -> int:
    t = text.strip().lower()
    scale = 1
    if t and t[-1] in _SUFFIX:
        scale, t = _SUFFIX[t[-1]], t[:-1]
    try:
        value = float(t) * scale if "." in t else int(t) * scale
    except ValueError:
        raise ValueError(f"cannot read {what} {text!r} in synthetic dataset name {name!r}") from None
    if value != int(value):
        raise ValueError(f"{what} {text!r} in {name!r} is not a whole number")
    return int(value)


def parse_synthetic_name(name: str) -> Tuple[str, int, int]:
    """``'synthetic-<n>-<m>'`` → ``('powerlaw', n, m)``; ``'synthetic-sbm-<n>-<m>'`` → ``('sbm', n, m)``.

    ``n`` (nodes) and ``m`` (directed edges, both directions counted, even)
    are integers, optionally with a ``k``/``M``/``G`` suffix (``synthetic-2.4M-60M``).
    """
    parts = str(name).split("-")
    head = [t.lower() for t in parts[:2]]
    if len(parts) == 3 and head[0] == "synthetic":
        kind, n_text, m_text = "powerlaw", parts[1], parts[2]
    elif len(parts) == 4 and head[0] == "synthetic" and head[1] in SYNTHETIC_KINDS:
        parts[1] = head[1]
        kind, n_text, m_text = parts[1], parts[2], parts[3]
    else:
        raise ValueError(
            f"synthetic dataset names look like 'synthetic-<nodes>-<edges>' or 'synthetic-sbm-<nodes>-<edges>' "
            f"(e.g. 'synthetic-100000-2000000', 'synthetic-2.4M-60M'), got {name!r}")
    n, m = _parse_count(n_text, "node count", name), _parse_count(m_text, "edge count", name)
    if n < 1:
        raise ValueError(f"{name!r}: the node count must be >= 1, got {n}")
    if m < 0 or m % 2:
        raise ValueError(f"{name!r}: the edge count counts both directions and must be even and >= 0, got {m}")
    return kind, n, m


def synthetic_graph_blocks(kind: str, num_nodes: int, num_edges: int, num_blocks: int = DEFAULT_NUM_BLOCKS,
                           seed: int = 0) -> Tuple[sp.csr_matrix, np.ndarray]:
    """The graph behind the ``synthetic-*`` dataset names (shared by the partitioner CLI and the torch loader).

    ``kind='powerlaw'``: degree-corrected SBM with power-law degrees
    (:math:`\\gamma = 2.5`); ``kind='sbm'``: a classic SBM with equal expected
    degrees. Both plant ``min(num_blocks, num_nodes)`` blocks with 80% of edge
    endpoints drawn inside the block.
    """
    from partitioning.validation import check_choice, check_int

    kind = check_choice("kind", kind, SYNTHETIC_KINDS)
    num_nodes, num_blocks = check_int("num_nodes", num_nodes, 1), check_int("num_blocks", num_blocks, 1)
    exponent = 2.5 if kind == "powerlaw" else None
    return powerlaw_sbm_graph(num_nodes, num_edges, num_blocks=min(int(num_blocks), max(int(num_nodes), 1)),
                              exponent=exponent, intra_block_fraction=0.8, seed=seed)


_FEATURE_CHUNK = 1 << 16  # rows per chunk; fixed so features do not depend on memory settings


def synthetic_features(labels: np.ndarray, num_features: int = 128, num_classes: Optional[int] = None,
                       signal: float = 0.2, seed: int = 0) -> np.ndarray:
    r"""Gaussian node features whose mean depends on the class: :math:`x_i = \mu_{y_i} + \varepsilon_i`.

    Class means :math:`\mu_c \sim \mathcal N(0, \mathrm{signal}^2 I)`, noise
    :math:`\varepsilon_i \sim \mathcal N(0, I)`. With ``signal=0.2`` and 128
    channels two class means are about 3.2 noise standard deviations apart, so
    features alone classify poorly among 40 classes and aggregating same-class
    neighbours (a GNN) helps. Generated in chunks of 65,536 rows straight into
    the ``float32`` output (no ``float64`` copy of the whole matrix).
    """
    from partitioning.validation import check_fraction, check_int, check_seed

    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be 1-D, got shape {labels.shape}")
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be integer class ids, got dtype {labels.dtype}")
    if labels.size and labels.min() < 0:
        raise ValueError(f"labels must be >= 0, got {int(labels.min())}")
    num_features = check_int("num_features", num_features, 1)
    seed = check_seed(seed)
    signal = check_fraction("signal", signal, 0.0, float("inf"))
    top = int(labels.max()) + 1 if labels.size else 1
    num_classes = top if num_classes is None else check_int("num_classes", num_classes, top)
    rng = np.random.default_rng([seed, 1])  # a stream independent of the graph's
    means = (rng.standard_normal((num_classes, num_features)) * signal).astype(np.float32)
    out = np.empty((labels.shape[0], num_features), dtype=np.float32)
    for lo in range(0, labels.shape[0], _FEATURE_CHUNK):
        hi = min(lo + _FEATURE_CHUNK, labels.shape[0])
        rng.standard_normal((hi - lo, num_features), dtype=np.float32, out=out[lo:hi])
        out[lo:hi] += means[labels[lo:hi]]
    return out
