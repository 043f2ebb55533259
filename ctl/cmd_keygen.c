/*
 * cmd_keygen.c - `crm-milterctl keygen [--kid ID]`: print one new line for
 * the tracking key file ("<key id> <base64 of 32 random bytes>", from
 * getrandom(2)). Without --kid the id is 6 random letters and digits.
 * Rotation: put the new line first in tracking { key_file } (it signs),
 * keep the old lines while links signed with them should still work.
 *
 * Public: cmd_keygen (ctl.h). Reads no config file and touches nothing;
 * the secret goes to stdout only.
 */
#include <stdio.h>
#include <string.h>
#include <glib.h>

#include "ctl/ctl.h"
#include "core/token.h"

/* Print one key line; exit 2 on a bad --kid. */
int
cmd_keygen(const char *config_path, int argc, char **argv)
{
	const char *kid = NULL;
	char *line;
	int rc = 0;

	(void)config_path;
	if (argc == 3 && strcmp(argv[1], "--kid") == 0)
		kid = argv[2];
	else if (argc == 2 && strncmp(argv[1], "--kid=", 6) == 0)
		kid = argv[1] + 6;
	else if (argc != 1) {
		fprintf(stderr, "usage: crm-milterctl keygen [--kid ID]\n");
		return 2;
	}
	line = token_keygen_line(kid);
	if (line == NULL) {
		fprintf(stderr, "crm-milterctl keygen: key id must be 1 to %d characters of "
		    "A-Z a-z 0-9 _ -\n", TOKEN_KID_MAX);
		return 2;
	}
	if (printf("%s\n", line) < 0 || fflush(stdout) != 0) {
		perror("crm-milterctl keygen: write");
		rc = 1;
	}
	explicit_bzero(line, strlen(line));
	g_free(line);
	return rc;
}
