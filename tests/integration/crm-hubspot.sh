#!/usr/bin/env bash
# crm-hubspot.sh - the hubspot connector end to end (issue 5): real mail
# through Postfix and crm-milter, crm-flusher writing CRM v3 emails into the
# CRM emulator (tests/crm-emulator, which checks every property, the
# hs_email_headers JSON, associations and uploads): the directory synced
# first (contacts with their opt-out flag, owners), then the sent message
# with its participants, owner, regarding deal and attachment, the reply,
# and the delivery report; the rollups (replied, bounced) on the email's
# mapped properties, the rest in a note; an incremental directory sync; a
# fault run (429 with Retry-After, 500s, answers lost after HubSpot stored
# the email) that still ends with every message exactly once and no
# request inside a Retry-After window; a refused token dead with HubSpot's
# words; a token file other users can read refused by name.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_crm_script crm-hubspot

# the private app token: readable by the flusher's user, not by others
TOKEN=$MTA_TMP/hubspot.token
printf 'pat-na1-00000000-emulator\n' >"$TOKEN"
chown root:crm-milter "$TOKEN"
chmod 640 "$TOKEN"
python3 - "$top_srcdir/tests/crm-emulator/example-config.json" "$MTA_TMP/emu.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["hubspot"]["custom_properties"] = {"emails": ["crm_opens", "crm_replied", "crm_bounced"]}
json.dump(c, open(sys.argv[2], "w"))
PY
mta_emulator_start "$MTA_TMP/emu.json" && mta_ok "the CRM emulator starts" ||
	{ mta_not_ok "emulator starts" "$(tail "$MTA_TMP/emulator.log")"; mta_done; }
mta_emu POST /_emu/seed '[
 {"vendor":"hubspot","kind":"contacts","records":[
   {"email":"bob@customer.test","firstname":"Bob","lastname":"Builder","hs_email_optout":"false"},
   {"email":"carol@customer.test","firstname":"Carol","lastname":"Opted","hs_email_optout":"true"}]},
 {"vendor":"hubspot","kind":"owners","records":[{"email":"alice@example.com","firstName":"Alice","lastName":"Example"}]},
 {"vendor":"hubspot","kind":"deals","generate":1}]' >"$MTA_TMP/seed.json"
eval "$(python3 - "$MTA_TMP/seed.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ids = {r.get("properties", r).get("email") or "deal": r["id"] for r in s}
print("BOB=%s CAROL=%s OWNER=%s DEAL=%s" % (ids["bob@customer.test"], ids["carol@customer.test"],
                                            ids["alice@example.com"], ids["deal"]))
PY
)"
[ -n "${DEAL:-}" ] && mta_ok "contacts, an owner and a deal seeded" || { mta_not_ok "seed" "$(cat "$MTA_TMP/seed.json")"; mta_done; }

mta_crm_config "$CONF" "$CRM" "$SOCK"
python3 - "$CONF" "$MTA_EMU" "$TOKEN" "$DEAL" <<'PY'
import sys
p, base, token, deal = sys.argv[1:5]
s = open(p).read()
s = s.replace('crm "local" { type = ledger }',
    'crm "hs" { type = hubspot  url = "%s/hubspot"  token_file = "%s"  timeout = 5  directory_sync = 1\n'
    '  rollup_fields = {"opens=crm_opens", "replied=crm_replied", "bounced=crm_bounced"} }' % (base, token))
s = s.replace('rule "outbound" { direction = outbound  save = "local" }',
    'rule "outbound" { direction = outbound  save = "hs"  regarding = "deal:%s" }' % deal)
s = s.replace('rule "inbound"  { direction = inbound   save = "local" }',
    'rule "inbound"  { direction = inbound   save = "hs" }')
s += 'spool { backoff_base = 1  backoff_max = 2  max_attempts = 50 }\n'
open(p, "w").write(s)
PY
mta_crm_up hubspot
mta_crm_messages "$M" hub.1@example.com reply.1@customer.test "Bob Builder" "<p>Hello Bob, the quote is attached.</p>"

# drain: run crm-flusher until nothing is pending (events wait for their email)
drain() {
	mta_crm_drain "$CONF" "${1:-40}"
	local rc=$?
	ROUNDS=$MTA_DRAIN_ROUNDS
	return $rc
}

