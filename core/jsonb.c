/*
 * jsonb.c - JsonBuilder member helpers. See jsonb.h.
 */
#include "jsonb.h"

/* "name": "value" or null. */
void
jsonb_str(JsonBuilder *b, const char *name, const char *value)
{
	json_builder_set_member_name(b, name);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

/* "name": int. */
void
jsonb_int(JsonBuilder *b, const char *name, gint64 value)
{
	json_builder_set_member_name(b, name);
	json_builder_add_int_value(b, value);
}

/* "name": [strings]. */
void
jsonb_list(JsonBuilder *b, const char *name, const GPtrArray *list)
{
	json_builder_set_member_name(b, name);
	json_builder_begin_array(b);
	for (guint i = 0; list != NULL && i < list->len; i++)
		json_builder_add_string_value(b, g_ptr_array_index(list, i));
	json_builder_end_array(b);
}
