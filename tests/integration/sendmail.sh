#!/usr/bin/env bash
# sendmail.sh - crm-milter on a real, private Sendmail (integration test).
#
# Sendmail 8.17 is unpacked from the .debs scripts/install-deps.sh downloads
# (never installed: it would replace Postfix) and run by
# tests/lib/sendmail-setup.sh in its own UTS+mount namespace, with
# INPUT_MAIL_FILTER pointing at crm-milter (F=T: a milter that cannot be
# reached tempfails the message, so a passing run proves it was consulted)
# and SMART_HOST relaying to smtp-sink. Two daemons: Name=ORIGINATING
# (listed in outbound_daemons; Sendmail sends it as {daemon_name}) and
# Name=INBOUND. Sends one outbound, one inbound and one outbound message
# twice with the same Message-ID; checks byte identity at the sink apart from
# trace headers, then crm-flusher --once and the activities.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no Postfix
# tools, no Sendmail .debs, crm-milter not built).
# CRM_TEST_MILTER=passthrough: delivery checks only, with passthrough-milter.
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_require_root
mta_require_postfix		# smtp-sink
command -v swaks >/dev/null 2>&1 || mta_skip "swaks is not installed"
mta_sendmail_require
MILTER=${CRM_TEST_MILTER:-crm}
if [ "$MILTER" = crm ]; then
	mta_require_bin "$top_builddir/crm-milter" crm-milter
	mta_require_bin "$top_builddir/crm-flusher" crm-flusher
	mta_require_bin "$top_builddir/crm-milterctl" crm-milterctl
	getent passwd crm-milter >/dev/null ||
		mta_skip "no crm-milter user (run scripts/install-deps.sh)"
else
	mta_require_bin "$top_builddir/bench/passthrough-milter" passthrough-milter
fi

mta_init sendmail
mta_sink_start dump || { mta_not_ok "smtp-sink starts"; mta_done; }

CRM=$MTA_TMP/crm
CONF=$MTA_TMP/crm-milter.conf
SOCK=unix:$CRM/milter.sock
mkdir -p "$CRM"
if [ "$MILTER" = crm ]; then
	mta_crm_config "$CONF" "$CRM" "$SOCK"
	mta_check "crm-milter starts and listens on $SOCK" mta_crm_start "$CONF" "$SOCK"
else
	chmod 755 "$CRM"
	mta_check "passthrough-milter listens on $SOCK" mta_passthrough_start "$SOCK"
fi
[ "$MTA_FAILED" = 0 ] || mta_done

SM=$MTA_TMP/sm
mta_check "sendmail.cf builds with m4" mta_sendmail_make "$SM" "$SOCK"
[ "$MTA_FAILED" = 0 ] || mta_done
mta_check "sendmail starts" mta_sendmail_start "$SM"
[ "$MTA_FAILED" = 0 ] || mta_done

M=$MTA_TMP/msg
mkdir -p "$M"
mta_make_message "$M/out" alice@example.com bob@external.test \
	"Sendmail outbound" sm-out.1@example.com carol@external.test
mta_make_message "$M/in" carol@external.test dave@example.com \
	"Sendmail inbound" sm-in.1@external.test
mta_make_message "$M/dup" alice@example.com frank@external.test \
	"Sendmail twice" sm-dup.1@example.com

mta_check "outbound on the ORIGINATING daemon accepted" \
	mta_swaks "$MTA_SM_SUB_PORT" alice@example.com \
	bob@external.test,carol@external.test "$M/out"
mta_check "inbound on the INBOUND daemon accepted" \
	mta_swaks "$MTA_SM_IN_PORT" carol@external.test dave@example.com "$M/in"
mta_check "duplicate: first copy accepted" \
	mta_swaks "$MTA_SM_SUB_PORT" alice@example.com frank@external.test "$M/dup"
mta_check "duplicate: second copy (same Message-ID) accepted" \
	mta_swaks "$MTA_SM_SUB_PORT" alice@example.com frank@external.test "$M/dup"

if mta_sink_wait 4 30; then
	mta_ok "all 4 messages reached smtp-sink"
else
	mta_not_ok "all 4 messages reached smtp-sink (got $(mta_sink_count))" \
		"$(tail -n 20 "$SM/sendmail.log")"
fi

mta_check_identical "outbound" "$M/out" sm-out.1@example.com 1
mta_check_identical "inbound" "$M/in" sm-in.1@external.test 1
mta_check_identical "duplicate" "$M/dup" sm-dup.1@example.com 2

if grep -i -E 'milter.*(error|timeout|unavailable|tempfail)' "$SM/sendmail.log" >/dev/null; then
	mta_not_ok "no milter errors in the Sendmail log" \
		"$(grep -i -E 'milter.*(error|timeout|unavailable|tempfail)' "$SM/sendmail.log" | tail -n 5)"
else
	mta_ok "no milter errors in the Sendmail log"
fi

if [ "$MILTER" = crm ]; then
	ACTS=$MTA_TMP/activities.json
	mta_crm_flush_and_list "$CONF" "$ACTS"
	mta_expect_activity "$ACTS" "outbound ({daemon_name}=ORIGINATING)" outbound \
		alice@example.com to:bob@external.test "Sendmail outbound" 1
	mta_expect_activity "$ACTS" "outbound, Cc" outbound alice@example.com \
		cc:carol@external.test "Sendmail outbound" 1
	mta_expect_activity "$ACTS" "inbound" inbound carol@external.test \
		dave@example.com "Sendmail inbound" 1
	mta_expect_activity "$ACTS" "same Message-ID twice" outbound alice@example.com \
		frank@external.test "Sendmail twice" 1
	mta_expect_activity_total "$ACTS" 3
fi

[ "$MILTER" = crm ] && mta_check_log_clean "$MTA_TMP/crm-milter.log"
mta_done
