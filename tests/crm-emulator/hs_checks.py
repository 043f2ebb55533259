"""HubSpot input checks (properties, hs_email_headers, associations) and
search filter evaluation for the emulator (notes section 1).

Public: HsError, check_input(), check_association(), known_props(),
READ_ONLY, match(), sort().
"""

import json
import re

from common import is_email, parse_time

PROPS = {
    "emails": {"hs_timestamp", "hubspot_owner_id", "hs_email_direction", "hs_email_status", "hs_email_subject",
               "hs_email_text", "hs_email_html", "hs_attachment_ids", "hs_email_headers"},
    "notes": {"hs_timestamp", "hs_note_body", "hubspot_owner_id", "hs_attachment_ids"},
}
READ_ONLY = {
    "emails": {"hs_email_from_email", "hs_email_from_firstname", "hs_email_from_lastname", "hs_email_to_email",
               "hs_email_to_firstname", "hs_email_to_lastname", "hs_object_id", "hs_createdate",
               "hs_lastmodifieddate"},
    "notes": {"hs_object_id", "hs_createdate", "hs_lastmodifieddate"},
}
ENUMS = {"hs_email_direction": ("EMAIL", "INCOMING_EMAIL", "FORWARDED_EMAIL"),
         "hs_email_status": ("BOUNCED", "FAILED", "SCHEDULED", "SENDING", "SENT")}
# HUBSPOT_DEFINED association type ids: from object -> {typeId: target object}.
# 198 and 210 are confirmed; 186, 224 and the note ids are UNCONFIRMED (notes 1.1, 1.6).
ASSOC = {"emails": {198: "contacts", 186: "companies", 210: "deals", 224: "tickets"},
         "notes": {202: "contacts", 190: "companies", 214: "deals"}}
CATEGORIES = ("HUBSPOT_DEFINED", "USER_DEFINED", "INTEGRATOR_DEFINED")
ADDR_RE = re.compile(r"^(?P<name>[^<]*)<(?P<addr>[^>]+)>$")


class HsError(Exception):
    """A validation failure: message, category, extra body fields."""

    def __init__(self, message, category="VALIDATION_ERROR", **extra):
        super().__init__(message)
        self.message = message
        self.category = category
        self.extra = extra


def prop_error(name, code, message):
    """'Property values were not valid: [...]' with an errors[] detail."""
    detail = [{"isValid": False, "message": message, "error": code, "name": name}]
    return HsError("Property values were not valid: %s" % json.dumps(detail), "VALIDATION_ERROR",
                   errors=[{"message": message, "code": code, "context": {"propertyName": [name]}}])


def known_props(hs, otype):
    """Writable property names of an object type (plus configured custom ones)."""
    return PROPS.get(otype, set()) | set(hs.cfg.get("custom_properties", {}).get(otype, []))


def parse_addr(value, where):
    """An hs_email_headers email value: bare, 'Name<addr>' or 'First+Last<addr>' (UNCONFIRMED which)."""
    if not isinstance(value, str):
        raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "%s.email must be a string" % where)
    m = ADDR_RE.match(value.strip())
    addr = m.group("addr").strip() if m else value.strip()
    if not is_email(addr):
        raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "%s.email %r is not an address" % (where, value))
    return addr


def check_headers(text):
    """Parses and checks hs_email_headers; returns the derived read-only properties."""
    try:
        h = json.loads(text)
    except json.JSONDecodeError as e:
        raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "hs_email_headers is not JSON: %s" % e) \
            from None
    if not isinstance(h, dict):
        raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "hs_email_headers must be a JSON object")
    for k in h:
        if k not in ("from", "sender", "to", "cc", "bcc"):
            raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "unknown key %r in hs_email_headers" % k)

    def person(p, where):
        if not isinstance(p, dict) or "email" not in p:
            raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "%s must be {email, firstName, lastName}"
                             % where)
        for k, v in p.items():
            if k not in ("email", "firstName", "lastName"):
                raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "unknown key %s.%s" % (where, k))
            if k != "email" and v is not None and not isinstance(v, str):
                raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "%s.%s must be a string" % (where, k))
        return parse_addr(p["email"], where), p.get("firstName") or "", p.get("lastName") or ""

    if "from" not in h:
        raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "hs_email_headers.from is required")
    frm = person(h["from"], "from")
    if "sender" in h:
        person(h["sender"], "sender")
    lists = {}
    for key in ("to", "cc", "bcc"):
        v = h.get(key, [])
        if not isinstance(v, list):
            raise prop_error("hs_email_headers", "INVALID_EMAIL_HEADERS", "hs_email_headers.%s must be an array" % key)
        lists[key] = [person(p, "%s[%d]" % (key, i)) for i, p in enumerate(v)]
    to = lists["to"]
    return {"hs_email_from_email": frm[0], "hs_email_from_firstname": frm[1], "hs_email_from_lastname": frm[2],
            "hs_email_to_email": ";".join(p[0] for p in to), "hs_email_to_firstname": ";".join(p[1] for p in to),
            "hs_email_to_lastname": ";".join(p[2] for p in to)}


