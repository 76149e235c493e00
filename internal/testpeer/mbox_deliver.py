"""Deliver messages into one mbox the way a program that keeps the mailbox
open does: a single mailbox.mbox for every delivery (so a single open file),
and for each message lock(), add(), flush(), unlock(). lock() takes an fcntl
lock and then a dotlock on the already open file.

Usage: mbox_deliver.py SPOOL. Each request on stdin is a decimal length on a
line and that many bytes of message; each is answered "ok" on stdout once
the message is written, synced and unlocked.
"""
import mailbox
import sys
import time


def main():
    box = mailbox.mbox(sys.argv[1])
    requests = sys.stdin.buffer
    while True:
        line = requests.readline()
        if not line:
            return
        msg = requests.read(int(line))
        # mailbox's lock() fails at once when either lock is held: retry.
        while True:
            try:
                box.lock()
                break
            except mailbox.ExternalClashError:
                time.sleep(0.002)
        try:
            box.add(msg)
            box.flush()
        finally:
            box.unlock()
        sys.stdout.write("ok\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
