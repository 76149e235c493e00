#!/usr/bin/env bash
# bench/popa3d.sh times RETR and TOP from the real popa3d, directly and
# through popgate, with a client that keeps Linux's delayed ACKs (Python's
# poplib, bench/retrtime.py): what a mail client sees in front of a legacy
# server that writes its replies in pieces with Nagle's algorithm on.
#
#   bench/popa3d.sh                               # direct and popgate (HEAD), 5 rounds
#   BEFORE=11bda51 bench/popa3d.sh                # and popgate built from another commit
#
# Knobs (environment):
#   ROUNDS=5        rounds; each runs one session per target, in a rotated order
#   MSGS=50         messages in the mailbox; a session retrieves each (RETR) and then TOP n 5 of each
#   SIZE=1024       approximate size of a message in bytes
#   TARGETS="direct popgate popgate-noquickack"   popgate-noquickack is popgate with quickack=false
#   BEFORE=COMMIT   also measure popgate built from COMMIT, or the popgate binary BEFORE names
#                   (target popgate-before)
#   SOURCE=head     build HEAD (git archive), another commit by name, or SOURCE=tree for the working tree
#   INSTALL=yes     install socat and popa3d if missing (default: stop and say how)
#   KEEP=yes        keep the work directory (logs, raw JSON)
#
# It runs as root: popa3d's users are system users. The user it creates and
# its mailbox in /var/mail are removed on exit; everything listens on 127.0.0.1.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-50}
SIZE=${SIZE:-1024}
TARGETS=${TARGETS:-"direct popgate popgate-noquickack"}
BEFORE=${BEFORE:-}
SOURCE=${SOURCE:-head}
INSTALL=${INSTALL:-no}
KEEP=${KEEP:-no}
[[ -n $BEFORE ]] && TARGETS="$TARGETS popgate-before"

repo=$(cd "$(dirname "$0")/.." && pwd)
py=/usr/bin/python3
[[ -x $py ]] || py=python3
work=$(mktemp -d /tmp/popa3dbench.XXXXXX)
mkdir -p "$work"/{bin,log,state,results}
USER_NAME=pgbench$$
PASSWORD=bench-$$
declare -A PID=() ADDR=()

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

cleanup() {
	local name
	for name in "${!PID[@]}"; do kill -TERM "${PID[$name]}" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if id "$USER_NAME" >/dev/null 2>&1; then userdel "$USER_NAME" 2>/dev/null || true; fi
	rm -f "/var/mail/$USER_NAME"
	if [[ $KEEP == yes ]]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

[[ $(id -u) == 0 ]] || die "run as root: popa3d logs in system users"

# --- popa3d and socat ----------------------------------------------------
POPA3D=
for p in /opt/popa3d/usr/sbin/popa3d /usr/sbin/popa3d; do [[ -x $p ]] && POPA3D=$p && break; done
if [[ -z $POPA3D || -z $(command -v socat) ]]; then
	[[ $INSTALL == yes ]] || die "needs socat and popa3d: INSTALL=yes $0, or see .ci/run"
	apt-get update -q >"$work/log/apt.out" 2>&1
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q socat >>"$work/log/apt.out" 2>&1
	if [[ -z $POPA3D ]]; then
		# popa3d conflicts with dovecot-pop3d in apt: take its binary only.
		(cd "$work" && apt-get download popa3d >>"$work/log/apt.out" 2>&1)
		mkdir -p /opt/popa3d
		dpkg-deb -x "$work"/popa3d_*.deb /opt/popa3d
		POPA3D=/opt/popa3d/usr/sbin/popa3d
	fi
fi

# What the Debian package's postinst creates (as internal/testpeer does).
getent passwd popa3d >/dev/null ||
	useradd --system --user-group --no-create-home --home-dir /var/lib/popa3d --shell /usr/sbin/nologin popa3d
mkdir -p /var/lib/popa3d /var/mail
[[ -e /etc/pam.d/popa3d ]] || printf '@include common-auth\n@include common-account\n' >/etc/pam.d/popa3d

useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$USER_NAME"
echo "$USER_NAME:$PASSWORD" | chpasswd
"$py" "$repo/bench/retrtime.py" gen "$MSGS" "$SIZE" >"/var/mail/$USER_NAME"
chown "$USER_NAME:mail" "/var/mail/$USER_NAME"
chmod 600 "/var/mail/$USER_NAME"

freeport() {
	"$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port NAME ADDR: until ADDR greets with +OK
	for _ in $(seq 100); do
		if "$py" -c '
import socket, sys
h, p = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((h, int(p)), timeout=1)
s.settimeout(2)
sys.exit(0 if s.recv(64).startswith(b"+OK") else 1)' "$2" 2>/dev/null; then return 0; fi
		sleep 0.2
	done
	tail -20 "$work/log/$1.out" >&2 || true
	die "$1 did not come up on $2"
}

# --- build ---------------------------------------------------------------
build() { # build REV DIR
	local rev=$1 dir=$2 src=$repo
	if [[ $rev != tree ]]; then
		src=$work/src-$rev
		mkdir -p "$src"
		git -C "$repo" archive --format=tar "$rev" | tar -x -C "$src"
	fi
	mkdir -p "$dir"
	(cd "$src" && go build -trimpath -o "$dir/" ./cmd/popgate)
}
rev=HEAD
[[ $SOURCE == head ]] || rev=$SOURCE
NOW=$(git -C "$repo" rev-parse --short HEAD)
[[ $rev == tree ]] && NOW="$NOW + working tree" || NOW=$(git -C "$repo" rev-parse --short "$rev")
say "building popgate ($NOW)"
build "$rev" "$work/bin/now"
THEN=
if [[ -f $BEFORE && -x $BEFORE ]]; then
	THEN=$BEFORE
	mkdir -p "$work/bin/before" && cp "$BEFORE" "$work/bin/before/popgate"
elif [[ -n $BEFORE ]]; then
	THEN=$(git -C "$repo" rev-parse --short "$BEFORE")
	say "building popgate ($THEN)"
	build "$BEFORE" "$work/bin/before"
fi

# --- servers -------------------------------------------------------------
port=$(freeport)
# nofork: popa3d gets the TCP socket itself as stdin and stdout, as under
# inetd; without it socat would relay through a socketpair and merge
# popa3d's writes at random.
setsid socat "TCP-LISTEN:$port,bind=127.0.0.1,reuseaddr,fork" "EXEC:$POPA3D,nofork" >"$work/log/popa3d.out" 2>&1 </dev/null &
PID[popa3d]=$!
BACKEND=127.0.0.1:$port
ADDR[direct]=$BACKEND
wait_port popa3d "$BACKEND"

start_popgate() { # start_popgate NAME BINARY BACKEND_URL
	local name=$1 port
	port=$(freeport)
	mkdir -p "$work/state/$name"
	setsid env -i PATH="$PATH" \
		POPGATE_LISTEN="127.0.0.1:$port" POPGATE_BACKENDS="legacy=$3" POPGATE_DEFAULT_BACKEND=legacy \
		POPGATE_DATA_DIR="$work/state/$name" POPGATE_ADMIN_LISTEN=off POPGATE_HOSTNAME=pop.bench \
		"$2" >"$work/log/$name.out" 2>&1 </dev/null &
	PID[$name]=$!
	ADDR[$name]=127.0.0.1:$port
	wait_port "$name" "${ADDR[$name]}"
}
for t in $TARGETS; do
	case $t in
	direct) ;;
	popgate) start_popgate popgate "$work/bin/now/popgate" "pop3://$BACKEND" ;;
	popgate-noquickack) start_popgate "$t" "$work/bin/now/popgate" "pop3://$BACKEND?quickack=false" ;;
	popgate-before) start_popgate "$t" "$work/bin/before/popgate" "pop3://$BACKEND" ;;
	*) die "unknown target $t" ;;
	esac
