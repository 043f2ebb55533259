/*
 * attach_policy.c - keep or drop each attachment. See attach_policy.h.
 */
#include <string.h>

#include "attach_policy.h"

/* Does the file name end with ext (".exe"), without case? */
static gboolean
has_ext(const char *filename, const char *ext)
{
	size_t fl, el = strlen(ext);

	if (filename == NULL)
		return FALSE;
	fl = strlen(filename);
	return fl >= el && g_ascii_strcasecmp(filename + fl - el, ext) == 0;
}

/* Does one attachment_types entry (".ext" or a MIME type glob) match? */
static gboolean
type_matches(const char *pattern, const activity_attachment *a)
{
	if (pattern[0] == '.')
		return has_ext(a->filename, pattern);
	return a->content_type != NULL && g_pattern_match_simple(pattern, a->content_type);
}

/* Does any entry of list match a? */
static gboolean
any_matches(const GPtrArray *list, gboolean (*match)(const char *, const activity_attachment *),
    const activity_attachment *a)
{
	for (guint i = 0; list != NULL && i < list->len; i++)
		if (match(g_ptr_array_index(list, i), a))
			return TRUE;
	return FALSE;
}

/* has_ext with the attachment as the second argument. */
static gboolean
ext_matches(const char *ext, const activity_attachment *a)
{
	return has_ext(a->filename, ext);
}

/* Move what may not be kept to act->dropped, saying why. */
void
attach_policy_apply(crm_attach_policy mode, const GPtrArray *types, gint64 max,
    const GPtrArray *blocked, activity *act)
{
	guint i = 0;

	while (i < act->attachments->len) {
		activity_attachment *a = g_ptr_array_index(act->attachments, i);
		const char *why = NULL;

		if (mode == ATTACH_NONE)
			why = "attachments = none";
		else if (any_matches(blocked, ext_matches, a))
			why = "blocked extension";
		else if (mode == ATTACH_ALLOWED && !any_matches(types, type_matches, a))
			why = "type not in attachment_types";
		else if (max >= 0 && a->size > max)
			why = "larger than max_attachment_size";
		if (why == NULL) {
			i++;
			continue;
		}
		g_ptr_array_add(act->dropped, g_strdup_printf("%s (%s, %" G_GINT64_FORMAT " bytes): %s",
		    a->filename ? a->filename : "(no name)", a->content_type, a->size, why));
		g_ptr_array_remove_index(act->attachments, i);
	}
}

const char *
attach_policy_name(crm_attach_policy mode)
{
	switch (mode) {
	case ATTACH_ALL: return "all";
	case ATTACH_NONE: return "none";
	case ATTACH_ALLOWED: return "allowed";
	}
	return "all";
}

gboolean
attach_policy_parse(const char *name, crm_attach_policy *mode)
{
	static const crm_attach_policy all[] = { ATTACH_ALL, ATTACH_NONE, ATTACH_ALLOWED };

	for (gsize i = 0; name != NULL && i < G_N_ELEMENTS(all); i++)
		if (strcmp(name, attach_policy_name(all[i])) == 0) {
			*mode = all[i];
			return TRUE;
		}
	return FALSE;
}
