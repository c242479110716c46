"""Kill an aggregator now and then while a load test runs against it.

    python -m benchmarks.aggregator_chaos --kills 3 --every 5 -- \\
        gridwatch aggregator run --bind tcp://127.0.0.1:5555 --db URL --metrics-port 0

Runs the command after ``--``; every ``--every`` seconds (the first time after
``--first``) it SIGKILLs it (no graceful stop: open batches are lost, acks unsent) and
starts it again at once, ``--kills`` times; then it leaves the last one running until it
is itself stopped (SIGTERM or SIGINT, passed on as SIGTERM: a graceful stop). Each kill is
printed as a JSON line (``{"kill": 1, "at": ..., "pid": ...}``). This is how the
benchmarks README's ``bench aggregator --connect`` figures with kills are made.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from types import FrameType


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.aggregator_chaos")
    parser.add_argument("--kills", type=int, default=3, help="How many SIGKILLs.")
    parser.add_argument("--every", type=float, default=5.0, help="Seconds between kills.")
    parser.add_argument("--first", type=float, default=None, help="First kill after (s).")
    parser.add_argument("--log", default=None, help="Append the command's output here.")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND ...")
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("give the aggregator command after --")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    out = open(args.log, "ab") if args.log else None  # noqa: SIM115 - closed below
    try:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
        wait = args.first if args.first is not None else args.every
        for kill in range(1, args.kills + 1):
            if stop.wait(wait):
                break
            proc.kill()
            proc.wait()
            print(json.dumps({"kill": kill, "at": time.time(), "pid": proc.pid}), flush=True)
            proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
            wait = args.every
        stop.wait()
        proc.terminate()
        try:
            return 0 if proc.wait(30) in (0, -signal.SIGTERM) else 1
        except subprocess.TimeoutExpired:
            proc.kill()
            return 1
    finally:
        if out is not None:
            out.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
