/*
 * decide.c - classify, sender controls, correlation, the rule, the
 * actions and the edits. See decide.h. Pure apart from the lookups the
 * caller passes in.
 */
#include <string.h>

#include "decide.h"
#include "rules.h"
#include "thread.h"
#include "attach_policy.h"
#include "jsonb.h"
#include "idem.h"

#define CATEGORY_MAX 256

/* Does addr (bare) match one never_log entry (address or domain)? */
static gboolean
never_log_hit(const crm_config *cfg, const char *addr)
{
	GPtrArray *list = cfg->capture.never_log;

	for (guint i = 0; list != NULL && i < list->len; i++) {
		const char *e = g_ptr_array_index(list, i);
		if (strchr(e, '@') != NULL ? g_ascii_strcasecmp(e, addr) == 0
		    : rules_addr_matches(e, addr))
			return TRUE;
	}
	return FALSE;
}

/*
 * Is rcpt the dropbox (crm@d) or its plus form (crm+<type>-<id>@d)? The
 * plus form's regarding record goes to *reg (may stay NULL when the part
 * after '+' is not a valid <type>-<id>).
 */
static gboolean
is_dropbox(const char *dropbox, const char *rcpt, crm_regarding **reg)
{
	const char *at = strrchr(dropbox, '@'), *rat = strrchr(rcpt, '@');
	size_t local = at ? (size_t)(at - dropbox) : 0;
	gboolean hit = FALSE;
	char *lower;

	if (at == NULL || rat == NULL)
		return FALSE;
	lower = g_ascii_strdown(rcpt, -1);
	if (strcmp(lower, dropbox) == 0) {
		hit = TRUE;
	} else if (g_ascii_strcasecmp(rat, at) == 0 && strncmp(lower, dropbox, local) == 0 &&
	    lower[local] == '+') {
		/* crm+<type>-<id>@domain: split at the first '-' (types have none) */
		char *tag = g_strndup(rcpt + local + 1, (gsize)(rat - rcpt) - local - 1);
		char *dash = strchr(tag, '-');
		hit = TRUE;
		if (dash != NULL) {
			char *type;
			*dash = '\0';
			type = g_ascii_strdown(tag, -1);   /* local parts keep no case */
			*reg = config_regarding_new(type, dash + 1, NULL);
			g_free(type);
		}
		g_free(tag);
	}
	g_free(lower);
	return hit;
}

/* Copy a regarding record. */
static crm_regarding *
regarding_dup(const crm_regarding *r)
{
	return r != NULL ? config_regarding_new(r->type, r->id, NULL) : NULL;
}

/* The control headers: note them for removal; honour them when trusted. */
static void
control_headers(const crm_message *msg, gboolean trusted, crm_decision *d,
    crm_tri *track)
{
	static const char *const names[] = { "X-CRM-Track", "X-CRM-Regarding", "X-CRM-Category" };

	for (gsize i = 0; msg != NULL && i < G_N_ELEMENTS(names); i++) {
		GPtrArray *values = message_headers(msg, names[i]);

		for (guint k = 0; k < values->len; k++) {
			char *v = g_strstrip(g_strdup(g_ptr_array_index(values, k)));

			g_ptr_array_add(d->remove_headers, g_strdup(names[i]));
			if (trusted && k == 0) {
				if (i == 0 && g_ascii_strcasecmp(v, "no") == 0)
					*track = TRI_NO;
				else if (i == 0 && g_ascii_strcasecmp(v, "yes") == 0)
					*track = TRI_YES;
				else if (i == 1 && d->regarding == NULL)
					d->regarding = config_regarding_parse(v, NULL);
				else if (i == 2 && *v != '\0')
					d->category = g_utf8_make_valid(v, MIN(strlen(v), CATEGORY_MAX));
			}
			g_free(v);
		}
		g_ptr_array_unref(values);
	}
}

/* The first profile of the config: where a dropbox or tag saves when no
 * rule names one. */