mta_check "sent message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@customer.test,carol@customer.test,dave@other.test "$M/sent"
mta_sink_wait 1 30 || mta_not_ok "sink got the sent message"
mta_check "reply accepted" mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/reply"
mta_check "DSN accepted" mta_swaks "$MTA_PF_IN_PORT" "" alice@example.com "$M/dsn"
mta_sink_wait 3 30 || mta_not_ok "sink got the reply and the DSN"
drain 30 && mta_ok "crm-flusher drains the spool ($ROUNDS rounds)" ||
	mta_not_ok "spool drained" "$(tail -n 20 "$MTA_TMP/flusher.log")"

# the directory, synced before the first job
dirjson() { "$CTL" -c "$CONF" directory lookup "$1" --json 2>/dev/null; }
python3 - "$(dirjson bob@customer.test)" "$(dirjson carol@customer.test)" "$(dirjson alice@example.com)" \
	"$BOB" "$CAROL" "$OWNER" <<'PY' && mta_ok "directory synced: contacts with their opt-out flag, the owner as a user" ||
import json, sys
bob, carol, alice = (json.loads(x)[0] for x in sys.argv[1:4])
want = [(bob["type"], bob["id"], bob["no_follow"], bob["name"]), (carol["type"], carol["id"], carol["no_follow"]),
        (alice["type"], alice["id"])]
print(want)
sys.exit(0 if want == [("contact", sys.argv[4], False, "Bob Builder"), ("contact", sys.argv[5], True),
                       ("user", sys.argv[6])] else 1)
PY
	mta_not_ok "directory sync" "$(dirjson bob@customer.test; dirjson carol@customer.test; dirjson alice@example.com)"

for k in emails notes files; do mta_emu GET "/_emu/records?vendor=hubspot&kind=$k" >"$MTA_TMP/$k.json"; done
# rec KIND PYEXPR: exactly one record of KIND matches
rec() {
	python3 - "$MTA_TMP/$1.json" "$MTA_TMP" "$2" <<'PY'
import base64, hashlib, json, sys
recs = json.load(open(sys.argv[1]))
recs = recs.get("records", recs) if isinstance(recs, dict) else recs
files = {f["id"]: f for f in json.load(open(sys.argv[2] + "/files.json"))}
def idem(mid):
    return "hs/m/" + hashlib.sha256(mid.encode()).hexdigest()
def assoc(r):
    return sorted((t["associationTypeId"], str(a["to"]["id"])) for a in r.get("associations", []) for t in a["types"])
def headers(r):
    return json.loads(r["properties"]["hs_email_headers"])
env = {"idem": idem, "assoc": assoc, "headers": headers, "files": files, "base64": base64}
hits = [r for r in recs if eval(sys.argv[3], dict(env, r=r, p=r.get("properties", {})))]
if len(hits) != 1:
    print("matches: %d" % len(hits))
    print(json.dumps(recs, indent=1)[:4000])
sys.exit(0 if len(hits) == 1 else 1)
PY
}
E=$'r["objectWriteTraceId"] == idem("hub.1@example.com")'
rec emails "$E"' and p["hs_email_direction"] == "EMAIL" and p["hs_email_subject"] == "Quote for Q3" and p["hs_email_text"].startswith("Hello Bob, the quote") and p["hs_email_html"].startswith("<p>Hello Bob") and p["hs_timestamp"].startswith("1795348800")' &&
	mta_ok "the sent message is one email: direction, subject, text and HTML, its Date" || mta_not_ok "sent email"
rec emails "$E"' and headers(r)["from"] == {"email": "alice@example.com", "firstName": "Alice", "lastName": "Example"} and [x["email"] for x in headers(r)["to"]] == ["bob@customer.test"] and [x["email"] for x in headers(r)["cc"]] == ["carol@customer.test"] and [x["email"] for x in headers(r)["bcc"]] == ["dave@other.test"] and p["hs_email_from_email"] == "alice@example.com" and p["hs_email_to_email"] == "bob@customer.test"' &&
	mta_ok "its parties in hs_email_headers (the unknown one as a bare address)" || mta_not_ok "parties"
rec emails "$E and assoc(r) == sorted([(198, '$BOB'), (198, '$CAROL'), (210, '$DEAL')]) and p['hubspot_owner_id'] == '$OWNER'" &&
	mta_ok "associated with both contacts and the regarding deal; the sender is the owner" || mta_not_ok "associations"
