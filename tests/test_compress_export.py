"""compress.apply / export / load / summary / mixed precision / Degree-Quant."""
import numpy as np
import pytest
import torch
from torch_geometric.nn import GCNConv, SAGEConv
from torch_geometric.nn.models import GAT, GCN, GIN

from scalegnn import compress
from scalegnn.compress import CompressionScheduler, Quantized, allocate_bits
from scalegnn.compress.degree_quant import in_degree, protection_mask, protection_probabilities
from scalegnn.compress.packing import pack_bits, packed_size, sparse_layout, sparse_restore, unpack_bits
from scalegnn.data import load_dataset
from scalegnn.nn import SGC
from scalegnn.train import NodeClassificationTask, Trainer

N, F = 40, 64


def graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(N, F, generator=g), torch.randint(0, N, (2, 200), generator=g)


def models():
    return {
        "gcn": lambda: GCN(F, 32, 2, 5),
        "sage": lambda: torch.nn.ModuleList([SAGEConv(F, 32), SAGEConv(32, 5)]),
        "gat": lambda: GAT(F, 32, 2, 5, heads=4),
        "gin": lambda: GIN(F, 32, 2, 5),
    }


def run(model, x, ei):
    if isinstance(model, torch.nn.ModuleList):
        return model[1](model[0](x, ei).relu(), ei)
    return model(x, ei)


@pytest.mark.parametrize("spec", ["int8", "int4", "int3", "int2", "binary", "prune:0.9:one_shot",
                                  "channels:0.5:one_shot", "mixed:5"])
@pytest.mark.parametrize("arch", ["gcn", "sage", "gat", "gin"])
def test_export_then_load_gives_identical_outputs(tmp_path, arch, spec):
    if arch == "gin" and spec == "binary":
        spec = {"method": "binarize", "activations": False}  # GIN's MLP has no in_channels attribute
    x, ei = graph()
    torch.manual_seed(0)
    model = compress.apply(models()[arch](), spec)
    if spec == "mixed:5":
        allocate_bits(model, 5)
    model.train()
    run(model, x, ei)  # set activation statistics
    model.eval()
    expected = run(model, x, ei)
    report = compress.export(model, tmp_path / "m.sgc")
    assert report.bytes == (tmp_path / "m.sgc").stat().st_size
    assert report.float32_bytes == compress.float32_bytes(models()[arch]())
    torch.manual_seed(123)  # a differently initialized plain model
    restored = compress.load(tmp_path / "m.sgc", models()[arch]())
    assert torch.equal(run(restored, x, ei), expected)


def test_exported_sizes_shrink_as_promised(tmp_path):
    torch.manual_seed(0)
    sizes = {}
    for spec in ("int8", "int4", "prune:0.9:one_shot"):
        model = compress.apply(torch.nn.Sequential(torch.nn.Linear(512, 256), torch.nn.ReLU(),
                                                   torch.nn.Linear(256, 64)), spec)
        sizes[spec] = compress.export(model, tmp_path / "m.sgc").ratio
    model = compress.apply(torch.nn.Sequential(torch.nn.Linear(512, 256, bias=False)), "binary")
    sizes["binary"] = compress.export(model, tmp_path / "m.sgc").ratio
    assert sizes["int8"] >= 3.9
    assert sizes["int4"] >= 7.0
    assert sizes["binary"] >= 25
    assert sizes["prune:0.9:one_shot"] >= 5


def test_load_rejects_a_different_model(tmp_path):
    model = compress.apply(GCN(F, 32, 2, 5), "int8")
    compress.export(model, tmp_path / "m.sgc")
    with pytest.raises(ValueError):
        compress.load(tmp_path / "m.sgc", GCN(F, 16, 2, 5))
    (tmp_path / "bad.sgc").write_bytes(b"not a model")
    with pytest.raises(ValueError, match="magic"):
        compress.load(tmp_path / "bad.sgc", GCN(F, 32, 2, 5))


def test_bit_packing_and_sparse_layouts_roundtrip():
    rng = np.random.default_rng(0)
    for bits in range(1, 9):
        codes = rng.integers(0, 2 ** bits, 1001)
        buf = pack_bits(codes, bits)
        assert len(buf) == packed_size(1001, bits)
        assert np.array_equal(unpack_bits(buf, bits, 1001), codes)
    for density in (0.5, 0.1, 0.005):
        m = rng.standard_normal((30, 300)).astype(np.float32)
        m[rng.random(m.shape) > density] = 0
        layout, parts = sparse_layout(m)
        assert layout == ("csr" if density < 0.01 else "bitmask")
        assert np.array_equal(sparse_restore(layout, parts, m.shape, np.float32), m)


