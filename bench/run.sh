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
#   CASES="A C D E F" A: 20 x 4 KB, RETR all, 8 clients; C: login, STAT, QUIT;
#                     D: 8 x 256 KB, RETR all, 4 clients (MB/s); E: case A over implicit TLS;
#                     F: memory of idle authenticated sessions
#   TARGETS="direct popgate popgate-relay popgate-1p haproxy dovecot-proxy nginx perdition"
#                     (add popgate-redis for popgate with a Redis store)
#   IDLE_SESSIONS="1000 10000"  session counts of case F (capped by the descriptor limit)
#   IDLE_WAIT=60      seconds case F waits for all sessions; a slower relay is measured on those it holds
#   OUT=docs/benchmarks.md      file whose "## Relay performance" section is rewritten; OUT=- prints it
#   INSTALL=yes       install missing Debian packages with apt-get (default: stop and say which)
#   KEEP=yes          keep the work directory (configurations, logs, raw JSON)
#   SOURCE=head       build the committed tree (git archive HEAD), or any other commit given by name;
#                     SOURCE=tree builds the working tree
#
# Everything listens on 127.0.0.1 only, every process is stopped on exit, and
# every wait is bounded.
set -euo pipefail

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-4s}
CASES=${CASES:-"A C D E F"}
TARGETS=${TARGETS:-"direct popgate popgate-relay popgate-1p haproxy dovecot-proxy nginx perdition"}
IDLE_SESSIONS=${IDLE_SESSIONS:-"1000 10000"}
IDLE_WAIT=${IDLE_WAIT:-60}
INSTALL=${INSTALL:-no}
KEEP=${KEEP:-no}
SOURCE=${SOURCE:-head}

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
		if [[ $(apt-cache policy "$pkg" 2>/dev/null | awk '/Installed:/ {print $2}') == "(none)" ]]; then
			missing+=("$pkg")
		fi
	done
	((${#missing[@]} == 0)) && return 0
	if [[ $INSTALL == yes ]]; then
		say "installing ${missing[*]}"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >"$work/log/apt.out" 2>&1 ||
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

tls_files() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-keyout "$work/tls/key.pem" -out "$work/tls/cert.pem" >/dev/null 2>&1
	cat "$work/tls/cert.pem" "$work/tls/key.pem" >"$work/tls/combined.pem"
	chmod 644 "$work"/tls/*
}

# --- the servers ---------------------------------------------------------
# dovecot_conf NAME PORT TLSPORT PASSDB_FILE: a self-contained configuration
# in high-performance mode (login and mail processes are reused, two of each
# kept ready), passwd-file auth behind a cache, nothing read from /etc.
dovecot_conf() {
	local name=$1 port=$2 tlsport=$3 passdb=$4
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
ssl_cert = <$work/tls/cert.pem
ssl_key = <$work/tls/key.pem
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

declare -A ADDR=() TLSADDR=()

start_dovecot_backend() {
	local port tlsport
	port=$(freeport) tlsport=$(freeport)
	dovecot_conf backend "$port" "$tlsport" "$work/passwd" >"$work/backend.conf"
	spawn backend dovecot -F -c "$work/backend.conf"
	BACKEND=127.0.0.1:$port
	ADDR[direct]=$BACKEND TLSADDR[direct]=127.0.0.1:$tlsport
	wait_port backend "$BACKEND"
}

# start_TARGET NAME BACKEND_ADDR: start one relay under the process name
# NAME, relaying to BACKEND_ADDR, and record its addresses.
start_popgate() {
	local name=$1 backend=$2 port tlsport
	port=$(freeport) tlsport=$(freeport)
	mkdir -p "$work/state/$name"
	spawn "$name" env -i PATH="$PATH" ${POPGATE_EXTRA:-} ${POPGATE_LIMITS:-} \
		POPGATE_LISTEN="127.0.0.1:$port" POPGATE_LISTEN_TLS="127.0.0.1:$tlsport" \
		POPGATE_TLS_CERT="$work/tls/cert.pem" POPGATE_TLS_KEY="$work/tls/key.pem" \
		POPGATE_BACKENDS="legacy=pop3://$backend" POPGATE_DEFAULT_BACKEND=legacy \
		POPGATE_DATA_DIR="$work/state/$name" POPGATE_ADMIN_LISTEN=off POPGATE_HOSTNAME=pop.bench \
		"$work/bin/popgate"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
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

start_haproxy() {
	local name=$1 backend=$2 port tlsport
	port=$(freeport) tlsport=$(freeport)
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
  bind 127.0.0.1:$tlsport ssl crt $work/tls/combined.pem
  server dovecot $backend
EOF
	spawn "$name" haproxy -db -f "$work/$name.cfg"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
}

start_dovecot-proxy() {
	local name=$1 backend=$2 port tlsport
	port=$(freeport) tlsport=$(freeport)
	awk -F: -v host="${backend%:*}" -v port="${backend##*:}" \
		'{ printf "%s:%s::::::proxy=y host=%s port=%s\n", $1, $2, host, port }' "$work/passwd" >"$work/$name-passwd"
	dovecot_conf "$name" "$port" "$tlsport" "$work/$name-passwd" >"$work/$name.conf"
	spawn "$name" dovecot -F -c "$work/$name.conf"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
}

start_nginx() {
	local name=$1 backend=$2 port tlsport authport
	port=$(freeport) tlsport=$(freeport) authport=$(freeport)
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
  ssl_certificate $work/tls/cert.pem;
  ssl_certificate_key $work/tls/key.pem;
  server {
    listen 127.0.0.1:$port;
    protocol pop3;
  }
  server {
    listen 127.0.0.1:$tlsport ssl;
    protocol pop3;
  }
}
EOF
	spawn "$name" nginx -p "$work/run/$name" -e "$work/log/$name.log" -c "$work/$name.conf"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
}

start_perdition() {
	local name=$1 backend=$2 port tlsport common
	port=$(freeport) tlsport=$(freeport)
	# No map: every user goes to the default server. Two processes, since
	# one perdition listens in one mode.
	common=(--no_daemon -f /dev/null -M "" --no_lookup -s "${backend%:*}" -p "${backend##*:}"
		--bind_address 127.0.0.1 --timeout 900 -u nobody -g "$(id -gn nobody)")
	spawn "$name" perdition.pop3 "${common[@]}" -l "$port" --pid_file "$work/run/$name.pid"
	spawn "$name-tls" perdition.pop3s "${common[@]}" -l "$tlsport" --pid_file "$work/run/$name-tls.pid" \
		--ssl_mode ssl_listen --ssl_cert_file "$work/tls/cert.pem" --ssl_key_file "$work/tls/key.pem"
	ADDR[$name]=127.0.0.1:$port TLSADDR[$name]=127.0.0.1:$tlsport
	wait_port "$name" "${ADDR[$name]}"
	wait_listen "$name-tls" "${TLSADDR[$name]}"
}

stop_target() { # stop_target NAME: stop a relay and its helpers
	local n
	for n in "$1" "$1-auth" "$1-tls"; do stop "$n"; done
}

# --- load ----------------------------------------------------------------
# case_args CASE: popbench arguments of a throughput case.
case_args() {
	case $1 in
	A) echo "-clients 8 -user a%d -nusers 8 -script retr:all" ;;
	C) echo "-clients 8 -user a%d -nusers 8 -script stat" ;;
	D) echo "-clients 4 -user d%d -nusers 4 -script retr:all" ;;
	E) echo "-clients 8 -user a%d -nusers 8 -script retr:all -tls" ;;
	esac
}

addr_for() { # addr_for CASE TARGET
	if [[ $1 == E ]]; then echo "${TLSADDR[$2]}"; else echo "${ADDR[$2]}"; fi
}

load() { # load CASE TARGET ROUND
	local out=$work/results/$1.$2.$3.json
	# shellcheck disable=SC2046
	"$work/bin/popbench" -json -addr "$(addr_for "$1" "$2")" -pass "$PASS" -duration "$DURATION" $(case_args "$1") \
		>"$out" 2>>"$work/log/popbench.out" || true
}

throughput() {
	local cases=() c t r i n order=()
	for c in $CASES; do [[ $c == F ]] || cases+=("$c"); done
	((${#cases[@]} > 0)) || return 0
	local targets=($TARGETS)
	say "warming up every target (one short run each)"
	for t in "${targets[@]}"; do
		for c in "${cases[@]}"; do
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
		[[ $t == direct || $t == dovecot-proxy || $t == popgate-relay || $t == popgate-1p ]] && continue
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
idle

say "writing the report"
python3 "$here/report.py" --results "$work/results" --out "$OUT" --rounds "$ROUNDS" --duration "$DURATION" \
	--cases "$CASES" --targets "$TARGETS" --fdlimit "$FDLIMIT" --idle-sessions "$IDLE_SESSIONS" --commit "$COMMIT" --load "$load_before / $load_after"
say "done"
