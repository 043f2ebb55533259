#!/usr/bin/env bash
# crm-zoho.sh - the zoho connector end to end (issue 5): real mail through
# Postfix and crm-milter, crm-flusher associating each message to a Zoho
# record in the CRM emulator (tests/crm-emulator, which checks every field
# of associate_email, the files API and Notes): the directory synced from
# the emulator's Contacts and Leads (paged, opt-outs), the sent message on
# the contact with its parties, Message-ID, subject, body and attachment,
# a regarding deal, a lead, mail with no Zoho record dead with the reason,
# the reply, the bounce and a human open in the rollup Note on the contact;
# one access token minted for all of it and across two runs; a fault run
# (429 with Retry-After, 500s, answers lost after Zoho stored the email)
# that still ends with every message associated exactly once and no request
# inside a Retry-After window; a 401 gets one new token; a secret file
# other users can read makes crm-flusher refuse to start.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_crm_script crm-zoho dump crm-tracker
TPORT=$(mta_free_port)
TBASE=http://127.0.0.1:$TPORT

# the emulator, and our copies of the self client's secret and refresh token
SECRET=$MTA_TMP/zoho.secret REFRESH=$MTA_TMP/zoho.refresh
printf 'zoho-emulator-secret\n' >"$SECRET"
printf '1000.emulator.refresh\n' >"$REFRESH"
chown root:crm-milter "$SECRET" "$REFRESH"
chmod 640 "$SECRET" "$REFRESH"
mta_emulator_start "$top_srcdir/tests/crm-emulator/example-config.json" && mta_ok "the CRM emulator starts" ||
	{ mta_not_ok "emulator starts" "$(tail "$MTA_TMP/emulator.log")"; mta_done; }
seed() { mta_emu POST /_emu/seed "$1"; }
seed '{"vendor":"zoho","kind":"Contacts","records":[{"Email":"bob@customer.test","First_Name":"Bob","Last_Name":"Buyer"}]}' >"$MTA_TMP/bob.json"
seed '{"vendor":"zoho","kind":"Leads","records":[{"Email":"dave@customer.test","First_Name":"Dave","Last_Name":"Lead"}]}' >"$MTA_TMP/dave.json"
seed '{"vendor":"zoho","kind":"Contacts","generate":450,"domain":"example.test","opt_out_every":7}' >/dev/null
seed '{"vendor":"zoho","kind":"Leads","generate":30,"domain":"example.test","opt_out_every":5}' >/dev/null
seed '{"vendor":"zoho","kind":"Deals","records":[{"Deal_Name":"Big deal","Stage":"Qualification"}]}' >"$MTA_TMP/deal.json"
id_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["id"])' "$1"; }
BOB=$(id_of "$MTA_TMP/bob.json") DAVE=$(id_of "$MTA_TMP/dave.json") DEAL=$(id_of "$MTA_TMP/deal.json")

mta_crm_config "$CONF" "$CRM" "$SOCK"
"$CTL" keygen --kid k1 >"$MTA_TMP/tracking.keys"
chown root:crm-milter "$MTA_TMP/tracking.keys"
chmod 640 "$MTA_TMP/tracking.keys"
python3 - "$CONF" "$MTA_EMU" "$SECRET" "$REFRESH" <<'PY'
import sys
p, base, secret, refresh = sys.argv[1:5]
s = open(p).read()
s = s.replace('crm "local" { type = ledger }',
    'crm "zoho" { type = zoho  token_url = "%s/zoho/oauth/v2/token"  client_id = "1000.EMULATORCLIENT"\n'
    '  client_secret_file = "%s"  token_file = "%s"  timeout = 5 }' % (base, secret, refresh))
s = s.replace('rule "outbound" { direction = outbound  save = "local" }',
    'rule "outbound" { direction = outbound  save = "zoho"  track = {opens} }')
s = s.replace('rule "inbound"  { direction = inbound   save = "local" }',
    'rule "inbound"  { direction = inbound   save = "zoho" }')
s += 'spool { backoff_base = 1  backoff_max = 2  max_attempts = 50 }\n'
open(p, "w").write(s)
PY
cat >>"$CONF" <<CONF
tracking { base_url = "$TBASE"  key_file = "$MTA_TMP/tracking.keys" }
tracker { listen = "127.0.0.1:$TPORT"  engagement_data = "$top_srcdir/conf/engagement.data" }
CONF
mta_crm_up zoho
"$top_builddir/crm-tracker" -c "$CONF" -f >>"$MTA_TMP/crm-tracker.log" 2>&1 &
TRK=$!
mta_track "$TRK"
mta_wait_socket "inet:$TPORT@127.0.0.1" 15 "$TRK" && mta_ok "crm-tracker listens" ||
	{ mta_not_ok "crm-tracker listens" "$(tail "$MTA_TMP/crm-tracker.log")"; mta_done; }

