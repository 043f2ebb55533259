/*
 * fake_seam.c - the test double of milter/seam.c. See fake_seam.h.
 */
#include "fake_seam.h"
#include "../../milter/seam.h"

SMFICTX *
fake_ctx_new(void)
{
	SMFICTX *c = g_new0(SMFICTX, 1);

	c->macros = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	c->edits = g_ptr_array_new_with_free_func(g_free);
	c->unasked = g_ptr_array_new_with_free_func(g_free);
	c->body = g_byte_array_new();
	return c;
}

void
fake_ctx_free(SMFICTX *c)
{
	if (c == NULL)
		return;
	g_hash_table_unref(c->macros);
	g_ptr_array_unref(c->edits);
	g_ptr_array_unref(c->unasked);
	g_byte_array_unref(c->body);
	for (int i = 0; i <= SMFIM_LAST; i++)
		g_free(c->symlist[i]);
	g_free(c->reply);
	g_free(c);
}

void
fake_set_macro(SMFICTX *c, const char *name, const char *value)
{
	if (value == NULL)
		g_hash_table_remove(c->macros, name);
	else
		g_hash_table_insert(c->macros, g_strdup(name), g_strdup(value));
}

void *
seam_getpriv(SMFICTX *c)
{
	return c->priv;
}

int
seam_setpriv(SMFICTX *c, void *priv)
{
	c->priv = priv;
	return MI_SUCCESS;
}

/* Is name one of the space-separated names of list? */
static gboolean
listed(const char *list, const char *name)
{
	char **names = g_strsplit(list != NULL ? list : "", " ", -1);
	gboolean hit = g_strv_contains((const char *const *)names, name);

	g_strfreev(names);
	return hit;
}

const char *
seam_getsymval(SMFICTX *c, const char *name)
{
	gboolean any = FALSE, hit = FALSE;

	for (int i = 0; i <= SMFIM_LAST; i++) {
		any = any || c->symlist[i] != NULL;
		hit = hit || listed(c->symlist[i], name);
	}
	if (any && !hit)
		g_ptr_array_add(c->unasked, g_strdup(name));
	return g_hash_table_lookup(c->macros, name);
}

int
seam_setsymlist(SMFICTX *c, int stage, const char *macros)
{
	if (stage < 0 || stage > SMFIM_LAST || macros == NULL || *macros == '\0' ||
	    c->symlist[stage] != NULL)
		return MI_FAILURE;   /* as libmilter */
	c->symlist[stage] = g_strdup(macros);
	return MI_SUCCESS;
}

int
seam_setreply(SMFICTX *c, const char *rcode, const char *xcode, const char *msg)
{
	g_free(c->reply);
	c->reply = g_strdup_printf("%s %s %s", rcode, xcode, msg);
	return MI_SUCCESS;
}

int
seam_chgheader(SMFICTX *c, const char *name, int idx, const char *value)
{
	g_ptr_array_add(c->edits, g_strdup_printf("chgheader %s %d %s", name, idx, value ? value : "(delete)"));
	return MI_SUCCESS;
}

int
seam_addheader(SMFICTX *c, const char *name, const char *value)
{
	g_ptr_array_add(c->edits, g_strdup_printf("addheader %s %s", name, value));
	return MI_SUCCESS;
}

int
seam_delrcpt(SMFICTX *c, const char *rcpt)
{
	g_ptr_array_add(c->edits, g_strdup_printf("delrcpt %s", rcpt));
	return MI_SUCCESS;
}

int
seam_replacebody(SMFICTX *c, const unsigned char *body, int len)
{
	g_ptr_array_add(c->edits, g_strdup_printf("replacebody %d", len));
	if (c->refuse_body)
		return MI_FAILURE;
	g_byte_array_append(c->body, body, (guint)len);
	return MI_SUCCESS;
}
