#!/usr/bin/env bash
# bench/run.sh measures popgate side by side with Dovecot served directly,
# HAProxy (mode tcp), Dovecot's login proxy, nginx's mail proxy and perdition,
# all relaying to one private Dovecot on 127.0.0.1, and writes the results to
# the "Relay performance" section of docs/benchmarks.md.
#
#   bench/run.sh                                  # everything, about 12 minutes
#   ROUNDS=3 DURATION=2s CASES="A C" bench/run.sh # a quick look
#
# Knobs (environment):
#   ROUNDS=5          rounds; each round runs every target once per case, in a rotated order
#   DURATION=4s       length of one load run
#   CASES="A B C D E E-ec E-resume F"
#                     A: 20 x 4 KB, RETR all, 8 clients; B: A with a client that ACKs at once
#                     (TCP_QUICKACK), which spares relays that write with Nagle on; C: login, STAT, QUIT;
#                     D: 8 x 256 KB, RETR all, 4 clients (MB/s);
#                     E: case A over implicit TLS with an RSA 2048 certificate, a full handshake per session;
#                     E-ec: the same with an ECDSA P-256 certificate;
#                     E-resume, E-ec-resume: E and E-ec with clients that resume their TLS sessions;
#                     F: memory of idle authenticated sessions; L (not by default): case C with one
#                     client, for login latency on a machine that is not saturated
#   TARGETS="direct popgate popgate-relay popgate-1p haproxy dovecot-proxy nginx perdition"
#                     (add popgate-redis for popgate with a Redis store, popgate-noquickack for
#                     popgate with quickack=false on its backend, popgate-nopool for popgate
#                     without its pool of greeted backend connections, popgate-base with BASE,
#                     proto-splice proto-copy proto-gnet for bench/relayproto)
#   IDLE_SESSIONS="1000 10000"  session counts of case F (capped by the descriptor limit)
#   IDLE_WAIT=60      seconds case F waits for all sessions; a slower relay is measured on those it holds
#   OUT=docs/benchmarks.md      file whose "## Relay performance" section is rewritten; OUT=- prints it
#   INSTALL=yes       install missing Debian packages with apt-get (default: stop and say which)
#   KEEP=yes          keep the work directory (configurations, logs, raw JSON)
#   SOURCE=head       build the committed tree (git archive HEAD), or any other commit given by name;
#                     SOURCE=tree builds the working tree
#   BASE=COMMIT       also build popgate from COMMIT as the target popgate-base (before/after in one run)
#
# bench/popa3d.sh measures RETR and TOP in front of the real popa3d instead,
# with a client that keeps delayed ACKs (see there).
#
# Everything listens on 127.0.0.1 only, every process is stopped on exit, and
# every wait is bounded.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4s}
CASES=${CASES:-"A B C D E E-ec E-resume F"}
TARGETS=${TARGETS:-"direct popgate popgate-relay popgate-1p haproxy dovecot-proxy nginx perdition"}
IDLE_SESSIONS=${IDLE_SESSIONS:-"1000 10000"}
IDLE_WAIT=${IDLE_WAIT:-60}
INSTALL=${INSTALL:-no}
KEEP=${KEEP:-no}
SOURCE=${SOURCE:-head}
BASE=${BASE:-}

repo=$(cd "$(dirname "$0")/.." && pwd)
OUT=${OUT:-$repo/docs/benchmarks.md}
here=$repo/bench
work=$(mktemp -d /tmp/popbench.XXXXXX)
chmod 755 "$work"
mkdir -p "$work"/{bin,log,run,state,results,tls}

say() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { say "error: $*"; exit 1; }

# --- processes -----------------------------------------------------------
# Every daemon runs in the foreground in its own process group, so that
# stopping it also stops its children (perdition forks one per session).
declare -A PGID=()

