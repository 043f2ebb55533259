#!/usr/bin/env bash
# crm-dynamics.sh - the dynamics365 connector end to end (issue 5): real
# mail through Postfix and crm-milter, crm-flusher writing to the CRM
# emulator's Dataverse (tests/crm-emulator, which checks every request
# field by field): the directory synced from the CRM first (so parties
# resolve to the system user and the contact), the sent message as an
# email with its parties, direction, message id, subject, body, regarding
# record, attachment and completed state; the reply correlated to it and
# the delivery report reaching the sent email's mapped rollup columns
# (replied, bounced) and the rest in a note; then a fault run (429 with
# Retry-After and 500s on a share of the calls) that still ends with
# every message exactly once and no request inside a Retry-After window;
# a secret file other users can read makes crm-flusher refuse to start.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_crm_script crm-dynamics
TENANT=00000000-0000-0000-0000-00000000c0de
CLIENT=11111111-2222-3333-4444-555555555555
ACCOUNT=0a0a0a0a-0000-4000-8000-000000000001

# the emulator, with two custom columns on email for the mapped rollups
SECRET=$MTA_TMP/dynamics.secret
printf 'dynamics-emulator-secret\n' >"$SECRET"
chown root:crm-milter "$SECRET"
chmod 640 "$SECRET"
python3 - "$top_srcdir/tests/crm-emulator/example-config.json" "$MTA_TMP/emu.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["dynamics"]["custom_fields"] = {"emails": ["new_replied", "new_bounced"]}
json.dump(c, open(sys.argv[2], "w"))
PY
mta_emulator_start "$MTA_TMP/emu.json" && mta_ok "the CRM emulator starts" ||
	{ mta_not_ok "emulator starts" "$(tail "$MTA_TMP/emulator.log")"; mta_done; }
mta_emu POST /_emu/seed '[{"vendor":"dynamics","kind":"systemusers","records":[{"systemuserid":"11111111-aaaa-4aaa-8aaa-000000000001","internalemailaddress":"alice@example.com","fullname":"Alice Example"}]},
 {"vendor":"dynamics","kind":"contacts","records":[{"contactid":"22222222-bbbb-4bbb-8bbb-000000000002","emailaddress1":"bob@customer.test","fullname":"Bob Customer"},
  {"contactid":"33333333-cccc-4ccc-8ccc-000000000003","emailaddress1":"optout@customer.test","followemail":false}]},
 {"vendor":"dynamics","kind":"accounts","records":[{"accountid":"'"$ACCOUNT"'","name":"Customer Ltd","emailaddress1":"info@customer.test"}]}]' >/dev/null

mta_crm_config "$CONF" "$CRM" "$SOCK"
python3 - "$CONF" "$MTA_EMU" "$SECRET" "$TENANT" "$CLIENT" "$ACCOUNT" <<'PY'
import sys
p, base, secret, tenant, client, account = sys.argv[1:7]
s = open(p).read()
s = s.replace('crm "local" { type = ledger }',
    'crm "dyn" { type = dynamics365  url = "%s/dynamics"\n'
    '  token_url = "%s/dynamics/login/%s/oauth2/v2.0/token"\n'
    '  tenant = "%s"  client_id = "%s"  client_secret_file = "%s"\n'
    '  rollup_fields = {"replied=new_replied", "bounced=new_bounced"}  timeout = 10 }'
    % (base, base, tenant, tenant, client, secret))
s = s.replace('rule "outbound" { direction = outbound  save = "local" }',
    'rule "outbound" { direction = outbound  save = "dyn"  regarding = "account:%s" }' % account)
s = s.replace('rule "inbound"  { direction = inbound   save = "local" }',
    'rule "inbound"  { direction = inbound   save = "dyn" }')
s += 'spool { backoff_base = 1  backoff_max = 2  max_attempts = 50 }\n'
open(p, "w").write(s)
PY
mta_crm_up dynamics365

# drain: crm-flusher --once until nothing is pending (events wait for their email)
drain() {
	local round left
	for round in $(seq 1 "${1:-60}"); do
		"$FLUSHER" -c "$CONF" --once >>"$MTA_TMP/flusher.log" 2>&1
		left=$(mta_crm_left "$CONF")
		[ "$left" = 0 ] && { echo "$round"; return 0; }
		sleep 1
	done
	echo "$left left"
	return 1
}

