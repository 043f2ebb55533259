#!/usr/bin/env bash
# capture.sh - the capture rules through a real Postfix (issue 3):
# the dropbox recipient and the control headers are gone at smtp-sink and
# everything else arrives byte-identical; a reply lands in the ledger
# linked to the sent message (In-Reply-To, and Outlook's Thread-Index
# alone) and inherits its regarding record; a DSN marks it bounced; the
# same message submitted twice is one activity; a subject tag saves mail
# no rule saves and is stripped; never_log wins over every rule; the
# directory feeds sender_known.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_require_root
mta_require_postfix
command -v swaks >/dev/null 2>&1 || mta_skip "swaks is not installed"
for b in crm-milter crm-flusher crm-milterctl; do mta_require_bin "$top_builddir/$b" "$b"; done
getent passwd crm-milter >/dev/null || mta_skip "no crm-milter user (run scripts/install-deps.sh)"

mta_init capture
mta_sink_start dump || { mta_not_ok "smtp-sink starts"; mta_done; }
CRM=$MTA_TMP/crm CONF=$MTA_TMP/crm-milter.conf SOCK=unix:$MTA_TMP/crm/milter.sock
CTL=$top_builddir/crm-milterctl
mkdir -p "$CRM"
mta_crm_config "$CONF" "$CRM" "$SOCK"
# outbound is saved only to customers; inbound only from known contacts or
# as replies to tracked mail; the dropbox and the tag save the rest
python3 - "$CONF" <<'PY'
import sys
p = sys.argv[1]
s = open(p).read()
s = s.replace('rule "outbound" { direction = outbound  save = "local" }',
    'rule "outbound" { direction = outbound  to = {"customer.test"}  save = "local" }')
s = s.replace('rule "inbound"  { direction = inbound   save = "local" }',
    'rule "replies" { direction = inbound  reply_to_tracked = yes  save = "local" }\n'
    'rule "contacts" { direction = inbound  sender_known = {contact, lead}  save = "local" category = "From a contact" }\n'
    'rule "blocked" { direction = inbound  save = no }')
s += ('capture {\n  dropbox = "crm@example.com"\n  subject_tag = "[crm]"\n'
      '  never_log = {"hr.example.com", "ceo@example.com"}\n}\n')
open(p, "w").write(s)
PY
mta_check "the capture config is valid" "$CTL" -c "$CONF" check-config
printf 'address,type,id,name,no_follow\ndan@prospect.test,lead,LEAD-7,Dan,no\n' >"$MTA_TMP/dir.csv"
mta_check "directory import" "$CTL" -c "$CONF" directory import "$MTA_TMP/dir.csv"
mta_check "crm-milter starts" mta_crm_start "$CONF" "$SOCK"
mta_crm_postfix
# msg FILE FROM TO SUBJECT MSGID [EXTRA-HEADER-LINES]
msg() {
	{
		printf 'From: <%s>\nTo: <%s>\nSubject: %s\nDate: Sun, 22 Nov 2026 12:00:00 +0000\nMessage-ID: <%s>\n' "$2" "$3" "$4" "$5"
		[ -n "${6:-}" ] && printf '%b' "$6"
		printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=us-ascii\n\nHello,\nthis is %s.\n' "$4"
	} >"$1"
}
sink_file() { mta_sink_find "$1" | head -n 1; }
acts() { "$CTL" -c "$CONF" activities --json >"$MTA_TMP/acts.json"; }
# act MSGID PYEXPR: check the activity with that Message-ID
act() {
	python3 - "$MTA_TMP/acts.json" "$1" "$2" <<'PY'
import json, sys
acts = [a for a in json.load(open(sys.argv[1])) if a["message_id"] == sys.argv[2]]
a = acts[0] if len(acts) == 1 else None
ok = a is not None and eval(sys.argv[3])
if not ok:
    print(json.dumps(acts, indent=1)[:3000])
sys.exit(0 if ok else 1)
PY
}

# 1. outbound with control headers, Bcc to the dropbox's plus form
msg "$M/sent" alice@example.com bob@customer.test "Quote for Q3" q3.1@example.com \
	'X-CRM-Regarding: opportunity:OPP-42\nX-CRM-Category: Negotiation\nThread-Index: AdlYx3kq8xGv5z2oQ0+5LQh3tqW9Hg==\n'
