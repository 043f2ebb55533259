#!/usr/bin/env bash
# demo.sh - the main job, on a fresh Debian 12 machine as root: install the
# packages, build, start a throwaway Postfix on 127.0.0.1 high ports that
# relays into smtp-sink, with crm-milter attached (smtpd_milters and
# non_smtpd_milters), crm-flusher draining into the embedded ledger and
# crm-tracker answering the tracking pixel and links; send a few outbound
# and inbound messages with swaks (and one with Postfix's sendmail
# command), one HTML message tracked for opens and clicks; open it and
# follow a link as a reader would; print what was tracked and the
# engagement report; stop all it started.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (it installs packages and runs a private Postfix)"; exit 1; }
[ "${CRM_SKIP_INSTALL:-0}" = 1 ] || scripts/install-deps.sh >/dev/null || { echo "package installation failed"; exit 1; }
echo "== building"
scripts/build.sh _build/plain >/dev/null || { echo "build failed"; exit 1; }
export top_srcdir=$top top_builddir=$top/_build/plain
. tests/lib/mta.sh
mta_init demo
CTL=$top_builddir/crm-milterctl

echo "== starting smtp-sink, crm-milter, crm-flusher and Postfix"
mta_sink_start dump || exit 1
CRM=$MTA_TMP/crm CONF=$MTA_TMP/crm-milter.conf SOCK=unix:$MTA_TMP/crm/milter.sock
mkdir -p "$CRM"
mta_crm_config "$CONF" "$CRM" "$SOCK"
TPORT=$(mta_free_port)
"$CTL" keygen --kid demo >"$MTA_TMP/tracking.keys"
chown root:crm-milter "$MTA_TMP/tracking.keys"
chmod 640 "$MTA_TMP/tracking.keys"
sed -i 's|rule "outbound" { direction = outbound  save = "local" }|rule "outbound" { direction = outbound  save = "local"  track = {opens, clicks} }|' "$CONF"
cat >>"$CONF" <<EOF
tracking { base_url = "http://127.0.0.1:$TPORT"  key_file = "$MTA_TMP/tracking.keys" }
tracker { listen = "127.0.0.1:$TPORT"  engagement_data = "$top/conf/engagement.data"  scanner_click_window = 2 }
flusher { poll_interval = 1 }
EOF
mta_crm_start "$CONF" "$SOCK" || exit 1
"$top_builddir/crm-tracker" -c "$CONF" -f >>"$MTA_TMP/crm-tracker.log" 2>&1 &
TRK=$!
mta_track "$TRK"
"$top_builddir/crm-flusher" -c "$CONF" -f >>"$MTA_TMP/crm-flusher.log" 2>&1 &
mta_track $!
PF=$MTA_TMP/pf
mta_postfix_make "$PF"
mta_postfix_conf "$PF" "smtpd_milters = { $SOCK, default_action=accept }" "non_smtpd_milters = \$smtpd_milters"
mta_postfix_start "$PF" || { tail "$PF/maillog"; exit 1; }
echo "   Postfix: inbound port $MTA_PF_IN_PORT, submission port $MTA_PF_SUB_PORT (daemon ORIGINATING);" \
	"sink on $MTA_SINK_PORT; config $CONF"

echo "== sending mail"
M=$MTA_TMP/msg
mkdir -p "$M"
mta_make_message "$M/1" alice@example.com bob@customer.test "Proposal for Acme" demo.1@example.com carol@customer.test
mta_make_message "$M/2" bob@customer.test alice@example.com "Re: Proposal for Acme" demo.2@customer.test
sed -i 's/^Message-ID: <demo.2@customer.test>$/&\nIn-Reply-To: <demo.1@example.com>/' "$M/2"
mta_make_message "$M/3" alice@example.com dan@example.com "Lunch?" demo.3@example.com
mta_make_message "$M/4" alice@example.com erin@prospect.test "Sent from a script" demo.4@example.com
cat >"$M/5" <<'MSG'
From: Alice <alice@example.com>
To: <bob@customer.test>
Subject: Our new pricing
Date: Sun, 22 Nov 2026 12:00:00 +0000
Message-ID: <demo.5@example.com>
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Hello Bob,</p>
<p>the new <a href="https://www.customer.test/pricing?plan=pro&amp;seats=5">pricing</a> is out.</p>
<p><a href="mailto:alice@example.com">Write to me</a></p>
</body></html>
MSG
mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test,carol@customer.test,boss@example.com "$M/1" &&
	echo "   outbound  alice -> bob, carol (Bcc boss@example.com)   via submission"
mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/2" &&
	echo "   inbound   bob -> alice (a reply: In-Reply-To the first)  via port 25-style smtpd"
mta_swaks "$MTA_PF_SUB_PORT" alice@example.com dan@example.com "$M/3" &&
	echo "   internal  alice -> dan (not tracked: no rule saves internal mail)"
mta_pf_sendmail "$PF" alice@example.com erin@prospect.test "$M/4" &&
	echo "   outbound  alice -> erin                                via the sendmail command"
mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test "$M/5" &&
	echo "   outbound  alice -> bob, HTML, tracked (pixel and signed links)"

mta_sink_wait 5 60 && echo "   all 5 messages reached smtp-sink"
f=$(mta_sink_find demo.5@example.com | head -n 1)
pixel=$(grep -o "http://127.0.0.1:$TPORT/o/[A-Za-z0-9_-]*\.gif" "$f" | head -n 1)
link=$(grep -o "http://127.0.0.1:$TPORT/c/[A-Za-z0-9_/-]*" "$f" | head -n 1)
echo
echo "== the tracked message as it reached smtp-sink (its HTML)"
sed -n '/^<html>/,/<\/html>/p' "$f" | sed 's/^/   /'
echo
echo "== Bob reads it and clicks, as his browser would (after the scanner window)"
sleep 3
ua='Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36'
echo "   pixel: $(curl -s -A "$ua" -o /dev/null -w 'HTTP %{http_code} %{content_type}' "$pixel")"
echo "   link:  $(curl -s -A "$ua" -o /dev/null -w 'HTTP %{http_code} -> %{redirect_url}' "$link")"
echo "   a security scanner's HEAD on the link: $(curl -s -I -o /dev/null -w 'HTTP %{http_code}' "$link") (counted apart)"
mta_kill "$TRK" TERM      # crm-tracker writes the clicks it holds for its burst window
for _ in $(seq 1 100); do
	n=$("$CTL" -c "$CONF" activities --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$n" -ge 4 ] && break
	sleep 0.2
done

echo
echo "== crm-milter's decisions (its log)"
grep -E "direction=|queued job" "$MTA_TMP/crm-milter.log" | sed 's/^/   /'
echo
echo "== the spool (crm-milterctl queue list)"
"$CTL" -c "$CONF" queue list | sed 's/^/   /'
echo
echo "== what was tracked (crm-milterctl activities)"
"$CTL" -c "$CONF" activities | sed 's/^/   /'
echo
echo "== engagement of the sent mail, people apart from machines (crm-milterctl report)"
"$CTL" -c "$CONF" report | sed 's/^/   /'
echo
echo "== stopping everything this script started"
mta_postfix_stop "$PF"
MTA_KEEP=0
exit 0