mta_crm_messages "$M" dyn.1@example.com dyn-reply.1@customer.test Bob "" "" dyn-dsn.1@mx.customer.test
mta_check "sent message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@customer.test,carol@customer.test "$M/sent"
mta_sink_wait 1 30 || mta_not_ok "sink got the sent message"
mta_check "reply accepted" mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/reply"
mta_check "DSN accepted" mta_swaks "$MTA_PF_IN_PORT" "" alice@example.com "$M/dsn"
mta_sink_wait 3 30 || mta_not_ok "sink got the reply and the DSN"
rounds=$(drain 30) && mta_ok "crm-flusher drains the spool ($rounds rounds)" ||
	mta_not_ok "drain" "$rounds; $(tail -20 "$MTA_TMP/flusher.log")"
"$CTL" -c "$CONF" directory lookup optout@customer.test --json >"$MTA_TMP/optout.json" 2>&1
python3 -c 'import json,sys; e=json.load(open(sys.argv[1])); e=e[0] if isinstance(e,list) else e; sys.exit(0 if e["type"]=="contact" and e["no_follow"] is True and e["id"]=="33333333-cccc-4ccc-8ccc-000000000003" else 1)' "$MTA_TMP/optout.json" 2>/dev/null &&
	mta_ok "the directory was synced from Dataverse, followemail=false as no_follow" ||
	mta_not_ok "directory sync" "$(cat "$MTA_TMP/optout.json")"
mta_emu GET "/_emu/records?vendor=dynamics" >"$MTA_TMP/recs.json"
# check PYEXPR: evaluated with r (all dynamics records), email(msgid), parties(id)
check() {
	python3 - "$MTA_TMP/recs.json" "$1" <<'PY'
import base64, json, sys
r = json.load(open(sys.argv[1]))
def email(mid):
    e = [x for x in r.get("emails", []) if x.get("messageid") == mid]
    return e[0] if len(e) == 1 else None
def parties(aid):
    return sorted((p["participationtypemask"], p.get("addressused"), p.get("partyid_type"))
                  for p in r.get("activityparties", []) if p.get("activityid") == aid)
def files(aid):
    return [a for a in r.get("activitymimeattachments", []) if a.get("_objectid_value") == aid]
def notes(aid):
    return [n for n in r.get("annotations", []) if n.get("_objectid_value") == aid]
ok = False
try:
    ok = bool(eval(sys.argv[2]))
except Exception as e:
    print("error:", e)
if not ok:
    print(json.dumps({k: v for k, v in r.items() if k in ("emails", "annotations")}, indent=1)[:3000])
sys.exit(0 if ok else 1)
PY
}
check 'email("<dyn.1@example.com>")["directioncode"] is True and email("<dyn.1@example.com>")["subject"] == "Quote for Q3" and "Hello Bob, the quote is attached." in email("<dyn.1@example.com>")["description"] and email("<dyn.1@example.com>")["statecode"] == 1 and email("<dyn.1@example.com>")["statuscode"] == 3' &&
	mta_ok "the sent message is one completed outbound email: message id, subject, body" || mta_not_ok "sent email"
check 'parties(email("<dyn.1@example.com>")["activityid"]) == [(1, "alice@example.com", "systemuser"), (2, "bob@customer.test", "contact"), (3, "carol@customer.test", None)]' &&
	mta_ok "its parties: the sender a system user, To a contact, Cc an address" || mta_not_ok "parties"
check 'email("<dyn.1@example.com>")["regardingobjecttypecode"] == "account" and email("<dyn.1@example.com>")["_regardingobjectid_value"] == "'"$ACCOUNT"'"' &&
	mta_ok "it is regarding the rule's account" || mta_not_ok "regarding"
check '[(a["filename"], a["mimetype"], base64.b64decode(a["body"])[:8]) for a in files(email("<dyn.1@example.com>")["activityid"])] == [("quote.pdf", "application/pdf", b"%PDF-1.4")]' &&
	mta_ok "its attachment is an activitymimeattachment with its bytes" || mta_not_ok "attachment"
check 'email("<dyn-reply.1@customer.test>")["directioncode"] is False and email("<dyn-reply.1@customer.test>")["statuscode"] == 4 and parties(email("<dyn-reply.1@customer.test>")["activityid"])[0] == (1, "bob@customer.test", "contact") and email("<dyn-reply.1@customer.test>")["_regardingobjectid_value"] == "'"$ACCOUNT"'"' &&
	mta_ok "the reply is a received inbound email from the contact, regarding the same account" || mta_not_ok "reply"
check 'email("<dyn.1@example.com>").get("new_replied") is True and email("<dyn.1@example.com>").get("new_bounced") is True' &&
	mta_ok "the reply and the bounce reach the sent email's mapped rollup columns" || mta_not_ok "mapped rollups"
