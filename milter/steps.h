/*
 * steps.h - the milter protocol steps crm-milter negotiates, shared with
 * the benchmark's pass-through milter (bench/passthrough-milter.c) so
 * the baseline asks the MTA for exactly the same round trips.
 *
 * STEPS_NO_REPLY: steps whose callbacks always continue, so the MTA need
 * not wait for an answer (fewer round trips per message); CONNECT and
 * MAIL keep their answers (they may accept), as does end of message.
 * STEPS_SKIPPED: events not looked at (HELO, unknown commands).
 *
 * Both only on a unix socket. Over TCP, Postfix's writes that no answer
 * follows (a body chunk then end of message, HELO's macros then MAIL's)
 * meet Nagle's algorithm and the milter's delayed ACK: up to 40 ms per
 * message, measured as 0.70x against 0.79x without (bench/bench.sh -t).
 * There every step is answered, which acknowledges each write at once;
 * only unknown commands are skipped (STEPS_SKIPPED_TCP).
 *
 * STEPS_MACROS(X): X(stage, "names") for each stage whose macros the
 * callbacks read, asked for with smfi_setsymlist when the MTA offers
 * SMFIF_SETSYMLIST (Postfix >= 2.6 with milter protocol 6, Sendmail >=
 * 8.14). The MTA then sends these instead of its own lists, so an admin
 * who trims Postfix's milter_*_macros or Sendmail's Milter.macros cannot
 * hide what decides the direction ({daemon_name}, {auth_authen}) or the
 * queue id ({i}: Postfix sends it from DATA on, Sendmail from MAIL).
 * Stages not listed keep the MTA's lists. At most 5 names per stage
 * (Sendmail's limit).
 *
 * Macros only (needs <libmilter/mfapi.h> first); no functions, no state.
 */
#ifndef CRM_STEPS_H
#define CRM_STEPS_H

#define STEPS_NO_REPLY (SMFIP_NR_RCPT | SMFIP_NR_DATA | SMFIP_NR_HDR | SMFIP_NR_EOH | SMFIP_NR_BODY)
#define STEPS_SKIPPED (SMFIP_NOHELO | SMFIP_NOUNKNOWN)
#define STEPS_SKIPPED_TCP SMFIP_NOUNKNOWN

#define STEPS_MACROS(X) \
	X(SMFIM_CONNECT, "{daemon_name} {client_addr}") \
	X(SMFIM_ENVFROM, "{i} {auth_authen} {daemon_name}") \
	X(SMFIM_DATA, "{i}") \
	X(SMFIM_EOH, "{i}") \
	X(SMFIM_EOM, "{i}")

#endif
