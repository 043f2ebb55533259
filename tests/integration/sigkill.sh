#!/usr/bin/env bash
# sigkill.sh - crm-milter killed with SIGKILL in the middle of 500 messages
# loses no mail (integration test).
#
# A throwaway Postfix (tests/lib/mta.sh) with
#   smtpd_milters = { unix:SOCK, default_action=accept }
# and milter_default_action = tempfail in main.cf, so only the per-milter
# setting lets mail through once the milter is gone. smtp-source sends 500
# messages over 5 parallel sessions (a new SMTP connection per message) to
# the ORIGINATING port, so crm-milter classifies each as outbound and spools
# it. When the sink has counted 50, crm-milter is SIGKILLed by its PID.
# Checks: the kill happened mid-run, all 500 reach the sink, the spool is
# still readable (crm-milterctl queue list --json; SQLite integrity_check),
# crm-milter restarts on the same spool and spools one more message, and
# crm-flusher --once runs.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no Postfix,
# crm-milter not built). CRM_TEST_MILTER=passthrough kills the pass-through
# milter instead and runs only the delivery checks.
set -u
. "$(dirname "$0")/../lib/mta.sh"

TOTAL=500
KILL_AT=50

mta_require_root
mta_require_postfix
MILTER=${CRM_TEST_MILTER:-crm}
if [ "$MILTER" = crm ]; then
	mta_require_bin "$top_builddir/crm-milter" crm-milter
	mta_require_bin "$top_builddir/crm-flusher" crm-flusher
	mta_require_bin "$top_builddir/crm-milterctl" crm-milterctl
	getent passwd crm-milter >/dev/null ||
		mta_skip "no crm-milter user (run scripts/install-deps.sh)"
else
	mta_require_bin "$top_builddir/bench/passthrough-milter" passthrough-milter
fi

mta_init sigkill
mta_sink_start || { mta_not_ok "smtp-sink starts"; mta_done; }

CRM=$MTA_TMP/crm
CONF=$MTA_TMP/crm-milter.conf
SOCK=unix:$CRM/milter.sock
mkdir -p "$CRM"
if [ "$MILTER" = crm ]; then
	mta_crm_config "$CONF" "$CRM" "$SOCK"
	mta_check "crm-milter starts" mta_crm_start "$CONF" "$SOCK"
	VICTIM=$MTA_CRM_PID
else
	chmod 755 "$CRM"
	mta_check "passthrough-milter starts" mta_passthrough_start "$SOCK"
	VICTIM=$MTA_PT_PID
fi
[ "$MTA_FAILED" = 0 ] || mta_done

PF=$MTA_TMP/pf
mta_postfix_make "$PF"
mta_postfix_conf "$PF" "smtpd_milters = { $SOCK, default_action=accept }" \
	"milter_default_action = tempfail"
if ! mta_postfix_start "$PF"; then
	mta_not_ok "postfix starts" "$(tail -n 20 "$PF/maillog" 2>/dev/null)"
	mta_done
fi
mta_ok "postfix starts with smtpd_milters = { $SOCK, default_action=accept }"

smtp-source -4 -s 5 -m "$TOTAL" -l 8192 -f alice@example.com -t bob@external.test \
	"127.0.0.1:$MTA_PF_SUB_PORT" >"$MTA_TMP/smtp-source.out" 2>&1 &
SRC=$!
MTA_PIDS+=("$SRC")	# ours; not disowned: we wait for its status

# Kill as soon as KILL_AT messages went through the milter.
killed_at=
end=$(($(date +%s) + 60))
while [ "$(date +%s)" -lt "$end" ]; do
	n=$(mta_sink_count)
	if [ "$n" -ge "$KILL_AT" ]; then
		kill -KILL "$VICTIM"
		killed_at=$n
		break
	fi
	mta_alive "$SRC" || break
	sleep 0.02
done
if [ -n "$killed_at" ] && [ "$killed_at" -lt "$TOTAL" ]; then
	mta_ok "$MILTER-milter SIGKILLed (PID $VICTIM) in the middle: $killed_at of $TOTAL delivered"
