"""Deliver messages with Python's mailbox module from one long-running
process.

For an mbox it does what a program that keeps the mailbox open does: a
single mailbox.mbox for every delivery (so a single open file), and for each
message lock(), add(), flush(), unlock(). lock() takes an fcntl lock and then
a dotlock on the already open file. For a Maildir (a path ending in "/") it
calls mailbox.Maildir.add(), which writes the message to tmp/ and renames it
into new/.

Usage: mailbox_deliver.py PATH. Each request on stdin is a decimal length on
a line and that many bytes of message; each is answered "ok" on stdout once
the message is stored.
"""
import mailbox
import sys
import time


def deliver_mbox(box, msg):
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


def main():
    path = sys.argv[1]
    if path.endswith("/"):
        box = mailbox.Maildir(path, factory=None, create=False)
        deliver = box.add
    else:
        box = mailbox.mbox(path)
        deliver = lambda msg: deliver_mbox(box, msg)
    requests = sys.stdin.buffer
    while True:
        line = requests.readline()
        if not line:
            return
        deliver(requests.read(int(line)))
        sys.stdout.write("ok\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