spawn() { # spawn NAME CMD... : start CMD in the background, log to log/NAME.out
	local name=$1
	shift
	setsid "$@" >"$work/log/$name.out" 2>&1 </dev/null &
	PGID[$name]=$!
	disown "$!" # stopped by stop(); no job notices from bash
}

stop() { # stop NAME
	local name=$1 pg=${PGID[$1]:-}
	[[ -n $pg ]] || return 0
	kill -TERM -- "-$pg" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 -- "-$pg" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
	unset "PGID[$name]"
}

cleanup() {
	local name
	for name in "${!PGID[@]}"; do stop "$name"; done
	if [[ $KEEP == yes ]]; then say "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

freeport() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

wait_port() { # wait_port NAME ADDR : until ADDR greets with +OK (or accepts, for TLS ports)
	local name=$1 addr=$2
	for _ in $(seq 100); do
		if python3 - "$addr" <<'EOF' 2>/dev/null; then return 0; fi
import socket, sys
host, port = sys.argv[1].rsplit(":", 1)
s = socket.create_connection((host, int(port)), timeout=1)
s.settimeout(2)
data = s.recv(64)
sys.exit(0 if data.startswith(b"+OK") else 1)
EOF
		kill -0 -- "-${PGID[$name]}" 2>/dev/null || break
		sleep 0.2
	done
	tail -20 "$work/log/$name.out" >&2 || true
	die "$name did not come up on $addr (log: $work/log/$name.out)"
}

wait_listen() { # wait_listen NAME ADDR : until ADDR accepts
	local name=$1 addr=$2
	for _ in $(seq 100); do
		if python3 -c 'import socket,sys; h,p=sys.argv[1].rsplit(":",1); socket.create_connection((h,int(p)),timeout=1)' "$addr" 2>/dev/null; then
			return 0
		fi
		sleep 0.2
	done
	die "$name did not listen on $addr (log: $work/log/$name.out)"
}

# --- packages ------------------------------------------------------------
check_packages() { # the packages of the selected TARGETS only
	local pkg t missing=() pkgs=(dovecot-core dovecot-pop3d openssl python3)
	for t in $TARGETS; do
		case $t in
		haproxy) pkgs+=(haproxy) ;;
		nginx) pkgs+=(nginx libnginx-mod-mail) ;;
		perdition) pkgs+=(perdition) ;;
		popgate-redis) pkgs+=(redis-server) ;;
		esac
	done
	for pkg in "${pkgs[@]}"; do
		# A package apt has never heard of (no lists yet) says nothing at all.
		local installed
		installed=$(apt-cache policy "$pkg" 2>/dev/null | awk '/Installed:/ {print $2}')
		if [[ -z $installed || $installed == "(none)" ]]; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	if [[ $INSTALL == yes ]]; then
		say "installing ${missing[*]}"
		apt-get update -q >"$work/log/apt.out" 2>&1 || die "apt-get update failed (log: $work/log/apt.out)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >>"$work/log/apt.out" 2>&1 ||
			die "apt-get install ${missing[*]} failed (log: $work/log/apt.out)"
	else
		die "missing Debian packages: ${missing[*]}; run: apt-get install ${missing[*]} (or INSTALL=yes $0)"
	fi
}

# --- build and fixtures --------------------------------------------------
build() {
	local src=$repo rev=HEAD
	[[ $SOURCE == head || $SOURCE == tree ]] || rev=$SOURCE
	if [[ $SOURCE != tree ]]; then
		src=$work/src
		mkdir -p "$src"
		git -C "$repo" archive --format=tar "$rev" | tar -x -C "$src"
	fi
	COMMIT=$(git -C "$repo" rev-parse --short "$rev")
	say "building popgate, popbench and helpers ($SOURCE: $COMMIT)"
	(cd "$src" && go build -trimpath -o "$work/bin/" ./cmd/popgate ./cmd/popbench ./bench/authhttp ./bench/stubpop3)
	if [[ -n $BASE ]]; then
		say "building popgate-base ($BASE)"
		mkdir -p "$work/src-base" "$work/bin/base"
		git -C "$repo" archive --format=tar "$BASE" | tar -x -C "$work/src-base"
		(cd "$work/src-base" && go build -trimpath -o "$work/bin/base/" ./cmd/popgate)
	fi
	if [[ " $TARGETS " == *" proto-"* ]]; then
		(cd "$src/bench/relayproto" && go build -trimpath -o "$work/bin/relayproto" .)
	fi
}