static const char *
default_profile(const crm_config *cfg)
{
	return cfg->profiles->len > 0 ? ((crm_profile *)g_ptr_array_index(cfg->profiles, 0))->name : NULL;
}

/* tracking { never_track } or the directory's "follow email: do not
 * allow": no tracking for this message. Nor when this Message-ID was
 * saved before: the message passes the MTA again (a resend, a second
 * milter pass) and was tracked, or not, the first time; tracking it again
 * would give it a second pixel under an id nothing records. */
static void
tracking_opt_out(const crm_config *cfg, const crm_message *msg, const decide_lookups *lk,
    crm_decision *d)
{
	const GPtrArray *never = cfg->tracking.never_track;
	char *mid = msg != NULL ? idem_msgid_normalize(message_header(msg, "Message-ID")) : NULL;
	char *before = mid != NULL && lk != NULL && lk->tracked != NULL ? lk->tracked(lk->data, mid) : NULL;

	if (before != NULL)
		d->why_no_track = g_strdup_printf("Message-ID %s was saved (to %s) when it first passed", mid, before);
	g_free(before);
	g_free(mid);

	for (guint i = 0; i < d->participants->len && d->why_no_track == NULL; i++) {
		const char *a = g_ptr_array_index(d->participants, i);
		for (guint k = 0; never != NULL && k < never->len; k++) {
			const char *e = g_ptr_array_index(never, k);
			if (strchr(e, '@') != NULL ? g_ascii_strcasecmp(e, a) == 0 : rules_addr_matches(e, a)) {
				d->why_no_track = g_strdup_printf("%s is in never_track", a);
				break;
			}
		}
	}
	if (d->why_no_track == NULL && lk != NULL && lk->no_follow != NULL &&
	    lk->no_follow(lk->data, (const char *const *)d->participants->pdata, d->participants->len))
		d->why_no_track = g_strdup("a participant's directory record says \"follow email: do not allow\" "
		    "(or the directory cannot be read)");
	if (d->why_no_track != NULL)
		d->track = 0;
}

/* Does any rule read the directory (sender_known / recipient_known)? */
static gboolean
rules_read_directory(const crm_config *cfg)
{
	for (guint i = 0; cfg->rules != NULL && i < cfg->rules->len; i++) {
		const crm_rule *r = g_ptr_array_index(cfg->rules, i);
		if (r->sender_known != 0 || r->recipient_known != 0)
			return TRUE;
	}
	return FALSE;
}

