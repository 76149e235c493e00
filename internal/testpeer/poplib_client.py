# Fetches a maildrop with Python's poplib and writes what it retrieved.
# Usage: poplib_client.py HOST PORT USER PASS keep|delete none|stls|implicit
#                         CAFILE STATEFILE OUTFILE
# An empty CAFILE accepts any server certificate.
# OUTFILE gets, per new message: "UIDL SIZE\n", SIZE body bytes, "\n".
# The body is the RETR data as sent (CRLF kept), with dot-stuffing undone.
import os
import poplib
import ssl
import sys

poplib._MAXLINE = 1 << 24  # the default 2048 rejects long lines

host, port, user, pw, mode, tls, cafile, statefile, outfile = sys.argv[1:]

ctx = None
if tls != "none" and cafile:
    ctx = ssl.create_default_context(cafile=cafile)
elif tls != "none":
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
if tls == "implicit":
    p = poplib.POP3_SSL(host, int(port), context=ctx, timeout=30)
else:
    p = poplib.POP3(host, int(port), timeout=30)
    if tls == "stls":
        p.stls(context=ctx)
p.user(user)
p.pass_(pw)

seen = set()
if os.path.exists(statefile):
    with open(statefile, "rb") as f:
        seen = set(f.read().split())

_, lines, _ = p.uidl()
with open(outfile, "wb") as out:
    for line in lines:
        num, uidl = line.split(b" ", 1)
        if mode == "keep" and uidl in seen:
            continue
        p._putcmd("RETR " + num.decode())
        p._getresp()
        body = bytearray()
        while True:
            raw = p.file.readline(poplib._MAXLINE + 1)
            if not raw:
                raise poplib.error_proto("connection closed in RETR")
            if raw == b".\r\n":
                break
            if raw.startswith(b"."):
                raw = raw[1:]
            body += raw
        out.write(b"%s %d\n" % (uidl, len(body)))
        out.write(body)
        out.write(b"\n")
        if mode == "delete":
            p.dele(num.decode())
        seen.add(uidl)
p.quit()

with open(statefile, "wb") as f:
    f.write(b"\n".join(sorted(seen)))
