#!/usr/bin/env bash
# ctl.sh - crm-milterctl end to end: check-config (exit 0, or 1 with
# file:line errors), the test dry run's JSON, and queue list/show/retry/
# purge plus activities on a real spool filled by the real milter
# (through miltertest) and drained by the real flusher.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_init ctl
mta_require_bin "$top_builddir/crm-milterctl" crm-milterctl
CTL=$top_builddir/crm-milterctl
CONF=$MTA_TMP/crm-milter.conf
mta_crm_config "$CONF" "$MTA_TMP/spool" "unix:$MTA_TMP/milter.sock"

# ------------------------------------------------------------ check-config
mta_check "check-config accepts a good config" "$CTL" -c "$CONF" check-config
mta_check "check-config accepts the shipped sample" "$CTL" -c "$top_srcdir/conf/crm-milter.conf.sample" check-config

# bad CONTENT LINE-PATTERN: check-config must exit 1 and print the pattern
bad() {
	local desc=$1 content=$2 want=$3 out rc
	printf '%b' "$content" >"$MTA_TMP/bad.conf"
	out=$("$CTL" -c "$MTA_TMP/bad.conf" check-config 2>&1)
	rc=$?
	if [ "$rc" = 1 ] && printf '%s' "$out" | grep -q -- "$MTA_TMP/bad.conf:$want"; then
		mta_ok "check-config: $desc"
	else
		mta_not_ok "check-config: $desc (exit $rc)" "$out"
	fi
}
bad "unknown option names file:line" 'milter {\n  socket = "unix:/x"\n  sockt = "y"\n}\n' '3:.*sockt'
bad "bad enum value names file:line" 'milter {\n  on_internal_error = maybe\n}\n' '2:.*maybe'
bad "dangling save reference names the rule's line" 'crm "local" { type = ledger }\n\nrule "r" {\n direction = outbound\n save = "nowhere"\n}\n' '[0-9]*:.*nowhere'
bad "out-of-range value names file:line" 'spool {\n max_attempts = 0\n}\n' '2:.*max_attempts'
out=$("$CTL" -c "$MTA_TMP/missing.conf" check-config 2>&1); rc=$?
[ "$rc" = 1 ] && printf '%s' "$out" | grep -q "missing.conf" && mta_ok "check-config: a missing file is exit 1" ||
	mta_not_ok "check-config: missing file (exit $rc)" "$out"

# ------------------------------------------------------------ test (dry run)
mta_make_message "$MTA_TMP/out.eml" alice@example.com bob@customer.test "Proposal" p1@example.com
mta_make_message "$MTA_TMP/in.eml" bob@customer.test alice@example.com "Re: Proposal" p2@customer.test
mta_make_message "$MTA_TMP/int.eml" alice@example.com dan@example.com "Lunch" p3@example.com

# dry DESC EXPECT-PY ARGS...: run the dry run, check its JSON with a python expression over d
dry() {
	local desc=$1 expr=$2 out
	shift 2
	if out=$("$CTL" -c "$CONF" test "$@" 2>&1) &&
		printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"; then
		mta_ok "test: $desc"
	else
		mta_not_ok "test: $desc" "$out"
	fi
}
dry "authenticated sender is outbound and saved" \
	'd["direction"]=="outbound" and d["rule"]=="outbound" and d["actions"]["save"]=="local" and "alice" in d["reason"]' \
	--auth alice "$MTA_TMP/out.eml"