/* Fill d for one message. */
void
decision_make(const crm_config *cfg, const classify_input *in,
    const crm_message *msg, const decide_lookups *lk, crm_decision *d)
{
	gboolean trusted, tagged = FALSE, never = FALSE, want_known;
	crm_regarding *plus_reg = NULL;
	crm_tri track_ctl = TRI_UNSET;
	guint rcpt_known = 0;
	rule_input ri;

	memset(d, 0, sizeof(*d));
	d->participants = g_ptr_array_new_with_free_func(g_free);
	d->known = g_ptr_array_new();
	d->remove_headers = g_ptr_array_new_with_free_func(g_free);
	d->remove_rcpts = g_ptr_array_new_with_free_func(g_free);
	d->direction = classify(cfg, in, &d->reason);
	trusted = d->direction == DIR_OUTBOUND || d->direction == DIR_INTERNAL;

	/* participants, the dropbox, never_log, directory matches */
	if (in->mail_from != NULL && *in->mail_from != '\0')
		g_ptr_array_add(d->participants, g_ascii_strdown(in->mail_from, -1));
	for (gsize i = 0; i < in->nrcpts; i++) {
		crm_regarding *r = NULL;
		if (cfg->capture.dropbox != NULL && is_dropbox(cfg->capture.dropbox, in->rcpts[i], &r)) {
			d->dropbox = TRUE;
			g_ptr_array_add(d->remove_rcpts, g_strdup(in->rcpts[i]));
			if (plus_reg == NULL)
				plus_reg = r;
			else
				config_regarding_free(r);
			continue;
		}
		g_ptr_array_add(d->participants, g_ascii_strdown(in->rcpts[i], -1));
	}
	want_known = lk != NULL && lk->known != NULL && (lk->all_known || rules_read_directory(cfg));
	for (guint i = 0; i < d->participants->len; i++) {
		const char *a = g_ptr_array_index(d->participants, i);
		guint k = want_known ? lk->known(lk->data, a) : 0;
		g_ptr_array_add(d->known, GUINT_TO_POINTER(k));
		if (i > 0 || in->mail_from == NULL || *in->mail_from == '\0')
			rcpt_known |= k;
		if (never_log_hit(cfg, a) && d->why_not == NULL) {
			never = TRUE;
			d->why_not = g_strdup_printf("%s is in never_log", a);
		}
	}

	/* sender controls */
	control_headers(msg, trusted, d, &track_ctl);
	if (d->regarding == NULL && trusted) {
		d->regarding = plus_reg;    /* the dropbox's plus form */
		plus_reg = NULL;
	}
	config_regarding_free(plus_reg);
	if (trusted && msg != NULL && cfg->capture.subject_tag != NULL) {
		const char *subject = g_mime_message_get_subject(message_mime(msg));
		char *stripped = NULL;
		if (subject != NULL && thread_subject_tag_strip(subject, cfg->capture.subject_tag, &stripped)) {
			tagged = TRUE;
			d->new_subject = stripped;
		} else {
			g_free(stripped);
		}
	}

	/* correlation: inbound mail answering tracked mail */
	if (d->direction == DIR_INBOUND && msg != NULL && lk != NULL && lk->correlate != NULL)
		(void)lk->correlate(lk->data, cfg, msg, (const char *const *)d->participants->pdata,
		    d->participants->len, &d->corr);

	/* a delivery report about tracked mail */
	if (d->direction == DIR_INBOUND && msg != NULL && lk != NULL && lk->tracked != NULL) {
		dsn_report *rep = dsn_from_message(message_mime(msg), NULL);
		if (rep != NULL && rep->original_message_id != NULL &&
		    (d->bounce_profile = lk->tracked(lk->data, rep->original_message_id)) != NULL)
			d->bounce = rep;
		else
			dsn_report_free(rep);
	}

	/* the rule */
	memset(&ri, 0, sizeof(ri));
	ri.direction = d->direction;
	ri.mail_from = in->mail_from;
	/* the dropbox is not a recipient for the rules' to = {...} */
	ri.rcpts = (const char *const *)d->participants->pdata + (in->mail_from && *in->mail_from ? 1 : 0);
	ri.nrcpts = d->participants->len - (in->mail_from && *in->mail_from ? 1 : 0);
	ri.auth_user = in->auth_user;
	ri.msg = msg;
	ri.size = msg != NULL ? message_size(msg) : 0;
	ri.sender_known = d->known->len > 0 && in->mail_from && *in->mail_from ?
	    GPOINTER_TO_UINT(g_ptr_array_index(d->known, 0)) : 0;
	ri.recipient_known = rcpt_known;
	ri.reply_to_tracked = d->corr.method != NULL;
	ri.dropbox = d->dropbox;
	d->rule = rules_match(cfg, &ri);

	/* actions */
	d->save = d->rule != NULL ? d->rule->save : NULL;
	d->track = d->rule != NULL ? d->rule->track : 0;
	if (d->save == NULL && (track_ctl == TRI_YES || (trusted && (d->dropbox || tagged))))
		d->save = default_profile(cfg);
	if (track_ctl == TRI_NO) {
		d->save = NULL;
		d->track = 0;
		if (d->why_not == NULL)
			d->why_not = g_strdup("X-CRM-Track: no");
	}
	if (never) {
		d->save = NULL;
		d->track = 0;
	}
	if (d->bounce != NULL) {
		d->save = NULL;
		d->track = 0;
		g_free(d->why_not);
		d->why_not = g_strdup_printf("delivery report for tracked message %s (recorded as an event)",
		    d->bounce->original_message_id);
	}
	/* a recipient who opted out turns tracking off for the whole message */
	if (d->track != 0)
		tracking_opt_out(cfg, msg, lk, d);
	if (d->regarding == NULL && d->rule != NULL)
		d->regarding = regarding_dup(d->rule->regarding);
	if (d->regarding == NULL)
		d->regarding = regarding_dup(d->corr.regarding);
	if (d->category == NULL && d->rule != NULL && d->rule->category != NULL)
		d->category = g_strdup(d->rule->category);
}

