#!/usr/bin/env bash
# bench.sh - throughput of Postfix alone, with the in-tree pass-through
# milter, and with crm-milter (classifying and spooling every message; with
# --html also tracking opens and clicks in every message).
#
# A command, not a test (not run by make check). As root, on this machine:
#   bench/bench.sh [--html|-H] [-b] [-m COUNT] [-s SESSIONS] [-l BYTES] [-r REPEATS] [-t] [-w WARMUP]
#     -m 2000   messages per run          -s 10   smtp-source sessions
#     -l 20480  message size in bytes     -r 1    rounds (see below)
#     -t        also measure over TCP     -w 50   warm-up messages per run
#     --html    newsletter HTML messages, crm-milter tracking each (below)
#     -b        with --html, also the "replace" baseline (below)
# Environment: top_builddir (default: the source tree) holds crm-milter,
# crm-milterctl and bench/passthrough-milter; BENCH_PERF_DIR, when set,
# gets a machine-wide "perf record" of each timed window (see README).
#
# Each run: fresh smtp-sink (counting only), milter, and a throwaway Postfix
# (tests/lib/mta.sh) whose ORIGINATING submission port has the milter in
# smtpd_milters; a warm-up batch; then COUNT messages with
# "smtp-source -s SESSIONS -m COUNT -l BYTES" into that port, timed from the
# first send until the sink has counted all of them (after a sync, so no run
# pays for what an earlier one left to write back; rounds alternate the
# order of the two milter paths). crm-milter's config has
# rules saving outbound (and inbound) mail, so every message is classified
# and written to its spool; the number of spool jobs is shown as a check
# (crm-milterctl lists at most 1000), and the CPU time each milter process
# used (warm-up included; measured from /proc just before it is stopped).
# Prints a table and whether crm-milter reaches 0.9x the pass-through rate.
#
# --html (issue 4): every path sends the same message, written once by
# bench/html-message.py (about BYTES, multipart/alternative, quoted-printable
# HTML part with ~60 links carrying &amp; query strings and a </body>) with
# "smtp-source -F"; crm-milter's outbound rule also has track = {opens,
# clicks} under a tracking { base_url key_file } block (a key from
# "crm-milterctl keygen", root:crm-milter 0640). The sink dumps every message
# on every path (so all paths pay the same sink cost), and after each run
# html-message.py checks all of them: with crm-milter one pixel and every
# link rewritten, otherwise the HTML part untouched; any failure stops the
# benchmark (exit 1, scratch dir kept).
#
# -b adds a third path to each round: the pass-through milter replacing
# every body (bench/passthrough-milter -b) with crm-milter's tracked
# output of the same message (made once by "crm-milterctl test --output").
# Postfix then does what any tracking milter makes it do (store a second,
# larger body, queue and send it) while the milter does none of
# crm-milter's work. Two more ratios split crm-milter's gap: replace vs
# pass (Postfix's share) and crm vs replace (crm-milter's own work).
set -u
. "$(dirname "$0")/../tests/lib/mta.sh"

COUNT=2000 SESSIONS=10 SIZE=20480 REPEATS=1 TCP=0 WARMUP=50 HTML=0 REPLACE=0
for a in "$@"; do
	shift
	case $a in --html) set -- "$@" -H ;; *) set -- "$@" "$a" ;; esac
done
while getopts "Hbm:s:l:r:tw:h" opt; do
	case $opt in
	H) HTML=1 ;;
	b) REPLACE=1 ;;
	m) COUNT=$OPTARG ;;
	s) SESSIONS=$OPTARG ;;
	l) SIZE=$OPTARG ;;
	r) REPEATS=$OPTARG ;;
	t) TCP=1 ;;
	w) WARMUP=$OPTARG ;;
	*) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done

mta_require_root
mta_require_postfix
PT_BIN=$top_builddir/bench/passthrough-milter
if [ ! -x "$PT_BIN" ] && [ -f "$top_builddir/Makefile" ]; then
	make -C "$top_builddir" bench/passthrough-milter >/dev/null || exit 1