rec emails "$E"' and [ (files[i]["name"], files[i]["extension"], base64.b64decode(files[i]["content_base64"])[:8]) for i in p["hs_attachment_ids"].split(";")] == [("quote", "pdf", b"%PDF-1.4")]' &&
	mta_ok "its attachment uploaded (PRIVATE) and listed in hs_attachment_ids" || mta_not_ok "attachment"
rec files 'r["access"] == "PRIVATE" and r["path"] == "/crm-milter/quote.pdf"' &&
	mta_ok "the file manager holds it once, in /crm-milter" || mta_not_ok "file upload"
rec emails $'r["objectWriteTraceId"] == idem("reply.1@customer.test") and p["hs_email_direction"] == "INCOMING_EMAIL" and p["hs_email_subject"] == "Re: Quote for Q3"'" and (198, '$BOB') in assoc(r)" &&
	mta_ok "the reply is an incoming email associated with bob" || mta_not_ok "reply email"
rec emails "$E"' and p["hs_email_status"] == "BOUNCED" and p["crm_bounced"] == "1" and p["crm_replied"] == "1" and p["crm_opens"] == "0"' &&
	mta_ok "rollups: bounced and replied on the mapped properties, status BOUNCED" || mta_not_ok "rollups"
rec notes "'first open: none' in p['hs_note_body'] and 'clicks: 0' in p['hs_note_body'] and 'opens:' not in p['hs_note_body'] and (202, '$BOB') in assoc(r) and (214, '$DEAL') in assoc(r)" &&
	mta_ok "unmapped rollups in one note with the email's contacts and deal" || mta_not_ok "note"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); sys.exit(0 if s["duplicates_by_vendor"].get("hubspot", 0) == 0 and s["internal_errors"] == 0 else 1)' "$MTA_TMP/stats.json" &&
	mta_ok "no duplicate, no emulator error" || mta_not_ok "stats" "$(cat "$MTA_TMP/stats.json")"

