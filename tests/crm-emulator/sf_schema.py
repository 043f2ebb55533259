"""Salesforce object and field definitions for the emulator, with the field
checks applied on create and update (notes sections 3.8 to 3.11).

Field spec: (type, arg, createable, required).  Types: string / textarea /
email (arg = max length; "body" = the configured max_body_chars), boolean,
picklist (arg = values), reference (arg = allowed object names, "what" =
anything but Contact/Lead/User), idlist (arg = allowed objects), datetime,
base64.  Custom fields (name__c) are accepted when allow_custom_fields is
true (default) or listed in custom_fields.

Public: OBJECTS, DEFAULTS, SfError, check(), check_update(), check_note_update(), canon_object(),
canon_field(), type_of(), to18().
"""

import base64
import binascii
import re

from common import is_email, parse_time

PREFIX = {"02s": "EmailMessage", "0Co": "EmailMessageRelation", "068": "ContentVersion", "069": "ContentDocument",
          "06A": "ContentDocumentLink", "003": "Contact", "00Q": "Lead", "005": "User", "001": "Account",
          "006": "Opportunity", "500": "Case", "00T": "Task"}
WHO = ("Contact", "Lead", "User")
S, T, E, B, P, R, L, D, X = "string", "textarea", "email", "boolean", "picklist", "reference", "idlist", \
    "datetime", "base64"

OBJECTS = {
    "EmailMessage": {"prefix": "02s", "createable": True, "fields": {
        "Incoming": (B, None, True, False), "Status": (P, ("0", "1", "2", "3", "4", "5"), True, True),
        "MessageIdentifier": (S, 765, True, False), "ThreadIdentifier": (S, 765, True, False),
        "ClientThreadIdentifier": (S, 765, True, False), "FromAddress": (E, 1000, True, False),
        "FromName": (S, 1000, True, False), "FromId": (R, WHO, True, False),
        "ToAddress": (T, 4000, True, False), "CcAddress": (T, 4000, True, False),
        "BccAddress": (T, 4000, True, False), "ToIds": (L, WHO, True, False), "CcIds": (L, WHO, True, False),
        "BccIds": (L, WHO, True, False), "Subject": (S, 3000, True, False), "TextBody": (T, "body", True, False),
        "HtmlBody": (T, "body", True, False), "Headers": (T, 32000, True, False),
        "MessageDate": (D, None, True, False), "RelatedToId": (R, "what", True, False),
        "ParentId": (R, ("Case",), True, False), "ReplyToEmailMessageId": (R, ("EmailMessage",), True, False),
        "IsTracked": (B, None, True, False), "IsOpened": (B, None, True, False), "IsBounced": (B, None, True, False),
        "FirstOpenedDate": (D, None, True, False), "LastOpenedDate": (D, None, True, False),
        "IsClientManaged": (B, None, True, False), "IsExternallyVisible": (B, None, True, False),
        "ContentDocumentIds": (L, ("ContentDocument",), True, False), "ActivityId": (R, ("Task",), False, False),
        "HasAttachment": (B, None, False, False)}},
    "EmailMessageRelation": {"prefix": "0Co", "createable": True, "fields": {
        "EmailMessageId": (R, ("EmailMessage",), True, True), "RelationId": (R, WHO, True, False),
        "RelationAddress": (S, 255, True, False),
        "RelationType": (P, ("ToAddress", "CcAddress", "BccAddress", "FromAddress", "OtherAddress"), True, True),
        "RelationObjectType": (S, 50, False, False)}},
    "ContentVersion": {"prefix": "068", "createable": True, "fields": {
        "Title": (S, 255, True, False), "PathOnClient": (S, 500, True, True), "VersionData": (X, None, True, True),
        "FirstPublishLocationId": (R, "any", True, False), "Origin": (P, ("C", "H"), True, False),
        "ContentLocation": (P, ("S", "E", "L"), True, False), "Description": (T, 1000, True, False),
        "ContentDocumentId": (R, ("ContentDocument",), False, False), "FileType": (S, 20, False, False),
        "FileExtension": (S, 40, False, False), "ContentSize": (S, None, False, False)}},
    "ContentDocumentLink": {"prefix": "06A", "createable": True, "fields": {
        "ContentDocumentId": (R, ("ContentDocument",), True, True), "LinkedEntityId": (R, "any", True, True),
        "ShareType": (P, ("V", "C", "I"), True, False),
        "Visibility": (P, ("AllUsers", "InternalUsers", "SharedUsers"), True, False)}},
    # ContentNote (object reference "ContentNote": create/update of Title and
    # Content, base64; "To relate a note to a record, use ContentDocumentLink").
    # Its Id is the note's ContentDocument Id (069), so links refer to it.
    "ContentNote": {"prefix": "069", "createable": True, "fields": {
        "Title": (S, 255, True, True), "Content": (X, None, True, False), "FileType": (S, 20, False, False),
        "FileExtension": (S, 40, False, False), "ContentSize": (S, None, False, False),
        "TextPreview": (S, 255, False, False), "IsReadOnly": (B, None, False, False),
        "LatestPublishedVersionId": (R, ("ContentVersion",), False, False)}},
    "ContentDocument": {"prefix": "069", "fields": {"Title": (S, 255, False, False),
                                                     "LatestPublishedVersionId": (R, ("ContentVersion",), False,
                                                                                  False)}},
    "Contact": {"prefix": "003", "fields": {
        "FirstName": (S, 40, False, False), "LastName": (S, 80, False, False), "Name": (S, 121, False, False),
        "Email": (E, 80, False, False), "HasOptedOutOfEmail": (B, None, False, False),
        "IsEmailBounced": (B, None, False, False), "EmailBouncedDate": (D, None, False, False),
        "EmailBouncedReason": (S, 255, False, False), "DoNotCall": (B, None, False, False),
        "AccountId": (R, ("Account",), False, False)}},
    "Lead": {"prefix": "00Q", "fields": {
        "FirstName": (S, 40, False, False), "LastName": (S, 80, False, False), "Name": (S, 121, False, False),
        "Email": (E, 80, False, False), "HasOptedOutOfEmail": (B, None, False, False),
        "IsEmailBounced": (B, None, False, False), "EmailBouncedDate": (D, None, False, False),
        "EmailBouncedReason": (S, 255, False, False), "IsConverted": (B, None, False, False),
        "Company": (S, 255, False, False), "Status": (S, 40, False, False)}},
    "User": {"prefix": "005", "fields": {
        "FirstName": (S, 40, False, False), "LastName": (S, 80, False, False), "Name": (S, 121, False, False),
        "Email": (E, 128, False, False), "IsActive": (B, None, False, False), "Username": (S, 80, False, False)}},
    "Account": {"prefix": "001", "fields": {"Name": (S, 255, False, False)}},
}
SYSTEM = ("Id", "CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted")
DEFAULTS = {"Contact": {"HasOptedOutOfEmail": False, "IsEmailBounced": False, "DoNotCall": False, "IsDeleted": False},
            "Lead": {"HasOptedOutOfEmail": False, "IsEmailBounced": False, "IsConverted": False,
                     "IsDeleted": False, "Company": "Emulated Inc.", "Status": "Open - Not Contacted"},
            "User": {"IsActive": True}, "Account": {"IsDeleted": False}}