mta_check "outbound with a dropbox Bcc accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@customer.test,crm+opportunity-OPP-42@example.com "$M/sent"
# 2. the subject tag saves what no rule saves (outbound, not to a customer)
msg "$M/tag" alice@example.com partner@elsewhere.test "[crm] Pricing update" tag.1@example.com
mta_check "tagged outbound accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com partner@elsewhere.test "$M/tag"
# 3. never_log beats the outbound rule
msg "$M/never" alice@example.com bob@customer.test "Offer letter" never.1@example.com
mta_check "never_log message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@customer.test,ceo@example.com "$M/never"
mta_sink_wait 3 30 || mta_not_ok "sink got the outbound mail"

f=$(sink_file q3.1@example.com)
if [ -n "$f" ] && ! grep -qi '^X-CRM-' "$f" && ! grep -qi 'crm+opportunity' "$f"; then
	mta_ok "control headers and the dropbox recipient are gone at the sink"
else
	mta_not_ok "control headers / dropbox gone" "$(head -20 "$f" 2>/dev/null)"
fi
grep -v -i '^X-CRM-' "$M/sent" >"$M/sent.expect"
mta_check "everything else arrives byte-identical" mta_same_body "$M/sent.expect" "$f"
f=$(sink_file tag.1@example.com)
grep -q '^Subject: Pricing update' "$f" && mta_ok "the subject tag is stripped before delivery" ||
	mta_not_ok "subject tag stripped" "$(grep -i '^Subject' "$f")"

# 4. replies: by In-Reply-To, and by Thread-Index alone (headers stripped)
msg "$M/reply" bob@customer.test alice@example.com "Re: Quote for Q3" r1@customer.test \
	'In-Reply-To: <q3.1@example.com>\nReferences: <q3.1@example.com>\n'
mta_check "reply accepted" mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/reply"
msg "$M/reply2" carol@customer.test alice@example.com "RE: Quote for Q3" r2@customer.test \
	'Thread-Index: AdlYx3kq8xGv5z2oQ0+5LQh3tqW9HgABAgME\n'
mta_check "Outlook reply without references accepted" mta_swaks "$MTA_PF_IN_PORT" carol@customer.test alice@example.com "$M/reply2"
# 5. inbound from a lead in the directory; and from a stranger (not saved)
msg "$M/lead" dan@prospect.test alice@example.com "Interested" lead.1@prospect.test
mta_check "mail from a lead accepted" mta_swaks "$MTA_PF_IN_PORT" dan@prospect.test alice@example.com "$M/lead"
msg "$M/stranger" eve@stranger.test alice@example.com "Hello" s.1@stranger.test
mta_check "mail from a stranger accepted" mta_swaks "$MTA_PF_IN_PORT" eve@stranger.test alice@example.com "$M/stranger"
# 6. a DSN for the sent message
cat >"$M/dsn" <<'DSN'
From: MAILER-DAEMON@mx.customer.test (Mail Delivery System)
To: <alice@example.com>
Subject: Undelivered Mail Returned to Sender
Date: Sun, 22 Nov 2026 12:05:00 +0000
Message-ID: <dsn.1@mx.customer.test>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.customer.test

Final-Recipient: rfc822; bob@customer.test
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 <bob@customer.test>: Recipient address rejected

--B1
Content-Type: text/rfc822-headers

From: <alice@example.com>
To: <bob@customer.test>
Subject: Quote for Q3
Message-ID: <q3.1@example.com>

--B1--
DSN
mta_check "DSN accepted" mta_swaks "$MTA_PF_IN_PORT" "" alice@example.com "$M/dsn"
# 7. the same message submitted twice: one activity
mta_check "duplicate submitted again" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test,carol@customer.test "$M/sent"
mta_sink_wait 9 30 || mta_not_ok "sink got all mail ($(mta_sink_count))"

mta_check "crm-flusher --once" "$top_builddir/crm-flusher" -c "$CONF" --once
acts
act q3.1@example.com 'a["regarding"] == "opportunity:OPP-42" and a["category"] == "Negotiation" and "crm+opportunity-opp-42@example.com" not in a["bcc"]' &&
	mta_ok "the sent message is one activity with its regarding record and category" || mta_not_ok "sent activity"
