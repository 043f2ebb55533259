#!/usr/bin/env bash
# crm-webhook.sh - the webhook connector end to end (issue 5): real mail
# through Postfix and crm-milter, crm-flusher POSTing signed documents to
# the CRM emulator (tests/crm-emulator, which checks every header, the
# signature and every field of doc/webhook.md): the sent message with its
# attachment, the reply correlated to it, the delivery report as a bounced
# event; then a fault run (429 with Retry-After and 500s on a share of the
# calls, answers lost after the receiver stored them) that still ends with
# every message exactly once and no request inside a Retry-After window;
# a secret file other users can read makes crm-flusher refuse to start.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_crm_script crm-webhook

# the emulator, with our secret (two lines: both must sign)
SECRET=$MTA_TMP/webhook.secret
printf 'first-webhook-secret-0123456789\nsecond-webhook-secret-0123456789\n' >"$SECRET"
chown root:crm-milter "$SECRET"
chmod 640 "$SECRET"
python3 - "$top_srcdir/tests/crm-emulator/example-config.json" "$MTA_TMP/emu.json" "$SECRET" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["webhook"]["secret_file"] = sys.argv[3]
json.dump(c, open(sys.argv[2], "w"))
PY
mta_emulator_start "$MTA_TMP/emu.json" && mta_ok "the CRM emulator starts" ||
	{ mta_not_ok "emulator starts" "$(tail "$MTA_TMP/emulator.log")"; mta_done; }

mta_crm_config "$CONF" "$CRM" "$SOCK"
python3 - "$CONF" "$MTA_EMU" "$SECRET" <<'PY'
import sys
p, base, secret = sys.argv[1:4]
s = open(p).read()
s = s.replace('crm "local" { type = ledger }',
    'crm "hooks" { type = webhook  url = "%s/webhook/crm"  secret_file = "%s"  timeout = 5 }' % (base, secret))
s = s.replace('rule "outbound" { direction = outbound  save = "local" }',
    'rule "outbound" { direction = outbound  save = "hooks" }')
s = s.replace('rule "inbound"  { direction = inbound   save = "local" }',
    'rule "inbound"  { direction = inbound   save = "hooks" }')
s += 'spool { backoff_base = 1  backoff_max = 2  max_attempts = 50 }\n'
open(p, "w").write(s)
PY
mta_crm_up webhook
mta_crm_messages "$M" hook.1@example.com reply.1@customer.test Bob ""
mta_check "sent message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@customer.test,carol@customer.test "$M/sent"
mta_sink_wait 1 30 || mta_not_ok "sink got the sent message"
mta_check "reply accepted" mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/reply"
mta_check "DSN accepted" mta_swaks "$MTA_PF_IN_PORT" "" alice@example.com "$M/dsn"
mta_sink_wait 3 30 || mta_not_ok "sink got the reply and the DSN"
mta_check "crm-flusher --once" "$FLUSHER" -c "$CONF" --once
mta_emu GET "/_emu/records?vendor=webhook&kind=activity" >"$MTA_TMP/acts.json"
mta_emu GET "/_emu/records?vendor=webhook&kind=event" >"$MTA_TMP/events.json"
# rec FILE PYEXPR: one record matches
rec() {
	python3 - "$1" "$2" <<'PY'
import base64, json, sys
recs = json.load(open(sys.argv[1]))
recs = recs.get("records", recs) if isinstance(recs, dict) else recs
def body(r):
    return r["document"]
ok = any(eval(sys.argv[2], {"d": body(r), "base64": base64}) for r in recs)
if not ok:
    print(json.dumps(recs, indent=1)[:3000])
sys.exit(0 if ok else 1)
PY
}
rec "$MTA_TMP/acts.json" 'd["activity"]["message_id"] == "hook.1@example.com" and d["activity"]["direction"] == "outbound" and d["activity"]["from"] == {"address": "alice@example.com", "name": "Alice Example"} and [a["address"] for a in d["activity"]["to"]] == ["bob@customer.test"] and [a["address"] for a in d["activity"]["cc"]] == ["carol@customer.test"] and d["activity"]["subject"] == "Quote for Q3" and d["activity"]["text"].startswith("Hello Bob") and d["profile"] == "hooks"' &&
	mta_ok "the sent message is one signed document, every field as sent" || mta_not_ok "sent activity"
rec "$MTA_TMP/acts.json" 'd["activity"]["message_id"] == "hook.1@example.com" and d["activity"]["attachments"][0]["filename"] == "quote.pdf" and base64.b64decode(d["activity"]["attachments"][0]["content_base64"]).startswith(b"%PDF-1.4")' &&
	mta_ok "its attachment arrives with its bytes" || mta_not_ok "attachment"
rec "$MTA_TMP/acts.json" 'd["activity"]["message_id"] == "reply.1@customer.test" and d["activity"]["direction"] == "inbound" and d["activity"]["correlation"] == {"method": "in-reply-to", "message_id": "hook.1@example.com"}' &&
	mta_ok "the reply arrives correlated to the sent message" || mta_not_ok "reply"
rec "$MTA_TMP/events.json" 'd["event"]["kind"] == "bounced" and d["event"]["message_id"] == "hook.1@example.com" and d["event"]["recipient"] == "carol@customer.test" and d["event"]["status"] == "5.1.1"' &&
	mta_ok "the delivery report arrives as a bounced event" || mta_not_ok "bounced event"
"$CTL" -c "$CONF" report --json >"$MTA_TMP/report.json"
python3 -c 'import json,sys; r=[x for x in json.load(open(sys.argv[1])) if x["message_id"]=="hook.1@example.com"]; sys.exit(0 if r and r[0]["bounces"]["n"]==1 and r[0]["replies"]["n"]==1 else 1)' "$MTA_TMP/report.json" 2>/dev/null &&
	mta_ok "the bounce and the reply are kept locally too (report)" || mta_not_ok "local rollup" "$(head -c 600 "$MTA_TMP/report.json")"