check 'len(notes(email("<dyn.1@example.com>")["activityid"])) == 1 and "Opens: 0" in notes(email("<dyn.1@example.com>")["activityid"])[0]["notetext"] and "Replied" not in notes(email("<dyn.1@example.com>")["activityid"])[0]["notetext"]' &&
	mta_ok "the unmapped rollups are one note on the sent email" || mta_not_ok "note"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["warnings"], s["internal_errors"]); sys.exit(0 if s["warnings"]==0 and s["internal_errors"]==0 and s["duplicates"]==0 else 1)' "$MTA_TMP/stats.json" >/dev/null &&
	mta_ok "the emulator saw no request it had to warn about" ||
	mta_not_ok "emulator warnings" "$(mta_emu GET '/_emu/requests?vendor=dynamics' | python3 -c 'import json,sys; [print(e["method"], e["path"], e["warnings"]) for e in json.load(sys.stdin) if e["warnings"]]')"

# fault run: 429 with Retry-After 1 s and 500s on a share of the calls
mta_emu POST /_emu/faults '{"vendor":"dynamics","kind":"429","rate":0.15,"retry_after":1,"seed":7}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"dynamics","kind":"500","rate":0.1}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"dynamics","kind":"503","rate":0.05,"phase":"after"}' >/dev/null
N=40
for i in $(seq 1 $N); do
	printf 'From: <alice@example.com>\nTo: <bob@customer.test>\nSubject: Fault run %s\nMessage-ID: <dynfault.%s@example.com>\n\nbody %s\n' \
		"$i" "$i" "$i" >"$M/f$i"
done
for i in $(seq 1 $N); do mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/f$i" >/dev/null 2>&1; done
mta_sink_wait $((N + 3)) 60 || mta_not_ok "sink got the fault-run mail"
rounds=$(drain 90) && mta_ok "the backlog drains despite the faults ($rounds rounds)" || mta_not_ok "backlog" "$rounds"
mta_emu GET "/_emu/records?vendor=dynamics&kind=emails" >"$MTA_TMP/emails.json"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 - "$MTA_TMP/emails.json" "$N" <<'PY' && mta_ok "every message exactly once in Dataverse, completed" || mta_not_ok "exactly once"
import collections, json, sys
recs = json.load(open(sys.argv[1]))
c = collections.Counter(r["messageid"] for r in recs if r.get("messageid", "").startswith("<dynfault."))
open_ = [r["messageid"] for r in recs if r.get("messageid", "").startswith("<dynfault.") and r["statecode"] != 1]
bad = {k: v for k, v in c.items() if v != 1}
print("stored:", len(c), "not once:", bad, "open:", open_)
sys.exit(0 if len(c) == int(sys.argv[2]) and not bad and not open_ else 1)
PY
python3 - "$MTA_TMP/stats.json" <<'PY' && mta_ok "no request inside a Retry-After window, and faults really happened" || mta_not_ok "stats" "$(cat "$MTA_TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
print({k: s.get(k) for k in ("requests", "retry_after_violations", "duplicates", "faults_injected")})
sys.exit(0 if s.get("retry_after_violations") == 0 and s.get("duplicates") == 0 and
         sum(s.get("faults_injected", {}).values()) > 0 else 1)
PY
mta_emu GET "/_emu/requests?vendor=dynamics" | python3 -c 'import json,sys; n=sum(1 for e in json.load(sys.stdin) if e["path"].endswith("/$batch")); print(n); sys.exit(0 if n > 0 else 1)' >/dev/null &&
	mta_ok "emails went in \$batch change sets" || mta_not_ok "no \$batch request seen"
mta_emu DELETE /_emu/faults >/dev/null

# a secret file open to others: crm-flusher refuses to start, naming it
chmod 644 "$SECRET"
if "$FLUSHER" -c "$CONF" --once >"$MTA_TMP/refuse.log" 2>&1; then
	mta_not_ok "crm-flusher started with a world-readable client secret file"
else
	grep -q "$SECRET" "$MTA_TMP/refuse.log" && grep -q "refuses to start" "$MTA_TMP/refuse.log" &&
		mta_ok "a client secret file other users can read: crm-flusher refuses to start, naming it" ||
		mta_not_ok "refusal message" "$(cat "$MTA_TMP/refuse.log")"
fi
chmod 640 "$SECRET"
mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_check_log_clean "$MTA_TMP/flusher.log"
mta_done