act q3.1@example.com '"carol@customer.test" in a["bcc"]' &&
	mta_ok "the second submission added its new recipient to the same activity" || mta_not_ok "participants merged"
act q3.1@example.com 'any(e.startswith("bounced bob@customer.test 5.1.1") for e in a["events"])' &&
	mta_ok "the DSN marked the sent message bounced for bob" || mta_not_ok "bounced event"
[ "$(python3 -c 'import json,sys; print(sum(1 for a in json.load(open(sys.argv[1])) if "dsn.1" in (a["message_id"] or "")))' "$MTA_TMP/acts.json")" = 0 ] &&
	mta_ok "the DSN is not an activity of its own" || mta_not_ok "DSN saved as activity"
act r1@customer.test 'a["correlation"]["method"] == "in-reply-to" and a["correlation"]["message_id"] == "q3.1@example.com" and a["regarding"] == "opportunity:OPP-42"' &&
	mta_ok "the reply is linked to the sent message (in-reply-to) and inherits its regarding" || mta_not_ok "reply linked"
act r2@customer.test 'a["correlation"]["method"] == "thread-index"' &&
	mta_ok "an Outlook reply with only Thread-Index is linked (thread-index)" || mta_not_ok "thread-index reply"
act tag.1@example.com 'a["direction"] == "outbound"' && mta_ok "the tagged message was saved" || mta_not_ok "tag saved"
act lead.1@prospect.test 'a["category"] == "From a contact"' && mta_ok "mail from a directory lead matched sender_known" || mta_not_ok "sender_known"
act s.1@stranger.test 'False' 2>/dev/null && mta_not_ok "stranger saved" || mta_ok "mail from a stranger matched the save = no rule"
act never.1@example.com 'False' 2>/dev/null && mta_not_ok "never_log saved" || mta_ok "never_log wins over the outbound rule"
grep -q "already queued" "$MTA_TMP/crm-milter.log" && mta_ok "the duplicate made no second job" || mta_not_ok "duplicate job"

# phase 2 (SIGHUP): subject tokens, and internal mail saved as two activities
sed -i -e 's|^capture {|capture {\n  subject_token = yes\n  internal_as_two_activities = yes|' \
	-e 's|^rule "blocked"|rule "internal" { direction = internal save = "local" }\nrule "blocked"|' "$CONF"
mta_check "the phase 2 config is valid" "$CTL" -c "$CONF" check-config
kill -HUP "$MTA_CRM_PID"
for _ in $(seq 1 50); do grep -q "reloaded" "$MTA_TMP/crm-milter.log" && break; sleep 0.1; done
msg "$M/tok" alice@example.com bob@customer.test "Contract draft" tok.1@example.com
mta_check "outbound with a token accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/tok"
msg "$M/int" alice@example.com dan@example.com "Team lunch" int.1@example.com
mta_check "internal mail accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com dan@example.com "$M/int"
mta_sink_wait 11 30 || mta_not_ok "sink got phase 2 mail"
f=$(sink_file tok.1@example.com)
token=$(sed -n 's/^Subject: Contract draft \[\(CRM:[0-9]\{7\}\)\]$/\1/p' "$f")
[ -n "$token" ] && mta_ok "tracked outbound mail got a subject token ($token)" ||
	mta_not_ok "subject token" "$(grep -i '^Subject' "$f")"
msg "$M/tokreply" bob@customer.test alice@example.com "RE: Contract draft [$token]" tr.1@customer.test
mta_check "reply with only the token accepted" mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/tokreply"
mta_sink_wait 12 30 || mta_not_ok "sink got the token reply"
mta_check "crm-flusher --once (phase 2)" "$top_builddir/crm-flusher" -c "$CONF" --once
acts
act tr.1@customer.test 'a["correlation"]["method"] == "token" and a["correlation"]["message_id"] == "tok.1@example.com"' &&
	mta_ok "a reply carrying only the token is linked (token)" || mta_not_ok "token correlation"
[ "$(python3 -c 'import json,sys; print(sorted(a["direction"] for a in json.load(open(sys.argv[1])) if a["message_id"] == "int.1@example.com"))' "$MTA_TMP/acts.json")" = "['inbound', 'outbound']" ] &&
	mta_ok "internal mail is saved as a sent and a received activity" || mta_not_ok "two activities"
mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
