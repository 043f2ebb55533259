/*
 * test_http_server.h - a programmable HTTP server on 127.0.0.1 for the
 * connector tests (libmicrohttpd, in the test process): it answers every
 * request with the status, headers and body set in it (or a queue of
 * answers), optionally after a delay, and keeps the last request (method,
 * path, query, headers, body), a count, and a log of every request
 * ("METHOD PATH[?QUERY]\nBODY", for connectors that make several calls).
 *
 * Ownership: test_http_start returns a server stopped and freed with
 * test_http_stop; strings in `last` belong to it.
 *
 * Public: test_http_start, test_http_stop, test_http_header, test_http_push.
 */
#ifndef CRM_TEST_HTTP_SERVER_H
#define CRM_TEST_HTTP_SERVER_H

#include <glib.h>

typedef struct test_answer {
	unsigned status;
	const char *headers;       /* "Name: value\n"..., or NULL */
	const char *body;          /* or NULL */
	unsigned delay_ms;
} test_answer;

typedef struct test_http {
	guint16 port;
	char *base;                /* "http://127.0.0.1:PORT" */
	GMutex lock;
	test_answer answer;        /* when the queue is empty */
	GQueue *queue;             /* test_answer * pushed with test_http_push */
	int requests;
	/* the last request */
	char *method, *path, *query;
	GPtrArray *headers;        /* "name: value", names lower-case */
	GString *body;
	GPtrArray *log;             /* char * "METHOD PATH[?QUERY]\nBODY", every request */
	void *daemon;
} test_http;

test_http *test_http_start(void);
void test_http_stop(test_http *s);
/* A header of the last request (name case ignored), or NULL. */
const char *test_http_header(test_http *s, const char *name);
/* Answer the next request with a (copied) instead of the default. */
void test_http_push(test_http *s, const test_answer *a);

#endif
