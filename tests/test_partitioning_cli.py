"""``python -m partitioning``: partition + write, and compare (table and PNG)."""
import json
import subprocess
import sys

import numpy as np
import pytest

from partitioning import communication_volume, read_partitions
from partitioning.readers import read_edge_list


def run(*args, check=True):
    return subprocess.run([sys.executable, "-m", "partitioning", *args], capture_output=True, text=True, check=check)


@pytest.fixture
def edge_file(tmp_path):
    rng = np.random.default_rng(0)
    edges = rng.integers(0, 300, size=(1500, 2))
    path = tmp_path / "edges.txt"
    np.savetxt(path, edges, fmt="%d")
    return path


@pytest.mark.parametrize("method", ["hypergraph", "refined-metis", "metis"])
def test_partition_writes_a_readable_directory(edge_file, tmp_path, method):
    out = tmp_path / "out"
    proc = run("--edges", str(edge_file), "--parts", "3", "--method", method, "--out", str(out), "--threads", "2")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    graph = read_edge_list(edge_file)
    parts = np.load(out / "parts.npy")
    assert summary["volume"] == communication_volume(graph, parts).total
    piece = read_partitions(out, 2, graph=graph, k=3)
    assert piece.manifest["method"] == method
    again = run("--edges", str(edge_file), "--parts", "3", "--out", str(out), check=False)
    assert again.returncode != 0 and "overwrite" in again.stderr


def test_synthetic_with_features(tmp_path):
    out = tmp_path / "syn"
    run("--dataset", "synthetic-2k-20k", "--parts", "2", "--method", "metis", "--out", str(out), "--with-features",
        "--num-features", "8")
    piece = read_partitions(out, 0)
    assert piece.features.shape == (piece.num_owned, 8) and piece.labels.shape == (piece.num_owned,)


def test_compare_prints_table_and_plots(edge_file, tmp_path):
    png = tmp_path / "v.png"
    proc = run("compare", "--edges", str(edge_file), "--parts", "2", "4", "--plot", str(png), "--threads", "2")
    lines = [l for l in proc.stdout.splitlines() if l.startswith("| ")]
    assert len(lines) == 1 + 2 * 6  # header + (k, method) rows: every method of METHODS
    assert png.stat().st_size > 1000 and png.read_bytes()[:4] == b"\x89PNG"


def test_bad_arguments_give_clear_errors(edge_file, tmp_path):
    proc = run("--edges", str(edge_file), "--parts", "0", "--out", str(tmp_path / "x"), check=False)
    assert proc.returncode != 0 and "k must be >= 1" in proc.stderr
    proc = run("--dataset", "Cora", "--root", str(tmp_path), "--parts", "2", "--out", str(tmp_path / "y"), check=False)
    assert proc.returncode != 0 and "not found" in proc.stderr


def test_big_hypergraph_runs_point_to_refined_metis(edge_file, tmp_path, monkeypatch, capsys):
    import partitioning.__main__ as cli

    monkeypatch.setattr(cli, "SLOW_HYPERGRAPH_EDGES", 100)  # the 300-vertex test graph counts as big
    assert cli.main_partition(["--edges", str(edge_file), "--parts", "2", "--out", str(tmp_path / "h"),
                               "--threads", "1"]) == 0
    assert "--method refined-metis" in capsys.readouterr().err
    assert cli.main_partition(["--edges", str(edge_file), "--parts", "2", "--method", "refined-metis",
                               "--out", str(tmp_path / "r"), "--threads", "1"]) == 0
    assert "refined-metis reaches" not in capsys.readouterr().err


def test_overwrite_refuses_a_non_partition_directory_before_partitioning(edge_file, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "metrics.jsonl").write_text('{"epoch": 1}\n')
    (run_dir / "checkpoint.pt").write_bytes(b"weights")
    proc = run("--edges", str(edge_file), "--parts", "2", "--out", str(run_dir), "--overwrite", check=False)
    assert proc.returncode == 2
    assert "not a partition directory" in proc.stderr and "Traceback" not in proc.stderr
    assert "[partition" not in proc.stderr  # refused up front, before any partitioning stage ran
    assert sorted(p.name for p in run_dir.iterdir()) == ["checkpoint.pt", "metrics.jsonl"]
    assert (run_dir / "metrics.jsonl").read_text() == '{"epoch": 1}\n'


