"""write_partitions / read_partitions: round trip, halo exchange consistency, rejection of bad directories."""
import json

import numpy as np
import pytest
import scipy.sparse as sp

from partitioning import (PartitionFormatError, communication_volume, graph_fingerprint, partition, read_manifest,
                          read_partitions, write_partitions)
from partitioning.synthetic import powerlaw_sbm_graph


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    graph, blocks = powerlaw_sbm_graph(600, 5000, num_blocks=3, seed=2)
    parts = partition(graph, 4, "metis")
    x = np.random.default_rng(0).standard_normal((600, 5)).astype(np.float32)
    out = tmp_path_factory.mktemp("parts") / "cora-like"
    write_partitions(out, graph, parts, features=x, labels=blocks, method="metis")
    return graph, parts, x, blocks, out


def test_round_trip_reconstructs_graph_features_and_halo(setup):
    graph, parts, x, blocks, out = setup
    dense = graph.toarray()
    owned_all = []
    pieces = [read_partitions(out, r, graph=graph, k=4) for r in range(4)]
    for r, p in enumerate(pieces):
        np.testing.assert_array_equal(p.owned, np.flatnonzero(parts == r))
        owned_all.append(p.owned)
        np.testing.assert_array_equal(p.local_adjacency().toarray(), dense[np.ix_(p.owned, p.local_to_global)])
        np.testing.assert_array_equal(p.features, x[p.owned])
        np.testing.assert_array_equal(p.labels, blocks[p.owned])
        np.testing.assert_array_equal(p.global_degree, np.diff(graph.indptr)[p.local_to_global])
        # Halo = exactly the remote columns the owned rows touch.
        touched = np.flatnonzero(dense[p.owned].any(0))
        np.testing.assert_array_equal(np.sort(p.recv_global), np.setdiff1d(touched, p.owned))
        np.testing.assert_array_equal(p.local_to_global[p.num_owned:], p.recv_global)
        assert (parts[p.recv_global] != r).all()
        for q in range(4):
            # What r sends to q is what q expects from r, in the same order.
            np.testing.assert_array_equal(p.local_to_global[p.send_to(q)],
                                          pieces[q].local_to_global[pieces[q].recv_from(r)])
    np.testing.assert_array_equal(np.sort(np.concatenate(owned_all)), np.arange(600))
    assert sum(p.num_halo for p in pieces) == communication_volume(graph, parts).total
    assert read_manifest(out)["communication_volume"] == communication_volume(graph, parts).total


def test_simulated_halo_exchange_reproduces_spmm(setup):
    graph, parts, x, _, out = setup
    pieces = [read_partitions(out, r) for r in range(4)]
    y = np.zeros_like(x)
    for r, p in enumerate(pieces):
        local_x = np.zeros((p.num_owned + p.num_halo, x.shape[1]), dtype=x.dtype)
        local_x[:p.num_owned] = p.features
        for q in range(4):
            local_x[p.recv_from(q)] = pieces[q].features[pieces[q].send_to(r)]
        y[p.owned] = p.local_adjacency() @ local_x
    np.testing.assert_allclose(y, graph @ x, rtol=1e-5, atol=1e-5)


def test_other_graph_or_k_is_rejected(setup):
    graph, _, _, _, out = setup
    other, _ = powerlaw_sbm_graph(600, 5000, num_blocks=3, seed=3)
    with pytest.raises(PartitionFormatError, match="was made for another graph"):
        read_partitions(out, 0, graph=other)
    with pytest.raises(PartitionFormatError, match="was made for another graph"):
        read_partitions(out, 0, fingerprint=graph_fingerprint(other))
    with pytest.raises(PartitionFormatError, match="holds k=4 parts but k=8 ranks"):
        read_partitions(out, 0, k=8)
    with pytest.raises(PartitionFormatError, match="rank 4 is out of range"):
        read_partitions(out, 4)
    assert read_partitions(out, 0, fingerprint=graph_fingerprint(graph)).rank == 0


def test_corrupted_files_are_rejected(setup, tmp_path):
    graph, parts, x, _, _ = setup
    out = write_partitions(tmp_path / "p", graph, parts, features=x)
    feats = out / "part-00001.features.npy"
    raw = bytearray(feats.read_bytes())
    raw[-1] ^= 0xFF  # same size, different content
    feats.write_bytes(bytes(raw))
    with pytest.raises(PartitionFormatError, match="part-00001.features.npy is corrupted: sha256"):
        read_partitions(out, 1)
    read_partitions(out, 1, verify=False)  # sizes still match; the checksum check is what caught it
    with open(out / "part-00002.npz", "ab") as f:
        f.write(b"junk")
    with pytest.raises(PartitionFormatError, match="part-00002.npz is corrupted: .* bytes"):
        read_partitions(out, 2)
    (out / "part-00003.npz").unlink()
    with pytest.raises(PartitionFormatError, match="part-00003.npz is missing"):
        read_partitions(out, 3)