mta_crm_messages "$M" zoho.1@example.com reply.1@customer.test Bob "<html><body><p>Hello Bob, the quote is attached.</p></body></html>"
printf 'From: <alice@example.com>\nTo: <eve@unknown.test>\nSubject: Deal terms\nMessage-ID: <deal.1@example.com>\nX-CRM-Regarding: deal:%s\n\nThe terms.\n' "$DEAL" >"$M/deal"
printf 'From: <alice@example.com>\nTo: <dave@customer.test>\nSubject: Hello Dave\nMessage-ID: <lead.1@example.com>\n\nHi Dave.\n' >"$M/lead"
printf 'From: <alice@example.com>\nTo: <nobody@unknown.test>\nSubject: To a stranger\nMessage-ID: <stranger.1@example.com>\n\nWho?\n' >"$M/stranger"
mta_check "sent message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@customer.test,carol@customer.test "$M/sent"
mta_check "deal message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com eve@unknown.test "$M/deal"
mta_check "lead message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com dave@customer.test "$M/lead"
mta_check "message to a stranger accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com nobody@unknown.test "$M/stranger"
mta_sink_wait 4 30 || mta_not_ok "sink got the sent messages"
mta_check "reply accepted" mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/reply"
mta_check "DSN accepted" mta_swaks "$MTA_PF_IN_PORT" "" alice@example.com "$M/dsn"
mta_sink_wait 6 30 || mta_not_ok "sink got the reply and the DSN"
# a person opens the sent message
pixel=$(for f in $(mta_sink_find zoho.1@example.com); do grep -o "$TBASE/o/[A-Za-z0-9_-]*\.gif" "$f"; done | head -n 1)
[ -n "$pixel" ] && [ "$(curl -s -A 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36' \
	-o /dev/null -w '%{http_code}' "$pixel")" = 200 ] && mta_ok "the open pixel answers" || mta_not_ok "pixel" "$pixel"
mta_kill "$TRK" TERM

# drain: crm-flusher --once until nothing is pending or leased (events and
# replies wait for their sent message's association); RUNS counts the runs
RUNS=0
drain() {
	local round
	for round in $(seq 1 60); do
		"$FLUSHER" -c "$CONF" --once >>"$MTA_TMP/flusher.log" 2>&1
		RUNS=$((RUNS + 1))
		left=$(mta_crm_left "$CONF")
		[ "$left" = 0 ] && return 0
		sleep 1
	done
	return 1
}
drain && "$FLUSHER" -c "$CONF" --once >>"$MTA_TMP/flusher.log" 2>&1 && RUNS=$((RUNS + 1)) &&
	mta_ok "crm-flusher drains the spool ($RUNS runs)" || mta_not_ok "drain" "$(tail -20 "$MTA_TMP/flusher.log")"
mta_emu GET "/_emu/records?vendor=zoho&kind=Emails" >"$MTA_TMP/emails.json"
mta_emu GET "/_emu/records?vendor=zoho&kind=Notes" >"$MTA_TMP/notes.json"
mta_emu GET "/_emu/records?vendor=zoho&kind=files" >"$MTA_TMP/files.json"
# rec FILE PYEXPR: one record matches (d: the record; BOB, DAVE, DEAL ids)
rec() {
	python3 - "$1" "$2" "$BOB" "$DAVE" "$DEAL" "$MTA_TMP/files.json" <<'PY'
import json, sys
recs = json.load(open(sys.argv[1]))
recs = recs.get("records", recs) if isinstance(recs, dict) else recs
env = {"BOB": sys.argv[3], "DAVE": sys.argv[4], "DEAL": sys.argv[5], "FILES": json.load(open(sys.argv[6]))}
ok = any(eval(sys.argv[2], dict(env, d=r)) for r in recs)
if not ok:
    print(json.dumps(recs, indent=1)[:3000])
sys.exit(0 if ok else 1)
PY
}
rec "$MTA_TMP/emails.json" 'd["original_message_id"] == "<zoho.1@example.com>" and d["module"] == "Contacts" and d["record_id"] == BOB and d["sent"] is True and d["from"] == {"user_name": "Alice Example", "email": "alice@example.com"} and d["to"] == [{"user_name": "Bob Buyer", "email": "bob@customer.test"}] and d["cc"] == [{"email": "carol@customer.test"}] and d["subject"] == "Quote for Q3" and d["mail_format"] == "html" and "Hello Bob, the quote is attached." in d["content"] and d["date_time"] == "2026-11-22T12:00:00+00:00" and d["wrapper"] == "Emails"' &&
	mta_ok "the sent message is associated to the contact, every field as sent" || mta_not_ok "sent email"
