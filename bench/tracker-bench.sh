#!/usr/bin/env bash
# tracker-bench.sh - crm-tracker against nginx serving the same 1x1 GIF
# with the same no-cache headers, with wrk at the same concurrency (a
# command, not a test). nginx has access_log off (its best case); the
# tracker verifies every token, judges and records every open (distinct
# messages, so every request is a new event for the spool).
#
#   bench/tracker-bench.sh            (from a build tree, or set top_builddir)
#   CONC=100 DUR=20 THREADS=4 URLS=1000000 bench/tracker-bench.sh
#
# Prints requests/s, p50 and p99 for each, the ratio, and how many events
# the tracker wrote to its spool (and dropped, if its writer fell behind).
# Needs wrk and nginx (apt-get install wrk nginx-light). Everything lives
# in a temporary directory, removed at the end; only the processes started
# here are stopped, by PID.
set -eu
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
CONC=${CONC:-50}
DUR=${DUR:-10}
THREADS=${THREADS:-2}
URLS=${URLS:-500000}
TRK_BIN=$top_builddir/crm-tracker
MK=$top_builddir/tests/integration/mktoken
for b in "$TRK_BIN" "$MK"; do
	[ -x "$b" ] || { echo "tracker-bench: $b is not built (make crm-tracker tests/integration/mktoken)" >&2; exit 1; }
done
command -v wrk >/dev/null || { echo "tracker-bench: wrk is not installed" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
[ -x "$NGINX" ] || { echo "tracker-bench: nginx is not installed" >&2; exit 1; }

T=$(mktemp -d /tmp/tracker-bench.XXXXXX)
chmod 755 "$T"
PIDS=()
NGINX_PID=
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	stop_nginx
	rm -rf "$T"
}
# stop the nginx master we started (by its PID), KILL if it lingers
stop_nginx() {
	[ -n "$NGINX_PID" ] || return 0
	kill -QUIT "$NGINX_PID" 2>/dev/null || true
	for _ in $(seq 1 30); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$NGINX_PID" 2>/dev/null || true
	NGINX_PID=
}
trap cleanup EXIT

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}
wait_port() {
	for _ in $(seq 1 100); do
		python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1]))).close()' "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

TPORT=$(free_port)
NPORT=$(free_port)
mkdir -p "$T/spool/tmp"
python3 -c 'import base64,os; print("b1", base64.b64encode(os.urandom(32)).decode())' >"$T/keys"
chmod 600 "$T/keys"
if [ "$(id -u)" = 0 ] && getent passwd crm-milter >/dev/null; then
	chown -R crm-milter: "$T/spool" "$T/keys"
fi
cat >"$T/crm.conf" <<EOF
milter { user = "crm-milter"  tmp_dir = "$T/spool/tmp" }
spool { path = "$T/spool/spool.db" }
tracking { base_url = "http://127.0.0.1:$TPORT"  key_file = "$T/keys" }
tracker {
  listen = "127.0.0.1:$TPORT"
  engagement_data = "$top_srcdir/conf/engagement.data"
  threads = $THREADS
  per_ip_connections = 0
  max_connections = 10000
}
EOF
printf 'GIF89a\001\000\001\000\200\000\000\000\000\000\377\377\377!\371\004\001\000\000\000\000,\000\000\000\000\001\000\001\000\000\002\002D\001\000;' >"$T/pixel.gif"
cat >"$T/nginx.conf" <<EOF
worker_processes $(nproc);
pid $T/nginx.pid;
error_log $T/nginx.err;
events { worker_connections 10000; }
http {
  access_log off;
  server {
    listen 127.0.0.1:$NPORT;
    root $T;
    location / {
      default_type image/gif;
      add_header Cache-Control "no-store, no-cache, must-revalidate, private";
      add_header Pragma no-cache;
      add_header Expires 0;
      try_files /pixel.gif =404;
    }
  }
}
EOF

# distinct messages: one pixel path each, taken in turn by every wrk
# connection (more URLs than requests: every open is a new event)
{
	echo 'local paths = {'
	"$MK" "$T/keys" "" opens "$URLS" | sed 's/.*/"&",/'
	echo '}'
	echo 'local n = 0'
	echo 'request = function() n = n % #paths + 1; return wrk.format("GET", paths[n], {["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) bench"}) end'
} >"$T/paths.lua"

# run NAME PORT: one wrk run; prints "NAME req/s p50 p99"
run() {
	local out
	out=$(wrk -t1 -c"$CONC" -d"${DUR}s" --latency -s "$T/paths.lua" "http://127.0.0.1:$2/")
	printf '%s\n' "$out" >"$T/$1.wrk"
	printf '%s %s %s %s\n' "$1" \
		"$(printf '%s' "$out" | awk '/Requests\/sec/ {print $2}')" \
		"$(printf '%s' "$out" | awk '$1 == "50%" {print $2}')" \
		"$(printf '%s' "$out" | awk '$1 == "99%" {print $2}')"
	if grep -q "Non-2xx" "$T/$1.wrk"; then grep "Non-2xx" "$T/$1.wrk" >&2; fi
}

"$NGINX" -c "$T/nginx.conf"
for _ in $(seq 1 50); do [ -s "$T/nginx.pid" ] && break; sleep 0.1; done
NGINX_PID=$(cat "$T/nginx.pid" 2>/dev/null || true)
wait_port "$NPORT" || { echo "nginx did not start" >&2; cat "$T/nginx.err" >&2; exit 1; }
N=$(run nginx "$NPORT")
stop_nginx

"$TRK_BIN" -c "$T/crm.conf" -f >"$T/tracker.log" 2>&1 &
PIDS+=($!)
wait_port "$TPORT" || { echo "crm-tracker did not start" >&2; cat "$T/tracker.log" >&2; exit 1; }
R=$(run crm-tracker "$TPORT")
kill "${PIDS[0]}"
wait "${PIDS[0]}" 2>/dev/null || true
PIDS=()

events=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("select count(*) from jobs").fetchone()[0])' "$T/spool/spool.db")
# crm-tracker's loss line: "events answered but not recorded[ since the last
# such line]: N over tracker max_pending_size (...), M over max_events_per_message (...)"
dropped=$(sed -n 's/.*not recorded[^:]*: \([0-9]*\) over tracker max_pending_size.*/\1/p' "$T/tracker.log" |
	awk '{s += $1} END {print s + 0}')
over=$(sed -n 's/.*not recorded.*, \([0-9]*\) over max_events_per_message.*/\1/p' "$T/tracker.log" |
	awk '{s += $1} END {print s + 0}')
echo
echo "wrk -t1 -c$CONC -d${DUR}s, $URLS distinct pixel URLs, $(nproc) cores, nginx workers = $(nproc), tracker threads = $THREADS"
printf '%-12s %12s %10s %10s\n' server "requests/s" p50 p99
printf '%-12s %12s %10s %10s\n' $N
printf '%-12s %12s %10s %10s\n' $R
python3 -c 'import sys; n, t = float(sys.argv[1]), float(sys.argv[2]); print("ratio crm-tracker / nginx: %.2f" % (t / n))' \
	"$(echo "$N" | cut -d' ' -f2)" "$(echo "$R" | cut -d' ' -f2)"
echo "events in the spool: $events (one per message and minute); not recorded by the tracker:" \
	"$dropped over max_pending_size, $over over max_events_per_message"
echo "(the tracker wrote its last events after wrk stopped; the drops say whether its writer kept up)"
