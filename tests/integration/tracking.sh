#!/usr/bin/env bash
# tracking.sh - engagement tracking through a real Postfix (issue 4):
# crm-milter rewrites an outbound HTML message (pixel before </body>, signed
# click links; mailto:, unsubscribe and excluded links left alone); what
# arrives at smtp-sink has them; following each link through the real
# crm-tracker lands on the original URL (entities decoded); a forged link is
# 404; a recipient who opted out gets the message untouched; the open and
# the click reach the ledger as events of the sent message. The same
# message resent is saved and tracked once; a reply quoting the tracked
# message has the quoted pixel neutralised and its own pixel.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_require_root
mta_require_postfix
command -v swaks >/dev/null 2>&1 || mta_skip "swaks is not installed"
command -v curl >/dev/null 2>&1 || mta_skip "curl is not installed"
for b in crm-milter crm-flusher crm-milterctl crm-tracker; do mta_require_bin "$top_builddir/$b" "$b"; done
getent passwd crm-milter >/dev/null || mta_skip "no crm-milter user (run scripts/install-deps.sh)"

mta_init tracking
mta_sink_start dump || { mta_not_ok "smtp-sink starts"; mta_done; }
CRM=$MTA_TMP/crm CONF=$MTA_TMP/crm-milter.conf SOCK=unix:$MTA_TMP/crm/milter.sock
CTL=$top_builddir/crm-milterctl
TPORT=$(mta_free_port)
BASE=http://127.0.0.1:$TPORT
mkdir -p "$CRM"
mta_crm_config "$CONF" "$CRM" "$SOCK"
"$CTL" keygen --kid k1 >"$MTA_TMP/tracking.keys"
chown root:crm-milter "$MTA_TMP/tracking.keys"
chmod 640 "$MTA_TMP/tracking.keys"
sed -i 's|rule "outbound" { direction = outbound  save = "local" }|rule "outbound" { direction = outbound  save = "local"  track = {opens, clicks} }|' "$CONF"
cat >>"$CONF" <<CONF
tracking {
  base_url = "$BASE"
  key_file = "$MTA_TMP/tracking.keys"
  exclude_domains = {"intranet.example.com"}
  never_track = {"optout@customer.test"}
}
tracker { listen = "127.0.0.1:$TPORT"  engagement_data = "$top_srcdir/conf/engagement.data" }
CONF
mta_check "the tracking config is valid" "$CTL" -c "$CONF" check-config
mta_check "crm-milter starts" mta_crm_start "$CONF" "$SOCK"
"$top_builddir/crm-tracker" -c "$CONF" -f >>"$MTA_TMP/crm-tracker.log" 2>&1 &
TRK=$!
mta_track "$TRK"
mta_wait_socket "inet:$TPORT@127.0.0.1" 15 "$TRK" && mta_ok "crm-tracker listens" ||
	{ mta_not_ok "crm-tracker listens" "$(tail "$MTA_TMP/crm-tracker.log")"; mta_done; }
mta_crm_postfix
# html FILE TO MSGID
html() {
	cat >"$1" <<MSG
From: Alice <alice@example.com>
To: <$2>
Subject: Our pricing
Date: Sun, 22 Nov 2026 12:00:00 +0000
Message-ID: <$3>
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="alt"

--alt
Content-Type: text/plain; charset=us-ascii

See https://www.customer.test/pricing

--alt
Content-Type: text/html; charset=us-ascii

<html><body><p>Hello,</p>
<p><a href="https://www.customer.test/pricing?plan=pro&amp;seats=5">pricing</a>
<A HREF=https://shop.example.org/buy>buy</A>
<a href="mailto:alice@example.com">mail me</a>
<a href="https://news.example.org/u?id=7">unsubscribe</a>
<a href="https://intranet.example.com/wiki">wiki</a></p>
</body></html>

--alt--
MSG
}
html "$M/t1" bob@customer.test track.1@example.com
html "$M/t2" optout@customer.test track.2@example.com
# the dry run, before the message is sent (once it is saved, passing again
# would not track it): its --output is compared with the sink's copy below
"$CTL" -c "$CONF" test --daemon ORIGINATING --from alice@example.com --rcpt bob@customer.test \
	--output "$MTA_TMP/dry.eml" "$M/t1" >"$MTA_TMP/dry.json" 2>"$MTA_TMP/dry.err"
