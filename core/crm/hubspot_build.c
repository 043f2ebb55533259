/*
 * crm/hubspot_build.c - one HubSpot email input for batch create (notes
 * 1.1, 1.2): every property a string,
 *   hs_timestamp        the message's Date (else when it was queued) in
 *                       milliseconds; the milliseconds hold a fingerprint
 *                       (0..999) of the idempotency key, so a retried job
 *                       can find its own email by search (hubspot_save.c);
 *   hs_email_direction  EMAIL (outbound, internal), INCOMING_EMAIL (inbound);
 *   hs_email_status     SENT (a bounce later PATCHes BOUNCED);
 *   hs_email_subject, hs_email_text, hs_email_html (when the message has them);
 *   hs_email_headers    a JSON string {from, to, cc, bcc} of {email,
 *                       firstName, lastName}: bare addresses, names from the
 *                       From header and the directory;
 *   hubspot_owner_id    the sender (outbound) or first recipient (inbound)
 *                       that the directory knows as a HubSpot owner (user);
 *   hs_attachment_ids   the uploaded attachments (hubspot_files.c);
 * associations: each participant the directory resolves to a contact (198)
 * or a company (account, 186), with a numeric id, and the regarding record
 * (deal 210, company/account 186, contact 198, ticket 224); unresolved
 * addresses stay in hs_email_headers only.
 */
#include <string.h>
#include <gmime/gmime.h>

#include "hubspot.h"
#include "../directory.h"
#include "../log.h"

/* What participant resolution found. */
typedef struct parties {
	GPtrArray *assoc;        /* char * "typeId:id", unique */
	char *owner;             /* hubspot_owner_id, or NULL */
} parties;

/* Is s a HubSpot object id (digits)? */
static gboolean
numeric(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 20)
		return FALSE;
	for (; *s != '\0'; s++)
		if (!g_ascii_isdigit(*s))
			return FALSE;
	return TRUE;
}

/* Add one association once. */
static void
add_assoc(parties *pt, int type_id, const char *id)
{
	char *key = g_strdup_printf("%d:%s", type_id, id);

	for (guint i = 0; i < pt->assoc->len; i++)
		if (strcmp(g_ptr_array_index(pt->assoc, i), key) == 0) {
			g_free(key);
			return;
		}
	g_ptr_array_add(pt->assoc, key);
}

/* A regarding record as an email association type id (0: none). */
int
hs_regarding_assoc(const char *regarding, const char **id)
{
	static const struct { const char *type; int type_id; } map[] = {
		{ "deal", HS_EMAIL_TO_DEAL }, { "company", HS_EMAIL_TO_COMPANY },
		{ "account", HS_EMAIL_TO_COMPANY }, { "contact", HS_EMAIL_TO_CONTACT },
		{ "ticket", HS_EMAIL_TO_TICKET },
	};
	const char *colon = regarding != NULL ? strchr(regarding, ':') : NULL;

	*id = NULL;
	if (colon == NULL || !numeric(colon + 1))
		return 0;
	for (gsize i = 0; i < G_N_ELEMENTS(map); i++)
		if (strlen(map[i].type) == (gsize)(colon - regarding) &&
		    strncmp(regarding, map[i].type, colon - regarding) == 0) {
			*id = colon + 1;
			return map[i].type_id;
		}
	return 0;
}

/* Add "firstName"/"lastName" from a display name (first word / the rest). */
static void
add_names(JsonBuilder *b, const char *name)
{
	char *copy, *sp;

	if (name == NULL || *name == '\0')
		return;
	copy = g_strstrip(g_strdup(name));
	sp = strchr(copy, ' ');
	if (sp != NULL)
		*sp++ = '\0';
	json_builder_set_member_name(b, "firstName");
	json_builder_add_string_value(b, copy);
	if (sp != NULL && *g_strstrip(sp) != '\0') {
		json_builder_set_member_name(b, "lastName");
		json_builder_add_string_value(b, sp);
	}
	g_free(copy);
}

/* The display name of the From header (GMime parses it), or NULL. */
static char *
from_name(const char *from)
{
	InternetAddressList *l = from != NULL ? internet_address_list_parse(NULL, from) : NULL;
	InternetAddress *a = l != NULL && internet_address_list_length(l) > 0 ?
	    internet_address_list_get_address(l, 0) : NULL;
	char *name = a != NULL && internet_address_get_name(a) != NULL ?
	    g_strdup(internet_address_get_name(a)) : NULL;

	if (l != NULL)
		g_object_unref(l);
	return name;
}

/* One participant: {email, names} in the headers, its record resolved. */
static void
party(hubspot *h, JsonBuilder *b, const char *addr, const char *name, gboolean owner_role,
    parties *pt)
{
	GError *e = NULL;
	directory_entry *d = h->db != NULL ? directory_lookup(h->db, addr, &e) : NULL;

	if (e != NULL) {
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": directory: %s", h->profile->name, e->message);
		g_clear_error(&e);
	}
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "email");
	json_builder_add_string_value(b, addr);
	add_names(b, name != NULL ? name : (d != NULL ? d->name : NULL));
	json_builder_end_object(b);
	if (d != NULL && numeric(d->record_id)) {
		if (d->type == DIRREC_CONTACT)
			add_assoc(pt, HS_EMAIL_TO_CONTACT, d->record_id);
		else if (d->type == DIRREC_ACCOUNT)
			add_assoc(pt, HS_EMAIL_TO_COMPANY, d->record_id);
		else if (d->type == DIRREC_USER && owner_role && pt->owner == NULL)
			pt->owner = g_strdup(d->record_id);
	}
	directory_entry_free(d);
}