fi
mta_require_bin "$PT_BIN" passthrough-milter
HAVE_CRM=1
[ -x "$top_builddir/crm-milter" ] || HAVE_CRM=0
[ "$HAVE_CRM" = 1 ] || echo "note: $top_builddir/crm-milter not built: its rows are skipped" >&2
if [ "$REPLACE" = 1 ] && { [ "$HTML" = 0 ] || [ "$HAVE_CRM" = 0 ]; }; then
	echo "-b needs --html and a built crm-milter" >&2
	exit 2
fi

mta_init bench
RESULTS=$MTA_TMP/results

# --html: the message every path sends, the tracking key and base URL.
HTML_GEN=$(dirname "$0")/html-message.py
HTML_MSG=$MTA_TMP/newsletter.eml HTML_KEYS=$MTA_TMP/tracking.keys
HTML_BASE=https://t.bench.test
SOURCE_BODY=(-l "$SIZE")
if [ "$HTML" = 1 ]; then
	HTML_INFO=$(python3 "$HTML_GEN" make -l "$SIZE" "$HTML_MSG") || exit 1
	SOURCE_BODY=(-F "$HTML_MSG")
	if [ "$HAVE_CRM" = 1 ]; then
		"$top_builddir/crm-milterctl" keygen --kid bench1 >"$HTML_KEYS" || exit 1
		chown root:crm-milter "$HTML_KEYS" 2>/dev/null || echo "note: no crm-milter group for the key file" >&2
		chmod 640 "$HTML_KEYS"
	fi
fi

# html_config FILE: make crm-milter's config FILE track every outbound message.
html_config() {
	sed -i 's|rule "outbound" { direction = outbound  save = "local" }|rule "outbound" { direction = outbound  save = "local"  track = {opens, clicks} }|' "$1"
	grep -q 'track = {opens, clicks}' "$1" || { echo "could not add track to $1" >&2; return 1; }
	printf 'tracking {\n  base_url = "%s"\n  key_file = "%s"\n}\n' "$HTML_BASE" "$HTML_KEYS" >>"$1"
	"$top_builddir/crm-milterctl" -c "$1" check-config >/dev/null || return 1
}

# tracked_body FILE: write crm-milter's tracked output of $HTML_MSG (as
# crm-milterctl test makes it, with a run's config) to FILE, body only,
# CRLF lines: what passthrough-milter -b sends back for every message.
tracked_body() {
	local dir=$MTA_TMP/replace-prep
	mkdir -p "$dir"
	mta_crm_config "$dir/crm.conf" "$dir/crm" "unix:$dir/unused.sock"
	html_config "$dir/crm.conf" || return 1
	"$top_builddir/crm-milterctl" -c "$dir/crm.conf" test --from alice@example.com \
		--rcpt bob@external.test --daemon ORIGINATING --output "$dir/tracked.eml" "$HTML_MSG" \
		>"$dir/test.json" || return 1
	python3 - "$dir/tracked.eml" "$1" <<'EOF'
import sys
raw = open(sys.argv[1], "rb").read().replace(b"\r\n", b"\n")
head, sep, body = raw.partition(b"\n\n")
if not sep or b"/c/" not in body:
    sys.exit("tracked_body: no tracked body in " + sys.argv[1])
open(sys.argv[2], "wb").write(body.replace(b"\n", b"\r\n"))
EOF
}

# html_check KIND WANT: check every message the sink dumped (WANT of them);
# prints the checker's summary to stderr, false on any failure.
html_check() {
	local kind=$1 want=$2 got expect=untouched
	[ "$kind" = crm ] || [ "$kind" = replace ] && expect=tracked
	got=$(find "$MTA_SINK_DUMP" -type f | wc -l)
	if [ "$got" != "$want" ]; then
		echo "FAILED: the sink dumped $got messages, $want were delivered" >&2
		return 1
	fi
	python3 "$HTML_GEN" check "$HTML_MSG" "$HTML_BASE" "$expect" "$MTA_SINK_DUMP" >&2 || {
		echo "FAILED: the $kind run delivered messages that are not $expect (see above)" >&2
		return 1
	}
}