dry_rc=$?
mta_check "tracked HTML message accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/t1"
mta_check "message to an opted-out recipient accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com optout@customer.test "$M/t2"
mta_sink_wait 2 30 || mta_not_ok "sink got both"

f=$(mta_sink_find track.1@example.com | head -n 1)
grep -q "<img[^>]*src=\"$BASE/o/[A-Za-z0-9_-]*\.gif\"[^>]*>" "$f" && mta_ok "the pixel is in the delivered HTML" ||
	mta_not_ok "pixel" "$(grep -n 'img' "$f")"
python3 - "$f" "$BASE" <<'PY' && mta_ok "the pixel stands before </body>" || mta_not_ok "pixel before </body>"
import sys, re
t = open(sys.argv[1], encoding="latin-1").read()
i = t.find(sys.argv[2] + "/o/"); j = t.find("</body>")
sys.exit(0 if 0 <= i < j else 1)
PY
grep -o "$BASE/c/[A-Za-z0-9_/-]*" "$f" | sort -u >"$MTA_TMP/links"
[ "$(wc -l <"$MTA_TMP/links")" = 2 ] && mta_ok "the two http(s) links are rewritten" ||
	mta_not_ok "rewritten links" "$(cat "$MTA_TMP/links")"
grep -q 'href="mailto:alice@example.com"' "$f" && grep -q 'href="https://news.example.org/u?id=7"' "$f" &&
	grep -q 'href="https://intranet.example.com/wiki"' "$f" &&
	mta_ok "mailto:, unsubscribe and excluded links are left alone" || mta_not_ok "links left alone"
got=""
while read -r url; do
	got="$got $(curl -s -o /dev/null -w '%{http_code}:%{redirect_url}' "$url")"
done <"$MTA_TMP/links"
case "$got" in
*"302:https://www.customer.test/pricing?plan=pro&seats=5"*"302:https://shop.example.org/buy"*|*"302:https://shop.example.org/buy"*"302:https://www.customer.test/pricing?plan=pro&seats=5"*)
	mta_ok "each link through crm-tracker lands on its original URL" ;;
*) mta_not_ok "redirects" "$got" ;;
esac
first=$(head -n 1 "$MTA_TMP/links")
forged=$(printf '%s' "$first" | python3 -c 'import sys; u=sys.stdin.read(); i=u.index("/c/")+6; print(u[:i] + ("A" if u[i] != "A" else "B") + u[i+1:])')
[ "$(curl -s -o /dev/null -w '%{http_code}' "$forged")" = 404 ] && mta_ok "a forged link is 404" || mta_not_ok "forged link"
# the dry run's --output is the message as it left: the same bytes as at
# the sink once trace headers go and the tokens (a new tracking id per
# run) are masked
[ "$dry_rc" = 0 ] &&
	mta_strip_trace "$MTA_TMP/dry.eml" >"$MTA_TMP/dry.a" && mta_strip_trace "$f" sink >"$MTA_TMP/dry.b" &&
	python3 - "$MTA_TMP/dry.a" "$MTA_TMP/dry.b" "$BASE" <<'PY' && mta_ok "test --output writes the message as it leaves the MTA" ||
import re, sys
base = re.escape(sys.argv[3])
def mask(path):
    t = open(path, "rb").read().decode("latin-1")
    t = re.sub(base + r"/o/[A-Za-z0-9_-]+\.gif", "PIXEL", t)
    return re.sub(base + r"/c/[A-Za-z0-9_-]+/[A-Za-z0-9_-]+", "LINK", t)
a, b = mask(sys.argv[1]), mask(sys.argv[2])
sys.exit(0 if a == b and a.count("LINK") == 2 and a.count("PIXEL") == 1 else 1)
PY
	mta_not_ok "test --output" "$(cat "$MTA_TMP/dry.err"; diff "$MTA_TMP/dry.a" "$MTA_TMP/dry.b" | head -20)"
pixel=$(grep -o "$BASE/o/[A-Za-z0-9_-]*\.gif" "$f" | head -n 1)
[ "$(curl -s -A 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36' -o "$MTA_TMP/p.gif" -w '%{http_code}' "$pixel")" = 200 ] &&
	mta_ok "the pixel answers 200" || mta_not_ok "pixel 200"
