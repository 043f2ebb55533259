/*
 * ctl.h - the sub-commands of crm-milterctl, one file each (cmd_*.c).
 *
 * Each takes the config path chosen by -c (or the default) and the
 * arguments after the sub-command name (argv[0] is the sub-command), and
 * returns the process exit status: 0 ok, 1 failure the admin should read,
 * 2 usage error.
 *
 * Public: cmd_check_config, cmd_test, cmd_queue, cmd_activities, cmd_report, cmd_docs,
 *         cmd_directory, cmd_keygen.
 */
#ifndef CRM_CTL_H
#define CRM_CTL_H

int cmd_check_config(const char *config_path, int argc, char **argv);
int cmd_test(const char *config_path, int argc, char **argv);
int cmd_queue(const char *config_path, int argc, char **argv);
int cmd_activities(const char *config_path, int argc, char **argv);
/* report [--json] [--all] [--limit N] [--days N]: engagement of sent mail. */
int cmd_report(const char *config_path, int argc, char **argv);
/* directory import FILE.csv | list [--type T] | lookup ADDRESS [--json]. */
int cmd_directory(const char *config_path, int argc, char **argv);
/* docs --sample | --man: print the generated sample config or man page. */
int cmd_docs(const char *config_path, int argc, char **argv);
/* keygen [--kid ID]: print a new line for the tracking key file. */
int cmd_keygen(const char *config_path, int argc, char **argv);

#endif