# milter_spec KIND SOCKETTYPE RUNDIR: print the socket spec for one run.
milter_spec() {
	if [ "$2" = tcp ]; then
		echo "inet:$(mta_free_port)@127.0.0.1"
	else
		echo "unix:$3/milter.sock"
	fi
}

# cpu_seconds PID: user+system CPU seconds PID (all threads) has used.
cpu_seconds() {
	python3 - "$1" <<'EOF'
import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print("%.2f" % ((int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")))
EOF
}

# cpu_ticks: "BUSY IDLE STEAL" clock ticks of the whole machine so far
# (idle counts iowait too; steal is time the hypervisor gave elsewhere),
# from /proc/stat.
cpu_ticks() {
	awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6, $9; exit }' /proc/stat
}

# one_run KIND SOCKETTYPE: one measured run; appends "KIND SOCK SECONDS JOBS
# CPU" to $RESULTS. KIND is none, passthrough or crm.
one_run() {
	local kind=$1 sock=$2 run spec pf t0 t1 ticks0 ticks1 busy prof secs jobs=- smtpd_milters='' base cpu
	run=$(mktemp -d "$MTA_TMP/run.XXXXXX")
	chmod 755 "$run"
	if [ "$HTML" = 1 ]; then mta_sink_start dump || return 1; else mta_sink_start || return 1; fi
	case $kind in
	passthrough)
		spec=$(milter_spec "$kind" "$sock" "$run")
		mta_passthrough_start "$spec" || return 1
		smtpd_milters=$(mta_postfix_milter "$spec")
		;;
	replace)
		spec=$(milter_spec "$kind" "$sock" "$run")
		mta_passthrough_start "$spec" -b "$REPLACE_BODY" || return 1
		smtpd_milters=$(mta_postfix_milter "$spec")
		;;
	crm)
		spec=$(milter_spec "$kind" "$sock" "$run")
		mta_crm_config "$run/crm.conf" "$run/crm" "$spec"
		if [ "$HTML" = 1 ]; then html_config "$run/crm.conf" || return 1; fi
		mta_crm_start "$run/crm.conf" "$spec" || return 1
		smtpd_milters=$(mta_postfix_milter "$spec")
		;;
	esac
	pf=$run/pf
	mta_postfix_make "$pf"
	mta_postfix_conf "$pf" "smtpd_milters = $smtpd_milters" \
		"default_process_limit = 100"
	mta_postfix_start "$pf" || { tail -n 20 "$pf/maillog" >&2; return 1; }

	smtp-source -4 -s "$SESSIONS" -m "$WARMUP" "${SOURCE_BODY[@]}" -f alice@example.com \
		-t bob@external.test "127.0.0.1:$MTA_PF_SUB_PORT" || return 1
	mta_sink_wait "$WARMUP" 120 || { echo "warm-up not delivered" >&2; return 1; }
	base=$(mta_sink_count)
	# write back what earlier runs left dirty (sink dumps, spools), so it
	# is not this run that pays for it
	sync

	prof=''
	if [ -n "${BENCH_PERF_DIR:-}" ]; then
		command -v perf >/dev/null || { echo "BENCH_PERF_DIR: perf is not installed" >&2; return 1; }
		perf record -a -q -F 999 -o "$BENCH_PERF_DIR/$kind.$sock.$(date +%s).data" 2>/dev/null &
		prof=$!
		sleep 1
	fi
	t0=$(date +%s.%N)
	ticks0=$(cpu_ticks)
	smtp-source -4 -s "$SESSIONS" -m "$COUNT" "${SOURCE_BODY[@]}" -f alice@example.com \
		-t bob@external.test "127.0.0.1:$MTA_PF_SUB_PORT" || return 1
	if ! mta_sink_wait $((base + COUNT)) 600; then
		echo "only $(mta_sink_count) of $((base + COUNT)) delivered" >&2
		return 1
	fi
	t1=$(date +%s.%N)
	ticks1=$(cpu_ticks)
	if [ -n "$prof" ]; then kill -INT "$prof"; wait "$prof"; fi
	secs=$(python3 -c "print('%.2f' % ($t1 - $t0))")
	# shares of the machine's time in the timed window: busy, and stolen
	# by the hypervisor (a noisy neighbour slows every path alike)
	busy=$(echo "$ticks0 $ticks1" | awk '{ b = $4 - $1; i = $5 - $2; s = $6 - $3; t = b + i + s
		printf "%.0f%% (steal %.0f%%)", t ? 100 * b / t : 0, t ? 100 * s / t : 0 }')

	cpu=-
	[ "$kind" = passthrough ] || [ "$kind" = replace ] && cpu=$(cpu_seconds "$MTA_PT_PID")
	[ "$kind" = crm ] && cpu=$(cpu_seconds "$MTA_CRM_PID")
	if [ "$kind" = crm ]; then
		# crm-milterctl lists at most 1000 jobs: "1000+" means at least that
		jobs=$("$top_builddir/crm-milterctl" -c "$run/crm.conf" queue list --json 2>/dev/null |
			python3 -c 'import json,sys; d=json.load(sys.stdin); n=len(d if isinstance(d, list) else d.get("jobs", [])); print("%d%s" % (n, "+" if n == 1000 else ""))' \
			2>/dev/null) || jobs='?'
	fi
	if grep -i -E '(warning|error|fatal).*milter' "$pf/maillog" >/dev/null; then
		echo "warning: milter errors in the Postfix log of the $kind/$sock run:" >&2
		grep -i -E '(warning|error|fatal).*milter' "$pf/maillog" | tail -n 3 >&2
	fi
	mta_postfix_stop "$pf"
	[ -n "${MTA_PT_PID:-}" ] && mta_kill "$MTA_PT_PID" KILL
	[ -n "${MTA_CRM_PID:-}" ] && mta_kill "$MTA_CRM_PID" TERM
	MTA_PT_PID='' MTA_CRM_PID=''
	mta_sink_stop
	if [ "$HTML" = 1 ]; then
		html_check "$kind" $((base + COUNT)) || return 1
		rm -rf "$MTA_SINK_DUMP"
	fi
	echo "$kind $sock $secs $jobs $cpu" >>"$RESULTS"
	printf '  %-12s %-5s %7ss  machine busy: %4s  milter cpu: %5ss  spool jobs: %s\n' "$kind" "$sock" \
		"$secs" "$busy" "$cpu" "$jobs" >&2
}