else
	mta_not_ok "$MILTER-milter SIGKILLed in the middle (sink had ${killed_at:-$(mta_sink_count)})"
fi
if mta_wait_gone "$VICTIM" 5; then
	mta_ok "the milter is gone"
else
	mta_not_ok "the milter is gone"
fi

wait "$SRC"
rc=$?
if [ "$rc" = 0 ]; then
	mta_ok "smtp-source sent all $TOTAL without an SMTP error"
else
	mta_not_ok "smtp-source sent all $TOTAL without an SMTP error (exit $rc)" \
		"$(tail -n 5 "$MTA_TMP/smtp-source.out")"
fi

if mta_sink_wait "$TOTAL" 60; then
	mta_ok "all $TOTAL messages reached the sink"
else
	mta_not_ok "all $TOTAL messages reached the sink (got $(mta_sink_count))" \
		"$(grep -E 'reject|defer|milter' "$PF/maillog" | tail -n 10)"
fi
sleep 0.5
n=$(mta_sink_count)
if [ "$n" = "$TOTAL" ]; then
	mta_ok "exactly $TOTAL at the sink (no duplicates)"
else
	mta_not_ok "exactly $TOTAL at the sink (got $n)"
fi
if [ -n "$(find "$PF/queue/deferred" "$PF/queue/hold" -type f 2>/dev/null | head -n 1)" ]; then
	mta_not_ok "nothing deferred or held in Postfix's queue"
else
	mta_ok "nothing deferred or held in Postfix's queue"
fi

if [ "$MILTER" = crm ]; then
	Q=$MTA_TMP/queue.json
	jobs_in() {
		python3 -c 'import json,sys
d = json.load(open(sys.argv[1]))
print(len(d if isinstance(d, list) else d.get("jobs", [])))' "$1"
	}
	if "$top_builddir/crm-milterctl" -c "$CONF" queue list --json >"$Q" 2>"$Q.err" &&
		jobs=$(jobs_in "$Q" 2>>"$Q.err"); then
		if [ "$jobs" -ge 1 ] && [ "$jobs" -le "$TOTAL" ]; then
			mta_ok "spool readable after SIGKILL: queue list --json shows $jobs jobs"
		else
			mta_not_ok "spool readable after SIGKILL: 1..$TOTAL jobs (found $jobs)"
		fi
	else
		mta_not_ok "spool readable after SIGKILL: crm-milterctl queue list --json" \
			"$(cat "$Q.err"; head -c 1000 "$Q")"
		jobs=0
	fi
	if command -v sqlite3 >/dev/null 2>&1; then
		ic=$(runuser -u crm-milter -- sqlite3 "$CRM/spool.db" 'PRAGMA integrity_check;' 2>&1)
		if [ "$ic" = ok ]; then
			mta_ok "SQLite integrity_check of the spool: ok"
		else
			mta_not_ok "SQLite integrity_check of the spool: ok" "$ic"
		fi
	fi

	mta_check "crm-milter restarts on the same spool" mta_crm_start "$CONF" "$SOCK"
	mta_make_message "$MTA_TMP/after" alice@example.com bob@external.test \
		"After the crash" after.1@example.com
	mta_check "a message after the restart is accepted" \
		mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@external.test "$MTA_TMP/after"
	mta_sink_wait $((TOTAL + 1)) 30
	if "$top_builddir/crm-milterctl" -c "$CONF" queue list --json >"$Q" 2>"$Q.err" &&
		after=$(jobs_in "$Q" 2>>"$Q.err") && [ "$after" = $((jobs + 1)) ]; then
		mta_ok "the restarted milter spooled it ($after jobs)"
	else
		mta_not_ok "the restarted milter spooled it (want $((jobs + 1)) jobs, got ${after:-?})" \
			"$(cat "$Q.err")"
	fi
	if out=$("$top_builddir/crm-flusher" -c "$CONF" --once 2>&1); then
		mta_ok "crm-flusher --once runs on the spool after the crash"
	else
		mta_not_ok "crm-flusher --once runs on the spool after the crash" "$out"
	fi
fi

[ "$MILTER" = crm ] && mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