# incremental sync: a new contact and an opt-out since the last sync
mta_emu POST /_emu/seed "{\"vendor\":\"hubspot\",\"kind\":\"contacts\",\"records\":[
 {\"email\":\"erin@customer.test\",\"firstname\":\"Erin\",\"lastmodifieddate\":\"now\"},
 {\"id\":\"$BOB\",\"email\":\"bob@customer.test\",\"firstname\":\"Bob\",\"lastname\":\"Builder\",\"hs_email_optout\":\"true\",\"lastmodifieddate\":\"now\"}]}" >/dev/null
SEQ=$(mta_emu GET /_emu/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])')
sleep 1.2
"$FLUSHER" -c "$CONF" --once >>"$MTA_TMP/flusher.log" 2>&1
python3 - "$(dirjson erin@customer.test)" "$(dirjson bob@customer.test)" <<'PY' && mta_ok "the next sync brings the new contact and bob's opt-out" ||
import json, sys
erin, bob = (json.loads(x)[0] for x in sys.argv[1:3])
sys.exit(0 if erin["type"] == "contact" and bob["no_follow"] is True else 1)
PY
	mta_not_ok "incremental sync" "$(dirjson erin@customer.test; dirjson bob@customer.test)"
mta_emu GET "/_emu/requests?vendor=hubspot" | python3 -c '
import json, sys
log = json.load(sys.stdin)
log = log.get("requests", log) if isinstance(log, dict) else log
new = [r["method"] + " " + r["path"].split("?")[0] for r in log if r["seq"] > int(sys.argv[1])]
print(new)
sys.exit(0 if "POST /hubspot/crm/v3/objects/contacts/search" in new and
         "GET /hubspot/crm/v3/objects/contacts" not in new else 1)' "$SEQ" &&
	mta_ok "... by searching lastmodifieddate, not by listing everything" || mta_not_ok "incremental request"

# fault run, in batches of 5: the first create stored but its answer lost
# (500 after HubSpot wrote), then 429s with Retry-After 1 s and 500s on
# 30% of the calls; directory syncs no longer due
sed -i 's/directory_sync = 1/directory_sync = 3600  batch_size = 5/' "$CONF"
mta_emu POST /_emu/faults '{"vendor":"hubspot","kind":"500","phase":"after","path_regex":"batch/create","count":1}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"hubspot","kind":"429","rate":0.15,"retry_after":1,"seed":5}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"hubspot","kind":"500","rate":0.15}' >/dev/null
N=30
for i in $(seq 1 $N); do
	printf 'From: <alice@example.com>\nTo: <bob@customer.test>\nSubject: Fault run %s\nMessage-ID: <fault.%s@example.com>\n\nbody %s\n' \
		"$i" "$i" "$i" >"$M/f$i"
done
for i in $(seq 1 $N); do mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/f$i" >/dev/null 2>&1; done
mta_sink_wait $((N + 3)) 60 || mta_not_ok "sink got the fault-run mail"
drain 60 && mta_ok "the backlog drains despite the faults ($ROUNDS rounds)" || mta_not_ok "backlog left"
mta_emu GET "/_emu/records?vendor=hubspot&kind=emails" >"$MTA_TMP/emails.json"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 - "$MTA_TMP/emails.json" "$N" <<'PY' && mta_ok "every message exactly once in HubSpot" || mta_not_ok "exactly once"
import collections, json, sys
recs = json.load(open(sys.argv[1]))
c = collections.Counter(r["properties"].get("hs_email_subject") for r in recs)
faults = [k for k in c if k and k.startswith("Fault run ")]
bad = {k: v for k, v in c.items() if v != 1}
print("fault messages stored:", len(faults), "not once:", bad)
sys.exit(0 if len(faults) == int(sys.argv[2]) and not bad else 1)
PY
python3 - "$MTA_TMP/stats.json" <<'PY' && mta_ok "no request inside a Retry-After window, faults really happened" || mta_not_ok "stats" "$(cat "$MTA_TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
print({k: s.get(k) for k in ("requests", "retry_after_violations", "duplicates_by_vendor", "faults_injected")})
f = s["faults_injected"]
sys.exit(0 if s["retry_after_violations"] == 0 and s["duplicates_by_vendor"].get("hubspot", 0) == 0
         and f.get("429", 0) > 0 and f.get("500", 0) > 1 else 1)
PY
mta_emu GET "/_emu/requests?vendor=hubspot" | python3 -c '
import json, sys
log = json.load(sys.stdin)
log = log.get("requests", log) if isinstance(log, dict) else log
lost = [r for r in log if r.get("fault") and "batch/create" in r["path"] and r["status"] == 500]
search = [r for r in log if r["path"].endswith("/emails/search")]
print("creates answered 500:", len(lost), "searches:", len(search))
sys.exit(0 if lost and search else 1)' && mta_ok "retried jobs searched before creating again" ||
	mta_not_ok "dedupe search in the fault run"
mta_emu DELETE /_emu/faults >/dev/null

# a refused token: the job is dead with HubSpot's words and the token file
mta_emu POST /_emu/faults '{"vendor":"hubspot","kind":"401","path_regex":"batch/create","count":1}' >/dev/null
printf 'From: <alice@example.com>\nTo: <bob@customer.test>\nSubject: Refused\nMessage-ID: <refused.1@example.com>\n\nbody\n' >"$M/r1"
mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/r1" >/dev/null 2>&1
mta_sink_wait $((N + 4)) 30 || mta_not_ok "sink got the refused-token mail"
"$FLUSHER" -c "$CONF" --once >>"$MTA_TMP/flusher.log" 2>&1
"$CTL" -c "$CONF" queue list --state dead --json >"$MTA_TMP/dead.json"
python3 - "$MTA_TMP/dead.json" "$TOKEN" <<'PY' && mta_ok "a 401 is dead at once, with HubSpot's message and the token file named" ||
import json, sys
jobs = json.load(open(sys.argv[1]))
e = [j.get("last_error") or "" for j in jobs]
print(e)
sys.exit(0 if len(jobs) == 1 and "INVALID_AUTHENTICATION" in e[0] and sys.argv[2] in e[0] else 1)
PY
	mta_not_ok "401 dead" "$(cat "$MTA_TMP/dead.json")"
mta_emu DELETE /_emu/faults >/dev/null

# a token file open to others: crm-flusher refuses to start, naming it
chmod 644 "$TOKEN"
if "$FLUSHER" -c "$CONF" --once >"$MTA_TMP/refuse.log" 2>&1; then
	mta_not_ok "crm-flusher started with a world-readable token file"
else
	grep -q "$TOKEN" "$MTA_TMP/refuse.log" && grep -q "refuses to start" "$MTA_TMP/refuse.log" &&
		mta_ok "a token file other users can read: crm-flusher refuses to start, naming it" ||
		mta_not_ok "refusal message" "$(cat "$MTA_TMP/refuse.log")"
fi
chmod 640 "$TOKEN"
mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_check_log_clean "$MTA_TMP/flusher.log"
mta_done