SOCKS=unix
[ "$TCP" = 1 ] && SOCKS="unix tcp"
KINDS="passthrough"
[ "$HAVE_CRM" = 1 ] && KINDS="passthrough crm"
if [ "$REPLACE" = 1 ]; then
	KINDS="passthrough replace crm" REPLACE_BODY=$MTA_TMP/tracked.body
	tracked_body "$REPLACE_BODY" || { echo "could not make the tracked body" >&2; exit 1; }
fi

if [ "$HTML" = 1 ]; then
	echo "bench: $COUNT HTML messages ($HTML_INFO), crm-milter tracking each, $SESSIONS sessions, $REPEATS round(s)" >&2
else
	echo "bench: $COUNT messages x $SIZE bytes, $SESSIONS sessions, $REPEATS round(s)" >&2
fi
# Odd rounds run the milters in one order, even rounds in the other, so
# neither path always runs right after the other. Postfix alone is only
# context: it runs in the first round.
for round in $(seq 1 "$REPEATS"); do
	[ "$round" = 1 ] && { one_run none - || exit 1; }
	order=$KINDS
	[ $((round % 2)) = 0 ] && order=$(echo "$KINDS" | tr ' ' '\n' | tac | tr '\n' ' ')
	for s in $SOCKS; do
		for k in $order; do
			one_run "$k" "$s" || exit 1
		done
	done
