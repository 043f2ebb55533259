/*
 * cmd_docs.c - `crm-milterctl docs --sample | --man`: print the sample
 * config or the crm-milter.conf(5) man page, both generated from the
 * option table (conf/options.def). The committed conf/ copies are this
 * output; tests/unit/test_docs.sh keeps them in step.
 *
 * Public: cmd_docs (ctl.h). Reads no config file and touches nothing.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "ctl/ctl.h"
#include "core/config.h"

/* Print the sample config (--sample) or the man page (--man) on stdout. */
int
cmd_docs(const char *config_path, int argc, char **argv)
{
	GString *out;
	int rc = 0;

	(void)config_path;
	if (argc != 2 || (strcmp(argv[1], "--sample") != 0 && strcmp(argv[1], "--man") != 0)) {
		fprintf(stderr, "usage: crm-milterctl docs --sample | --man\n");
		return 2;
	}
	out = g_string_new(NULL);
	if (strcmp(argv[1], "--sample") == 0)
		config_write_sample(out);
	else
		config_write_man(out);
	if (fwrite(out->str, 1, out->len, stdout) != out->len || fflush(stdout) != 0) {
		perror("crm-milterctl docs: write");
		rc = 1;
	}
	g_string_free(out, TRUE);
	return rc;
}