/* The hs_email_headers JSON text; participants resolved into pt. */
static char *
headers_json(hubspot *h, const activity *act, parties *pt)
{
	gboolean inbound = g_strcmp0(act->direction, "inbound") == 0;
	const GPtrArray *lists[] = { act->to, act->cc, act->bcc };
	const char *names[] = { "to", "cc", "bcc" };
	JsonBuilder *b = json_builder_new();
	char *name = from_name(act->from);

	json_builder_begin_object(b);
	json_builder_set_member_name(b, "from");
	party(h, b, act->from_addr, name, !inbound, pt);
	for (gsize l = 0; l < G_N_ELEMENTS(lists); l++) {
		json_builder_set_member_name(b, names[l]);
		json_builder_begin_array(b);
		for (guint i = 0; lists[l] != NULL && i < lists[l]->len; i++)
			party(h, b, g_ptr_array_index(lists[l], i), NULL, inbound, pt);
		json_builder_end_array(b);
	}
	json_builder_end_object(b);
	g_free(name);
	return hs_to_string(b);
}

/* Add "name": value to the properties object when value is set. */
static void
prop(JsonBuilder *b, const char *name, const char *value)
{
	if (value == NULL)
		return;
	json_builder_set_member_name(b, name);
	json_builder_add_string_value(b, value);
}

/* 0..999 from the idempotency key (the milliseconds of hs_timestamp). */
static int
fingerprint(const char *key)
{
	GChecksum *ck = g_checksum_new(G_CHECKSUM_SHA256);
	guint8 d[32];
	gsize n = sizeof(d);

	g_checksum_update(ck, (const guchar *)key, (gssize)strlen(key));
	g_checksum_get_digest(ck, d, &n);
	g_checksum_free(ck);
	return (int)((((guint32)d[0] << 24) | ((guint32)d[1] << 16) | ((guint32)d[2] << 8) | d[3]) % 1000);
}

/* hs_timestamp of an activity (see hubspot.h). */
char *
hs_email_timestamp(const activity *act, const char *trace, gint64 fallback_date)
{
	return hs_ms(act->date > 0 ? act->date : fallback_date, fingerprint(trace));
}

/* The associations array. */
static void
add_associations(JsonBuilder *b, const parties *pt)
{
	json_builder_set_member_name(b, "associations");
	json_builder_begin_array(b);
	for (guint i = 0; i < pt->assoc->len; i++) {
		const char *key = g_ptr_array_index(pt->assoc, i);
		const char *colon = strchr(key, ':');
		gint64 type_id = g_ascii_strtoll(key, NULL, 10);   /* the digits before ':' */

		if (colon == NULL)
			continue;
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "to");
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "id");
		json_builder_add_string_value(b, colon + 1);
		json_builder_end_object(b);
		json_builder_set_member_name(b, "types");
		json_builder_begin_array(b);
		json_builder_begin_object(b);
		json_builder_set_member_name(b, "associationCategory");
		json_builder_add_string_value(b, "HUBSPOT_DEFINED");
		json_builder_set_member_name(b, "associationTypeId");
		json_builder_add_int_value(b, type_id);
		json_builder_end_object(b);
		json_builder_end_array(b);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
}

/* The batch input of one activity (see hubspot.h). */
char *
hs_email_input(hubspot *h, const activity *act, const char *trace, gint64 fallback_date,
    const char *attachment_ids, char **timestamp)
{
	parties pt = { g_ptr_array_new_with_free_func(g_free), NULL };
	JsonBuilder *b = json_builder_new();
	char *headers = act->from_addr != NULL ? headers_json(h, act, &pt) : NULL;
	const char *reg_id;
	int reg = hs_regarding_assoc(act->regarding, &reg_id);
	char *out;

	*timestamp = hs_email_timestamp(act, trace, fallback_date);
	if (reg != 0)
		add_assoc(&pt, reg, reg_id);
	else if (act->regarding != NULL)
		log_msg(CRM_LOG_WARNING, NULL, "crm \"%s\": regarding %s is not a HubSpot deal, company, "
		    "contact or ticket id: the email is saved without it", h->profile->name, act->regarding);
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "properties");
	json_builder_begin_object(b);
	prop(b, "hs_timestamp", *timestamp);
	prop(b, "hs_email_direction",
	    g_strcmp0(act->direction, "inbound") == 0 ? "INCOMING_EMAIL" : "EMAIL");
	prop(b, "hs_email_status", "SENT");
	prop(b, "hs_email_subject", act->subject);
	prop(b, "hs_email_text", act->text_body);
	prop(b, "hs_email_html", act->html_body);
	prop(b, "hs_email_headers", headers);
	prop(b, "hubspot_owner_id", pt.owner);
	prop(b, "hs_attachment_ids", attachment_ids);
	json_builder_end_object(b);
	add_associations(b, &pt);
	json_builder_set_member_name(b, "objectWriteTraceId");
	json_builder_add_string_value(b, trace);
	json_builder_end_object(b);
	out = hs_to_string(b);
	g_free(headers);
	g_free(pt.owner);
	g_ptr_array_unref(pt.assoc);
	return out;
}
