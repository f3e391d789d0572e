#!/usr/bin/python3
"""A stand-in for systemd's notification socket, for tests.

usage: notify_listen.py SOCKET OUTPUT

Binds a Unix datagram socket at SOCKET (what NOTIFY_SOCKET names) and
appends every assignment a daemon sends (READY=1, STATUS=..., WATCHDOG=1...)
to OUTPUT as one line "SECONDS.MICRO ASSIGNMENT", flushed at once, so that a
shell test can wait for a line with grep. Runs until SIGTERM or SIGINT.
"""
import os
import signal
import socket
import sys
import time


def main():
    if len(sys.argv) != 3:
        sys.stderr.write(__doc__)
        return 64
    path, output = sys.argv[1], sys.argv[2]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with open(output, "a", buffering=1) as out:
        while True:
            data = sock.recv(65536)
            now = time.monotonic()
            # One datagram may carry several newline-separated assignments.
            for line in data.decode("utf-8", "replace").split("\n"):
                if line:
                    out.write("%.6f %s\n" % (now, line))


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
