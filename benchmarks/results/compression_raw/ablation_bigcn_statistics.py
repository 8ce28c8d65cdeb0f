"""One-off ablation behind the binarized-GCN fix of 2026-12-02 (kept for provenance; not part of the benchmark).

Run as ``PYTHONPATH=. python benchmarks/results/compression_raw/ablation_bigcn_statistics.py VARIANTS SEEDS OUT.json``
from the repository root with
SCALEGNN_DATA set, e.g. ``qs,qsoff 0,1,2``. ``qsoff`` trains with exact batch statistics (what ``binary`` did
before commit fd5b548: the records in ablation_exact_train_stats.json, named ``base`` there, were made with that
code), ``qs`` with the statistics coded as the export stores them (ablation_coded_train_stats.json). Columns:
``acc_*`` evaluate with the stored (8-bit / 4-bit) statistics as an exported model does, ``exact_*`` with exact
statistics; ``*_valacc`` selects the epoch by validation accuracy (the benchmark), ``*_valloss`` by validation loss
(Bi-GCN's script). Each value is (test accuracy %, selected epoch).

Bi-GCN ablations on Cora: one training run per (variant, seed); per-epoch val/test under two selection rules
(best val acc, first max = the benchmark; best val loss, first min = Bi-GCN's script) and two inference-statistics
modes (stored 8/4-bit, exact)."""
import sys, json, time, math, os
import torch, torch.nn.functional as F
from benchmarks.compression import build, recipe
from scalegnn import compress
from scalegnn.compress.wrapper import compression_wrappers
from scalegnn.data import load_dataset
from scalegnn.train import seed_everything
torch.set_num_threads(1)
variants = sys.argv[1].split(",")
seeds = [int(s) for s in sys.argv[2].split(",")]
out_path = sys.argv[3]
ds = load_dataset("Cora", root=os.environ["SCALEGNN_DATA"])
data, split = ds.data, ds.split
idx = {k: (v.nonzero().view(-1) if v.dtype == torch.bool else v) for k, v in split.items()}
results = json.load(open(out_path)) if os.path.exists(out_path) else {}

def make(variant, seed):
    opts = variant.split("+")
    seed_everything(seed)
    config = "fp64" if "fp64" in opts else "binary"
    model = build("gcn", config, ds.num_features, ds.num_classes)
    hp = dict(recipe("gcn", config))
    if config == "binary":
        qs = "qsoff" not in opts
        compress.apply(model, {"method": "binarize", "normalize": "batch", "dropout": 0.4, "quantize_statistics": qs}, include="convs.0")
        compress.apply(model, {"method": "binarize", "normalize": "none", "dropout": 0.4, "quantize_statistics": qs}, include="convs.1")
    for o in opts:
        if o == "init":  # Bi-GCN's BinLinear init: N(0, 1/in), bias 0
            for name, w in compression_wrappers(model):
                for n in w.weight_names:
                    W = w.original(n)
                    with torch.no_grad():
                        W.normal_(0, math.sqrt(1.0 / W.shape[1]))
        elif o.startswith("lr"):
            hp["lr"] = float(o[2:])
        elif o.startswith("ep"):
            hp["epochs"] = int(o[2:])
        elif o.startswith("wd"):
            hp["weight_decay"] = float(o[2:])
    return model, hp

def evaluate(model):
    model.eval()
    with torch.no_grad():
        out = model(data.x, data.edge_index)
    r = {}
    for k in ("valid", "test"):
        i = idx[k]
        r[k[:4].replace("vali","val") + "_acc"] = float((out[i].argmax(1) == data.y[i]).float().mean())
        r[k[:4].replace("vali","val") + "_loss"] = float(F.cross_entropy(out[i], data.y[i]))
    return r

for variant in variants:
    for seed in seeds:
        key = f"{variant}|{seed}"
        if key in results:
            continue
        model, hp = make(variant, seed)
        sched = compress.CompressionScheduler(model, hp["epochs"]) if "fp64" not in variant else None
        opt = torch.optim.Adam(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
        bins = [m.binarizer for _, m in compression_wrappers(model) if getattr(m, "binarizer", None) is not None]
        hist = []
        t0 = time.perf_counter()
        for ep in range(hp["epochs"]):
            model.train(); opt.zero_grad()
            out = model(data.x, data.edge_index)
            loss = F.cross_entropy(out[idx["train"]], data.y[idx["train"]])
            loss.backward(); opt.step()
            if sched: sched.step()
            q = evaluate(model)
            for b in bins:
                if b.uses_statistics:
                    b.frozen_threshold, b.frozen_std = b.running_mean, b.running_std
            e = evaluate(model) if bins else q
            for b in bins:
                b.frozen_threshold = b.frozen_std = None
            hist.append((q["val_acc"], q["val_loss"], q["test_acc"], e["val_acc"], e["val_loss"], e["test_acc"]))
        secs = time.perf_counter() - t0
        def pick(col_val, mode, col_test):
            best, bi = None, 0
            for i, h in enumerate(hist):
                v = h[col_val]
                if best is None or (v > best if mode == "max" else v < best):
                    best, bi = v, i
            return 100 * hist[bi][col_test], bi + 1
        rec = {"acc_valacc": pick(0, "max", 2), "acc_valloss": pick(1, "min", 2),
               "exact_valacc": pick(3, "max", 5), "exact_valloss": pick(4, "min", 5),
               "final": 100 * hist[-1][2], "seconds": secs, "load": os.getloadavg()[0]}
        results[key] = rec
        print(key, rec, flush=True)
        json.dump(results, open(out_path, "w"), indent=1)

import statistics as st
for variant in variants:
    recs = [results[f"{variant}|{s}"] for s in seeds if f"{variant}|{s}" in results]
    line = [variant, f"n={len(recs)}"]
    for k in ("acc_valacc", "acc_valloss", "exact_valacc", "exact_valloss", "final"):
        vals = [r[k][0] if isinstance(r[k], (list, tuple)) else r[k] for r in recs]
        line.append(f"{k} {st.mean(vals):.2f}±{(st.stdev(vals) if len(vals) > 1 else 0):.2f}")
    print(" | ".join(line))