rec "$MTA_TMP/emails.json" 'd["original_message_id"] == "<zoho.1@example.com>" and len(d["attachments"]) == 1 and [f for f in FILES if f["id"] == d["attachments"][0]["id"] and f["name"] == "quote.pdf" and f["content_type"] == "application/pdf" and f["size"] == 19]' &&
	mta_ok "its attachment went up through the files API and is on the email" || mta_not_ok "attachment"
rec "$MTA_TMP/emails.json" 'd["original_message_id"] == "<reply.1@customer.test>" and d["module"] == "Contacts" and d["record_id"] == BOB and d["sent"] is False and d["from"]["email"] == "bob@customer.test"' &&
	mta_ok "the reply is associated to the contact as received" || mta_not_ok "reply"
rec "$MTA_TMP/emails.json" 'd["original_message_id"] == "<deal.1@example.com>" and d["module"] == "Deals" and d["record_id"] == DEAL and d["to"] == [{"email": "eve@unknown.test"}]' &&
	mta_ok "X-CRM-Regarding deal:ID associates to the deal" || mta_not_ok "deal"
rec "$MTA_TMP/emails.json" 'd["original_message_id"] == "<lead.1@example.com>" and d["module"] == "Leads" and d["record_id"] == DAVE and d["to"] == [{"user_name": "Dave Lead", "email": "dave@customer.test"}]' &&
	mta_ok "mail to a lead associates to the lead" || mta_not_ok "lead"
rec "$MTA_TMP/notes.json" 'd["Parent_Id"] == {"module": {"api_name": "Contacts"}, "id": BOB} and "<zoho.1@example.com>" in d["Note_Content"] and "Replies: 1, first 2026-11-22 13:00 UTC" in d["Note_Content"] and "Bounced recipients: 1" in d["Note_Content"] and "Opened by people: 1" in d["Note_Content"] and d["Note_Title"].startswith("Email engagement [crm-milter ")' &&
	mta_ok "the reply, the bounce and the open are in the rollup Note on the contact" || mta_not_ok "rollup note"
python3 -c 'import json,sys; n=json.load(open(sys.argv[1])); sys.exit(0 if len(n) == 1 else 1)' "$MTA_TMP/notes.json" &&
	mta_ok "one Note for the message, written again as events came" || mta_not_ok "one note" "$(cat "$MTA_TMP/notes.json")"
"$CTL" -c "$CONF" queue list --state dead --json >"$MTA_TMP/dead.json"
python3 - "$MTA_TMP/dead.json" <<'PY' && mta_ok "mail with no Zoho record is dead, the reason kept for the admin" ||
import json, sys
d = [j for j in json.load(open(sys.argv[1])) if (j.get("message_id") or "").strip("<>") == "stranger.1@example.com"]
print([j.get("last_error") for j in d])
sys.exit(0 if len(d) == 1 and "no Zoho record" in (d[0]["last_error"] or "") else 1)
PY
	mta_not_ok "dead stranger" "$(head -c 1500 "$MTA_TMP/dead.json")"
"$CTL" -c "$CONF" directory list --json >"$MTA_TMP/dir.json"
python3 - "$MTA_TMP/dir.json" <<'PY' && mta_ok "the directory holds Zoho's 451 contacts and 31 leads, opt-outs as no_follow" ||
import json, sys
d = json.load(open(sys.argv[1]))
c = [e for e in d if e["type"] == "contact"]
l = [e for e in d if e["type"] == "lead"]
out = [e for e in c if e["no_follow"]]
print(len(c), len(l), len(out))
bob = [e for e in c if e["address"] == "bob@customer.test"]
sys.exit(0 if len(c) == 451 and len(l) == 31 and len(out) == len(range(0, 450, 7)) and bob and bob[0]["name"] == "Bob Buyer" else 1)
PY
	mta_not_ok "directory" "$(head -c 600 "$MTA_TMP/dir.json")"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 - "$MTA_TMP/stats.json" <<'PY' && mta_ok "one access token minted for $RUNS runs of the flusher" || mta_not_ok "mints" "$(cat "$MTA_TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