def check_association(hs, otype, a, where, to_type=None):
    """One {to:{id}, types:[{associationCategory, associationTypeId}]} item."""
    if not isinstance(a, dict) or not isinstance(a.get("to"), dict) or "id" not in a["to"]:
        raise HsError("%s: each association needs to.id" % where)
    tid = a["to"]["id"]
    if isinstance(tid, bool) or not isinstance(tid, (str, int)) or not str(tid).isdigit():
        raise HsError("%s: to.id must be a numeric object id, got %r" % (where, tid))
    types = a.get("types")
    if not isinstance(types, list) or not types:
        raise HsError("%s: types must be a non-empty array" % where)
    for t in types:
        if not isinstance(t, dict) or t.get("associationCategory") not in CATEGORIES:
            raise HsError("%s: associationCategory must be one of %s" % (where, ", ".join(CATEGORIES)))
        type_id = t.get("associationTypeId")
        if isinstance(type_id, bool) or not isinstance(type_id, int):
            raise HsError("%s: associationTypeId must be an integer" % where)
        if t["associationCategory"] != "HUBSPOT_DEFINED":
            hs.emu_warnings.append("%s: %s type %d not checked" % (where, t["associationCategory"], type_id))
            continue
        target = ASSOC.get(otype, {}).get(type_id)
        if target is None:
            raise HsError("%s: associationTypeId %d is not a HUBSPOT_DEFINED association from %s (known: %s)"
                          % (where, type_id, otype, ", ".join("%d=%s" % kv for kv in ASSOC.get(otype, {}).items())))
        singular = {"contacts": "contact", "companies": "company", "deals": "deal", "tickets": "ticket"}
        if to_type is not None and to_type not in (target, singular[target]):
            raise HsError("%s: associationTypeId %d goes to %s, not %s" % (where, type_id, target, to_type))
        if target == "tickets":
            hs.emu_warnings.append("%s: ticket %s not checked (the emulator stores no tickets)" % (where, tid))
        elif hs.rec(target, str(tid)) is None:
            raise HsError("%s: %s %s does not exist" % (where, target, tid), "VALIDATION_ERROR",
                          errors=[{"message": "%s %s not found" % (target, tid), "code": "INVALID_OBJECT_ID",
                                   "context": {"id": [str(tid)]}}])


