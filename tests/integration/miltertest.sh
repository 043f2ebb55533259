#!/usr/bin/env bash
# miltertest.sh - the real crm-milter binary driven by miltertest (no MTA):
# outbound, inbound and internal messages give the right spool jobs and
# leave unmodified; the same message twice is one job; crm-flusher --once
# turns the jobs into ledger activities; SIGHUP refuses a bad config and
# keeps the old one, then applies a good one; SIGTERM stops it.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_init miltertest
command -v miltertest >/dev/null || mta_skip "miltertest is not installed"
mta_require_bin "$top_builddir/crm-milter" crm-milter
mta_require_bin "$top_builddir/crm-flusher" crm-flusher
mta_require_bin "$top_builddir/crm-milterctl" crm-milterctl
if [ "$(id -u)" = 0 ] && ! getent passwd crm-milter >/dev/null; then
	mta_skip "user crm-milter does not exist (scripts/install-deps.sh creates it)"
fi

LUA=$top_srcdir/tests/integration/milter.lua
SOCK=$MTA_TMP/milter.sock
CONF=$MTA_TMP/crm-milter.conf
CTL=$top_builddir/crm-milterctl
mta_crm_config "$CONF" "$MTA_TMP/spool" "unix:$SOCK"
cp "$CONF" "$CONF.good"
mta_crm_start "$CONF" "unix:$SOCK" || { mta_not_ok "crm-milter starts"; mta_done; }
mta_ok "crm-milter starts and listens on unix:$SOCK"

# run SCENARIO TAG: one miltertest session
run() {
	miltertest -s "$LUA" -D socket="$SOCK" -D scenario="$1" -D tag="$2"
}

# jobs DIRECTION: how many spool jobs have that direction
jobs() {
	"$CTL" -c "$CONF.good" queue list --json | python3 -c '
import json, sys
print(sum(1 for j in json.load(sys.stdin) if j["direction"] == sys.argv[1]))' "$1"
}

mta_check "outbound (authenticated) passes unmodified" run outbound-auth a1
mta_check "outbound (internal network) passes unmodified" run outbound-network n1
mta_check "inbound passes unmodified" run inbound i1
mta_check "internal passes unmodified" run internal x1
mta_check "the same message again passes" run outbound-auth a1

[ "$(jobs outbound)" = 2 ] && mta_ok "two outbound jobs (the repeat made none)" ||
	mta_not_ok "two outbound jobs" "$("$CTL" -c "$CONF" queue list)"
[ "$(jobs inbound)" = 1 ] && mta_ok "one inbound job" || mta_not_ok "one inbound job"
[ "$(jobs internal)" = 0 ] && mta_ok "internal mail is not queued" || mta_not_ok "internal mail is not queued"
grep -q "MTa1: direction=outbound (authenticated as alice)" "$MTA_TMP/crm-milter.log" &&
	mta_ok "the decision is logged with the queue id and reason" ||
	mta_not_ok "decision logged" "$(tail -5 "$MTA_TMP/crm-milter.log")"

mta_check "crm-flusher --once drains the spool" "$top_builddir/crm-flusher" -c "$CONF" --once
"$CTL" -c "$CONF" activities --json >"$MTA_TMP/acts.json"
[ "$(mta_activity_count "$MTA_TMP/acts.json" outbound alice@example.com bob@customer.test "Outbound a1")" = 1 ] &&
	mta_ok "ledger has the outbound activity" || mta_not_ok "ledger has the outbound activity" "$(cat "$MTA_TMP/acts.json")"
[ "$(mta_activity_count "$MTA_TMP/acts.json" inbound bob@customer.test alice@example.com "Inbound i1")" = 1 ] &&
	mta_ok "ledger has the inbound activity" || mta_not_ok "ledger has the inbound activity"
[ "$("$CTL" -c "$CONF" queue list --state pending --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" = 0 ] &&
	mta_ok "no job left pending" || mta_not_ok "no job left pending"

# SIGHUP with a bad config: refused, old config kept, still running
printf 'milter { sockt = "oops" }\n' >>"$CONF"
kill -HUP "$MTA_CRM_PID"
sleep 1
mta_alive "$MTA_CRM_PID" && grep -q "reload of .* refused" "$MTA_TMP/crm-milter.log" &&
	mta_ok "SIGHUP with a bad config is refused and the milter keeps running" ||
	mta_not_ok "bad reload refused" "$(tail -5 "$MTA_TMP/crm-milter.log")"
mta_check "old rules still apply after the refused reload" run outbound-auth a2
[ "$(jobs outbound)" = 3 ] && mta_ok "outbound still saved" || mta_not_ok "outbound still saved"

# SIGHUP with a good config that no longer saves outbound mail
grep -v 'rule "outbound"' "$CONF.good" >"$CONF"
kill -HUP "$MTA_CRM_PID"
sleep 1
grep -q "config .* reloaded" "$MTA_TMP/crm-milter.log" && mta_ok "SIGHUP reloads a good config" ||
	mta_not_ok "good reload" "$(tail -5 "$MTA_TMP/crm-milter.log")"
mta_check "outbound passes after the reload" run outbound-auth a3
[ "$(jobs outbound)" = 3 ] && mta_ok "the new rules apply (outbound no longer saved)" ||
	mta_not_ok "new rules apply"

if [ "$(id -u)" = 0 ]; then
	owner=$(stat -c %U "$MTA_TMP/spool/spool.db")
	[ "$owner" = crm-milter ] && mta_ok "spool belongs to crm-milter (privileges dropped)" ||
		mta_not_ok "spool owner is $owner"
	perm=$(stat -c '%a %G' "$SOCK")
	[ "$perm" = "660 postfix" ] && mta_ok "socket is 0660 group postfix" || mta_not_ok "socket is $perm"
fi

if [ "$(id -u)" = 0 ]; then
	sed 's/user = "crm-milter"/user = "no-such-user-here"/' "$CONF.good" >"$MTA_TMP/nouser.conf"
	sed -i "s|$SOCK|$MTA_TMP/nouser.sock|" "$MTA_TMP/nouser.conf"
	out=$(timeout 20 "$top_builddir/crm-milter" -c "$MTA_TMP/nouser.conf" -f 2>&1); rc=$?
	[ "$rc" = 1 ] && printf '%s' "$out" | grep -q 'user "no-such-user-here" does not exist' &&
		mta_ok "a missing user is a clear error at start" || mta_not_ok "missing user (exit $rc)" "$out"
fi

kill -TERM "$MTA_CRM_PID"
mta_wait_gone "$MTA_CRM_PID" 15 && mta_ok "SIGTERM stops crm-milter" || mta_not_ok "SIGTERM stops crm-milter"
[ -f "$MTA_TMP/crm-milter.log" ] && mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