z = s["vendors"]["zoho"]
print("mints", z["mints"], "denied", z["mints_denied"], "api calls", s["api_calls"].get("zoho"))
sys.exit(0 if z["mints"] == 1 and z["mints_denied"] == 0 else 1)
PY

# fault run: 429 (Retry-After 1 s) and 500s on a share of the calls, and
# answers lost after Zoho stored the email
mta_emu POST /_emu/faults '{"vendor":"zoho","kind":"429","rate":0.15,"retry_after":1,"seed":5}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"zoho","kind":"500","rate":0.1}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"zoho","kind":"500","rate":0.08,"phase":"after"}' >/dev/null
N=40
for i in $(seq 1 $N); do
	printf 'From: <alice@example.com>\nTo: <bob@customer.test>\nSubject: Fault run %s\nMessage-ID: <fault.%s@example.com>\n\nbody %s\n' \
		"$i" "$i" "$i" >"$M/f$i"
done
for i in $(seq 1 $N); do mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/f$i" >/dev/null 2>&1 & done
wait
mta_sink_wait $((N + 6)) 60 || mta_not_ok "sink got the fault-run mail"
RUNS=0
drain && mta_ok "the backlog drains despite the faults ($RUNS runs)" || mta_not_ok "backlog left: $left"
mta_emu GET "/_emu/records?vendor=zoho&kind=Emails" >"$MTA_TMP/emails.json"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 - "$MTA_TMP/emails.json" "$N" <<'PY' && mta_ok "every message associated exactly once" || mta_not_ok "exactly once"
import collections, json, sys
recs = json.load(open(sys.argv[1]))
c = collections.Counter(r["original_message_id"] for r in recs)
faults = [k for k in c if k.startswith("<fault.")]
bad = {k: v for k, v in c.items() if v != 1}
print("fault messages associated:", len(faults), "not once:", bad)
sys.exit(0 if len(faults) == int(sys.argv[2]) and not bad else 1)
PY
python3 - "$MTA_TMP/stats.json" <<'PY' && mta_ok "no request inside a Retry-After window, faults happened, still one mint" || mta_not_ok "stats" "$(cat "$MTA_TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
z = s["vendors"]["zoho"]
print({k: s.get(k) for k in ("requests", "retry_after_violations", "duplicates", "faults_injected")}, "mints", z["mints"])
sys.exit(0 if s["retry_after_violations"] == 0 and s["duplicates"] == 0 and sum(s["faults_injected"].values()) > 0
         and z["mints"] == 1 else 1)
PY
mta_emu DELETE /_emu/faults >/dev/null

# a 401: one new token, the message still saved once
mta_emu POST /_emu/faults '{"vendor":"zoho","kind":"401","count":1}' >/dev/null
printf 'From: <alice@example.com>\nTo: <bob@customer.test>\nSubject: After 401\nMessage-ID: <after401.1@example.com>\n\nx\n' >"$M/a401"
mta_check "message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/a401"
mta_sink_wait $((N + 7)) 30 || mta_not_ok "sink got it"
drain || mta_not_ok "drain after the 401"
mta_emu GET "/_emu/records?vendor=zoho&kind=Emails" >"$MTA_TMP/emails.json"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 - "$MTA_TMP/emails.json" "$MTA_TMP/stats.json" <<'PY' && mta_ok "a 401 gets one new token and the call again" ||
import json, sys
e = [r for r in json.load(open(sys.argv[1])) if r["original_message_id"] == "<after401.1@example.com>"]
s = json.load(open(sys.argv[2]))
print(len(e), "mints", s["vendors"]["zoho"]["mints"])
sys.exit(0 if len(e) == 1 and s["vendors"]["zoho"]["mints"] == 2 else 1)
PY
	mta_not_ok "401" "$(cat "$MTA_TMP/stats.json")"

# a secret file open to others: crm-flusher refuses to start, naming it
chmod 644 "$SECRET"
if "$FLUSHER" -c "$CONF" --once >"$MTA_TMP/refuse.log" 2>&1; then
	mta_not_ok "crm-flusher started with a world-readable secret file"
else
	grep -q "$SECRET" "$MTA_TMP/refuse.log" && grep -q "refuses to start" "$MTA_TMP/refuse.log" &&
		mta_ok "a secret file other users can read: crm-flusher refuses to start, naming it" ||
		mta_not_ok "refusal message" "$(cat "$MTA_TMP/refuse.log")"
fi
chmod 640 "$SECRET"
mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
