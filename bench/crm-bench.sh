#!/usr/bin/env bash
# crm-bench.sh - how fast crm-flusher drains a backlog into the CRMs (the
# local emulator, tests/crm-emulator), and how many API calls each
# activity costs where the API batches (issue 5).
#
# A command, not a test (not run by make check). As root, on this machine:
#   bench/crm-bench.sh [-n JOBS] [CONNECTOR...]
#     -n 5000    save jobs in the backlog (bench/spool-fill)
#     CONNECTOR  webhook, dynamics365, salesforce, hubspot (the default: all
#                four), zoho (one call per email at its default 5 requests
#                per second: 1000 s for 5000 jobs, so not by default)
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
CONNECTORS=${*:-webhook dynamics365 salesforce hubspot}
mta_require_root
for b in crm-flusher crm-milterctl bench/spool-fill; do mta_require_bin "$top_builddir/$b" "$b"; done
getent passwd crm-milter >/dev/null || mta_skip "no crm-milter user (run scripts/install-deps.sh)"
mta_init crm-bench

# profile TYPE: the crm section for the emulator at $MTA_EMU
profile() {
	case $1 in
	webhook) echo "crm \"bench\" { type = webhook  url = \"$MTA_EMU/webhook/bench\"  secret_file = \"$SECRET\" }" ;;
	dynamics365) echo "crm \"bench\" { type = dynamics365  url = \"$MTA_EMU/dynamics\"
	  token_url = \"$MTA_EMU/dynamics/login/$DYN_TENANT/oauth2/v2.0/token\"  tenant = \"$DYN_TENANT\"
	  client_id = \"11111111-2222-3333-4444-555555555555\"  client_secret_file = \"$MTA_TMP/dynamics.secret\"  directory_sync = 0 }" ;;
	salesforce) echo "crm \"bench\" { type = salesforce  url = \"$MTA_EMU/salesforce\"  client_id = \"3MVG9emulatorConsumerKey\"
	  client_secret_file = \"$MTA_TMP/salesforce.secret\"  directory_sync = 0 }" ;;
	hubspot) echo "crm \"bench\" { type = hubspot  url = \"$MTA_EMU/hubspot\"  token_file = \"$MTA_TMP/hubspot.token\"  directory_sync = 0 }" ;;
	zoho) echo "crm \"bench\" { type = zoho  token_url = \"$MTA_EMU/zoho/oauth/v2/token\"  client_id = \"1000.EMULATORCLIENT\"
	  client_secret_file = \"$MTA_TMP/zoho.secret\"  token_file = \"$MTA_TMP/zoho.refresh\"  directory_sync = 0 }" ;;
	*) echo "" ;;
	esac
}

# vendor TYPE: the emulator's name for it
vendor() { case $1 in dynamics365) echo dynamics ;; *) echo "$1" ;; esac; }

SECRET=$MTA_TMP/webhook.secret
DYN_TENANT=00000000-0000-0000-0000-00000000c0de
printf 'bench-webhook-secret-0123456789\n' >"$SECRET"
printf 'dynamics-emulator-secret\n' >"$MTA_TMP/dynamics.secret"
printf 'pat-na1-00000000-emulator\n' >"$MTA_TMP/hubspot.token"
printf 'salesforce-emulator-secret\n' >"$MTA_TMP/salesforce.secret"
printf 'zoho-emulator-secret\n' >"$MTA_TMP/zoho.secret"
printf '1000.emulator.refresh\n' >"$MTA_TMP/zoho.refresh"
for f in "$SECRET" "$MTA_TMP/dynamics.secret" "$MTA_TMP/salesforce.secret" "$MTA_TMP/hubspot.token" "$MTA_TMP/zoho.secret" "$MTA_TMP/zoho.refresh"; do
	chown root:crm-milter "$f"
	chmod 640 "$f"
done
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
	if [ "$type" = zoho ]; then
		# associate_email needs a Zoho record: Bob is a contact, in the directory
		mta_emu POST /_emu/seed '{"vendor":"zoho","kind":"Contacts","records":[{"Email":"bob@customer.test","First_Name":"Bob","Last_Name":"Buyer"}]}' >"$D/bob.json"
		printf 'address,type,id\nbob@customer.test,contact,%s\n' \
			"$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); r=r.get("records", r) if isinstance(r, dict) else r; print(r[0]["id"])' "$D/bob.json")" >"$D/dir.csv"
		"$top_builddir/crm-milterctl" -c "$D/conf" directory import "$D/dir.csv" >/dev/null || exit 1
	fi
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
awk '$1 == "dynamics365" || $1 == "salesforce" || $1 == "hubspot" { printf "%s: %.3f API calls per activity; target <= 0.05: %s\n", $1, $5, ($5 <= 0.05 ? "MET" : "NOT MET") }' "$ROWS"
awk '$1 == "zoho" { printf "zoho: %.3f API calls per activity (associate_email takes one email per call: no batching)\n", $5 }' "$ROWS"
exit 0
