#!/usr/bin/env bash
# crm-bench.sh - how fast crm-flusher drains a backlog into the CRMs (the
# local emulator, tests/crm-emulator), and how many API calls each
# activity costs where the API batches (issue 5).
#
# A command, not a test (not run by make check). As root, on this machine:
#   bench/crm-bench.sh [-n JOBS] [CONNECTOR...]
#     -n 5000    save jobs in the backlog (bench/spool-fill)
#     CONNECTOR  webhook (default) and, when built, dynamics365, salesforce,
#                hubspot, zoho
# Environment: top_builddir (default: the source tree) holds crm-flusher,
# crm-milterctl and bench/spool-fill.
#
# For each connector: a fresh spool with JOBS save jobs (a 4 KB sales
# e-mail to two customers, each with its own Message-ID), a fresh emulator,
# then "crm-flusher --once" (again while jobs are left), timed until the
# backlog is empty. It prints activities per second, API calls per activity
# (the emulator's count, token requests apart) and checks that the emulator
# stored every activity once. The webhook row also has a baseline measured
# in the same run: bench/webhook-baseline.py POSTing the same number of
# signed documents over 4 connections (the flusher's 4 workers), i.e. the
# receiver's own pace; the ratio is ours / baseline.
# Targets: webhook >= 1000 activities/s; batching connectors <= 0.05 API
# calls per activity.
set -u
. "$(dirname "$0")/../tests/lib/mta.sh"

JOBS=5000
while getopts "n:h" opt; do
	case $opt in
	n) JOBS=$OPTARG ;;
	*) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
CONNECTORS=${*:-webhook}
mta_require_root
for b in crm-flusher crm-milterctl bench/spool-fill; do mta_require_bin "$top_builddir/$b" "$b"; done
getent passwd crm-milter >/dev/null || mta_skip "no crm-milter user (run scripts/install-deps.sh)"
mta_init crm-bench

# profile TYPE: the crm section for the emulator at $MTA_EMU
profile() {
	case $1 in
	webhook) echo "crm \"bench\" { type = webhook  url = \"$MTA_EMU/webhook/bench\"  secret_file = \"$SECRET\" }" ;;
	*) echo "" ;;
	esac
}

# vendor TYPE: the emulator's name for it
vendor() { case $1 in dynamics365) echo dynamics ;; *) echo "$1" ;; esac; }

SECRET=$MTA_TMP/webhook.secret
printf 'bench-webhook-secret-0123456789\n' >"$SECRET"
chown root:crm-milter "$SECRET"
chmod 640 "$SECRET"
python3 - "$top_srcdir/tests/crm-emulator/example-config.json" "$MTA_TMP/emu.json" "$SECRET" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["webhook"]["secret_file"] = sys.argv[3]
c["log_limit"] = 1000
json.dump(c, open(sys.argv[2], "w"))
PY

ROWS=$MTA_TMP/rows
: >"$ROWS"
for type in $CONNECTORS; do
	mta_emulator_start "$MTA_TMP/emu.json" || { echo "emulator did not start"; exit 1; }
	sect=$(profile "$type")
	[ -n "$sect" ] || { echo "crm-bench: no profile for $type yet"; mta_kill "$MTA_EMU_PID"; continue; }
	D=$MTA_TMP/$type
	mkdir -p "$D/tmp"
	chown -R crm-milter: "$D"
	cat >"$D/conf" <<EOF
milter { user = "crm-milter" tmp_dir = "$D/tmp" }
spool { path = "$D/spool.db" }
flusher { batch_size = 200 }
$sect
EOF
	"$top_builddir/crm-milterctl" -c "$D/conf" check-config >/dev/null || exit 1
	su -s /bin/sh crm-milter -c "'$top_builddir/bench/spool-fill' '$D/spool.db' bench $JOBS" >/dev/null || exit 1
	t0=$(date +%s.%N)
	for round in $(seq 1 100); do
		"$top_builddir/crm-flusher" -c "$D/conf" --once >>"$D/flusher.log" 2>&1
		left=$("$top_builddir/crm-milterctl" -c "$D/conf" queue profiles --json |
			python3 -c 'import json,sys; print(sum(p["pending"]+p["leased"] for p in json.load(sys.stdin)))')
		[ "$left" = 0 ] && break
		sleep 0.2
	done
	t1=$(date +%s.%N)
	v=$(vendor "$type")
	mta_emu GET /_emu/stats >"$D/stats.json"
	python3 - "$D/stats.json" "$v" "$JOBS" "$t0" "$t1" "$type" "$left" >>"$ROWS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
v, n, t0, t1, t, left = sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6], sys.argv[7]
calls = s["api_calls"].get(v, 0)
stored = sum(s["records"].get(v, {}).values()) if v != "webhook" else s["records"]["webhook"].get("activity", 0)
print("%-12s %6d %8.2f %10.0f %10.3f %8d %6d %6s" % (t, n, t1 - t0, n / (t1 - t0), calls / n,
      stored, s.get("duplicates", 0), left))
PY
	if [ "$type" = webhook ]; then
		mta_emu POST /_emu/reset >/dev/null
		python3 "$top_srcdir/bench/webhook-baseline.py" "$MTA_EMU/webhook/base" "$SECRET" "$JOBS" 4 \
			>"$MTA_TMP/baseline.txt" || exit 1
	fi
	mta_kill "$MTA_EMU_PID"
done

printf '%-12s %6s %8s %10s %10s %8s %6s %6s\n' connector jobs seconds act/s calls/act stored dups left
cat "$ROWS"
if [ -s "$MTA_TMP/baseline.txt" ]; then
	base=$(sed -n 's/.*: \([0-9]*\)\/s$/\1/p' "$MTA_TMP/baseline.txt")
	ours=$(awk '$1 == "webhook" { print $4 }' "$ROWS")
	printf 'webhook baseline (webhook-baseline.py, 4 connections): %s\n' "$(cat "$MTA_TMP/baseline.txt")"
	awk -v o="$ours" -v b="$base" 'BEGIN { printf "webhook: crm-flusher %.0f/s vs baseline %.0f/s = %.2fx; target >= 1000/s: %s\n", o, b, o / b, (o >= 1000 ? "MET" : "NOT MET") }'
fi
awk '$1 != "webhook" { printf "%s: %.3f API calls per activity; target <= 0.05: %s\n", $1, $5, ($5 <= 0.05 ? "MET" : "NOT MET") }' "$ROWS"
exit 0
