/*
 * testutil.h - helpers the unit tests share: configs from text, scratch
 * directories.
 *
 * Public: testutil_config, testutil_tmpdir, testutil_rmtree.
 */
#ifndef CRM_TESTUTIL_H
#define CRM_TESTUTIL_H

#include "config.h"

/* Load a config written from text (printf-style); fails the test if it
 * does not load. spool { path } may use "%s" for a scratch dir the caller
 * passes. Caller unrefs. */
crm_config *testutil_config(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* A new scratch directory (caller frees the string and removes the tree). */
char *testutil_tmpdir(void);
void testutil_rmtree(const char *dir);

#endif