def test_bad_manifest_is_rejected(setup, tmp_path):
    graph, parts, _, _, _ = setup
    with pytest.raises(PartitionFormatError, match="manifest.json is missing"):
        read_partitions(tmp_path, 0)
    out = write_partitions(tmp_path / "p", graph, parts)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["version"] = 99
    (out / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PartitionFormatError, match="format version 99"):
        read_partitions(out, 0)
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(PartitionFormatError, match="not valid JSON"):
        read_partitions(out, 0)


def test_existing_directory_needs_overwrite_and_is_replaced_whole(setup, tmp_path):
    graph, parts, x, _, _ = setup
    out = write_partitions(tmp_path / "p", graph, parts, features=x)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_partitions(out, graph, parts)
    new_parts = partition(graph, 2, "random")
    write_partitions(out, graph, new_parts, overwrite=True)
    assert read_manifest(out)["k"] == 2
    assert not (out / "part-00003.npz").exists() and not (out / "part-00000.features.npy").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["p"]  # no temporary leftovers


def test_failed_write_leaves_nothing(setup, tmp_path):
    graph, parts, _, _, _ = setup
    with pytest.raises(ValueError, match="features has 3 rows but the graph has 600"):
        write_partitions(tmp_path / "p", graph, parts, features=np.zeros((3, 2)))
    assert list(tmp_path.iterdir()) == []


def test_empty_parts_are_allowed(tmp_path):
    graph = sp.csr_matrix(np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    out = write_partitions(tmp_path / "p", graph, [0, 0, 2], k=3)
    empty = read_partitions(out, 1)
    assert empty.num_owned == 0 and empty.num_halo == 0 and empty.local_adjacency().shape == (0, 0)


def _snapshot(root):
    """Every file under ``root`` with its bytes (to prove nothing was deleted or changed)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["unrelated-files", "training-run", "nested-dir", "foreign-manifest",
                                  "partition-dir-plus-extra-file", "a-file", "a-symlink"])
def test_overwrite_never_deletes_what_is_not_a_partition_directory(setup, tmp_path, case):
    graph, parts, _, _, _ = setup
    out = tmp_path / "out"
    if case == "unrelated-files":
        out.mkdir()
        (out / "thesis.tex").write_text("three years of work")
    elif case == "training-run":
        out.mkdir()
        (out / "metrics.jsonl").write_text('{"epoch": 1, "loss": 0.5}\n')
        (out / "checkpoint.pt").write_bytes(b"\x80\x02weights")
    elif case == "nested-dir":
        (out / "sub").mkdir(parents=True)
        (out / "sub" / "data.npy").write_bytes(b"x")
    elif case == "foreign-manifest":
        out.mkdir()
        (out / "manifest.json").write_text(json.dumps({"format": "something-else", "files": {}}))
    elif case == "partition-dir-plus-extra-file":
        write_partitions(out, graph, parts)
        (out / "metrics.jsonl").write_text("a run someone wrote into the partition directory\n")
    elif case == "a-file":
        out.write_text("not a directory")
    else:
        target = tmp_path / "real"
        write_partitions(target, graph, parts)
        out.symlink_to(target, target_is_directory=True)
    before = _snapshot(tmp_path)
    message = {"partition-dir-plus-extra-file": "also holds files it did not write",
               "a-file": "is not a directory", "a-symlink": "symbolic link"}.get(case, "is not a partition directory")
    with pytest.raises(FileExistsError, match=message):
        write_partitions(out, graph, parts, overwrite=True)
    assert _snapshot(tmp_path) == before  # nothing deleted, nothing changed, no temporary leftovers
    assert {p.name for p in tmp_path.iterdir()} == ({"out", "real"} if case == "a-symlink" else {"out"})


def test_overwrite_replaces_a_partition_directory_and_an_empty_one(setup, tmp_path):
    graph, parts, _, _, _ = setup
    empty = tmp_path / "empty"
    empty.mkdir()
    write_partitions(empty, graph, parts)  # an empty directory is fine even without overwrite
    assert read_manifest(empty)["k"] == 4
    write_partitions(empty, graph, partition(graph, 2, "random"), overwrite=True)
    assert read_manifest(empty)["k"] == 2


def test_check_output_dir_is_the_same_rule_up_front(setup, tmp_path):
    from partitioning import check_output_dir

    graph, parts, _, _, _ = setup
    assert check_output_dir(tmp_path / "new") == tmp_path / "new"
    out = write_partitions(tmp_path / "p", graph, parts)
    with pytest.raises(FileExistsError, match="pass overwrite=True"):
        check_output_dir(out)
    assert check_output_dir(out, overwrite=True) == out
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "metrics.jsonl").write_text("{}")
    with pytest.raises(FileExistsError, match="not a partition directory"):
        check_output_dir(tmp_path / "run", overwrite=True)