LABEL = {"TextBody": "Text Body", "HtmlBody": "HTML Body", "Subject": "Subject", "MessageIdentifier":
         "Message ID", "FromAddress": "From Address", "ToAddress": "To Address"}


class SfError(Exception):
    """A record-level error: statusCode, message, fields."""

    def __init__(self, code, message, fields=None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields if fields is not None else []


def to18(rid):
    """A 15-character Id with its 3-character case-safe suffix (18 stays 18)."""
    if len(rid) == 18:
        return rid
    table = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
    suffix = ""
    for i in range(3):
        chunk = rid[i * 5:i * 5 + 5]
        suffix += table[sum(1 << j for j, c in enumerate(chunk) if "A" <= c <= "Z")]
    return rid + suffix


def type_of(rid):
    """Object name of an Id by its key prefix, or None."""
    return PREFIX.get(rid[:3]) if isinstance(rid, str) else None


def canon_object(name):
    """The object's canonical name (case-insensitive), or None."""
    return next((o for o in OBJECTS if o.lower() == name.lower()), None)


def canon_field(typ, name):
    """A field's canonical name on an object, or None if unknown."""
    low = name.lower()
    for f in tuple(OBJECTS[typ]["fields"]) + SYSTEM:
        if f.lower() == low:
            return f
    if low.endswith("__c"):
        return name
    return None


def _custom_ok(sf, typ, name):
    listed = sf.cfg.get("custom_fields", {}).get(typ, [])
    return name in listed or sf.opt("allow_custom_fields", True)


def _ref(sf, typ, field, value, allowed):
    """Checks a reference value; returns the 18-character Id."""
    if not isinstance(value, str) or not re.match(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$", value):
        raise SfError("MALFORMED_ID", "%s: id value of incorrect type: %s" % (field, value), [field])
    rid = to18(value)
    target = type_of(rid)
    if allowed == "what" and target in WHO:
        raise SfError("FIELD_INTEGRITY_EXCEPTION", "%s: id value of incorrect type: %s (a %s goes in"
                      " EmailMessageRelation, not RelatedToId)" % (field, value, target), [field])
    if isinstance(allowed, tuple) and target not in allowed:
        raise SfError("FIELD_INTEGRITY_EXCEPTION", "%s: id value of incorrect type: %s" % (field, value), [field])
    if target in OBJECTS:
        if sf.rec(target, rid) is None:
            raise SfError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [field])
    else:
        sf.emu_warnings.append("%s=%s refers to a %s, which the emulator does not store (not checked)"
                               % (field, value, target or "record of unknown type"))
    return rid


def _value(sf, typ, field, spec, v):
    """Checks one value against its spec; returns the stored value."""
    kind, arg, _, _ = spec
    if v is None:
        if spec[3]:
            raise SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]" % field, [field])
        return None
    if kind == B:
        if not isinstance(v, bool):
            raise SfError("JSON_PARSER_ERROR", "Cannot deserialize instance of boolean from VALUE_%s value %s or"
                          " request may be missing a required field" % (type(v).__name__.upper(), v), [field])
        return v
    if kind == L:
        if isinstance(v, str):
            sf.emu_warnings.append("%s as a comma-separated string; the JSON array form is UNCONFIRMED too" % field)
            v = [x.strip() for x in v.split(",") if x.strip()]
        if not isinstance(v, list):
            raise SfError("JSON_PARSER_ERROR", "Cannot deserialize %s: want an array of Ids" % field, [field])
        return [_ref(sf, typ, field, x, arg) for x in v]
    if not isinstance(v, str):
        raise SfError("JSON_PARSER_ERROR", "Cannot deserialize instance of string from VALUE_%s value %s or request"
                      " may be missing a required field" % ("NUMBER_INT" if isinstance(v, int) else
                                                            type(v).__name__.upper(), v), [field])
    if kind in (S, T, E):
        maxlen = int(sf.opt("max_body_chars", 32000)) if arg == "body" else arg
        if maxlen and len(v) > maxlen:
            raise SfError("STRING_TOO_LONG", "%s: data value too large: %s... (max length=%d)"
                          % (LABEL.get(field, field), v[:20], maxlen), [field])
        if kind == E and v and not is_email(v):
            raise SfError("INVALID_EMAIL_ADDRESS", "%s: invalid email address: %s" % (field, v), [field])
        return v
    if kind == P:
        if v not in arg:
            raise SfError("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "%s: bad value for restricted picklist field: %s"
                          % (LABEL.get(field, field), v), [field])
        return v
    if kind == R:
        return _ref(sf, typ, field, v, arg)
    if kind == D:
        if parse_time(v, require_zone=True) is None:
            raise SfError("JSON_PARSER_ERROR", "Cannot deserialize instance of datetime from VALUE_STRING value %s"
                          % v, [field])
        return v
    if kind == X:
        try:
            base64.b64decode(v.encode("ascii"), validate=True)
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise SfError("JSON_PARSER_ERROR", "%s is not valid base64" % field, [field]) from None
        return v
    return v