# fault run: 30% of calls fail (429 Retry-After 1 s, 500), some answers
# lost after the receiver stored the document
mta_emu POST /_emu/faults '{"vendor":"webhook","kind":"429","rate":0.15,"retry_after":1}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"webhook","kind":"500","rate":0.1}' >/dev/null
mta_emu POST /_emu/faults '{"vendor":"webhook","kind":"500","rate":0.05,"phase":"after"}' >/dev/null
N=40
for i in $(seq 1 $N); do
	printf 'From: <alice@example.com>\nTo: <bob@customer.test>\nSubject: Fault run %s\nMessage-ID: <fault.%s@example.com>\n\nbody %s\n' \
		"$i" "$i" "$i" >"$M/f$i"
done
for i in $(seq 1 $N); do mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/f$i" >/dev/null 2>&1; done
mta_sink_wait $((N + 3)) 60 || mta_not_ok "sink got the fault-run mail"
for round in $(seq 1 60); do
	"$FLUSHER" -c "$CONF" --once >>"$MTA_TMP/flusher.log" 2>&1
	left=$(mta_crm_left "$CONF")
	[ "$left" = 0 ] && break
	sleep 1
done
[ "$left" = 0 ] && mta_ok "the backlog drains despite the faults ($round rounds)" || mta_not_ok "backlog left: $left"
mta_emu GET "/_emu/records?vendor=webhook&kind=activity" >"$MTA_TMP/acts.json"
mta_emu GET /_emu/stats >"$MTA_TMP/stats.json"
python3 - "$MTA_TMP/acts.json" "$N" <<'PY' && mta_ok "every message exactly once at the receiver" || mta_not_ok "exactly once"
import collections, json, sys
recs = json.load(open(sys.argv[1]))
recs = recs.get("records", recs) if isinstance(recs, dict) else recs
c = collections.Counter(r["document"]["activity"]["message_id"] for r in recs)
faults = [k for k in c if k.startswith("fault.")]
bad = {k: v for k, v in c.items() if v != 1}
print("fault messages stored:", len(faults), "not once:", bad)
sys.exit(0 if len(faults) == int(sys.argv[2]) and not bad else 1)
PY
python3 - "$MTA_TMP/stats.json" <<'PY' && mta_ok "no request inside a Retry-After window, faults really happened" || mta_not_ok "stats" "$(cat "$MTA_TMP/stats.json")"
import json, sys
s = json.load(open(sys.argv[1]))
print({k: s.get(k) for k in ("requests", "retry_after_violations", "duplicates", "faults_injected")})
sys.exit(0 if s.get("retry_after_violations") == 0 and s.get("requests", 0) > 43 else 1)
PY
mta_emu DELETE /_emu/faults >/dev/null

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
# TLS is always verified: an emulator on HTTPS with a certificate from our
# own CA is refused, until the profile names that CA in ca_file
if command -v openssl >/dev/null 2>&1 && [ -x "$top_builddir/bench/spool-fill" ]; then
	T=$MTA_TMP/tls
	mkdir -p "$T/crm/tmp"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=crm-milter test CA" \
		-keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
	openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout "$T/srv.key" \
		-out "$T/srv.csr" >/dev/null 2>&1
	printf 'subjectAltName=IP:127.0.0.1\n' >"$T/ext"
	openssl x509 -req -in "$T/srv.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
		-days 2 -extfile "$T/ext" -out "$T/srv.pem" >/dev/null 2>&1
	chmod 644 "$T/ca.pem"
	python3 "$top_srcdir/tests/crm-emulator/emulator.py" --config "$MTA_TMP/emu.json" --port 0 \
		--port-file "$T/port" --tls-cert "$T/srv.pem" --tls-key "$T/srv.key" >>"$T/emulator.log" 2>&1 &
	mta_track $!
	for _ in $(seq 1 100); do [ -s "$T/port" ] && break; sleep 0.1; done
	chown -R crm-milter: "$T/crm"
	tls_conf() {
		cat >"$T/conf" <<EOF
milter { user = "crm-milter" tmp_dir = "$T/crm/tmp" }
spool { path = "$T/crm/spool.db"  backoff_base = 1  backoff_max = 1 }
crm "tls" { type = webhook  url = "https://127.0.0.1:$(cat "$T/port")/webhook/tls"  secret_file = "$SECRET" $1 }
EOF
	}
	tls_conf ""
	su -s /bin/sh crm-milter -c "'$top_builddir/bench/spool-fill' '$T/crm/spool.db' tls 1" >/dev/null
	"$FLUSHER" -c "$T/conf" --once >"$T/flush1.log" 2>&1
	"$CTL" -c "$T/conf" queue profiles --json >"$T/p1.json"
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))[0]; sys.exit(0 if p["pending"]==1 and "certificate" in (p["last_error"] or "").lower() else 1)' "$T/p1.json" &&
		mta_ok "a certificate from an unknown CA is refused (TLS verified), the job waits" ||
		mta_not_ok "TLS verification" "$(cat "$T/p1.json")"
	tls_conf "ca_file = \"$T/ca.pem\""
	sleep 1.1
	"$FLUSHER" -c "$T/conf" --once >"$T/flush2.log" 2>&1
	"$CTL" -c "$T/conf" queue profiles --json >"$T/p2.json"
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))[0]; sys.exit(0 if p["done"]==1 and p["pending"]==0 else 1)' "$T/p2.json" &&
		mta_ok "with that CA in ca_file the document goes over HTTPS" || mta_not_ok "ca_file" "$(cat "$T/p2.json" "$T/flush2.log")"
fi
mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