done

python3 - "$RESULTS" "$COUNT" "$WARMUP" "$HTML" <<'EOF'
import statistics, sys
path, count, warmup, html = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
runs = {}
for line in open(path):
    kind, sock, secs, jobs, cpu = line.split()
    runs.setdefault((kind, sock), []).append((float(secs), jobs, cpu))
def med(key):
    return statistics.median(r[0] for r in runs[key])
base = med(("none", "-"))
crm = "crm-milter tracking" if html else "crm-milter"
names = {"none": "postfix alone", "passthrough": "postfix + passthrough-milter",
         "replace": "postfix + passthrough, body replaced", "crm": "postfix + " + crm}
print("%-37s %-6s %8s %12s %11s %8s %11s %8s %11s" % ("path", "socket", "seconds",
      "delivered/s", "vs postfix", "vs pass", "milter cpu", "cpu/msg", "spool jobs"))
verdicts = []
# per-round ratios of path a's rate to path b's (b's seconds / a's)
def round_ratios(a, b, sock):
    return [rb[0] / ra[0] for rb, ra in zip(runs[(b, sock)], runs[(a, sock)])]
def each(rounds):
    if len(rounds) < 2:
        return ""
    return "; median of %d rounds: %s" % (len(rounds), " ".join("%.2f" % x for x in sorted(rounds)))
splits = []
for (kind, sock) in sorted(runs, key=lambda k: (k[1] != "-", k[1] != "unix", list(names).index(k[0]))):
    secs = med((kind, sock))
    ratio_pt = "-"
    if kind == "crm" and ("passthrough", sock) in runs:
        # Each round runs the two paths back to back, so its own ratio is
        # measured at one speed of the machine; the ratio is the median of
        # the rounds' (the VM's speed drifts by a third over minutes).
        rounds = round_ratios(kind, "passthrough", sock)
        r = statistics.median(rounds)
        ratio_pt = "%.2f" % r
        verdicts.append((sock, r, rounds))
    if kind == "replace" and ("passthrough", sock) in runs:
        rounds = round_ratios(kind, "passthrough", sock)
        ratio_pt = "%.2f" % statistics.median(rounds)
        splits.append(("Postfix taking the tracked body: replace vs pass", sock, rounds))
        if ("crm", sock) in runs:
            splits.append(("crm-milter's own work: crm vs replace", sock,
                           round_ratios("crm", "replace", sock)))
    jobs = runs[(kind, sock)][-1][1]
    cpu = cpu_msg = "-"
    if runs[(kind, sock)][-1][2] != "-":
        c = statistics.median(float(r[2]) for r in runs[(kind, sock)])
        # milter CPU covers the warm-up too
        cpu, cpu_msg = "%.2fs" % c, "%.2fms" % (1000 * c / (count + warmup))
    print("%-37s %-6s %8.2f %12.0f %11.2f %8s %11s %8s %11s" % (names[kind], sock, secs,
          count / secs, base / secs, ratio_pt, cpu, cpu_msg, jobs))
if not verdicts:
    print("target: %s >= 0.9x pass-through: NOT MEASURED (crm-milter not built)" % crm)
for what, sock, rounds in splits:
    print("split: %s (%s socket): %.2fx%s" % (what, sock, statistics.median(rounds), each(rounds)))
for sock, r, rounds in verdicts:
    print("target: %s >= 0.9x pass-through (%s socket): %s (%.2fx%s)"
          % (crm, sock, "MET" if r >= 0.9 else "NOT MET", r, each(rounds)))
EOF
