"""Run a brain command and copy its three streams: stdin (frames from the shim), stdout (frames to the shim) and
stderr each go both to where they would have gone and to a file. Used as the shim's `command` option to capture
frames in end-to-end tests.

Usage: python tee_brain.py STDIN_COPY STDOUT_COPY STDERR_COPY -- COMMAND...
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from typing import BinaryIO

CHUNK = 65536


def _copy(source: BinaryIO, sink: BinaryIO, copy: BinaryIO, *, close: bool = False) -> None:
    while chunk := source.read1(CHUNK):  # type: ignore[attr-defined]
        copy.write(chunk)
        copy.flush()
        try:
            sink.write(chunk)
            sink.flush()
        except (BrokenPipeError, ValueError):
            pass
    if close:  # end of input is the brain's signal to exit
        try:
            sink.close()
        except (BrokenPipeError, ValueError):
            pass


def main(argv: list[str]) -> int:
    in_path, out_path, err_path, dash, *command = argv
    if dash != "--" or not command:
        raise SystemExit(__doc__)
    child = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda num, _frame: child.send_signal(num))
    with open(in_path, "ab") as in_copy, open(out_path, "ab") as out_copy, open(err_path, "ab") as err_copy:
        feed = threading.Thread(
            target=_copy, args=(sys.stdin.buffer, child.stdin, in_copy), kwargs={"close": True}, daemon=True
        )  # may block on our stdin after the child is gone
        pumps = [
            threading.Thread(target=_copy, args=(child.stdout, sys.stdout.buffer, out_copy)),
            threading.Thread(target=_copy, args=(child.stderr, sys.stderr.buffer, err_copy)),
        ]
        feed.start()
        for pump in pumps:
            pump.start()
        code = child.wait()
        for pump in pumps:
            pump.join()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
