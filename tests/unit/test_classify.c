/*
 * test_classify.c - direction classification, table-driven: each case an
 * envelope and macros, the direction we want and a word of the reason.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "classify.h"
#include "decide.h"
#include "testutil.h"

#define R(...) ((const char *const[]){ __VA_ARGS__ })

typedef struct {
	const char *label;
	classify_input in;
	crm_direction want;
	const char *reason_has;
} classify_case;

static const classify_case cases[] = {
	{ "authenticated user sends outbound",
	  { .auth_user = "alice", .client_addr = "198.51.100.7", .mail_from = "alice@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_OUTBOUND, "authenticated as alice" },
	{ "empty auth macro is not authentication",
	  { .auth_user = "", .client_addr = "198.51.100.7", .mail_from = "x@spam.test",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_EXTERNAL, "no recipient in internal" },
	{ "client in an internal IPv4 network",
	  { .client_addr = "10.1.2.3", .mail_from = "alice@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_OUTBOUND, "internal network 10.0.0.0/8" },
	{ "client in an internal IPv6 network",
	  { .client_addr = "2001:db8::25", .mail_from = "alice@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_OUTBOUND, "internal network 2001:db8::/32" },
	{ "Postfix's IPv6: prefix is understood",
	  { .client_addr = "IPv6:2001:db8::25", .mail_from = "alice@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_OUTBOUND, "internal network" },
	{ "local submission",
	  { .local_submission = TRUE, .mail_from = "root@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_OUTBOUND, "local submission" },
	{ "outbound daemon name",
	  { .daemon_name = "ORIGINATING", .client_addr = "203.0.113.9", .mail_from = "alice@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 }, DIR_OUTBOUND, "daemon ORIGINATING" },
	{ "other daemon name from outside is inbound",
	  { .daemon_name = "MX", .client_addr = "203.0.113.9", .mail_from = "carol@customer.test",
	    .rcpts = R("alice@example.com"), .nrcpts = 1 }, DIR_INBOUND, "recipient alice@example.com" },
	{ "subdomain of an internal domain is internal",
	  { .client_addr = "203.0.113.9", .mail_from = "carol@customer.test",
	    .rcpts = R("alice@sales.example.com"), .nrcpts = 1 }, DIR_INBOUND, "internal domain" },
	{ "a suffix that is not a subdomain is not internal",
	  { .client_addr = "203.0.113.9", .mail_from = "carol@customer.test",
	    .rcpts = R("alice@notexample.com"), .nrcpts = 1 }, DIR_EXTERNAL, "no recipient" },
	{ "domains compare without case",
	  { .client_addr = "203.0.113.9", .mail_from = "carol@customer.test",
	    .rcpts = R("Alice@EXAMPLE.COM"), .nrcpts = 1 }, DIR_INBOUND, "internal domain" },
	{ "inbound when any recipient is internal",
	  { .client_addr = "203.0.113.9", .mail_from = "carol@customer.test",
	    .rcpts = R("x@other.test", "alice@example.com"), .nrcpts = 2 }, DIR_INBOUND, "alice@example.com" },
	{ "trusted and every party internal is internal",
	  { .auth_user = "alice", .mail_from = "alice@example.com",
	    .rcpts = R("bob@example.com", "dan@corp.example.org"), .nrcpts = 2 }, DIR_INTERNAL, "all recipients in internal" },
	{ "trusted with one outside recipient is outbound",
	  { .auth_user = "alice", .mail_from = "alice@example.com",
	    .rcpts = R("bob@example.com", "eve@customer.test"), .nrcpts = 2 }, DIR_OUTBOUND, "authenticated" },
	{ "untrusted client claiming an internal sender is inbound",
	  { .client_addr = "203.0.113.9", .mail_from = "ceo@example.com",
	    .rcpts = R("bob@example.com"), .nrcpts = 1 }, DIR_INBOUND, "untrusted client" },
	{ "no client information and no recipients",
	  { .mail_from = "x@y.test", .rcpts = NULL, .nrcpts = 0 }, DIR_EXTERNAL, "untrusted" },
	{ "garbage client address is not trusted",
	  { .client_addr = "not-an-ip", .mail_from = "x@y.test",
	    .rcpts = R("alice@example.com"), .nrcpts = 1 }, DIR_INBOUND, "untrusted" },
};

static crm_config *cfg;

static int
setup(void **state)
{
	cfg = testutil_config(
	    "milter {\n"
	    "  internal_domains = {\"example.com\", \"Corp.Example.org\"}\n"
	    "  internal_networks = {\"10.0.0.0/8\", \"2001:db8::/32\"}\n"
	    "  outbound_daemons = {\"ORIGINATING\"}\n"
	    "}\n");
	return 0;
}

static int
teardown(void **state)
{
	cfg = config_unref(cfg);
	return 0;
}

/* Every case gives its direction and says why. */
static void
test_table(void **state)
{
	size_t i;

	for (i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *reason = NULL;
		crm_direction d = classify(cfg, &cases[i].in, &reason);

		if (d != cases[i].want || strstr(reason, cases[i].reason_has) == NULL)
			fail_msg("%s: got %s (%s), want %s (~%s)", cases[i].label,
			    direction_name(d), reason, direction_name(cases[i].want),
			    cases[i].reason_has);
		g_free(reason);
	}
}

/* The shared decision used by the milter and the dry run. */
static void
test_decision(void **state)
{
	crm_config *c = testutil_config(
	    "milter { internal_domains = {\"example.com\"} }\n"
	    "crm \"local\" { type = ledger }\n"
	    "rule \"outbound\" { direction = outbound save = \"local\" }\n"
	    "rule \"inbound\" { direction = inbound save = \"local\" }\n");
	classify_input in = { .auth_user = "alice", .mail_from = "alice@example.com",
	    .rcpts = R("bob@customer.test"), .nrcpts = 1 };
	crm_decision d;
	JsonNode *n;
	char *json;

	decision_make(c, &in, NULL, NULL, &d);
	assert_int_equal(d.direction, DIR_OUTBOUND);
	assert_string_equal(d.rule->name, "outbound");
	assert_string_equal(d.save, "local");
	n = decision_to_json(&d);
	json = json_to_string(n, FALSE);
	assert_non_null(strstr(json, "\"direction\":\"outbound\""));
	assert_non_null(strstr(json, "\"rule\":\"outbound\""));
	assert_non_null(strstr(json, "\"save\":\"local\""));
	g_free(json);
	json_node_unref(n);
	decision_clear(&d);

	/* internal mail matches no rule: not saved */
	in.rcpts = R("bob@example.com");
	decision_make(c, &in, NULL, NULL, &d);
	assert_int_equal(d.direction, DIR_INTERNAL);
	assert_null(d.rule);
	assert_null(d.save);
	n = decision_to_json(&d);
	json = json_to_string(n, FALSE);
	assert_non_null(strstr(json, "\"rule\":null"));
	assert_non_null(strstr(json, "\"save\":false"));
	g_free(json);
	json_node_unref(n);
	decision_clear(&d);
	config_unref(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_decision),
	};

	return cmocka_run_group_tests_name("classify", tests, setup, teardown);
}