/* Free what decision_make allocated. */
void
decision_clear(crm_decision *d)
{
	if (d == NULL)
		return;
	g_free(d->reason);
	g_free(d->why_not);
	g_free(d->why_no_track);
	config_regarding_free(d->regarding);
	g_free(d->category);
	g_free(d->corr.method);
	g_free(d->corr.message_id);
	config_regarding_free(d->corr.regarding);
	if (d->participants)
		g_ptr_array_unref(d->participants);
	if (d->known)
		g_ptr_array_unref(d->known);
	if (d->remove_headers)
		g_ptr_array_unref(d->remove_headers);
	if (d->remove_rcpts)
		g_ptr_array_unref(d->remove_rcpts);
	g_free(d->new_subject);
	dsn_report_free(d->bounce);
	g_free(d->bounce_profile);
	memset(d, 0, sizeof(*d));
}

/* "name": "type:id" or null. */
static void
member_regarding(JsonBuilder *b, const char *name, const crm_regarding *r)
{
	char *s = r != NULL ? g_strdup_printf("%s:%s", r->type, r->id) : NULL;

	jsonb_str(b, name, s);
	g_free(s);
}

/* The record types in KNOWN_* bits, as JSON strings. */
static void
add_known(JsonBuilder *b, guint k)
{
	static const struct { guint bit; const char *name; } types[] = {
		{ KNOWN_CONTACT, "contact" }, { KNOWN_LEAD, "lead" },
		{ KNOWN_ACCOUNT, "account" }, { KNOWN_USER, "user" },
	};

	json_builder_begin_array(b);
	for (gsize i = 0; i < G_N_ELEMENTS(types); i++)
		if (k & types[i].bit)
			json_builder_add_string_value(b, types[i].name);
	json_builder_end_array(b);
}

/* {"message_id", "profile", "recipients": [{recipient, action, status,
 * diagnostic}]} of a delivery report. */
void
decision_bounce_json(JsonBuilder *b, const crm_decision *d)
{
	json_builder_begin_object(b);
	jsonb_str(b, "kind", "bounced");
	jsonb_str(b, "message_id", d->bounce->original_message_id);
	jsonb_str(b, "profile", d->bounce_profile);
	json_builder_set_member_name(b, "recipients");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->bounce->recipients->len; i++) {
		const dsn_recipient *r = g_ptr_array_index(d->bounce->recipients, i);
		json_builder_begin_object(b);
		jsonb_str(b, "recipient", r->recipient);
		jsonb_str(b, "action", r->action);
		jsonb_str(b, "status", r->status);
		jsonb_str(b, "diagnostic", r->diagnostic);
		json_builder_set_member_name(b, "failed");
		json_builder_add_boolean_value(b, dsn_is_failure(r));
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_end_object(b);
}