PASS=bench
fixtures() {
	say "generating mailboxes"
	local i owner=nobody group
	group=$(id -gn "$owner")
	: >"$work/passwd"
	: >"$work/proxy-passwd"
	mkdir -p "$work/home"
	for i in 1 2 3 4 5 6 7 8; do
		"$work/bin/popbench" gen-maildir -count 20 -size 4096 -user "a$i" "$work/home/a$i/Maildir"
	done
	for i in 1 2 3 4; do
		"$work/bin/popbench" gen-maildir -count 8 -size 262144 -user "d$i" "$work/home/d$i/Maildir"
	done
	for i in "$work"/home/*; do
		printf '%s:%s:%d:%d::%s::\n' "${i##*/}" "$PASS" "$(id -u $owner)" "$(getent group "$group" | cut -d: -f3)" "$i" >>"$work/passwd"
	done
	chown -R "$owner:$group" "$work/home"
}

# Two certificates, one of each common type: every relay serves the RSA one
# on its TLS port and, when an -ec case runs, the ECDSA one on a second port
# (Dovecot picks its certificate by local address, so its second port is on
# 127.0.0.2).
RSA=$work/tls/rsa EC=$work/tls/ec
tls_files() {
	local d
	mkdir -p "$RSA" "$EC"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$RSA/key.pem" -out "$RSA/cert.pem" >/dev/null 2>&1
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$EC/key.pem" -out "$EC/cert.pem" >/dev/null 2>&1
	for d in "$RSA" "$EC"; do
		cat "$d/cert.pem" "$d/key.pem" >"$d/combined.pem"
		chmod 644 "$d"/*
	done
}
WANT_EC=
[[ " $CASES " == *" E-ec"* ]] && WANT_EC=yes

# --- the servers ---------------------------------------------------------
# dovecot_conf NAME PORT TLSPORT ECPORT PASSDB_FILE: a self-contained
# configuration in high-performance mode (login and mail processes are
# reused, two of each kept ready), passwd-file auth behind a cache, nothing
# read from /etc.
dovecot_conf() {
	local name=$1 port=$2 tlsport=$3 ecport=$4 passdb=$5
	mkdir -p "$work/run/$name" "$work/state/$name"
	cat <<EOF
base_dir = $work/run/$name
state_dir = $work/state/$name
instance_name = popbench-$name
log_path = $work/log/$name.log
info_log_path = /dev/null
protocols = pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <$RSA/cert.pem
ssl_key = <$RSA/key.pem
local 127.0.0.2 {
  ssl_cert = <$EC/cert.pem
  ssl_key = <$EC/key.pem
}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
auth_cache_size = 10M
auth_cache_ttl = 1 hour
default_internal_user = nobody
default_internal_group = $(id -gn nobody)
default_login_user = nobody
first_valid_uid = 1
first_valid_gid = 1
default_process_limit = 1000
default_client_limit = 20000
mail_location = maildir:~/Maildir
mail_fsync = never
pop3_no_flag_updates = yes
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $passdb
}
userdb {
  driver = passwd-file
  args = username_format=%u $work/passwd
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = $port
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $tlsport
    ssl = yes
  }
  inet_listener pop3s_ec {
    address = 127.0.0.2
    port = $ecport
    ssl = yes
  }
  service_count = 0
  process_min_avail = 2
}
service pop3 {
  service_count = 0
  process_min_avail = 2
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = 0
  }
}
EOF
}

declare -A ADDR=() TLSADDR=() ECADDR=()

start_dovecot_backend() {
	local port tlsport ecport
	port=$(freeport) tlsport=$(freeport) ecport=$(freeport)
	dovecot_conf backend "$port" "$tlsport" "$ecport" "$work/passwd" >"$work/backend.conf"
	spawn backend dovecot -F -c "$work/backend.conf"
	BACKEND=127.0.0.1:$port
	ADDR[direct]=$BACKEND TLSADDR[direct]=127.0.0.1:$tlsport ECADDR[direct]=127.0.0.2:$ecport
	wait_port backend "$BACKEND"
}

# start_TARGET NAME BACKEND_ADDR: start one relay under the process name
# NAME, relaying to BACKEND_ADDR, and record its addresses.
# popgate serves one certificate: the ECDSA port is a second process
# (NAME-ec) with its own state directory and no plain listener.
start_popgate() {
	local name=$1 backend=$2 port tlsport ecport
	port=$(freeport) tlsport=$(freeport)
	popgate_instance "$name" "$backend" "127.0.0.1:$port" "127.0.0.1:$tlsport" "$RSA"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
	if [[ -n $WANT_EC ]]; then
		ecport=$(freeport)
		popgate_instance "$name-ec" "$backend" off "127.0.0.1:$ecport" "$EC"
		ECADDR[$name]=127.0.0.1:$ecport
		wait_listen "$name-ec" "${ECADDR[$name]}"
	fi
}

popgate_instance() { # popgate_instance NAME BACKEND LISTEN LISTEN_TLS CERTDIR
	mkdir -p "$work/state/$1"
	spawn "$1" env -i PATH="$PATH" ${POPGATE_EXTRA:-} ${POPGATE_LIMITS:-} \
		POPGATE_LISTEN="$3" POPGATE_LISTEN_TLS="$4" POPGATE_TLS_CERT="$5/cert.pem" POPGATE_TLS_KEY="$5/key.pem" \
		POPGATE_BACKENDS="legacy=pop3://$2${POPGATE_BACKEND_PARAMS:-}" POPGATE_DEFAULT_BACKEND=legacy \
		POPGATE_DATA_DIR="$work/state/$1" POPGATE_ADMIN_LISTEN=off POPGATE_HOSTNAME=pop.bench \
		"${POPGATE_BIN:-$work/bin/popgate}"
}

# popgate-base is popgate built from the commit BASE names, to compare two
# versions side by side in one run.
start_popgate-base() {
	[[ -n $BASE ]] || die "target popgate-base needs BASE=<commit>"
	POPGATE_BIN=$work/bin/base/popgate start_popgate "$@"
}

# popgate-relay is popgate without UIDL continuity (POPGATE_UIDL_DISABLE),
# which in its default setup lists and learns UIDLs at every QUIT: the
# difference between the two rows is what that feature costs.
start_popgate-relay() {
	POPGATE_EXTRA=POPGATE_UIDL_DISABLE=true start_popgate "$@"
}

# popgate-1p is popgate with GOMAXPROCS=1: Go code runs on one thread at a
# time, which saves the scheduler's hand-offs between threads on a machine
# whose cores the backend and the clients already keep busy.
start_popgate-1p() {
	POPGATE_EXTRA=GOMAXPROCS=1 start_popgate "$@"
}

# popgate-noquickack is popgate with quickack=false on its backend: what
# arming TCP_QUICKACK on the upstream connection costs in front of Dovecot.
start_popgate-noquickack() {
	POPGATE_BACKEND_PARAMS='?quickack=false' start_popgate "$@"
}

# popgate-nopool is popgate without the pool of connections to the backend
# that are greeted ahead of logins (pool=0): each login connects, reads the
# greeting and logs in.
start_popgate-nopool() {
	POPGATE_BACKEND_PARAMS='?pool=0' start_popgate "$@"
}

# popgate-redis is popgate with its state (UIDL maps, throttle state,
# session leases) in a private redis-server on 127.0.0.1 instead of bbolt:
# what sharing the state between instances costs one of them.
start_popgate-redis() {
	if [[ -z ${PGID[redis]:-} ]]; then
		REDIS=127.0.0.1:$(freeport)
		mkdir -p "$work/redis"
		spawn redis redis-server --bind 127.0.0.1 --port "${REDIS#*:}" --dir "$work/redis" \
			--save "" --appendonly yes --protected-mode no
		for _ in $(seq 100); do
			redis-cli -h 127.0.0.1 -p "${REDIS#*:}" ping 2>/dev/null | grep -q PONG && break
			sleep 0.1
		done
	fi
	POPGATE_EXTRA=POPGATE_STORE=redis://$REDIS/0 start_popgate "$@"
}

# proto-splice, proto-copy and proto-gnet are bench/relayproto: a relay
# that copies bytes and understands nothing, built with a goroutine per
# direction (splice(2), or a read/write loop) or on gnet's event loops. They
# show what the relay core alone costs in Go, beside HAProxy and popgate.
start_proto() { # start_proto MODE NAME BACKEND
	local mode=$1 name=$2 backend=$3 port
	port=$(freeport)
	spawn "$name" "$work/bin/relayproto" -mode "$mode" -listen "127.0.0.1:$port" -backend "$backend"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]= ECADDR[$name]=
	wait_port "$name" "${ADDR[$name]}"
}
start_proto-splice() { start_proto splice "$@"; }
start_proto-copy() { start_proto copy "$@"; }
start_proto-gnet() { start_proto gnet "$@"; }

start_haproxy() {
	local name=$1 backend=$2 port tlsport ecport
	port=$(freeport) tlsport=$(freeport) ecport=$(freeport)
	cat >"$work/$name.cfg" <<EOF
global
  maxconn $MAXCONN
defaults
  mode tcp
  timeout connect 10s
  timeout client 15m
  timeout server 15m
listen pop3
  bind 127.0.0.1:$port
  server dovecot $backend
listen pop3s
  bind 127.0.0.1:$tlsport ssl crt $RSA/combined.pem
  server dovecot $backend
listen pop3s_ec
  bind 127.0.0.1:$ecport ssl crt $EC/combined.pem
  server dovecot $backend
EOF
	spawn "$name" haproxy -db -f "$work/$name.cfg"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport ECADDR[$name]=127.0.0.1:$ecport
	wait_port "$name" "${ADDR[$name]}"
}

start_dovecot-proxy() {
	local name=$1 backend=$2 port tlsport ecport
	port=$(freeport) tlsport=$(freeport) ecport=$(freeport)
	awk -F: -v host="${backend%:*}" -v port="${backend##*:}" \
		'{ printf "%s:%s::::::proxy=y host=%s port=%s\n", $1, $2, host, port }' "$work/passwd" >"$work/$name-passwd"
	dovecot_conf "$name" "$port" "$tlsport" "$ecport" "$work/$name-passwd" >"$work/$name.conf"
	spawn "$name" dovecot -F -c "$work/$name.conf"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport ECADDR[$name]=127.0.0.2:$ecport
	wait_port "$name" "${ADDR[$name]}"
}

start_nginx() {
	local name=$1 backend=$2 port tlsport ecport authport
	port=$(freeport) tlsport=$(freeport) ecport=$(freeport) authport=$(freeport)
	spawn "$name-auth" "$work/bin/authhttp" -listen "127.0.0.1:$authport" -backend "$backend"
	wait_listen "$name-auth" "127.0.0.1:$authport"
	mkdir -p "$work/run/$name"
	cat >"$work/$name.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_mail_module.so;
daemon off;
master_process on;
worker_processes 2;
worker_rlimit_nofile $FDLIMIT;
pid $work/run/$name/nginx.pid;
error_log $work/log/$name.log warn;
events {
  worker_connections $((FDLIMIT - 100));
}
mail {
  server_name pop.bench;
  auth_http 127.0.0.1:$authport/auth;
  pop3_auth plain;
  server {
    listen 127.0.0.1:$port;
    protocol pop3;
  }
  server {
    listen 127.0.0.1:$tlsport ssl;
    protocol pop3;
    ssl_certificate $RSA/cert.pem;
    ssl_certificate_key $RSA/key.pem;
  }
  server {
    listen 127.0.0.1:$ecport ssl;
    protocol pop3;
    ssl_certificate $EC/cert.pem;
    ssl_certificate_key $EC/key.pem;
  }
}
EOF
	spawn "$name" nginx -p "$work/run/$name" -e "$work/log/$name.log" -c "$work/$name.conf"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport ECADDR[$name]=127.0.0.1:$ecport
	wait_port "$name" "${ADDR[$name]}"
}

start_perdition() {
	local name=$1 backend=$2 port tlsport ecport common
	port=$(freeport) tlsport=$(freeport)
	# No map: every user goes to the default server. Two processes, since
	# one perdition listens in one mode.
	common=(--no_daemon -f /dev/null -M "" --no_lookup -s "${backend%:*}" -p "${backend##*:}"
		--bind_address 127.0.0.1 --timeout 900 -u nobody -g "$(id -gn nobody)")
	spawn "$name" perdition.pop3 "${common[@]}" -l "$port" --pid_file "$work/run/$name.pid"
	spawn "$name-tls" perdition.pop3s "${common[@]}" -l "$tlsport" --pid_file "$work/run/$name-tls.pid" \
		--ssl_mode ssl_listen --ssl_cert_file "$RSA/cert.pem" --ssl_key_file "$RSA/key.pem"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
	wait_listen "$name-tls" "${TLSADDR[$name]}"
	if [[ -n $WANT_EC ]]; then
		ecport=$(freeport)
		spawn "$name-ec" perdition.pop3s "${common[@]}" -l "$ecport" --pid_file "$work/run/$name-ec.pid" \
			--ssl_mode ssl_listen --ssl_cert_file "$EC/cert.pem" --ssl_key_file "$EC/key.pem"
		ECADDR[$name]=127.0.0.1:$ecport
		wait_listen "$name-ec" "${ECADDR[$name]}"
	fi
}

stop_target() { # stop_target NAME: stop a relay and its helpers
	local n
	for n in "$1" "$1-auth" "$1-tls" "$1-ec"; do stop "$n"; done
}

# --- load ----------------------------------------------------------------
# case_args CASE: popbench arguments of a throughput case.
case_args() {
	case $1 in
	A) echo "-clients 8 -user a%d -nusers 8 -script retr:all" ;;
	B) echo "-clients 8 -user a%d -nusers 8 -script retr:all -quickack" ;;
	C) echo "-clients 8 -user a%d -nusers 8 -script stat" ;;
	L) echo "-clients 1 -user a%d -nusers 8 -script stat" ;;
	D) echo "-clients 4 -user d%d -nusers 4 -script retr:all" ;;
	E | E-ec) echo "-clients 8 -user a%d -nusers 8 -script retr:all -tls" ;;
	E-resume | E-ec-resume) echo "-clients 8 -user a%d -nusers 8 -script retr:all -tls -tls-resume" ;;
	*) die "unknown case $1" ;;
	esac
}

addr_for() { # addr_for CASE TARGET
	case $1 in
	E-ec*) echo "${ECADDR[$2]}" ;;
	E*) echo "${TLSADDR[$2]}" ;;
	*) echo "${ADDR[$2]}" ;;
	esac
}

# cpu_ms PGID...: CPU time (user and system, reaped children included) of
# every process in the groups, in milliseconds.
cpu_ms() {
	python3 - "$@" <<'EOF'
import os, sys
groups = {int(g) for g in sys.argv[1:]}
hz = os.sysconf("SC_CLK_TCK")
ticks = 0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        with open(f"/proc/{p}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if int(fields[2]) in groups:  # pgrp
        ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
print(ticks * 1000 // hz)
EOF
}

# relay_groups TARGET: the process groups whose CPU time is the relay's
# (not nginx's auth_http helper, which stands in for an auth service).
relay_groups() {
	local n
	if [[ $1 == direct ]]; then n=backend; else n=$1; fi
	for n in "$n" "$n-tls" "$n-ec"; do
		if [[ -n ${PGID[$n]:-} ]]; then echo "${PGID[$n]}"; fi
	done
}

load() { # load CASE TARGET ROUND
	local out=$work/results/$1.$2.$3.json before groups
	[[ -n $(addr_for "$1" "$2") ]] || return 0 # a target without TLS in the TLS cases
	groups=$(relay_groups "$2")
	# shellcheck disable=SC2086
	before=$(cpu_ms $groups)
	# shellcheck disable=SC2046
	"$work/bin/popbench" -json -addr "$(addr_for "$1" "$2")" -pass "$PASS" -duration "$DURATION" $(case_args "$1") \
		>"$out" 2>>"$work/log/popbench.out" || true
	# shellcheck disable=SC2086
	echo $(($(cpu_ms $groups) - before)) >"${out%.json}.cpu"
}

throughput() {
	local cases=() c t r i n order=()
	for c in $CASES; do [[ $c == F ]] || cases+=("$c"); done
	((${#cases[@]} > 0)) || return 0
	local targets=($TARGETS)
	say "warming up every target (one short run each)"
	for t in "${targets[@]}"; do
		for c in "${cases[@]}"; do
			[[ -n $(addr_for "$c" "$t") ]] || continue
			"$work/bin/popbench" -addr "$(addr_for "$c" "$t")" -pass "$PASS" -sessions 16 $(case_args "$c") >/dev/null 2>&1 ||
				say "warning: warm-up of $t in case $c failed"
		done
	done
	n=${#targets[@]}
	for r in $(seq "$ROUNDS"); do
		# Rotate the order each round, so that no target always runs first.
		order=()
		for i in $(seq 0 $((n - 1))); do order+=("${targets[$(((i + r) % n))]}"); done
		for c in "${cases[@]}"; do
			say "round $r/$ROUNDS, case $c: ${order[*]}"
			for t in "${order[@]}"; do load "$c" "$t" "$r"; done
		done
	done
}

# --- case F: memory of idle sessions -------------------------------------
mem_kib() { # mem_kib PGID: "rss pss" in KiB, summed over the process group
	python3 - "$1" <<'EOF'
import os, sys
pg = int(sys.argv[1])
rss = pss = 0
for p in os.listdir("/proc"):
    if not p.isdigit():
        continue
    try:
        if os.getpgid(int(p)) != pg:
            continue
        with open(f"/proc/{p}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1])
        with open(f"/proc/{p}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss += int(line.split()[1])
    except (OSError, ProcessLookupError):
        pass
print(rss, pss)
EOF
}

backend_sessions() { # backend_sessions PORT: established connections to the backend on PORT
	ss -Htn state established "( dport = :$1 )" | wc -l
}

idle() {
	[[ " $CASES " == *" F "* ]] || return 0
	local t n before after pb stub start held
	: >"$work/results/F.tsv"
	for t in $TARGETS; do
		[[ $t == direct || $t == dovecot-proxy || $t == popgate-relay || $t == popgate-1p || $t == popgate-nopool ]] && continue
		for n in $IDLE_SESSIONS; do
			((n > MAXIDLE)) && n=$MAXIDLE
			stub=$(freeport)
			spawn stub "$work/bin/stubpop3" -listen "127.0.0.1:$stub"
			wait_port stub "127.0.0.1:$stub"
			# Every client logs in from 127.0.0.1 at once, which popgate's caps
			# on connections before login (50 per address, 5,000 in all) and on
			# logins in flight per address and network (50, 200) would refuse,
			# and the refused clients' retries would crowd out the logins: what
			# is measured is the sessions once logged in. Throttling stays on.
			POPGATE_LIMITS="POPGATE_MAX_PRELOGIN=0 POPGATE_MAX_PRELOGIN_PER_ADDRESS=0
				POPGATE_THROTTLE_AUTH_FAIL_CLIENT_LIMIT=$((n + 100)) POPGATE_THROTTLE_AUTH_FAIL_NETWORK_LIMIT=$((n + 100))" \
				"start_$t" "F-$t" "127.0.0.1:$stub"
			"$work/bin/popbench" -addr "${ADDR[F-$t]}" -user "u%d" -nusers "$n" -pass "$PASS" -sessions 20 -script stat >/dev/null 2>&1 || true
			sleep 1
			before=$(mem_kib "${PGID[F-$t]}")
			rm -f "$work/run/held"
			say "case F: $t, $n idle sessions"
			"$work/bin/popbench" -json -addr "${ADDR[F-$t]}" -user "u%d" -nusers "$n" -pass "$PASS" -clients "$n" \
				-duration $((IDLE_WAIT + 60))s -timeout 60s -script idle -ready "$work/run/held" \
				>"$work/results/F.$t.$n.json" 2>>"$work/log/popbench.out" &
			pb=$!
			start=$SECONDS
			while [[ ! -e $work/run/held ]] && ((SECONDS - start < IDLE_WAIT)) && kill -0 "$pb" 2>/dev/null; do sleep 0.5; done
			if [[ -e $work/run/held ]]; then
				sleep 2
				held=$n
			else
				# Slow to accept (perdition forks a process per session):
				# measure what is held by now, counted at the backend.
				held=$(backend_sessions "$stub")
				say "warning: $t held $held of $n sessions after ${IDLE_WAIT}s; measuring those"
			fi
			after=$(mem_kib "${PGID[F-$t]}")
			printf '%s\t%s\t%s\t%s\t%s\n' "$t" "$n" "$held" "$before" "$after" >>"$work/results/F.tsv"
			kill -INT "$pb" 2>/dev/null || true
			wait "$pb" 2>/dev/null || true
			stop_target "F-$t"
			stop stub
		done
	done
}

# --- main ----------------------------------------------------------------
for c in $CASES; do
	case $c in
	A | B | C | L | D | E | E-ec | E-resume | E-ec-resume | F) ;;
	*) die "unknown case $c (see the knobs at the top of $0)" ;;
	esac
done
check_packages
ulimit -n "$(ulimit -Hn)"
FDLIMIT=$(ulimit -n)
# A relay holds two descriptors per session (client and backend side).
MAXIDLE=$(((FDLIMIT - 100) / 2))
MAXCONN=$((MAXIDLE + 10))
build
tls_files
fixtures
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [[ -n ${CASES//[F ]/} ]]; then
	start_dovecot_backend
	for t in $TARGETS; do
		[[ $t == direct ]] || "start_$t" "$t" "$BACKEND"
	done
	say "targets up: $(for t in $TARGETS; do printf '%s=%s ' "$t" "${ADDR[$t]}"; done)"
	throughput
	for t in $TARGETS; do [[ $t == direct ]] || stop_target "$t"; done
	stop backend
fi
# Before case F: perdition's process per session would dominate it.
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
WANT_EC= # case F measures one process per relay
idle

say "writing the report"
python3 "$here/report.py" --results "$work/results" --out "$OUT" --rounds "$ROUNDS" --duration "$DURATION" \
	--cases "$CASES" --targets "$TARGETS" --fdlimit "$FDLIMIT" --idle-sessions "$IDLE_SESSIONS" --commit "$COMMIT" --load "$load_before / $load_after"
say "done"
