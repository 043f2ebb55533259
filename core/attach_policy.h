/*
 * attach_policy.h - which attachments of an activity are kept: the rule's
 * `attachments = none | all | allowed` with `attachment_types` and
 * `max_attachment_size`, and capture { blocked_extensions } (executables,
 * blocked whatever the rule says). What is dropped moves to act->dropped
 * with the reason. Inline parts never reach here (activity.c skips them).
 * Used by the ledger connector (from the job's metadata) and by the
 * `crm-milterctl test` dry run (from the rule), so both agree.
 *
 * Public: attach_policy_apply, attach_policy_name.
 */
#ifndef CRM_ATTACH_POLICY_H
#define CRM_ATTACH_POLICY_H

#include <glib.h>
#include "activity.h"
#include "config.h"

/* types and blocked hold char * (may be NULL); max < 0: no size limit. */
void attach_policy_apply(crm_attach_policy mode, const GPtrArray *types, gint64 max,
    const GPtrArray *blocked, activity *act);
const char *attach_policy_name(crm_attach_policy mode);
/* "all", "none", "allowed" -> mode; FALSE for anything else. */
gboolean attach_policy_parse(const char *name, crm_attach_policy *mode);

#endif