done

# --- runs ----------------------------------------------------------------
read -r -a order <<<"$TARGETS"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for t in "${order[@]}"; do # one session each first: popgate learns the UIDLs
	"$py" "$repo/bench/retrtime.py" time "${ADDR[$t]}" "$USER_NAME" "$PASSWORD" 1 >/dev/null
done
for ((r = 0; r < ROUNDS; r++)); do
	for ((i = 0; i < ${#order[@]}; i++)); do
		t=${order[$(((i + r) % ${#order[@]}))]}
		say "round $((r + 1))/$ROUNDS: $t"
		"$py" "$repo/bench/retrtime.py" time "${ADDR[$t]}" "$USER_NAME" "$PASSWORD" "$MSGS" >>"$work/results/$t.json"
	done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report --------------------------------------------------------------
echo "popgate $NOW${THEN:+ (popgate-before: $THEN)}, $("$POPA3D" -V 2>&1 | head -1), Linux $(uname -r), $(nproc) CPUs"
echo
"$py" - "$work" "$ROUNDS" "$MSGS" "$SIZE" "$load_before" "$load_after" $TARGETS <<'PY'
import json, os, statistics, sys
work, rounds, msgs, size, lb, la, targets = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7:]

def runs(t):
    with open(os.path.join(work, "results", t + ".json")) as f:
        return [json.loads(l) for l in f if l.strip()]

def durations(t):
    # duration_ms of the session lines of the timed sessions (the first,
    # warming session retrieved one message)
    path = os.path.join(work, "log", t + ".out")
    if not os.path.exists(path):
        return []
    out = []
    with open(path) as f:
        for l in f:
            if '"duration_ms"' not in l:
                continue
            rec = json.loads(l)
            if rec.get("retr_msgs", 0) == 2 * int(msgs):  # RETR and TOP both count
                out.append(rec["duration_ms"])
    return out

def med_range(xs, fmt="{:.2f}"):
    if not xs:
        return "–", "–"
    return fmt.format(statistics.median(xs)), (fmt + "–" + fmt).format(min(xs), max(xs))

print(f"{rounds} rounds, {msgs} messages of about {size} bytes, one session per target per round "
      f"(RETR of each, then TOP n 5 of each); load average before / after: {lb} / {la}\n")
print("| target | ms per RETR | range | ms per TOP | range | session s | session line duration_ms | RETR, TOP vs direct |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
base = {}
for t in targets:
    rs = runs(t)
    retr = [r["retr"]["mean_ms"] for r in rs]
    top = [r["top"]["mean_ms"] for r in rs]
    sess = [r["session_s"] for r in rs]
    if t == "direct":
        base = {"retr": statistics.median(retr), "top": statistics.median(top)}
    ratio = "–"
    if base:
        ratio = f"{statistics.median(retr) / base['retr']:.3f}, {statistics.median(top) / base['top']:.3f}"
    r, rr = med_range(retr)
    p, pr = med_range(top)
    s, _ = med_range(sess, "{:.3f}")
    d, dr = med_range(durations(t), "{:.0f}")
    dur = d if d == "–" else f"{d} ({dr})"
    print(f"| {t} | {r} | {rr} | {p} | {pr} | {s} | {dur} | {ratio} |")
print("\nms per RETR and per TOP: each session's mean, median over the sessions; range over the sessions.")
PY