def check(sf, typ, body):
    """Validates a create body; returns the record to store (raises SfError)."""
    sf.emu_warnings = []
    fields = OBJECTS[typ]["fields"]
    rec = {}
    for k, v in body.items():
        if k.lower() == "id":
            raise SfError("INVALID_FIELD", "The Id field should not be specified in the sobject data.", ["Id"])
        name = canon_field(typ, k)
        if name is None or name in SYSTEM:
            raise SfError("INVALID_FIELD", "No such column '%s' on sobject of type %s" % (k, typ), [k])
        if name != k:
            sf.emu_warnings.append("field %s written as %s" % (name, k))
        if name.endswith("__c") and name not in fields:
            if not _custom_ok(sf, typ, name):
                raise SfError("INVALID_FIELD", "No such column '%s' on sobject of type %s" % (k, typ), [k])
            rec[name] = v
            continue
        spec = fields[name]
        if not spec[2]:
            raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: %s. Please check the"
                          " security settings of this field and verify that it is read/write for your profile or"
                          " permission set." % name, [name])
        rec[name] = _value(sf, typ, name, spec, v)
    missing = [f for f, s in fields.items() if s[3] and rec.get(f) is None]
    if missing:
        raise SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [%s]" % ", ".join(missing), missing)
    object_rules(sf, typ, rec)
    rec["_emu_warnings"] = sf.emu_warnings
    return rec


