/*
 * test_client_addr.c - the client's address behind trusted proxies
 * (core/client_addr.c), table-driven.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <gio/gio.h>

#include "../../core/client_addr.h"

typedef struct xff_case {
	const char *name;
	const char *peer;
	const char *xff;         /* every field, joined with "," as the tracker does */
	const char *want;
} xff_case;

/* trusted: 127.0.0.1/32, 10.0.0.0/8, 2001:db8:ffff::/48 */
static const xff_case cases[] = {
	{ "no proxy in front: the peer", "198.51.100.7", "40.107.1.1", "198.51.100.7" },
	{ "trusted peer, no header: the peer", "127.0.0.1", NULL, "127.0.0.1" },
	{ "one hop", "127.0.0.1", "40.107.1.1", "40.107.1.1" },
	{ "the client's own hops left of the last are not believed", "127.0.0.1",
	  "203.0.113.9, 40.107.1.1", "40.107.1.1" },
	{ "trusted hops are walked past", "127.0.0.1", "40.107.1.1, 203.0.113.9, 10.1.2.3", "203.0.113.9" },
	{ "a proxy's own field after the client's (two header lines)", "127.0.0.1",
	  "198.51.100.7,40.107.1.1", "40.107.1.1" },
	{ "a hop with a port", "127.0.0.1", "40.107.3.3:51234", "40.107.3.3" },
	{ "IPv6 in brackets with a port", "127.0.0.1", "[2001:db8::7]:443", "2001:db8::7" },
	{ "IPv6 in brackets", "127.0.0.1", "[2001:db8::7]", "2001:db8::7" },
	{ "bare IPv6", "127.0.0.1", "2001:db8::7", "2001:db8::7" },
	{ "IPv6 proxy chain", "2001:db8:ffff::1", "203.0.113.9, 2001:db8:ffff::2", "203.0.113.9" },
	{ "garbage stops the walk at the last trusted hop", "127.0.0.1", "203.0.113.9, unknown, 10.0.0.5",
	  "10.0.0.5" },
	{ "garbage right away: the peer", "127.0.0.1", "not an address", "127.0.0.1" },
	{ "an empty hop: the peer", "127.0.0.1", "203.0.113.9,", "127.0.0.1" },
	{ "a name is not an address", "127.0.0.1", "scanner.example", "127.0.0.1" },
	{ "a bad port is garbage", "127.0.0.1", "40.107.3.3:99999", "127.0.0.1" },
};

static GPtrArray *
proxies(void)
{
	const char *nets[] = { "127.0.0.1/32", "10.0.0.0/8", "2001:db8:ffff::/48" };
	GPtrArray *p = g_ptr_array_new_with_free_func(g_object_unref);

	for (gsize i = 0; i < G_N_ELEMENTS(nets); i++)
		g_ptr_array_add(p, g_inet_address_mask_new_from_string(nets[i], NULL));
	return p;
}

static void
test_cases(void **state)
{
	GPtrArray *p = proxies();

	(void)state;
	for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
		char *got = client_addr_resolve(cases[i].peer, cases[i].xff, p);

		if (g_strcmp0(got, cases[i].want) != 0)
			fail_msg("%s: want %s, got %s", cases[i].name, cases[i].want, got);
		g_free(got);
	}
	assert_null(client_addr_resolve(NULL, "40.107.1.1", p));
	g_ptr_array_unref(p);
}

/* More trusted hops than CLIENT_ADDR_HOPS: the walk stops on a trusted
 * proxy, never reaches the client-written left end. */
static void
test_many_hops(void **state)
{
	GPtrArray *p = proxies();
	GString *xff = g_string_new("40.107.1.1");
	char *got;

	(void)state;
	for (int i = 0; i < CLIENT_ADDR_HOPS + 5; i++)
		g_string_append_printf(xff, ", 10.0.%d.%d", i / 250, i % 250 + 1);
	got = client_addr_resolve("127.0.0.1", xff->str, p);
	assert_true(client_addr_trusted(p, got));
	g_free(got);
	g_string_free(xff, TRUE);
	g_ptr_array_unref(p);
}

static void
test_trusted(void **state)
{
	GPtrArray *p = proxies();

	(void)state;
	assert_true(client_addr_trusted(p, "10.9.8.7"));
	assert_true(client_addr_trusted(p, "2001:db8:ffff:1::5"));
	assert_false(client_addr_trusted(p, "11.0.0.1"));
	assert_false(client_addr_trusted(p, "::ffff:10.0.0.1"));  /* families differ */
	assert_false(client_addr_trusted(p, "garbage"));
	assert_false(client_addr_trusted(p, NULL));
	assert_false(client_addr_trusted(NULL, "10.0.0.1"));
	g_ptr_array_unref(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cases),
		cmocka_unit_test(test_many_hops),
		cmocka_unit_test(test_trusted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
