#!/usr/bin/env bash
# directory.sh - crm-milterctl directory import/list/lookup end to end on a
# real spool: a CSV with a byte order mark, CRLF, quoted commas and quotes
# and two bad rows (exit 1, FILE:LINE errors, the good rows imported), list
# and lookup as tables and JSON, re-import (updated, added_at kept), a
# fatal file (nothing imported), stdin, usage errors, and, as root, a file
# only root can read (opened before privileges are dropped).
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_init directory
mta_require_bin "$top_builddir/crm-milterctl" crm-milterctl
CTL=$top_builddir/crm-milterctl
CONF=$MTA_TMP/crm-milter.conf
mta_crm_config "$CONF" "$MTA_TMP/spool" "unix:$MTA_TMP/milter.sock"
CSV=$MTA_TMP/crm.csv
GOOD=$MTA_TMP/good.csv

printf '\xef\xbb\xbfaddress,type,id,name,no_follow\r\n' >"$CSV"
printf 'pat@customer.test,lead,L-1,Pat Lead,no\r\n' >>"$CSV"
printf 'Pat@Customer.TEST,contact,C-1,"Doe, Pat",yes\r\n' >>"$CSV"
printf 'bob@customer.test,account,A-1,"Bob ""The Builder"" Inc",\r\n' >>"$CSV"
printf 'nobody,contact,C-2,Nobody,no\r\n' >>"$CSV"
printf 'carol@customer.test,prospect,P-1,Carol,\r\n' >>"$CSV"
printf 'address,type,id,name\nbob@customer.test,account,A-1,Bob Builders\n' >"$GOOD"

# py DESC EXPR CMD...: CMD must exit 0 and its JSON output d satisfy EXPR
py() {
	local desc=$1 expr=$2 out
	shift 2
	if out=$("$@" 2>&1) &&
		printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"; then
		mta_ok "$desc"
	else
		mta_not_ok "$desc" "$out"
	fi
}

# ------------------------------------------------------------ import with bad rows
"$CTL" -c "$CONF" directory import "$CSV" >"$MTA_TMP/out" 2>"$MTA_TMP/err"
rc=$?
[ "$rc" = 1 ] && mta_ok "import with bad rows exits 1" || mta_not_ok "import exit $rc" "$(cat "$MTA_TMP/out" "$MTA_TMP/err")"
mta_check "import prints its counts" grep -qx "$CSV: 5 rows: 3 added, 0 updated, 2 bad" "$MTA_TMP/out"
mta_check "a bad address is FILE:5" grep -q "^$CSV:5: not one email address" "$MTA_TMP/err"
mta_check "an unknown type is FILE:6" grep -q "^$CSV:6: unknown type \"prospect\"" "$MTA_TMP/err"

# ------------------------------------------------------------ list and lookup
py "list --json: the good rows, by address then best match" \
	'[(e["address"], e["type"], e["id"]) for e in d] == [("bob@customer.test", "account", "A-1"), ("pat@customer.test", "contact", "C-1"), ("pat@customer.test", "lead", "L-1")]' \
	"$CTL" -c "$CONF" directory list --json
py "list --json: names with quotes and commas, no_follow" \
	'd[0]["name"] == "Bob \"The Builder\" Inc" and d[1]["name"] == "Doe, Pat" and d[1]["no_follow"] is True and d[2]["no_follow"] is False and d[0]["added_at"] > 0' \
	"$CTL" -c "$CONF" directory list --json
py "list --type lead" '[e["id"] for e in d] == ["L-1"]' "$CTL" -c "$CONF" directory list --type lead --json
py "list --limit 1" '[e["id"] for e in d] == ["A-1"]' "$CTL" -c "$CONF" directory list --limit 1 --json
out=$("$CTL" -c "$CONF" directory list 2>&1)
printf '%s\n' "$out" | grep -q '^pat@customer.test .*contact .*C-1 .*yes .*Doe, Pat$' &&
	mta_ok "list prints a table" || mta_not_ok "list table" "$out"
py "lookup ignores case, contact before lead" \
	'[(e["type"], e["id"]) for e in d] == [("contact", "C-1"), ("lead", "L-1")]' \
	"$CTL" -c "$CONF" directory lookup PAT@customer.test --json