def test_apply_targets_outermost_layers_by_type_and_pattern():
    model = compress.apply(GCN(F, 32, 2, 5), "int8")
    wrapped = [n for n, _ in compress.compression_wrappers(model)]
    assert wrapped == ["convs.0", "convs.1"]
    model = compress.apply(GCN(F, 32, 2, 5), "prune:0.5", include="convs.1")
    assert [n for n, _ in compress.compression_wrappers(model)] == ["convs.1"]
    model = compress.apply(GAT(F, 32, 2, 5, heads=4), "heads:0.5")
    assert all(w.structured == "head" for _, w in compress.compression_wrappers(model))
    model = compress.apply(GCN(F, 32, 2, 5), "int4", exclude="convs.0")
    assert [n for n, _ in compress.compression_wrappers(model)] == ["convs.1"]
    layer = compress.apply(torch.nn.Linear(3, 3), "binary")
    assert isinstance(layer, compress.Binarized)
    sgc = compress.apply(SGC(F, 5), "int8")  # this project's SGC head
    assert [n for n, _ in compress.compression_wrappers(sgc)] == ["lin"]
    x = torch.randn(N, F)
    assert sgc(x).shape == (N, 5)


def test_apply_on_revgnn_inner_layers_trains_through_reversible_recomputation():
    from scalegnn.nn import GCNLayer, RevGNN

    x, ei = graph()
    torch.manual_seed(0)
    model = RevGNN(F, 16, 3, num_layers=2, memory_saving=True)
    compress.apply(model, "prune:0.5:one_shot", include=GCNLayer)
    assert len(list(compress.compression_wrappers(model))) == 4  # 2 blocks x 2 groups
    twin = RevGNN(F, 16, 3, num_layers=2, memory_saving=False)
    compress.apply(twin, "prune:0.5:one_shot", include=GCNLayer)
    twin.load_state_dict(model.state_dict())
    model.train(), twin.train()
    torch.manual_seed(1)
    model(x, ei).sum().backward()
    torch.manual_seed(1)
    twin(x, ei).sum().backward()
    for (n, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        torch.testing.assert_close(a.grad, b.grad, msg=n)


@pytest.mark.parametrize("spec, match", [
    ("int0", "bits must be in 1..8"), ("int9", "bits must be in 1..8"), ("prune:1.0", r"\[0, 1\)"),
    ("prune:-0.2", r"\[0, 1\)"), ("prune:x", "bad sparsity"), ("zip", "unknown compression spec"),
    ("mixed:1", "budget"), ("prune:0.5:weekly", "unknown schedule")])
def test_bad_specs_fail_clearly(spec, match):
    with pytest.raises(ValueError, match=match):
        compress.apply(GCN(F, 32, 2, 5), spec)


def test_pattern_matching_nothing_and_weightless_targets_fail():
    with pytest.raises(ValueError, match="matched no layer"):
        compress.apply(GCN(F, 32, 2, 5), "int8", include="decoder.*")
    with pytest.raises(ValueError, match="matched no layer"):
        compress.apply(torch.nn.Sequential(torch.nn.ReLU()), "int8")
    with pytest.raises(ValueError, match="no weight matrices"):
        compress.apply(torch.nn.Sequential(torch.nn.ReLU()), "int8", include=torch.nn.ReLU)
    with pytest.raises(TypeError):
        compress.apply(GCN(F, 32, 2, 5), 8)


def test_summary_reports_bits_sparsity_and_bytes():
    model = compress.apply(GCN(F, 32, 2, 5), "int4")
    rows = compress.summary_rows(model)
    assert [r["bits"] for r in rows] == [4, 4]
    assert rows[0]["bytes"] == F * 32 * 4 // 8 + 4 * 32
    text = compress.summary(model)
    assert "convs.0" in text and "total" in text


def test_degree_quant_protection_probabilities_follow_degree_rank():
    deg = torch.tensor([5, 1, 3, 3, 10])
    p = protection_probabilities(deg, 0.0, 0.4)
    torch.testing.assert_close(p, torch.tensor([0.3, 0.0, 0.1, 0.2, 0.4]))
    ei = torch.tensor([[0, 1, 2, 0], [1, 1, 2, 3]])
    assert torch.equal(in_degree(ei, 4), torch.tensor([0, 2, 1, 1]))
    adj = torch.sparse_coo_tensor(ei.flip(0), torch.ones(4), (4, 4), check_invariants=True).to_sparse_csr()
    assert torch.equal(in_degree(adj, 4), torch.tensor([0, 2, 1, 1]))
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([protection_mask(torch.arange(1000), 0.0, 0.5, g) for _ in range(20)]).float().mean(0)
    assert draws[:100].mean() < 0.05 and draws[-100:].mean() > 0.4


def test_protected_nodes_stay_full_precision_in_training_only():
    x, ei = graph()
    torch.manual_seed(0)
    conv = GCNConv(F, 8)
    q = Quantized(conv, 2, p_min=1.0, p_max=1.0)  # every node protected
    q.train()
    with torch.no_grad():
        out = q(x, ei)
        q.compression_enabled = False
        ref_input = x
        q.compression_enabled = True
        # weights are still quantized; inputs are not
        expected = conv(ref_input, ei)
    assert torch.equal(out, expected)
    q.eval()
    assert not torch.equal(q(x, ei), expected)


def test_mixed_precision_spends_bits_on_sensitive_layers_within_budget():
    torch.manual_seed(0)
    model = compress.apply(torch.nn.Sequential(torch.nn.Linear(256, 64), torch.nn.Linear(64, 64),
                                               torch.nn.Linear(64, 8)), "mixed:5")
    layers = dict(compress.compression_wrappers(model))
    for name, dual in (("0", 0.0), ("1", 5.0), ("2", 0.1)):
        layers[name].dual.fill_(dual)
        layers[name].distance.fill_(0.05)
    bits = allocate_bits(model, 5)
    assert bits["1"] >= bits["2"] >= bits["0"]
    used = sum(w.original(n).numel() * bits[k] / 8 + 4 * w.original(n).shape[0]
               for k, w in layers.items() for n in w.weight_names)
    fp32 = sum(w.original(n).numel() * 4 for w in layers.values() for n in w.weight_names)
    assert used <= fp32 / 5
    with pytest.raises(ValueError, match="too tight"):
        allocate_bits(model, 30)


def test_mixed_precision_allocation_is_the_exact_optimum_under_the_budget():
    """A large and a small layer (a 2-layer GCN's shape): at uniform INT4's own byte budget the allocation
    must be the best estimated loss among all bit pairs that fit - a greedy bytes-ratio rule spends the
    budget on the small layer first and ends at 3 / 8 bits although 4 / 4 fits."""
    import itertools

    from scalegnn.compress.mixed_precision import DEFAULT_BIT_CHOICES, layer_bytes

    torch.manual_seed(0)
    model = compress.apply(torch.nn.Sequential(torch.nn.Linear(1433, 16), torch.nn.Linear(16, 7)), "mixed:5")
    layers = dict(compress.compression_wrappers(model))
    fp32 = sum(w.original(n).numel() * 4 for w in layers.values() for n in w.weight_names)
    int4 = sum(layer_bytes(w, 4) for w in layers.values())
    g = torch.Generator().manual_seed(1)
    for trial in range(20):
        duals = [1.0, 1.0] if trial == 0 else torch.rand(2, generator=g).mul(10).tolist()
        for w, dual in zip(layers.values(), duals):
            w.bits, w.track_sensitivity = 4, True
            w.dual.fill_(dual)
            w.distance.fill_(0.05)
        budget = fp32 / int4 if trial < 10 else float(torch.empty(()).uniform_(4.5, 12.0, generator=g))
        sens = [(d + 1e-6) * 0.05 * 4.0 ** 4 for d in duals]
        bits = allocate_bits(model, budget)
        chosen = [bits[k] for k in layers]
        fits = [c for c in itertools.product(DEFAULT_BIT_CHOICES, repeat=2)
                if sum(layer_bytes(w, b) for w, b in zip(layers.values(), c)) <= fp32 / budget * (1 + 1e-9)]
        best = min(sum(s * 4.0 ** -b for s, b in zip(sens, c)) for c in fits)
        assert tuple(chosen) in fits
        assert sum(s * 4.0 ** -b for s, b in zip(sens, chosen)) <= best * (1 + 1e-12)
        if trial == 0:
            assert chosen == [4, 4]  # equal sensitivities at INT4's size: uniform 4 bits, not 3 / 8


def test_quantized_and_mixed_models_train_with_the_shared_trainer():
    ds = load_dataset()
    for spec in ("int4", "mixed:5"):
        torch.manual_seed(0)
        model = compress.apply(GCN(ds.num_features, 16, 2, ds.num_classes), spec)
        sched = CompressionScheduler(model, total_steps=12)
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        result = Trainer(model, opt, NodeClassificationTask(ds.data, ds.split), epochs=12, progress=False,
                         scheduler=sched).fit()
        losses = [h["loss"] for h in result.history]
        assert losses[-1] < losses[0] - 0.3
        assert result.best["val_acc"] > 0.5
        if spec == "mixed:5":
            assert sched.allocation is not None
            duals = [float(w.dual) for _, w in compress.compression_wrappers(model)]
            assert any(d > 0 for d in duals)


@pytest.mark.parametrize("spec", ["prune:0.5", "int4", "binary"])
def test_example_script_trains_exports_and_reloads(tmp_path, spec, capsys):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "examples" / "compress_planetoid.py"
    module_spec = importlib.util.spec_from_file_location("compress_planetoid", path)
    example = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(example)
    acc = example.main(["--epochs", "5", "--compress", spec, "--out", str(tmp_path)])
    assert 0.0 <= acc <= 1.0
    out = capsys.readouterr().out
    assert "identical outputs: True" in out and (tmp_path / "model.sgc").exists()