/* The dry-run JSON shape. */
JsonNode *
decision_to_json(const crm_decision *d)
{
	JsonBuilder *b = json_builder_new();
	JsonNode *root;

	json_builder_begin_object(b);
	jsonb_str(b, "direction", direction_name(d->direction));
	jsonb_str(b, "reason", d->reason);
	jsonb_str(b, "rule", d->rule != NULL ? d->rule->name : NULL);
	json_builder_set_member_name(b, "actions");
	json_builder_begin_object(b);
	json_builder_set_member_name(b, "save");
	if (d->save != NULL)
		json_builder_add_string_value(b, d->save);
	else
		json_builder_add_boolean_value(b, FALSE);
	json_builder_set_member_name(b, "track");
	json_builder_begin_array(b);
	if (d->track & TRACK_OPENS)
		json_builder_add_string_value(b, "opens");
	if (d->track & TRACK_CLICKS)
		json_builder_add_string_value(b, "clicks");
	json_builder_end_array(b);
	member_regarding(b, "regarding", d->regarding);
	jsonb_str(b, "category", d->category);
	jsonb_str(b, "not_saved_because", d->why_not);
	jsonb_str(b, "not_tracked_because", d->why_no_track);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "correlation");
	json_builder_begin_object(b);
	jsonb_str(b, "method", d->corr.method);
	jsonb_str(b, "message_id", d->corr.message_id);
	member_regarding(b, "regarding", d->corr.regarding);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "participants");
	json_builder_begin_array(b);
	for (guint i = 0; i < d->participants->len; i++) {
		json_builder_begin_object(b);
		jsonb_str(b, "address", g_ptr_array_index(d->participants, i));
		json_builder_set_member_name(b, "directory");
		add_known(b, GPOINTER_TO_UINT(g_ptr_array_index(d->known, i)));
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "edits");
	json_builder_begin_object(b);
	jsonb_list(b, "remove_headers", d->remove_headers);
	jsonb_list(b, "remove_recipients", d->remove_rcpts);
	jsonb_str(b, "subject", d->new_subject);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "dropbox");
	json_builder_add_boolean_value(b, d->dropbox);
	json_builder_set_member_name(b, "bounce");
	if (d->bounce != NULL)
		decision_bounce_json(b, d);
	else
		json_builder_add_null_value(b);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	g_object_unref(b);
	return root;
}

/* The save job's metadata. */
char *
decision_meta(const crm_config *cfg, const crm_decision *d)
{
	JsonBuilder *b = json_builder_new();
	JsonNode *root;
	char *text;

	json_builder_begin_object(b);
	member_regarding(b, "regarding", d->regarding);
	jsonb_str(b, "category", d->category);
	json_builder_set_member_name(b, "correlation");
	json_builder_begin_object(b);
	jsonb_str(b, "method", d->corr.method);
	jsonb_str(b, "message_id", d->corr.message_id);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "attachments");
	json_builder_begin_object(b);
	jsonb_str(b, "policy", attach_policy_name(d->rule != NULL ? d->rule->attachments : ATTACH_ALL));
	jsonb_list(b, "types", d->rule != NULL ? d->rule->attachment_types : NULL);
	json_builder_set_member_name(b, "max_size");
	json_builder_add_int_value(b, d->rule != NULL ? d->rule->max_attachment_size : -1);
	jsonb_list(b, "blocked_extensions", cfg->capture.blocked_extensions);
	json_builder_end_object(b);
	json_builder_set_member_name(b, "follow_up");
	json_builder_begin_array(b);
	for (guint i = 0; d->rule != NULL && i < d->rule->follow_up->len; i++) {
		const crm_follow_up *f = g_ptr_array_index(d->rule->follow_up, i);
		json_builder_begin_object(b);
		jsonb_str(b, "kind", follow_up_kind_name(f->kind));
		json_builder_set_member_name(b, "seconds");
		json_builder_add_int_value(b, f->seconds);
		json_builder_end_object(b);
	}
	json_builder_end_array(b);
	json_builder_set_member_name(b, "track");
	json_builder_begin_array(b);
	if (d->track & TRACK_OPENS)
		json_builder_add_string_value(b, "opens");
	if (d->track & TRACK_CLICKS)
		json_builder_add_string_value(b, "clicks");
	json_builder_end_array(b);
	json_builder_set_member_name(b, "dropbox");
	json_builder_add_boolean_value(b, d->dropbox);
	json_builder_end_object(b);
	root = json_builder_get_root(b);
	text = json_to_string(root, FALSE);
	json_node_unref(root);
	g_object_unref(b);
	return text;
}
