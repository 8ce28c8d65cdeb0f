"""SGC on ogbn-products (2.4M nodes, 62M edges), scored by OGB's Evaluator.

The same protocol as ``ogbn_arxiv_sgc.py`` (shared code): ``S^K X``
precomputed once -- on the GPU when there is one, column-chunked so the
working buffers fit -- then a linear layer trained with the Trainer per
seed, test accuracy at the best validation epoch.

Usage::

    SCALEGNN_DATA=/path/to/data python examples/ogbn_products_sgc.py --device cuda
    python examples/ogbn_products_sgc.py --device cpu --chunk-size 25 --seeds 3
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ogbn_arxiv_sgc import parse, run  # noqa: E402  (the same protocol, another dataset)

from scalegnn.train.entrypoint import run_main  # noqa: E402

PRODUCTS_DEFAULTS = dict(dataset="ogbn-products", K=2, epochs=300, lr=0.05, weight_decay=0.0,
                         device="cuda" if torch.cuda.is_available() else "cpu")


def main(argv=None):
    return run(parse(argv, PRODUCTS_DEFAULTS, __doc__.split("\n")[0]))


if __name__ == "__main__":
    sys.exit(run_main(main))
