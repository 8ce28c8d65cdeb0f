"""One timed propagation call in a fresh process, for :mod:`benchmarks.propagation_locality`.

Run as a script, not a module, so that ``PYTHONPATH`` decides which ``scalegnn`` it imports (the working tree or
a baseline revision's)::

    python benchmarks/_propagation_call.py '{"graph": DIR, "call": "gbp", "order": "degree", ...}'

It uses only arguments that every revision since the first ``gbp_exact`` has (``reorder`` only when the
order is not ``"default"``), times the call alone (the graph is read from ``DIR/edge_index.npy`` and
``DIR/x.npy`` before the clock starts) and prints one JSON line: wall and CPU seconds (and the kernel's share of them, with the minor page faults
of the call), peak RSS, the load
average around the call, and checksums of the result (float64 sum and sum of squares) that must agree across
orders and revisions.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch


def main() -> None:
    args = json.loads(sys.argv[1])
    torch.set_num_threads(args["threads"])
    ei = torch.from_numpy(np.load(os.path.join(args["graph"], "edge_index.npy")))
    x = torch.from_numpy(np.load(os.path.join(args["graph"], "x.npy")))
    import scalegnn
    from scalegnn.nn.gbp import gbp_exact
    from scalegnn.nn.sgc import sgc_precompute

    kwargs = {} if args["order"] == "default" else {"reorder": None if args["order"] == "none" else args["order"]}
    alpha, L = args["alpha"], args["L"]
    # personalized PageRank, truncated at L hops (scalegnn.nn.propagation_weights.ppr_weights)
    w = torch.tensor([alpha * (1 - alpha) ** ell for ell in range(L + 1)], dtype=torch.float64)
    load_before = os.getloadavg()[0]
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0, c0 = time.perf_counter(), time.process_time()
    if args["call"] == "gbp":
        out = gbp_exact(x, ei, w, r=args["r"], progress=False, **kwargs)
    else:
        out = sgc_precompute(x, ei, args["K"], progress=False, **kwargs)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    load_after = os.getloadavg()[0]
    out64 = out.double()
    print(json.dumps(dict(
        wall=wall, cpu=cpu, system=ru1.ru_stime - ru0.ru_stime, minor_faults=ru1.ru_minflt - ru0.ru_minflt,
        load_before=load_before, load_after=load_after,
        peak_rss_gb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        sum=float(out64.sum()), sumsq=float(out64.square().sum()),
        scalegnn=os.path.dirname(scalegnn.__file__),
    )), flush=True)


if __name__ == "__main__":
    main()