dry "outbound daemon" 'd["direction"]=="outbound" and "ORIGINATING" in d["reason"]' --daemon ORIGINATING --client 203.0.113.5 "$MTA_TMP/out.eml"
dry "internal network" 'd["direction"]=="outbound" and "10.99.0.0/16" in d["reason"]' --client 10.99.3.4 "$MTA_TMP/out.eml"
dry "local submission" 'd["direction"]=="outbound" and "local" in d["reason"]' --local "$MTA_TMP/out.eml"
dry "reply from outside is inbound" 'd["direction"]=="inbound" and d["rule"]=="inbound"' --client 203.0.113.5 "$MTA_TMP/in.eml"
dry "envelope options override the headers" 'd["direction"]=="inbound"' --client 203.0.113.5 --from x@spam.test --rcpt alice@example.com "$MTA_TMP/out.eml"
dry "internal mail matches no rule" 'd["direction"]=="internal" and d["rule"] is None and d["actions"]["save"] is False' --auth alice "$MTA_TMP/int.eml"
# the capture facts: control headers and the dropbox to remove, regarding,
# participants with their directory records, attachments kept and dropped
cp "$CONF" "$MTA_TMP/cap.conf"
printf 'capture { dropbox = "crm@example.com" }\n' >>"$MTA_TMP/cap.conf"
printf 'address,type,id,name,no_follow\nbob@customer.test,contact,C-1,Bob,no\n' >"$MTA_TMP/d.csv"
"$CTL" -c "$MTA_TMP/cap.conf" directory import "$MTA_TMP/d.csv" >/dev/null 2>&1
cp "$top_srcdir/tests/data/mail/outbound/11-executable.eml" "$MTA_TMP/exe.eml" 2>/dev/null
{
	printf 'From: <alice@example.com>\r\nTo: <bob@customer.test>\r\nSubject: Files\r\n'
	printf 'Message-ID: <files.1@example.com>\r\nX-CRM-Regarding: account:ACC-9\r\nX-CRM-Category: Legal\r\n'
	printf 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n'
	printf -- '--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n'
	printf -- '--b\r\nContent-Type: application/pdf; name="terms.pdf"\r\nContent-Disposition: attachment; filename="terms.pdf"\r\n\r\n%%PDF-1.4\r\n'
	printf -- '--b\r\nContent-Type: application/octet-stream; name="setup.exe"\r\nContent-Disposition: attachment; filename="setup.exe"\r\n\r\nMZ\r\n'
	printf -- '--b--\r\n'
} >"$MTA_TMP/files.eml"
dry_cap() {
	local desc=$1 expr=$2 out
	shift 2
	if out=$("$CTL" -c "$MTA_TMP/cap.conf" test "$@" 2>&1) &&
		printf '%s' "$out" | sed -n '/^{/,$p' | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"; then
		mta_ok "test: $desc"
	else
		mta_not_ok "test: $desc" "$out"
	fi
}
dry_cap "control headers set regarding and category and are listed for removal" \
	'd["actions"]["regarding"]=="account:ACC-9" and d["actions"]["category"]=="Legal" and sorted(d["edits"]["remove_headers"])==["X-CRM-Category","X-CRM-Regarding"]' \
	--auth alice "$MTA_TMP/files.eml"
dry_cap "the dropbox recipient is to be removed and is no participant" \
	'd["dropbox"] and d["edits"]["remove_recipients"]==["crm+deal-D-5@example.com"] and all(p["address"]!="crm+deal-d-5@example.com" for p in d["participants"])' \
	--auth alice --rcpt bob@customer.test --rcpt crm+deal-D-5@example.com "$MTA_TMP/files.eml"
dry_cap "participants show their directory records" \
	'[p["directory"] for p in d["participants"] if p["address"]=="bob@customer.test"]==[["contact"]]' \
	--auth alice "$MTA_TMP/files.eml"
dry_cap "attachments kept and dropped (executables blocked)" \
	'any("terms.pdf" in k for k in d["attachments"]["kept"]) and any("setup.exe" in x and "blocked" in x for x in d["attachments"]["dropped"])' \
	--auth alice "$MTA_TMP/files.eml"
dry_cap "an inbound reply shows no correlation when nothing is tracked" \
	'd["correlation"]["method"] is None' --client 203.0.113.5 "$MTA_TMP/in.eml"
out=$("$CTL" -c "$CONF" test "$MTA_TMP/nope.eml" 2>&1); rc=$?
[ "$rc" != 0 ] && mta_ok "test: a missing file fails" || mta_not_ok "test: missing file" "$out"