out=$("$CTL" -c "$CONF" directory lookup pat@customer.test 2>&1)
[ "$(printf '%s\n' "$out" | sed -n 2p | awk '{print $2}')" = contact ] &&
	mta_ok "lookup's table shows the best match first" || mta_not_ok "lookup table" "$out"
out=$("$CTL" -c "$CONF" directory lookup nobody@customer.test 2>&1); rc=$?
[ "$rc" = 1 ] && printf '%s' "$out" | grep -q "not in the directory" &&
	mta_ok "lookup of an unknown address exits 1" || mta_not_ok "lookup unknown (exit $rc)" "$out"

# ------------------------------------------------------------ re-import, fatal, stdin
before=$("$CTL" -c "$CONF" directory lookup bob@customer.test --json |
	python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["added_at"])')
sleep 1
out=$("$CTL" -c "$CONF" directory import "$GOOD" 2>&1); rc=$?
[ "$rc" = 0 ] && printf '%s' "$out" | grep -q "1 rows: 0 added, 1 updated, 0 bad" &&
	mta_ok "a clean re-import exits 0 and updates" || mta_not_ok "re-import (exit $rc)" "$out"
py "an update keeps added_at and replaces the name" \
	"d[0]['added_at'] == $before and d[0]['name'] == 'Bob Builders'" \
	"$CTL" -c "$CONF" directory lookup bob@customer.test --json
printf 'dan@customer.test,contact,C-9\n' >"$MTA_TMP/nohead.csv"
out=$("$CTL" -c "$CONF" directory import "$MTA_TMP/nohead.csv" 2>&1); rc=$?
[ "$rc" = 1 ] && printf '%s' "$out" | grep -q "^$MTA_TMP/nohead.csv:1: the first row must be a header" &&
	printf '%s' "$out" | grep -q "nothing imported" &&
	mta_ok "a file without a header imports nothing, FILE:1" || mta_not_ok "no header (exit $rc)" "$out"
py "nothing from the headerless file" 'len(d) == 3' "$CTL" -c "$CONF" directory list --json
out=$(printf 'address,type,id\ndan@customer.test,user,U-1\n' | "$CTL" -c "$CONF" directory import - 2>&1); rc=$?
[ "$rc" = 0 ] && printf '%s' "$out" | grep -q "1 added" && mta_ok "import - reads stdin" ||
	mta_not_ok "import - (exit $rc)" "$out"
py "import --json" 'd["added"] == 0 and d["updated"] == 3 and d["bad"] == 2 and [e["line"] for e in d["errors"]] == [5, 6]' \
	sh -c '"$0" -c "$1" directory import --json "$2"; [ $? = 1 ]' "$CTL" "$CONF" "$CSV"
out=$("$CTL" -c "$CONF" directory import "$MTA_TMP/missing.csv" 2>&1); rc=$?
[ "$rc" = 1 ] && printf '%s' "$out" | grep -q "missing.csv" && mta_ok "a missing file exits 1" ||
	mta_not_ok "missing file (exit $rc)" "$out"

# ------------------------------------------------------------ usage
for args in "list --type prospect" "import" "lookup" "frobnicate" "list extra"; do
	out=$("$CTL" -c "$CONF" directory $args 2>&1); rc=$?
	[ "$rc" = 2 ] && mta_ok "usage error: directory $args" || mta_not_ok "directory $args (exit $rc)" "$out"
done

# ------------------------------------------------------------ privileges
if [ "$(id -u)" = 0 ] && getent passwd crm-milter >/dev/null; then
	printf 'address,type,id\nerin@customer.test,contact,C-5\n' >"$MTA_TMP/private.csv"
	chmod 600 "$MTA_TMP/private.csv"
	out=$("$CTL" -c "$CONF" directory import "$MTA_TMP/private.csv" 2>&1); rc=$?
	[ "$rc" = 0 ] && mta_ok "root imports a file only root can read" || mta_not_ok "private file (exit $rc)" "$out"
	owner=$(stat -c %U "$MTA_TMP/spool/spool.db")
	[ "$owner" = crm-milter ] && mta_ok "the spool stays crm-milter's" || mta_not_ok "spool owner $owner"
fi

mta_done
