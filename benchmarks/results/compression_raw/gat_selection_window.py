"""GAT on Cora: test accuracy at the best validation epoch over the whole run and over epochs 51-200 only.

Usage (from the repository root): PYTHONPATH=. python benchmarks/results/compression_raw/gat_selection_window.py
10 fp,int4,mixed:5,q6/8,mixed:5@0.1 out.json  (q6/8: 6 / 8 bits from the start; @0.1: allocate_at=0.1).
"""
import json, sys, time, statistics, os
import torch
torch.set_num_threads(1)
from scalegnn import compress
from scalegnn.data import load_dataset
from scalegnn.train import NodeClassificationTask, Trainer, seed_everything
from benchmarks.compression import build, recipe, SelectWhenCompressed

ds = load_dataset("Cora", root=os.environ["SCALEGNN_DATA"])
configs = sys.argv[2].split(",")
out = {}
for seed in range(int(sys.argv[1])):
    for config in configs:
        seed_everything(seed)
        model = build("gat", "x", ds.num_features, ds.num_classes)
        hp = recipe("gat", "x")
        scheduler = None
        if config.startswith("q"):  # q6/8: uniform per-layer bits from the start
            b0, b1 = map(int, config[1:].split("/"))
            compress.apply(model, f"int{b0}", include="convs.0")
            compress.apply(model, f"int{b1}", include="convs.1")
            scheduler = compress.CompressionScheduler(model, hp["epochs"])
        elif config != "fp":
            spec = config.split("@")[0]
            at = float(config.split("@")[1]) if "@" in config else 0.25
            compress.apply(model, spec)
            scheduler = compress.CompressionScheduler(model, hp["epochs"], allocate_at=at)
        opt = torch.optim.Adam(model.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
        task = NodeClassificationTask(ds.data, ds.split)
        if scheduler is not None:
            task = SelectWhenCompressed(task, scheduler)
        res = Trainer(model, opt, task, epochs=hp["epochs"], progress=False, scheduler=scheduler,
                      checkpoint_every=10**9).fit()
        hist = [(h["epoch"], h.get("val_acc"), h.get("test_acc")) for h in res.history]
        late = [h for h in hist if h[0] > 50]
        bl = max(late, key=lambda h: h[1])
        rec = {"seed": seed, "acc": 100*res.best["test_acc"], "best_epoch": res.best_epoch,
               "acc_late": 100*bl[2], "epoch_late": bl[0],
               "bits": getattr(scheduler, "allocation", None) if scheduler else None}
        out.setdefault(config, []).append(rec)
        print(config, rec, flush=True)
for c, rs in out.items():
    a = [r["acc"] for r in rs]; l = [r["acc_late"] for r in rs]
    print(f"{c}: acc {statistics.mean(a):.2f} +- {statistics.stdev(a) if len(a)>1 else 0:.2f} | best-after-50 {statistics.mean(l):.2f} | epochs {[r['best_epoch'] for r in rs]}")
json.dump(out, open(sys.argv[3], "w"), indent=1)
