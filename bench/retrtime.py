#!/usr/bin/env python3
"""Time RETR and TOP one by one, as a mail client does, with Python's poplib.

poplib leaves the socket as the kernel sets it up: Nagle on (it sends whole
lines anyway) and Linux's delayed ACKs, which is how most clients fetch mail.
Each command is timed from sending it to the end of its reply.

    retrtime.py gen N SIZE             # an mbox of N messages of about SIZE bytes, on stdout
    retrtime.py time HOST:PORT USER PASS [N]   # one session: RETR 1..N, TOP 1..N 5, QUIT

`time` prints one JSON object: the mean, median, minimum and maximum
milliseconds per RETR and per TOP, the bytes retrieved, and the session's total seconds.
"""

import json
import poplib
import statistics
import sys
import time


def gen(count, size):
    out = sys.stdout
    for i in range(1, count + 1):
        head = (
            f"From bench@example.org Thu Jan  1 00:00:00 2026\n"
            f"From: bench@example.org\nTo: user@example.org\n"
            f"Subject: message {i}\nMessage-ID: <{i}.bench@example.org>\n\n"
        )
        line = "The quick brown fox jumps over the lazy dog, again and again.\n"
        body = line * max(1, (size - len(head)) // len(line))
        out.write(head + body + "\n")


def summary(samples):
    return {
        "mean_ms": round(statistics.mean(samples) * 1000, 3),
        "median_ms": round(statistics.median(samples) * 1000, 3),
        "min_ms": round(min(samples) * 1000, 3),
        "max_ms": round(max(samples) * 1000, 3),
    }


def run(addr, user, password, count):
    host, port = addr.rsplit(":", 1)
    start = time.perf_counter()
    p = poplib.POP3(host, int(port), timeout=30)
    p.user(user)
    p.pass_(password)
    n, _ = p.stat()
    count = min(count, n)
    retr, top, nbytes = [], [], 0
    for i in range(1, count + 1):
        t = time.perf_counter()
        _, lines, octets = p.retr(i)
        retr.append(time.perf_counter() - t)
        nbytes += octets
    for i in range(1, count + 1):
        t = time.perf_counter()
        p.top(i, 5)
        top.append(time.perf_counter() - t)
    p.quit()
    return {
        "msgs": count,
        "retr": summary(retr),
        "top": summary(top),
        "retr_bytes": nbytes,
        "session_s": round(time.perf_counter() - start, 4),
    }


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]))
    elif len(sys.argv) in (5, 6) and sys.argv[1] == "time":
        count = int(sys.argv[5]) if len(sys.argv) == 6 else 50
        print(json.dumps(run(sys.argv[2], sys.argv[3], sys.argv[4], count)))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