def object_rules(sf, typ, rec):
    """Rules that span fields."""
    if typ == "EmailMessage":
        if rec["Status"] != "3" and not rec.get("ParentId"):
            raise SfError("FIELD_INTEGRITY_EXCEPTION", "Status: for emails not sent as part of a case, only the status"
                          " 3 (Sent) is valid", ["Status"])
        for f in ("ToAddress", "CcAddress", "BccAddress"):
            for a in re.split(r"[;,]\s*", rec.get(f) or ""):
                if a and not is_email(a.strip()):
                    sf.emu_warnings.append("%s entry %r is not a bare address" % (f, a))
        if "Incoming" not in rec:
            sf.emu_warnings.append("Incoming not set (defaults to false = sent)")
    elif typ == "EmailMessageRelation":
        if not rec.get("RelationId") and not rec.get("RelationAddress"):
            raise SfError("REQUIRED_FIELD_MISSING", "Required fields are missing: [RelationAddress]",
                          ["RelationAddress"])
        if rec.get("RelationAddress") and not is_email(rec["RelationAddress"]):
            raise SfError("INVALID_EMAIL_ADDRESS", "RelationAddress: invalid email address: %s"
                          % rec["RelationAddress"], ["RelationAddress"])
    elif typ == "ContentVersion":
        rec["_emu_size"] = len(base64.b64decode(rec["VersionData"]))
        limit = int(sf.opt("max_json_base64_bytes", 37.5 * 1024 * 1024))
        if len(rec["VersionData"]) > limit:
            raise SfError("STRING_TOO_LONG", "VersionData: base64 data over %d bytes in a JSON body" % limit,
                          ["VersionData"])
    elif typ == "ContentDocumentLink":
        rec.setdefault("ShareType", "V")
        for link in sf.recs("ContentDocumentLink"):
            if link["ContentDocumentId"] == rec["ContentDocumentId"] and \
                    link["LinkedEntityId"] == rec["LinkedEntityId"]:
                raise SfError("DUPLICATE_VALUE", "Document with ID: %s is already linked with the entity with ID: %s"
                              % (rec["ContentDocumentId"], rec["LinkedEntityId"]), ["LinkedEntityId"])


def check_update(sf, rec, body):
    """PATCH of an EmailMessage: only custom fields and IsExternallyVisible once it is not a Draft."""
    sf.emu_warnings = []
    out = {}
    for k, v in body.items():
        name = canon_field("EmailMessage", k)
        if name is None or name in SYSTEM:
            raise SfError("INVALID_FIELD", "No such column '%s' on sobject of type EmailMessage" % k, [k])
        if name.endswith("__c") and name not in OBJECTS["EmailMessage"]["fields"]:
            if not _custom_ok(sf, "EmailMessage", name):
                raise SfError("INVALID_FIELD", "No such column '%s' on sobject of type EmailMessage" % k, [k])
            out[name] = v
            continue
        if rec.get("Status") != "5" and name != "IsExternallyVisible":
            raise SfError("FIELD_INTEGRITY_EXCEPTION", "%s: an EmailMessage that is not a Draft can only change"
                          " IsExternallyVisible and custom fields" % name, [name])
        out[name] = _value(sf, "EmailMessage", name, OBJECTS["EmailMessage"]["fields"][name], v)
    return out


def check_note_update(sf, body):
    """PATCH of a ContentNote: "Only the Content and Title fields can be updated"."""
    sf.emu_warnings = []
    out = {}
    fields = OBJECTS["ContentNote"]["fields"]
    for k, v in body.items():
        name = canon_field("ContentNote", k)
        if name not in ("Title", "Content"):
            raise SfError("INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: %s. Only the Content"
                          " and Title fields of a note can be updated." % k, [k])
        out[name] = _value(sf, "ContentNote", name, fields[name], v)
    return out