def test_overwrite_replaces_a_partition_directory(edge_file, tmp_path):
    out = tmp_path / "p"
    run("--edges", str(edge_file), "--parts", "2", "--method", "metis", "--out", str(out))
    proc = run("--edges", str(edge_file), "--parts", "3", "--method", "metis", "--out", str(out), "--overwrite")
    assert json.loads(proc.stdout.splitlines()[-1])["k"] == 3
    assert read_partitions(out, 2).k == 3


def test_partition_reports_its_stages(edge_file, tmp_path):
    proc = run("--edges", str(edge_file), "--parts", "2", "--method", "refined-metis", "--out", str(tmp_path / "o"),
               "--threads", "1")
    stages = [line for line in proc.stderr.splitlines() if line.startswith("[partition")]
    assert any("METIS" in s for s in stages) and any("Mt-KaHyPar" in s for s in stages) and "done in" in stages[-1]


def test_non_deterministic_preset_is_announced(edge_file, tmp_path):
    proc = run("--edges", str(edge_file), "--parts", "2", "--preset", "default", "--threads", "2",
               "--out", str(tmp_path / "o"))
    assert "not reproducible" in proc.stderr


def test_same_seed_same_partition_and_repeatable_compare(edge_file, tmp_path):
    for i in (1, 2):
        run("--edges", str(edge_file), "--parts", "4", "--method", "hypergraph", "--seed", "0", "--threads", "2",
            "--out", str(tmp_path / f"h{i}"))
    np.testing.assert_array_equal(np.load(tmp_path / "h1" / "parts.npy"), np.load(tmp_path / "h2" / "parts.npy"))
    tables = []
    for i in (1, 2):
        path = tmp_path / f"c{i}.json"
        run("compare", "--edges", str(edge_file), "--parts", "2", "4", "--threads", "2", "--json", str(path))
        tables.append([{k: v for k, v in row.items() if k != "seconds"} for row in json.loads(path.read_text())])
    assert tables[0] == tables[1]


@pytest.mark.parametrize("name, message", [("Coraa", "Did you mean 'Cora'"), ("ogbn-arxiv", "OGB/ogbn_arxiv/raw"),
                                           ("PROTEINS", "TU/PROTEINS/raw/PROTEINS_A.txt")])
def test_dataset_names_give_one_line_errors(tmp_path, name, message):
    proc = run("--dataset", name, "--root", str(tmp_path), "--parts", "2", "--out", str(tmp_path / "o"), check=False)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["cora-bundled", "MUTAG", "USAir-txt", "BlogCatalog"])
def test_partition_accepts_listed_dataset_names(real_data_root, tmp_path, name):
    proc = run("--dataset", name, "--root", str(real_data_root), "--parts", "2", "--method", "metis",
               "--out", str(tmp_path / "o"))
    assert json.loads(proc.stdout.splitlines()[-1])["k"] == 2


def test_balanced_volume_from_the_command_line(edge_file, tmp_path):
    out = tmp_path / "b"
    proc = run("--edges", str(edge_file), "--parts", "3", "--method", "balanced-volume", "--core-fraction", "0.2",
               "--max-load-factor", "1.1", "--out", str(out), "--threads", "1")
    summary = json.loads(proc.stdout.splitlines()[-1])
    graph = read_edge_list(edge_file)
    cv = communication_volume(graph, np.load(out / "parts.npy"), 3)
    assert (summary["volume"], summary["max_per_part"], summary["max_send"], summary["max_recv"]) == (
        cv.total, cv.max_per_part, cv.max_send, cv.max_recv)
    extra = read_partitions(out, 0).manifest["extra"]
    assert extra["core_fraction"] == 0.2 and extra["target_max_per_part"] == pytest.approx(
        1.1 * extra["metis_max_per_part"])
    png = tmp_path / "parts.png"
    run("compare", "--edges", str(edge_file), "--parts", "2", "--methods", "metis", "balanced-volume",
        "--plot-parts", str(png), "--threads", "1")
    assert png.read_bytes()[:4] == b"\x89PNG"
