"""Out-of-core propagation: features read from disk/arrays in column blocks, results written to .npy.

The streamed paths must equal the in-memory ones (same kernels, same order of
operations per column), also under an enforced address-space cap that is
smaller than the feature file.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from scalegnn.nn.gbp import gbp_exact, gbp_precompute, transition_matrix
from scalegnn.nn.out_of_core import FeatureSource, ResultSink, block_budget, check_features, pipeline_kind
from scalegnn.nn.propagation_weights import ppr_weights
from scalegnn.nn.sgc import sgc_precompute


def graph(n=300, e=1500, seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, n, (2, e), generator=g)
    return torch.cat([ei, ei.flip(0)], 1)


@pytest.fixture
def data(tmp_path):
    torch.manual_seed(0)
    n = 300
    x = torch.randn(n, 13, dtype=torch.float64)
    np.save(tmp_path / "x.npy", x.numpy())
    np.save(tmp_path / "xf.npy", np.asfortranarray(x.numpy()))
    return graph(n), x, tmp_path


def sources(x, tmp_path):
    return {
        "npy path": str(tmp_path / "x.npy"),
        "fortran npy path": tmp_path / "xf.npy",
        "array": x.numpy().copy(),
        "memmap": np.load(tmp_path / "x.npy", mmap_mode="r"),
    }


def test_sgc_streamed_equals_in_memory(data):
    ei, x, tmp = data
    ref = sgc_precompute(x, ei, 3, reorder=None)
    for name, src in sources(x, tmp).items():
        got = sgc_precompute(src, ei, 3, chunk_size=4, reorder=None)
        assert torch.equal(got, ref), name
    path = sgc_precompute(tmp / "x.npy", ei, 3, chunk_size=5, out=tmp / "sgc.npy")
    assert path == tmp / "sgc.npy" and not (tmp / "sgc.npy.partial").exists()
    np.testing.assert_array_equal(np.load(path), ref.numpy())
    # in-memory features, result to disk
    path = sgc_precompute(x, ei, 2, out=tmp / "sgc2.npy")
    np.testing.assert_array_equal(np.load(path), sgc_precompute(x, ei, 2).numpy())


def test_gbp_exact_and_subset_streamed_equal_in_memory(data):
    ei, x, tmp = data
    w = ppr_weights(0.1, 6)
    ref = gbp_exact(x, ei, w, reorder=None)
    for name, src in sources(x, tmp).items():
        torch.testing.assert_close(gbp_exact(src, ei, w, chunk_size=3), ref, rtol=0, atol=1e-12, msg=name)
    np.testing.assert_allclose(np.load(gbp_exact(x, ei, w, out=tmp / "ex.npy", chunk_size=7)), ref.numpy(),
                               rtol=0, atol=1e-12)
    nodes = torch.arange(0, 300, 3)
    T = transition_matrix(ei, 300, dtype=torch.float64)
    est = gbp_precompute(x, T, w, rmax=1e-3, walks_per_node=5, nodes=nodes, chunk_size=4)
    for name, src in sources(x, tmp).items():
        got = gbp_precompute(src, T, w, rmax=1e-3, walks_per_node=5, nodes=nodes, chunk_size=4)
        assert torch.equal(got, est), name
    path = gbp_precompute(tmp / "x.npy", T, w, rmax=1e-3, walks_per_node=5, nodes=nodes, chunk_size=4,
                          out=tmp / "gbp.npy")
    np.testing.assert_array_equal(np.load(path), est.numpy())


def test_nan_in_a_later_block_is_named(data):
    ei, x, tmp = data
    bad = x.numpy().copy()
    bad[7, 11] = np.nan
    np.save(tmp / "bad.npy", bad)
    with pytest.raises(ValueError, match=r"NaN values \(first at index \[7, 11\]\)"):
        sgc_precompute(tmp / "bad.npy", ei, 2, chunk_size=4)
    with pytest.raises(ValueError, match="inf"):
        check_features(torch.tensor([[1.0, float("inf")]]))


@pytest.mark.parametrize("make, match", [
    (lambda t: np.zeros((300, 4), dtype=np.int32), "float32 or float64"),
    (lambda t: np.zeros((300, 4), dtype=np.float16), "float32 or float64"),
    (lambda t: np.zeros(300), r"\[num_nodes, channels\]"),
    (lambda t: np.zeros((299, 4)), "299"),
    (lambda t: str(t / "missing.npy"), "no such feature file"),
    (lambda t: (t / "not.npy").write_bytes(b"hello") and str(t / "not.npy"), "not an .npy file"),
    (lambda t: [[1.0]], "numpy array"),
])
def test_bad_feature_sources(data, make, match):
    ei, x, tmp = data
    with pytest.raises((ValueError, TypeError), match=match):
        sgc_precompute(make(tmp), ei, 2, num_nodes=300)


def test_wrong_shape_memmap_against_a_prebuilt_graph(data):
    ei, x, tmp = data
    T = transition_matrix(ei, 300, dtype=torch.float64)
    np.save(tmp / "short.npy", np.zeros((200, 4)))
    with pytest.raises(ValueError, match="300 nodes but x has 200 rows"):
        gbp_precompute(np.load(tmp / "short.npy", mmap_mode="r"), T, ppr_weights(0.1, 3))
    big = np.lib.format.open_memmap(tmp / "f16.npy", mode="w+", dtype=np.float16, shape=(300, 4))
    with pytest.raises(ValueError, match="float32 or float64 values, got dtype float16"):
        gbp_exact(big, ei, ppr_weights(0.1, 3))


def test_existing_result_path_and_bad_out(data):
    ei, x, tmp = data
    (tmp / "taken.npy").write_bytes(b"x")
    with pytest.raises(ValueError, match="already exists"):
        sgc_precompute(x, ei, 2, out=tmp / "taken.npy")
    with pytest.raises(ValueError, match="already exists"):
        gbp_exact(tmp / "x.npy", ei, ppr_weights(0.1, 2), out=str(tmp / "taken.npy"))
    with pytest.raises(ValueError, match="end in .npy"):
        sgc_precompute(x, ei, 2, out=tmp / "result.bin")
    with pytest.raises(ValueError, match="does not exist"):
        sgc_precompute(x, ei, 2, out=tmp / "nodir" / "r.npy")
    with pytest.raises(TypeError, match="path"):
        sgc_precompute(x, ei, 2, out=123)
    assert (tmp / "taken.npy").read_bytes() == b"x"  # never overwritten


def test_failed_run_leaves_no_partial_file(data):
    ei, x, tmp = data
    bad = x.numpy().copy()
    bad[-1, -1] = np.inf
    np.save(tmp / "bad.npy", bad)
    with pytest.raises(ValueError, match="inf"):
        sgc_precompute(tmp / "bad.npy", ei, 2, chunk_size=4, out=tmp / "r.npy")
    assert not (tmp / "r.npy").exists() and not (tmp / "r.npy.partial").exists()


def test_block_budget_sizes_and_errors():
    plan = block_budget(100, 1000, 4, 3, memory_budget=3 * 1000 * 4 * 10)
    assert [b.stop - b.start for b in plan.blocks] == [10] * 10
    with pytest.raises(ValueError, match="chunk_size must be a positive integer"):
        block_budget(10, 10, 4, 3, chunk_size=0)
    with pytest.raises(ValueError, match="memory_budget must be a positive"):
        block_budget(10, 10, 4, 3, memory_budget=-1)
    with pytest.raises(ValueError, match="one feature column needs"):
        block_budget(10, 10**6, 8, 3, memory_budget=1 << 20, streamed=True)


def test_progress_bar_counts_blocks_and_hops(data, capsys):
    ei, x, tmp = data
    sgc_precompute(tmp / "x.npy", ei, 3, chunk_size=5, progress=True)
    err = capsys.readouterr().err
    assert "sgc_precompute (blocks x hops)" in err and "/9 " in err  # 3 blocks x 3 hops


def test_pipeline_selection_on_cpu(data):
    ei, x, tmp = data
    assert pipeline_kind(FeatureSource(x), torch.device("cpu")) == "inplace"
    assert pipeline_kind(FeatureSource(tmp / "x.npy"), torch.device("cpu")) == "sequential"
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="cuda.is_available"):
            pipeline_kind(FeatureSource(x), torch.device("cuda"))
        with pytest.raises(ValueError, match="cuda.is_available"):
            sgc_precompute(tmp / "x.npy", ei, 2, device="cuda")
    sink = ResultSink((3, 2), torch.float32)
    assert sink.result().shape == (3, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_streaming_equals_cpu(data):  # pragma: no cover - GPU only
    ei, x, tmp = data
    ref = sgc_precompute(x, ei, 3, reorder=None)
    got = sgc_precompute(tmp / "x.npy", ei, 3, chunk_size=4, device="cuda")
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)
    w = ppr_weights(0.1, 4)
    torch.testing.assert_close(gbp_exact(x, ei, w, chunk_size=5, device="cuda"), gbp_exact(x, ei, w),
                               rtol=1e-12, atol=1e-12)


CAPPED = textwrap.dedent("""
    import json, resource, sys
    import numpy as np, torch
    torch.set_num_threads(1)
    from scalegnn.nn.sgc import sgc_precompute
    from scalegnn.nn.gbp import gbp_exact
    from scalegnn.nn.propagation_weights import ppr_weights
    args = json.loads(sys.argv[1])
    ei = torch.from_numpy(np.load(args["ei"]))
    w = ppr_weights(0.1, 3)
    # warm the kernels once on a tiny slice so that lazily loaded code is mapped before the cap
    sgc_precompute(torch.zeros(args["n"], 2, dtype=torch.float64), ei, 1)
    gbp_exact(torch.zeros(args["n"], 2, dtype=torch.float64), ei, w)
    vm = int([l for l in open("/proc/self/status") if l.startswith("VmSize")][0].split()[1]) * 1024
    cap = vm + args["allow"]
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        np.zeros(args["file_bytes"] // 8)  # the whole feature matrix cannot be allocated
        print("UNCAPPED"); sys.exit(1)
    except MemoryError:
        pass
    sgc_precompute(args["x"], ei, 2, out=args["out_sgc"])
    gbp_exact(args["x"], ei, w, out=args["out_gbp"])
    print("OK", cap - vm)
    try:  # a block that cannot fit the cap is refused up front
        sgc_precompute(args["x"], ei, 2, chunk_size=args["chunk"])
        print("NOERR")
    except ValueError as err:
        print("ERR", err)
""")


def run_capped(args):
    env = dict(os.environ, OMP_NUM_THREADS="1", MALLOC_ARENA_MAX="1")
    proc = subprocess.run([sys.executable, "-c", CAPPED, json.dumps(args)], capture_output=True, text=True,
                          env=env, timeout=300)
    return proc


def test_features_twice_the_memory_cap_equal_in_memory(tmp_path):
    """Features 2.5x larger than what the capped process may still allocate propagate exactly as in memory."""
    n, f = 8_000, 256  # 16 MB of float64 features
    ei = graph(n, 24_000, seed=1)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, f))
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "ei.npy", ei.numpy())
    allow = 6 << 20  # the computation may allocate 6 MiB: the features are 2.7x that
    args = dict(x=str(tmp_path / "x.npy"), ei=str(tmp_path / "ei.npy"), n=n, allow=allow, file_bytes=x.nbytes,
                out_sgc=str(tmp_path / "sgc.npy"), out_gbp=str(tmp_path / "gbp.npy"), chunk=f)
    assert x.nbytes >= 2 * allow
    proc = run_capped(args)
    assert proc.returncode == 0 and proc.stdout.startswith("OK"), proc.stdout + proc.stderr
    xt = torch.from_numpy(x)
    ref = sgc_precompute(xt, ei, 2)
    np.testing.assert_array_equal(np.load(tmp_path / "sgc.npy"), ref.numpy())
    np.testing.assert_allclose(np.load(tmp_path / "gbp.npy"), gbp_exact(xt, ei, ppr_weights(0.1, 3)).numpy(),
                               rtol=0, atol=1e-12)
    # a block that cannot fit the cap is refused up front with the numbers
    assert "ERR chunk_size=256 needs" in proc.stdout and "memory limit" in proc.stdout, proc.stdout
