"""The error boundary of every command-line entry point (``scalegnn`` and the example scripts).

A person who mistypes a flag, names a dataset that is not there or points
``--out`` at the wrong directory should read one line saying what is wrong
and how to fix it, not a traceback. :func:`run_main` calls a script's
``main(argv)`` and turns the exceptions that describe such mistakes into one
line on stderr and a non-zero exit status:

* exit 2 for a command line that cannot be used (:class:`UsageError`, raised by
  :class:`ArgumentParser` for bad flags and values);
* exit 1 for everything else (missing data, a run directory that holds a run,
  a damaged checkpoint, invalid settings, and unexpected errors, whose line
  says how to see the traceback);
* exit 130 after Ctrl-C, with a hint to ``--resume`` when a run directory is known.

``--debug`` (anywhere on the command line) or ``SCALEGNN_DEBUG=1`` re-raises
instead, so the full traceback is shown. The argument types below
(:func:`positive_int`, :func:`fraction`, ...) reject a value with a message
naming the allowed range, so ``--epochs 0`` or ``--dropout 1.5`` never reach
the training code, and a non-integer is never silently truncated.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Sequence, Type

__all__ = [
    "ArgumentParser",
    "UsageError",
    "debug_requested",
    "fraction",
    "nonnegative_float",
    "nonnegative_int",
    "positive_float",
    "positive_int",
    "run_main",
]

DEBUG_ENV = "SCALEGNN_DEBUG"


class UsageError(ValueError):
    """A command line that cannot be used as given (a bad flag, value or combination)."""


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors raise :class:`UsageError` (one line) instead of printing usage.

    It also accepts ``--debug`` (show tracebacks; see :func:`run_main`).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.add_help:
            self.add_argument("--debug", action="store_true",
                              help=f"show the full traceback on errors (or set {DEBUG_ENV}=1)")

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see {self.prog} --help)")


def _number(text: str, kind: type, flag_hint: str) -> Any:
    try:
        value = kind(text)
    except (TypeError, ValueError):
        raise argparse.ArgumentTypeError(f"{flag_hint}, got {text!r}") from None
    if kind is float and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{flag_hint}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer ``>= 1`` (``"1.5"`` and ``"0"`` are refused)."""
    value = _number(text, int, "expected an integer >= 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer ``>= 0``."""
    value = _number(text, int, "expected an integer >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number ``> 0``."""
    value = _number(text, float, "expected a number > 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def nonnegative_float(text: str) -> float:
    """A finite number ``>= 0``."""
    value = _number(text, float, "expected a number >= 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def fraction(text: str) -> float:
    """A number in ``[0, 1)`` (a dropout probability)."""
    value = _number(text, float, "expected a number in [0, 1)")
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def debug_requested(argv: Optional[Sequence[str]] = None) -> bool:
    """Whether ``--debug`` is in ``argv`` (default ``sys.argv``) or ``$SCALEGNN_DEBUG`` is set."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ.get(DEBUG_ENV, "").strip().lower()
    return "--debug" in argv or env in ("1", "true", "yes")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _user_error_types() -> tuple:
    from scalegnn.train.checkpoint import CheckpointError
    from scalegnn.train.run_dir import RunDirError

    # FileNotFoundError covers scalegnn.data.DatasetNotFoundError (its subclass)
    return (UsageError, RunDirError, CheckpointError, FileNotFoundError, NotADirectoryError, ValueError, TypeError,
            KeyError, FloatingPointError)


def run_main(main: Callable[[Optional[List[str]]], Any], argv: Optional[Sequence[str]] = None, *,
             prog: Optional[str] = None, hints: Optional[Dict[Type[BaseException], str]] = None,
             out_dir_flag: str = "--out") -> int:
    """Call ``main(argv)`` inside the error boundary; returns the exit status.

    Args:
        main: the script's ``main(argv)``; an ``int`` it returns is the exit
            status, anything else (a summary dict, ``None``) means success.
        argv: the arguments (default ``sys.argv[1:]``).
        prog: the name shown before the error line (default: the script's name).
        hints: extra advice appended to the line of a given exception type, e.g.
            ``{DatasetNotFoundError: "or run with --synthetic"}``.
        out_dir_flag: the flag naming the run directory, for the resume hint after Ctrl-C.

    Use as ``sys.exit(run_main(main))`` under ``if __name__ == "__main__":``.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    prog = prog or os.path.basename(sys.argv[0] or "scalegnn")
    if debug_requested(argv):
        result = main(argv)
        return result if isinstance(result, int) and not isinstance(result, bool) else 0
    try:
        result = main(argv)
    except KeyboardInterrupt:
        hint = ""
        if out_dir_flag in argv and argv.index(out_dir_flag) + 1 < len(argv):
            out = argv[argv.index(out_dir_flag) + 1]
            if os.path.isfile(os.path.join(out, "checkpoint.pt")):
                hint = f"; continue from the last checkpoint with {out_dir_flag} {out} --resume"
            elif os.path.isdir(out):
                hint = f"; no checkpoint was written yet: start again with {out_dir_flag} {out} --overwrite"
        print(f"{prog}: interrupted{hint}", file=sys.stderr)
        return 130
    except _user_error_types() as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        for kind, hint in (hints or {}).items():
            if isinstance(exc, kind):
                message = f"{message.rstrip('.')}; {hint}"
        print(f"{prog}: error: {_one_line(message)}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
    except MemoryError:
        print(f"{prog}: error: out of memory; try a smaller model, fewer nodes per batch or a machine with more "
              f"memory", file=sys.stderr)
        return 1
    except Exception as exc:  # a bug, not a user mistake: still one line, with the way to the traceback
        print(f"{prog}: internal error: {type(exc).__name__}: {_one_line(str(exc))[:500]} (rerun with --debug or "
              f"{DEBUG_ENV}=1 for the traceback)", file=sys.stderr)
        return 1
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