f2=$(mta_sink_find track.2@example.com | head -n 1)
! grep -q "$BASE" "$f2" && mta_ok "an opted-out recipient gets the message untouched" || mta_not_ok "never_track"
# crm-tracker holds clicks for its burst window; SIGTERM writes them now
mta_kill "$TRK" TERM
mta_check "crm-flusher --once" "$top_builddir/crm-flusher" -c "$CONF" --once
"$CTL" -c "$CONF" activities --json >"$MTA_TMP/acts.json"
python3 - "$MTA_TMP/acts.json" <<'PY' && mta_ok "the open and the click are events of the sent message" ||
import json, sys
a = [x for x in json.load(open(sys.argv[1])) if x["message_id"] == "track.1@example.com"]
ev = a[0]["events"] if a else []
print(ev)
sys.exit(0 if any(e.startswith("opened") for e in ev) and any(e.startswith("clicked") for e in ev) else 1)
PY
	mta_not_ok "events" "$(cat "$MTA_TMP/acts.json" | head -50)"
# the report counts people: the open is human, both clicks came within the
# scanner window after sending, so they are shown apart, not as clicks
"$CTL" -c "$CONF" report --json >"$MTA_TMP/report.json"
python3 - "$MTA_TMP/report.json" <<'PY' && mta_ok "report: human opens and clicks, machine clicks apart" ||
import json, sys
r = [x for x in json.load(open(sys.argv[1])) if x["message_id"] == "track.1@example.com"]
r = r[0] if r else {}
sys.exit(0 if r and r["opens"]["human"]["n"] == 1 and r["clicks"]["human"]["n"] == 0
         and r["clicks"]["scanner"]["n"] == 2 else 1)
PY
	mta_not_ok "report" "$(cat "$MTA_TMP/report.json" | head -60)"
"$CTL" -c "$CONF" report >"$MTA_TMP/report.txt"
grep -q "opened 1, clicked 0, replied 0, bounced 0 (by people); 2 machine events" "$MTA_TMP/report.txt" &&
	"$CTL" -c "$CONF" report --all | grep -q "clicked 1," &&
	mta_ok "report table: people by default, --all counts machines in" ||
	mta_not_ok "report table" "$(cat "$MTA_TMP/report.txt")"
# passing the MTA again (a resend with the same Message-ID): saved once,
# tracked once; the second copy leaves untouched
mta_check "the same message resent is accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/t1"
# a reply that quotes the tracked message, pixel included: that pixel must
# not count this message's reader as a reader of the first one
cat >"$M/t3" <<MSG
From: Alice <alice@example.com>
To: <bob@customer.test>
Subject: Re: Our pricing
Date: Sun, 22 Nov 2026 13:00:00 +0000
Message-ID: <reply.3@example.com>
In-Reply-To: <track.1@example.com>
MIME-Version: 1.0
Content-Type: text/html; charset=us-ascii

<html><body><p>Following up.</p><blockquote><p>Hello,</p>
<img src="$pixel" width="1" height="1" alt=""></blockquote>
</body></html>
MSG
mta_check "a reply quoting the tracked message is accepted" mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/t3"
mta_sink_wait 4 30 || mta_not_ok "sink got the resend and the reply"
again=$(mta_sink_find track.1@example.com | grep -v -x -F "$f" | head -n 1)
[ -n "$again" ] && ! grep -q "$BASE/" "$again" &&
	grep -q "not tracked: Message-ID .*track.1@example.com.* was saved (to local) when it first passed" "$MTA_TMP/crm-milter.log" &&
	grep -q "already queued for crm local" "$MTA_TMP/crm-milter.log" &&
	mta_ok "the resent message is saved and tracked once; its second copy leaves untouched" ||
	mta_not_ok "resend" "$(grep -i 'track' "$MTA_TMP/crm-milter.log" | tail -5)"
f3=$(mta_sink_find reply.3@example.com | head -n 1)
python3 - "$f3" "$BASE" "$pixel" <<'PY' && mta_ok "the quoted pixel is neutralised (src=\"\"), the reply has its own" ||
import re, sys
t = open(sys.argv[1], encoding="latin-1").read()
mine = re.findall(re.escape(sys.argv[2]) + r"/o/[A-Za-z0-9_-]+\.gif", t)
sys.exit(0 if sys.argv[3] not in t and 'src=""' in t and len(mine) == 1 else 1)
PY
	mta_not_ok "quoted pixel" "$(grep -n 'img' "$f3")"
mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