def check_input(hs, otype, body, req, index=None):
    """A SimplePublicObjectInputForCreate; returns it with derived properties."""
    where = "inputs[%d]" % index if index is not None else "input"
    hs.emu_warnings = []
    if not isinstance(body, dict):
        raise HsError("%s must be an object" % where)
    for k in body:
        if k not in ("properties", "associations", "objectWriteTraceId"):
            raise HsError("Invalid input JSON: Unrecognized field \"%s\" in %s" % (k, where))
    props = body.get("properties")
    if not isinstance(props, dict):
        raise HsError("%s.properties must be an object" % where)
    known = known_props(hs, otype)
    for k, v in props.items():
        if k in READ_ONLY.get(otype, ()):
            raise prop_error(k, "READ_ONLY_VALUE", "Property \"%s\" is read-only" % k)
        if k not in known:
            raise prop_error(k, "PROPERTY_DOESNT_EXIST", "Property \"%s\" does not exist" % k)
        if not isinstance(v, str):
            raise prop_error(k, "INVALID_PROPERTY_TYPE", "Property \"%s\" must be a string (all property values are"
                             " strings), got %s" % (k, type(v).__name__ if v is not None else "null"))
    ts = props.get("hs_timestamp")
    if ts is None:
        raise prop_error("hs_timestamp", "MISSING_REQUIRED_PROPERTY", "hs_timestamp is required")
    if not (ts.isdigit() or parse_time(ts, require_zone=True) is not None):
        raise prop_error("hs_timestamp", "INVALID_DATETIME", "hs_timestamp %r is neither Unix milliseconds nor a UTC"
                         " date-time" % ts)
    for k, values in ENUMS.items():
        if k in props and props[k] not in values:
            raise prop_error(k, "INVALID_OPTION", "%r was not one of the allowed options: %s" % (props[k],
                                                                                              ", ".join(values)))
    if "hubspot_owner_id" in props and not props["hubspot_owner_id"].isdigit():
        raise prop_error("hubspot_owner_id", "INVALID_OWNER_ID", "hubspot_owner_id must be a numeric owner id")
    if "hs_attachment_ids" in props and props["hs_attachment_ids"] and \
            not re.match(r"^\d+(;\d+)*$", props["hs_attachment_ids"]):
        raise prop_error("hs_attachment_ids", "INVALID_ATTACHMENT_IDS", "hs_attachment_ids must be ';'-separated ids")
    for fid in (props.get("hs_attachment_ids") or "").split(";"):
        if fid and hs.rec("files", fid) is None:
            raise prop_error("hs_attachment_ids", "INVALID_ATTACHMENT_IDS", "file %s does not exist" % fid)
    if otype == "notes" and len(props.get("hs_note_body", "")) > 65536:
        raise prop_error("hs_note_body", "TOO_LONG", "hs_note_body is over 65,536 characters")
    derived = {}
    if otype == "emails":
        if "hs_email_headers" in props:
            derived = check_headers(props["hs_email_headers"])
        for k in ("hs_email_direction", "hs_email_status"):
            if k not in props:
                hs.emu_warnings.append("%s: %s not set" % (where, k))
    assoc = body.get("associations", [])
    if not isinstance(assoc, list):
        raise HsError("%s.associations must be an array" % where)
    for i, a in enumerate(assoc):
        check_association(hs, otype, a, "%s.associations[%d]" % (where, i))
    trace = body.get("objectWriteTraceId")
    if trace is not None and not isinstance(trace, str):
        raise HsError("%s.objectWriteTraceId must be a string" % where)
    for w in hs.emu_warnings:
        req.warn(w)
    out = {"properties": props, "associations": assoc, "_emu_derived": derived}
    if trace is not None:
        out["objectWriteTraceId"] = trace
    return out


def _num(v):
    """A property or filter value as a number (ms for date-times), or None."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return v
    if not isinstance(v, str):
        return None
    if re.match(r"^-?\d+(\.\d+)?$", v):
        return float(v)
    t = parse_time(v)
    return t * 1000 if t is not None else None


def match(f, props):
    """One search filter against an object's properties."""
    op, name = f["operator"], f["propertyName"]
    v = props.get(name)
    if op == "HAS_PROPERTY":
        return v not in (None, "")
    if op == "NOT_HAS_PROPERTY":
        return v in (None, "")
    if v is None:
        return op in ("NEQ", "NOT_IN", "NOT_CONTAINS_TOKEN")
    val = f.get("value")
    if op in ("EQ", "NEQ"):
        eq = str(v).lower() == str(val).lower()
        if not eq and _num(v) is not None and _num(val) is not None:
            eq = _num(v) == _num(val)
        return eq if op == "EQ" else not eq
    if op in ("IN", "NOT_IN"):
        hit = str(v).lower() in [str(x).lower() for x in f.get("values", [])]
        return hit if op == "IN" else not hit
    if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        tok = str(val).lower().strip("*")
        hit = tok in str(v).lower()
        return hit if op == "CONTAINS_TOKEN" else not hit
    a, b = _num(v), _num(val)
    if a is None or b is None:
        a, b = str(v), str(val)
    if op == "BETWEEN":
        hi = _num(f.get("highValue")) if isinstance(a, float) else f.get("highValue")
        return hi is not None and b <= a <= hi
    return {"LT": a < b, "LTE": a <= b, "GT": a > b, "GTE": a >= b}[op]


def sort(recs, sorts):
    """Applies search sorts: ["prop"] / ["-prop"] or [{propertyName, direction}]."""
    recs = sorted(recs, key=lambda r: int(r["id"]))
    for s in reversed(sorts or []):
        if isinstance(s, dict):
            name, desc = s.get("propertyName"), s.get("direction") == "DESCENDING"
        else:
            name, desc = str(s).lstrip("-"), str(s).startswith("-")
        recs.sort(key=lambda r: (_num(r["properties"].get(name)) is None,
                                 _num(r["properties"].get(name)) or 0,
                                 str(r["properties"].get(name) or "")), reverse=desc)
    return recs
