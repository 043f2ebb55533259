/*
 * cmd_check_config.c - `crm-milterctl check-config`: load the config as
 * the daemons would; exit 0, or 1 after printing every "file:line: message".
 */
#include <stdio.h>

#include "ctl.h"
#include "prog.h"

int
cmd_check_config(const char *config_path, int argc, char **argv)
{
	crm_config *cfg;

	if (argc != 1) {
		fprintf(stderr, "usage: crm-milterctl [-c FILE] check-config\n");
		return 2;
	}
	cfg = prog_load_config(config_path);
	if (cfg == NULL)
		return 1;
	printf("%s: ok (%u crm profiles, %u rules)\n", config_path,
	    cfg->profiles->len, cfg->rules->len);
	config_unref(cfg);
	return 0;
}
