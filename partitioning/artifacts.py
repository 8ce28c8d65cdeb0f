"""Partitioned graphs on disk: :func:`write_partitions` and :func:`read_partitions`.

The layout is documented in ``partitioning/FORMAT.md`` (format
``scalegnn-partitions``, version 1). Only ``.npy``/``.npz`` files and a JSON
manifest are used; nothing is pickled. Writes are atomic: everything goes to a
temporary sibling directory that is renamed into place at the end, so a reader
never sees a half-written directory (when replacing one, the old directory is
renamed aside first, so for an instant neither exists).
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

import numpy as np
import scipy.sparse as sp

from partitioning.graph import as_csr, graph_fingerprint
from partitioning.metrics import check_parts

__all__ = ["FORMAT", "FORMAT_VERSION", "PartitionData", "PartitionFormatError", "check_output_dir", "read_manifest",
           "read_partitions", "write_partitions"]

FORMAT = "scalegnn-partitions"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_STRUCTURE_KEYS = ("owned", "local_to_global", "indptr", "indices", "global_degree",
                   "recv_ptr", "recv_global", "send_ptr", "send_local")


class PartitionFormatError(ValueError):
    """A partition directory that is missing, corrupted, or made for another graph or ``k``."""


@dataclass
class PartitionData:
    """What rank ``rank`` needs for row-parallel training (all ids ``int64``).

    Local ids: ``0 .. num_owned-1`` are the owned vertices in increasing
    global id; ``num_owned ..`` are the halo vertices, grouped by owner part
    (ascending) and by global id within a group.

    Attributes:
        rank, k, num_nodes: this part, the number of parts, global vertex count.
        owned: ``[num_owned]`` global ids of the owned vertices (sorted).
        local_to_global: ``[num_owned + num_halo]`` global id of every local id.
        indptr, indices: CSR of the owned rows of :math:`A`, columns in local ids.
        global_degree: ``[num_owned + num_halo]`` entries per row of the global
            :math:`A` (for normalizations that need remote degrees).
        recv_ptr: ``[k + 1]``: rows received from peer ``q`` land at local ids
            ``num_owned + recv_ptr[q] .. num_owned + recv_ptr[q+1]``.
        recv_global: ``[num_halo]`` global ids of the halo, in receive order.
        send_ptr, send_local: rows sent to peer ``q`` are the owned local ids
            ``send_local[send_ptr[q]:send_ptr[q+1]]``, in the order ``q`` receives them.
        features, labels: the owned rows (``None`` when not written); memory-mapped
            when read with ``mmap=True``.
        node_data: more per-vertex arrays by name (e.g. split masks), owned rows only.
        manifest: the directory's manifest (a dict).
    """

    rank: int
    k: int
    num_nodes: int
    owned: np.ndarray
    local_to_global: np.ndarray
    indptr: np.ndarray
    indices: np.ndarray
    global_degree: np.ndarray
    recv_ptr: np.ndarray
    recv_global: np.ndarray
    send_ptr: np.ndarray
    send_local: np.ndarray
    features: Optional[np.ndarray] = None
    labels: Optional[np.ndarray] = None
    node_data: Dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    manifest: Dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def num_owned(self) -> int:
        return int(self.owned.shape[0])

    @property
    def num_halo(self) -> int:
        return int(self.recv_global.shape[0])

    def recv_from(self, peer: int) -> np.ndarray:
        """Local ids (halo slots) filled by the rows that ``peer`` sends."""
        return self.num_owned + np.arange(self.recv_ptr[peer], self.recv_ptr[peer + 1], dtype=np.int64)

    def send_to(self, peer: int) -> np.ndarray:
        """Owned local ids whose rows go to ``peer``, in the order ``peer`` expects them."""
        return self.send_local[self.send_ptr[peer]:self.send_ptr[peer + 1]]

    def local_adjacency(self) -> sp.csr_matrix:
        """``[num_owned, num_owned + num_halo]`` pattern of the owned rows in local column ids."""
        shape = (self.num_owned, self.num_owned + self.num_halo)
        return sp.csr_matrix((np.ones(self.indices.shape[0], dtype=np.float32), self.indices, self.indptr), shape=shape)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 24), b""):
            h.update(block)
    return h.hexdigest()


def _part_name(rank: int) -> str:
    return f"part-{rank:05d}"


def _build_halos(csr: sp.csr_matrix, parts: np.ndarray, k: int, order: np.ndarray, start: np.ndarray) -> List[np.ndarray]:
    """Halo of every part: the remote columns its rows touch, sorted by (owner, global id)."""
    halos = []
    for p in range(k):
        owned = order[start[p]:start[p + 1]]
        cols = csr[owned].indices.astype(np.int64)
        remote = np.unique(cols[parts[cols] != p])
        halos.append(remote[np.argsort(parts[remote], kind="stable")])
    return halos


def check_output_dir(out_dir: Union[str, os.PathLike], overwrite: bool = False) -> Path:
    """Check that :func:`write_partitions` may write ``out_dir``, before any long computation.

    Allowed: a path that does not exist, an empty directory, and, with
    ``overwrite=True``, a partition directory: one whose ``manifest.json`` is
    a ``scalegnn-partitions`` manifest and that holds nothing but the files
    that manifest lists. Anything else (a file, a symbolic link, a directory
    without a manifest, a training run, a partition directory with extra
    files in it) is refused, so overwriting can never delete unrelated data.

    Raises:
        FileExistsError: naming the path and why it is refused.
    """
    out = Path(out_dir)
    if out.is_symlink():
        raise FileExistsError(f"{out} is a symbolic link; refusing to replace it (give the real directory)")
    if not out.exists():
        return out
    if not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a directory; refusing to replace it")
    entries = sorted(e.name for e in out.iterdir())
    if not entries:
        return out
    try:
        manifest = read_manifest(out, check_version=False)
    except PartitionFormatError as e:
        raise FileExistsError(
            f"{out} exists and is not a partition directory ({e}); refusing to "
            f"{'overwrite' if overwrite else 'write into'} it: choose another --out or remove it yourself") from None
    if not overwrite:
        raise FileExistsError(f"{out} already exists (a partition directory); pass overwrite=True (--overwrite) "
                              "to replace it")
    listed = set(manifest.get("files", {})) | {MANIFEST}
    foreign = [e for e in entries if e not in listed]
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise FileExistsError(
            f"{out} is a partition directory but also holds files it did not write ({shown}); refusing to delete "
            "them: move them out or choose another --out")
    return out


def write_partitions(
    out_dir: Union[str, os.PathLike],
    graph: Any,
    parts: Any,
    features: Optional[np.ndarray] = None,
    labels: Optional[np.ndarray] = None,
    k: Optional[int] = None,
    method: Optional[str] = None,
    extra: Optional[Dict[str, Any]] = None,
    overwrite: bool = False,
    progress: bool = False,
    node_data: Optional[Dict[str, np.ndarray]] = None,
) -> Path:
    """Write one directory per partition for row-parallel training (layout: ``FORMAT.md``).

    Args:
        out_dir: the directory to create.
        graph: the partitioned graph's pattern (``scipy.sparse`` or ``(indptr, indices)``).
        parts: ``[n]`` part ids (e.g. from :func:`partitioning.partition`).
        features: optional ``[n, ...]`` array; each part stores its owned rows.
        labels: optional ``[n, ...]`` array, sliced the same way.
        k: number of parts (default ``parts.max() + 1``; empty parts are allowed).
        method: recorded in the manifest (e.g. ``'hypergraph'``).
        extra: more JSON-serializable facts for the manifest.
        overwrite: replace an existing partition directory ``out_dir``
            (atomically). Only a directory this function wrote, holding nothing
            else, is ever replaced; see :func:`check_output_dir`.
        progress: show a tqdm bar over parts.
        node_data: more ``[n, ...]`` per-vertex arrays by name (letters, digits, ``_``),
            sliced like ``features`` into ``part-XXXXX.data-<name>.npy``.

    Returns:
        The path of the written directory.
    """
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {type(out_dir).__name__}")
    out = check_output_dir(out_dir, overwrite)
    csr = as_csr(graph)
    n = csr.shape[0]
    parts, k = check_parts(parts, n, k)
    node_data = dict(node_data or {})
    for name in node_data:
        if not (isinstance(name, str) and name.replace("_", "").isalnum() and name.isascii()):
            raise ValueError(f"node_data names must be non-empty ASCII letters, digits or '_', got {name!r}")
    for name, arr in (("features", features), ("labels", labels), *node_data.items()):
        if arr is None:
            continue
        arr = np.asarray(arr)
        if arr.ndim == 0:
            raise ValueError(f"{name} must be an array with one row per vertex, got a scalar")
        if arr.dtype == object:
            raise TypeError(f"{name} must be a numeric array (nothing is pickled), got dtype object")
        if arr.shape[0] != n:
            raise ValueError(f"{name} has {arr.shape[0]} rows but the graph has {n} vertices")
        if arr.dtype.kind in "fc" and not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf")
    for name, flag in (("overwrite", overwrite), ("progress", progress)):
        if not isinstance(flag, (bool, np.bool_)):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if method is not None and not isinstance(method, str):
        raise TypeError(f"method must be a string or None, got {type(method).__name__}")

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        order = np.argsort(parts, kind="stable")
        start = np.zeros(k + 1, dtype=np.int64)
        np.cumsum(np.bincount(parts, minlength=k), out=start[1:])
        degree = np.diff(csr.indptr).astype(np.int64)
        halos = _build_halos(csr, parts, k, order, start)
        np.save(tmp / "parts.npy", parts)
        files: Dict[str, Dict[str, Any]] = {"parts.npy": {}}
        part_meta = []
        g2l = np.full(n, -1, dtype=np.int64)
        ranks = range(k)
        if progress:
            from tqdm import tqdm
            ranks = tqdm(ranks, desc="writing partitions", unit="part")
        for p in ranks:
            owned = order[start[p]:start[p + 1]].astype(np.int64)
            halo = halos[p]
            local_to_global = np.concatenate([owned, halo])
            g2l[local_to_global] = np.arange(local_to_global.shape[0])
            rows = csr[owned]
            recv_ptr = np.zeros(k + 1, dtype=np.int64)
            np.cumsum(np.bincount(parts[halo], minlength=k), out=recv_ptr[1:])
            # What p sends to q is exactly q's halo rows owned by p, in q's order.
            sends = []
            for q in range(k):
                hq = halos[q]
                lo, hi = np.searchsorted(parts[hq], [p, p + 1]) if hq.size else (0, 0)
                sends.append(g2l[hq[lo:hi]])
            send_ptr = np.zeros(k + 1, dtype=np.int64)
            np.cumsum([s.shape[0] for s in sends], out=send_ptr[1:])
            arrays = {
                "owned": owned,
                "local_to_global": local_to_global,
                "indptr": rows.indptr.astype(np.int64),
                "indices": g2l[rows.indices],
                "global_degree": degree[local_to_global],
                "recv_ptr": recv_ptr,
                "recv_global": halo,
                "send_ptr": send_ptr,
                "send_local": np.concatenate(sends) if sends else np.empty(0, dtype=np.int64),
            }
            g2l[local_to_global] = -1
            name = _part_name(p)
            np.savez(tmp / f"{name}.npz", **arrays)
            files[f"{name}.npz"] = {}
            if features is not None:
                np.save(tmp / f"{name}.features.npy", np.ascontiguousarray(np.asarray(features)[owned]))
                files[f"{name}.features.npy"] = {}
            if labels is not None:
                np.save(tmp / f"{name}.labels.npy", np.ascontiguousarray(np.asarray(labels)[owned]))
                files[f"{name}.labels.npy"] = {}
            for key, arr in node_data.items():
                np.save(tmp / f"{name}.data-{key}.npy", np.ascontiguousarray(np.asarray(arr)[owned]))
                files[f"{name}.data-{key}.npy"] = {}
            part_meta.append({"rank": p, "num_owned": int(owned.shape[0]), "num_halo": int(halo.shape[0]),
                              "nnz": int(rows.nnz), "send": int(send_ptr[-1])})
        for fname in files:
            files[fname] = {"sha256": _sha256(tmp / fname), "bytes": (tmp / fname).stat().st_size}
        volume = sum(m["num_halo"] for m in part_meta)
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "k": k,
            "num_nodes": n,
            "num_entries": int(csr.nnz),
            "graph_fingerprint": graph_fingerprint(csr),
            "method": method,
            "communication_volume": int(volume),
            "features": None if features is None else {"shape": list(np.shape(features)), "dtype": str(np.asarray(features).dtype)},
            "labels": None if labels is None else {"shape": list(np.shape(labels)), "dtype": str(np.asarray(labels).dtype)},
            "node_data": {key: {"shape": list(np.shape(arr)), "dtype": str(np.asarray(arr).dtype)}
                          for key, arr in node_data.items()},
            "parts": part_meta,
            "files": files,
            "extra": extra or {},
        }
        with open(tmp / MANIFEST, "w") as f:
            json.dump(manifest, f, indent=1)
        if out.exists():
            check_output_dir(out, overwrite)  # again: the directory may have changed while we computed
            trash = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(out, trash)
            os.rename(tmp, out)
            shutil.rmtree(trash, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def read_manifest(out_dir: Union[str, os.PathLike], check_version: bool = True) -> Dict[str, Any]:
    """The manifest of a partition directory, after checking its format and (by default) its version."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        raise PartitionFormatError(f"{out_dir} is not a partition directory: {MANIFEST} is missing")
    try:
        with open(path) as f:
            manifest = json.load(f)
    except json.JSONDecodeError as e:
        raise PartitionFormatError(f"{path} is corrupted (not valid JSON: {e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PartitionFormatError(f"{path} is not a {FORMAT} manifest")
    if check_version and manifest.get("version") != FORMAT_VERSION:
        raise PartitionFormatError(
            f"{out_dir} has format version {manifest.get('version')}, this reader supports version {FORMAT_VERSION}; "
            "re-run the partitioner")
    return manifest


def _verified(out_dir: Path, manifest: Dict[str, Any], fname: str, verify: bool) -> Path:
    path = out_dir / fname
    meta = manifest["files"].get(fname)
    if meta is None:
        raise PartitionFormatError(f"{fname} is not listed in {out_dir / MANIFEST}")
    if not path.is_file():
        raise PartitionFormatError(f"{path} is missing from the partition directory")
    if path.stat().st_size != meta["bytes"]:
        raise PartitionFormatError(f"{path} is corrupted: {path.stat().st_size} bytes, the manifest says {meta['bytes']}")
    if verify:
        digest = _sha256(path)
        if digest != meta["sha256"]:
            raise PartitionFormatError(f"{path} is corrupted: sha256 {digest[:16]}... does not match the manifest's {meta['sha256'][:16]}...")
    return path


def read_partitions(
    out_dir: Union[str, os.PathLike],
    rank: int,
    graph: Any = None,
    fingerprint: Optional[str] = None,
    k: Optional[int] = None,
    verify: bool = True,
    mmap: bool = False,
) -> PartitionData:
    """Load part ``rank`` of a directory written by :func:`write_partitions`.

    Args:
        out_dir: the partition directory.
        rank: which part, ``0 <= rank < k``.
        graph: the graph the caller trains on; its fingerprint must match the directory's.
        fingerprint: or just that fingerprint (:func:`partitioning.graph.graph_fingerprint`).
        k: the number of ranks the caller runs; must match.
        verify: check the SHA-256 of every file read (sizes are always checked).
        mmap: memory-map features and labels instead of reading them.

    Raises:
        PartitionFormatError: missing or corrupted files, another format
            version, another graph or another ``k``.
    """
    from partitioning.validation import check_int

    rank = check_int("rank", rank, 0)
    k = None if k is None else check_int("k", k, 1)
    if fingerprint is not None and not isinstance(fingerprint, str):
        raise TypeError(f"fingerprint must be a string (graph_fingerprint's hex digest), got {type(fingerprint).__name__}")
    out = Path(out_dir)
    manifest = read_manifest(out)
    if graph is not None:
        expected = graph_fingerprint(as_csr(graph))
        if fingerprint is not None and fingerprint != expected:
            raise ValueError("both graph and fingerprint were given and they disagree")
        fingerprint = expected
    if fingerprint is not None and fingerprint != manifest["graph_fingerprint"]:
        raise PartitionFormatError(
            f"{out} was made for another graph ({manifest['num_nodes']} vertices, {manifest['num_entries']} entries, "
            f"fingerprint {manifest['graph_fingerprint'][:12]}...), not the expected one (fingerprint {fingerprint[:12]}...)")
    if k is not None and k != manifest["k"]:
        raise PartitionFormatError(f"{out} holds k={manifest['k']} parts but k={k} ranks were requested")
    if not rank < manifest["k"]:
        raise PartitionFormatError(f"rank {rank} is out of range for {out} with k={manifest['k']} parts")
    name = _part_name(rank)
    with np.load(_verified(out, manifest, f"{name}.npz", verify), allow_pickle=False) as z:
        missing = [key for key in _STRUCTURE_KEYS if key not in z.files]
        if missing:
            raise PartitionFormatError(f"{out / (name + '.npz')} lacks arrays {missing}")
        arrays = {key: z[key] for key in _STRUCTURE_KEYS}
    extras = {}
    for key in ("features", "labels"):
        fname = f"{name}.{key}.npy"
        if fname in manifest["files"]:
            path = _verified(out, manifest, fname, verify)
            extras[key] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    extras["node_data"] = {}
    for key in manifest.get("node_data") or {}:
        path = _verified(out, manifest, f"{name}.data-{key}.npy", verify)
        extras["node_data"][key] = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    data = PartitionData(rank=rank, k=manifest["k"], num_nodes=manifest["num_nodes"], manifest=manifest,
                         **arrays, **extras)
    if data.indptr.shape[0] != data.num_owned + 1 or data.recv_ptr.shape[0] != data.k + 1:
        raise PartitionFormatError(f"{out / (name + '.npz')} has inconsistent array sizes")
    return data
