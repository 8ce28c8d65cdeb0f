"""Rank body for the multi-process tests in ``test_distributed.py`` (spawned, not collected)."""
from __future__ import annotations

import os
import socket
import traceback
from pathlib import Path

import torch


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a test's rendezvous)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def train_configs(rank: int, world_size: int, port: int, configs: list, out_dir: str) -> None:
    """Train every config on this rank and save what the test compares to ``out_dir/rank{r}.pt``."""
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world_size), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    from scalegnn.distributed import (DistributedGNN, DistributedNodeTask, broadcast_parameters, init_distributed,
                                      load_local_graph)

    ctx = init_distributed(backend="gloo", timeout_s=60)
    results = {}
    try:
        for cfg in configs:
            graph = load_local_graph(ctx, cfg["dir"], dtype=cfg["dtype"], transport=cfg.get("transport", "p2p"))
            torch.manual_seed(cfg["seed"])
            model = DistributedGNN(cfg["model"], graph.x.shape[1], cfg["hidden"], cfg["classes"], cfg["layers"],
                                   dropout=cfg["dropout"], seed=cfg["seed"], heads=2,
                                   overlap=cfg.get("overlap", True)).to(cfg["dtype"])
            broadcast_parameters(model, ctx)
            optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
            task = DistributedNodeTask(ctx, graph)
            losses = [task.train_epoch(model, optimizer) for _ in range(cfg["epochs"])]
            stats = {key: dict(rec) for key, rec in graph.plan.stats.records.items()}
            grads = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
            metrics = task.evaluate(model)
            model.eval()
            with torch.no_grad():
                logits = model(graph)
            results[cfg["name"]] = {"losses": losses, "grads": grads, "logits": logits,
                                    "global_ids": graph.global_ids[:graph.num_owned].clone(), "stats": stats,
                                    "metrics": metrics, "num_local": graph.num_local,
                                    "tensor_shapes": _live_tensor_shapes()}
    except Exception:
        results["error"] = traceback.format_exc()
        raise
    finally:
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
        ctx.shutdown()


def _live_tensor_shapes() -> set:
    """The shapes of every dense tensor alive in this process (a global-size tensor would show here)."""
    import gc
    import warnings

    shapes = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        objects = gc.get_objects()
    for obj in objects:
        try:
            if isinstance(obj, torch.Tensor) and obj.layout == torch.strided:
                shapes.add(tuple(obj.shape))
        except Exception:  # noqa: BLE001 - objects that fail is_tensor probing
            continue
    return shapes
