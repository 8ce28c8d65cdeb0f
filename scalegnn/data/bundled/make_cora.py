"""Generate ``scalegnn/data/bundled/cora.npz`` from the Planetoid raw files.

Usage::

    python -m scalegnn.data.bundled.make_cora --root /path/to/data   # reads <root>/Planetoid/Cora/raw

Reads the raw files with PyG's own reader (the one ``Planetoid.process`` uses),
so the bundled copy rebuilds exactly PyG's ``Data``; writes nothing under the
data root. The result is checked by reloading it before the command returns.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from scalegnn.data.bundled import CORA_NPZ, load_cora


def build_arrays(raw_dir: Path) -> dict:
    from torch_geometric.io import read_planetoid_data

    data = read_planetoid_data(str(raw_dir), "cora")
    x = data.x.numpy()
    if not np.isin(x, (0.0, 1.0)).all():
        raise ValueError("Cora features are expected to be binary (0/1)")
    row, col = np.nonzero(x)
    if x.shape[0] >= 2**16 or x.shape[1] >= 2**16:
        raise ValueError("feature coordinates do not fit uint16")
    return {
        "edge_index": data.edge_index.numpy().astype(np.int64),
        "x_row": row.astype(np.uint16),
        "x_col": col.astype(np.uint16),
        "x_shape": np.asarray(x.shape, dtype=np.int64),
        "y": data.y.numpy().astype(np.uint8),
        "train_mask": data.train_mask.numpy(),
        "val_mask": data.val_mask.numpy(),
        "test_mask": data.test_mask.numpy(),
    }, data


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default=os.environ.get("SCALEGNN_DATA"),
                   help="data root holding Planetoid/Cora/raw (default: $SCALEGNN_DATA)")
    p.add_argument("--out", default=str(CORA_NPZ), help=f"output file (default: {CORA_NPZ})")
    args = p.parse_args(argv)
    if not args.root:
        p.error("give --root or set SCALEGNN_DATA")
    raw_dir = Path(args.root) / "Planetoid" / "Cora" / "raw"
    if not raw_dir.is_dir():
        p.error(f"no Planetoid Cora raw files at {raw_dir}")
    arrays, data = build_arrays(raw_dir)
    np.savez_compressed(args.out, **arrays)
    back = load_cora(args.out)
    for key in ("x", "edge_index", "y", "train_mask", "val_mask", "test_mask"):
        a, b = getattr(back, key), getattr(data, key)
        if a.dtype != b.dtype or not bool((a == b).all()):
            raise SystemExit(f"round trip mismatch on {key}")
    print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1024:.1f} KiB): "
          f"{data.num_nodes} nodes, {data.edge_index.size(1)} edges, {data.x.size(1)} features")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