# ------------------------------------------------------------ queue + activities
if command -v miltertest >/dev/null && [ -x "$top_builddir/crm-milter" ] && [ -x "$top_builddir/crm-flusher" ] &&
	{ [ "$(id -u)" != 0 ] || getent passwd crm-milter >/dev/null; }; then
	mta_crm_start "$CONF" "unix:$MTA_TMP/milter.sock" || mta_not_ok "crm-milter starts"
	for s in outbound-auth:q1 inbound:q2; do
		miltertest -s "$top_srcdir/tests/integration/milter.lua" -D socket="$MTA_TMP/milter.sock" \
			-D scenario="${s%%:*}" -D tag="${s##*:}" >/dev/null 2>&1
	done
	mta_kill "$MTA_CRM_PID"
	ids=$("$CTL" -c "$CONF" queue list --json | python3 -c 'import json,sys; print(" ".join(str(j["id"]) for j in json.load(sys.stdin)))')
	set -- $ids
	[ $# = 2 ] && mta_ok "queue list shows the two queued jobs" || mta_not_ok "queue list: '$ids'"
	"$CTL" -c "$CONF" queue list | grep -q pending && mta_ok "queue list prints a table" || mta_not_ok "queue list table"

	# a config whose profile was renamed, one attempt: the jobs go dead
	sed -e 's/crm "local"/crm "other"/' -e 's/save = "local"/save = "other"/' \
		-e 's|^spool { path = \(.*\) }|spool { path = \1 max_attempts = 1 }|' "$CONF" >"$MTA_TMP/renamed.conf"
	"$top_builddir/crm-flusher" -c "$MTA_TMP/renamed.conf" --once >/dev/null 2>&1
	n=$("$CTL" -c "$CONF" queue list --state dead --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$n" = 2 ] && mta_ok "jobs for a missing profile are dead after max_attempts" || mta_not_ok "dead jobs: $n"
	first=$1
	"$CTL" -c "$CONF" queue show "$first" --json | python3 -c '
import json,sys; j=json.load(sys.stdin); sys.exit(0 if j["state"]=="dead" and "local" in j["last_error"] and j["attempts"]==1 else 1)' &&
		mta_ok "queue show gives state, attempts and last error" || mta_not_ok "queue show" "$("$CTL" -c "$CONF" queue show "$first")"
	mta_check "queue retry" "$CTL" -c "$CONF" queue retry "$first"
	mta_check "queue purge" "$CTL" -c "$CONF" queue purge "$2"
	"$CTL" -c "$CONF" queue show "$2" >/dev/null 2>&1 && mta_not_ok "purged job is gone" || mta_ok "purged job is gone"
	"$top_builddir/crm-flusher" -c "$CONF" --once >/dev/null 2>&1
	"$CTL" -c "$CONF" queue show "$first" --json | grep -q '"state" : "done"' &&
		mta_ok "the retried job is delivered" || mta_not_ok "retried job delivered" "$("$CTL" -c "$CONF" queue show "$first")"
	"$CTL" -c "$CONF" activities --json >"$MTA_TMP/acts.json"
	[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$MTA_TMP/acts.json")" = 1 ] &&
		mta_ok "activities --json lists the one activity" || mta_not_ok "activities" "$(cat "$MTA_TMP/acts.json")"
	"$CTL" -c "$CONF" activities | grep -q "1 activities" && mta_ok "activities prints a table" || mta_not_ok "activities table"
	out=$("$CTL" -c "$CONF" queue show 99999 2>&1); rc=$?
	[ "$rc" = 1 ] && mta_ok "queue show of an unknown id is exit 1" || mta_not_ok "unknown id (exit $rc)" "$out"
	out=$("$CTL" -c "$CONF" queue show abc 2>&1); rc=$?
	[ "$rc" = 2 ] && mta_ok "queue show of a bad id is a usage error" || mta_not_ok "bad id (exit $rc)" "$out"
else
	echo "# queue/activities part skipped: needs miltertest, crm-milter, crm-flusher (and user crm-milter as root)"
fi
[ -f "$MTA_TMP/crm-milter.log" ] && mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
