"""The process's memory as the kernel reports it, for the benchmarks' memory columns."""
from __future__ import annotations


def proc_status_mb(key: str) -> float:
    """A field of ``/proc/self/status`` in MB: ``VmRSS`` (resident now), ``VmHWM`` (peak resident set).

    ``VmHWM`` rather than ``getrusage``'s ``ru_maxrss``: Linux keeps ``ru_maxrss`` across ``execve``, so a
    worker started by a big parent would report the parent's peak. ``nan`` where the file or field is missing.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:  # not Linux
        pass
    return float("nan")
