#!/usr/bin/env bash
# postfix.sh - crm-milter on a real, throwaway Postfix (integration test).
#
# One Postfix instance (tests/lib/mta.sh) with two smtpd ports: a
# submission port whose milter_macro_daemon_name is ORIGINATING (listed in
# outbound_daemons) and an inbound port (INBOUND); crm-milter is both
# smtpd_milters and non_smtpd_milters; Postfix relays to smtp-sink.
# Sends (a) outbound on the submission port, (b) inbound from an external
# sender to user@example.com, (c) a local submission with Postfix's sendmail
# command (non_smtpd_milters, outbound), (d) one outbound message twice with
# the same Message-ID, (e) an authenticated (SASL PLAIN) message on the
# inbound port, outbound by {auth_authen} alone. Checks every message reaches
# the sink byte-identical
# apart from trace headers, then runs crm-flusher --once and checks the
# activities crm-milterctl lists (one per message; one for the duplicate).
# Postfix's own milter macro lists are trimmed to nothing ("j" at
# connect): crm-milter names the macros it reads (smfi_setsymlist), so
# {daemon_name}, {auth_authen} and the queue id {i} still arrive; the
# checks of (a), (e) and of queue ids in crm-milter's log depend on that.
#
# Exit: 0 all passed, 1 a check failed, 77 skipped (not root, no Postfix,
# no swaks, crm-milter not built). CRM_TEST_MILTER=passthrough runs the
# delivery checks against bench/passthrough-milter (harness self-test).
set -u
. "$(dirname "$0")/../lib/mta.sh"

mta_require_root
mta_require_postfix
command -v swaks >/dev/null 2>&1 || mta_skip "swaks is not installed"
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

mta_init postfix
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

PF=$MTA_TMP/pf
mta_postfix_make "$PF"
mta_postfix_conf "$PF" "smtpd_milters = $SOCK" "non_smtpd_milters = $SOCK" \
	"milter_connect_macros = j" "milter_helo_macros =" "milter_mail_macros =" \
	"milter_rcpt_macros =" "milter_data_macros =" "milter_end_of_header_macros =" \
	"milter_end_of_data_macros ="
mta_check "SASL (Dovecot protocol stand-in) configured" mta_postfix_sasl "$PF"
if ! mta_postfix_start "$PF"; then
	mta_not_ok "postfix starts" "$(tail -n 20 "$PF/maillog" 2>/dev/null)"
	mta_done
fi
mta_ok "postfix starts (in $MTA_PF_IN_PORT, submission $MTA_PF_SUB_PORT)"

M=$MTA_TMP/msg
mkdir -p "$M"
mta_make_message "$M/out" alice@example.com bob@external.test \
	"Quarterly figures" out.1@example.com carol@external.test
mta_make_message "$M/in" carol@external.test dave@example.com \
	"Question about the offer" in.1@external.test
mta_make_message "$M/local" alice@example.com erin@external.test \
	"Sent with the sendmail command" local.1@example.com
mta_make_message "$M/dup" alice@example.com frank@external.test \
	"Sent twice" dup.1@example.com
mta_make_message "$M/auth" alice@example.com grace@external.test \
	"Authenticated on the inbound port" auth.1@example.com

mta_check "(a) outbound on the ORIGINATING submission port accepted" \
	mta_swaks "$MTA_PF_SUB_PORT" alice@example.com \
	bob@external.test,carol@external.test "$M/out"
mta_check "(b) inbound from an external sender accepted" \
	mta_swaks "$MTA_PF_IN_PORT" carol@external.test dave@example.com "$M/in"
mta_check "(c) local submission with Postfix's sendmail command accepted" \
	mta_pf_sendmail "$PF" alice@example.com erin@external.test "$M/local"
mta_check "(d) duplicate: first copy accepted" \
	mta_swaks "$MTA_PF_SUB_PORT" alice@example.com frank@external.test "$M/dup"
mta_check "(d) duplicate: second copy (same Message-ID) accepted" \
	mta_swaks "$MTA_PF_SUB_PORT" alice@example.com frank@external.test "$M/dup"

mta_check "(e) authenticated submission on the INBOUND port accepted" \
	mta_swaks "$MTA_PF_IN_PORT" alice@example.com grace@external.test "$M/auth" \
	--auth PLAIN --auth-user alice@example.com --auth-password secret

if mta_sink_wait 6 30; then
	mta_ok "all 6 messages reached smtp-sink"
else
	mta_not_ok "all 6 messages reached smtp-sink (got $(mta_sink_count))" \
		"$(tail -n 20 "$PF/maillog")"
fi

mta_check_identical "(a) outbound" "$M/out" out.1@example.com 1
mta_check_identical "(b) inbound" "$M/in" in.1@external.test 1
mta_check_identical "(c) local" "$M/local" local.1@example.com 1
mta_check_identical "(d) duplicate" "$M/dup" dup.1@example.com 2
mta_check_identical "(e) authenticated" "$M/auth" auth.1@example.com 1

if grep -i -E '(warning|error|fatal).*milter' "$PF/maillog" >/dev/null; then
	mta_not_ok "no milter errors in the Postfix log" \
		"$(grep -i -E '(warning|error|fatal).*milter' "$PF/maillog" | tail -n 5)"
else
	mta_ok "no milter errors in the Postfix log"
fi

if [ "$MILTER" = crm ]; then
	ACTS=$MTA_TMP/activities.json
	mta_crm_flush_and_list "$CONF" "$ACTS"
	mta_expect_activity "$ACTS" "(a) outbound" outbound alice@example.com \
		to:bob@external.test "Quarterly figures" 1
	mta_expect_activity "$ACTS" "(a) outbound, Cc" outbound alice@example.com \
		cc:carol@external.test "Quarterly figures" 1
	mta_expect_activity "$ACTS" "(b) inbound" inbound carol@external.test \
		dave@example.com "Question about the offer" 1
	mta_expect_activity "$ACTS" "(c) local submission" outbound alice@example.com \
		erin@external.test "Sent with the sendmail command" 1
	mta_expect_activity "$ACTS" "(d) same Message-ID twice" outbound alice@example.com \
		frank@external.test "Sent twice" 1
	mta_expect_activity "$ACTS" "(e) authenticated ({auth_authen})" outbound alice@example.com \
		grace@external.test "Authenticated on the inbound port" 1
	mta_expect_activity_total "$ACTS" 5
fi

if [ "$MILTER" = crm ]; then
	# every queued job is logged under Postfix's queue id, none as NOQUEUE
	n=$(grep -c ': queued job ' "$MTA_TMP/crm-milter.log")
	bad=$(grep -c 'NOQUEUE: queued job ' "$MTA_TMP/crm-milter.log")
	if [ "$n" -ge 5 ] && [ "$bad" = 0 ]; then
		mta_ok "queue ids ({i}) arrived with Postfix's macro lists trimmed ($n jobs)"
	else
		mta_not_ok "queue ids ({i}) arrived with Postfix's macro lists trimmed" \
			"$n queued, $bad as NOQUEUE: $(grep ': queued job ' "$MTA_TMP/crm-milter.log" | head -n 3)"
	fi
	mta_check_log_clean "$MTA_TMP/crm-milter.log"
fi
mta_done
