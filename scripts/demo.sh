#!/usr/bin/env bash
# demo.sh - the main job, on a fresh Debian 12 machine as root: install the
# packages, build, start a throwaway Postfix on 127.0.0.1 high ports that
# relays into smtp-sink, with crm-milter attached (smtpd_milters and
# non_smtpd_milters) and crm-flusher draining into the embedded ledger;
# send a few outbound and inbound messages with swaks (and one with
# Postfix's sendmail command); print what was tracked; stop all it started.
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
mta_crm_start "$CONF" "$SOCK" || exit 1
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
mta_swaks "$MTA_PF_SUB_PORT" alice@example.com bob@customer.test,carol@customer.test,boss@example.com "$M/1" &&
	echo "   outbound  alice -> bob, carol (Bcc boss@example.com)   via submission"
mta_swaks "$MTA_PF_IN_PORT" bob@customer.test alice@example.com "$M/2" &&
	echo "   inbound   bob -> alice (a reply: In-Reply-To the first)  via port 25-style smtpd"
mta_swaks "$MTA_PF_SUB_PORT" alice@example.com dan@example.com "$M/3" &&
	echo "   internal  alice -> dan (not tracked: no rule saves internal mail)"
mta_pf_sendmail "$PF" alice@example.com erin@prospect.test "$M/4" &&
	echo "   outbound  alice -> erin                                via the sendmail command"

mta_sink_wait 4 60 && echo "   all 4 messages reached smtp-sink"
for _ in $(seq 1 100); do
	n=$("$CTL" -c "$CONF" activities --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
	[ "$n" -ge 3 ] && break
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
echo "== stopping everything this script started"
mta_postfix_stop "$PF"
MTA_KEEP=0
exit 0
