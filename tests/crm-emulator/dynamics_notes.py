"""Dataverse notes (annotation), per the annotation table reference
(learn.microsoft.com .../reference/entities/annotation): POST /annotations,
PATCH /annotations(id), GET /annotations[(id)]. Columns: subject (500,
ApplicationRequired), notetext (100,000), objectid bound with
objectid_<type>@odata.bind (Email_Annotation: objectid_email), an optional
objecttypecode that must match it. A client may set annotationid (a used one
is "Cannot insert duplicate key").

UNCONFIRMED (our choice): a note may be added to a completed email.

Public: run(dynamics, req, rid) -> Response.
"""

import copy
import re

from common import Response, now_iso

# annotation (Note) columns, from the annotation table reference: subject 500, notetext 100000
NOTE_COLUMNS = {"subject": ("str", 500), "notetext": ("str", 100000), "filename": ("str", 255),
                "mimetype": ("str", 256), "documentbody": ("str", 1073741823), "isdocument": ("bool", None),
                "langid": ("str", 2), "objecttypecode": ("str", None)}
NOTE_TARGETS = ("email", "contact", "account", "lead", "opportunity", "incident", "task")


def run(dyn, req, rid):
    """One request on annotations (dyn: the Dynamics vendor; rid: the id in the URL or None)."""
    from dynamics import LOGICAL, err, no_property, not_exist  # dynamics imports this module
    if req.method == "GET":
        return dyn.collection(req, "annotations", "annotation", "annotationid", None, rid)
    if req.method not in ("POST", "PATCH") or (req.method == "POST") == bool(rid):
        return err(405, "Method %s is not supported on annotations%s." % (req.method, "(id)" if rid else ""))
    body = dyn.body(req)
    if rid:
        rec = dyn.rec("annotations", rid.lower())
        if rec is None:
            return not_exist("annotation", rid)
        before = copy.deepcopy(rec)
    else:
        rec = {"annotationid": dyn.client_key(body, "annotationid", "annotations", "annotation"),
               "createdon": now_iso(), "isdocument": False}
        before = None
    for k, v in body.items():
        m = re.match(r"^objectid_(\w+)@odata\.bind$", k)
        if m:
            if m.group(1) not in NOTE_TARGETS:
                return no_property(k.split("@")[0], "annotation")
            if rid:
                return err(400, "objectid of a note is not changed in the emulator.")
            dyn.emu_warn = None
            eset, gid = dyn.bind(k, v, (LOGICAL.get(m.group(1), m.group(1) + "s"),))
            if dyn.emu_warn:
                req.warn(dyn.emu_warn)
            rec["_objectid_value"] = gid
            rec["objectidtypecode"] = m.group(1)
        elif k in NOTE_COLUMNS:
            rec[k] = dyn.column("annotation", k, v, NOTE_COLUMNS[k])
        elif k in ("annotationid", "createdon", "modifiedon", "filesize"):
            req.warn("'%s' is read-only on annotation; the value is ignored" % k)
        else:
            return no_property(k, "annotation")
    if not rid and "_objectid_value" not in rec:
        req.warn("a note without objectid (regarding) is stored unattached")
    if not rid and not rec.get("subject"):
        req.warn("subject is ApplicationRequired on annotation")
    if rec.get("objecttypecode") not in (None, rec.get("objectidtypecode")):
        return err(400, "objecttypecode '%s' does not match the bound objectid (%s)."
                   % (rec.get("objecttypecode"), rec.get("objectidtypecode")), "0x80040203")
    rec["modifiedon"] = now_iso()
    if rid:
        dyn.mut_update("annotations", rid.lower(), before)
        dyn.store.touch(rec)
        return Response(204, headers=[("OData-Version", "4.0")])
    # UNCONFIRMED: whether a note may be added to a completed (read-only) email; the emulator allows it.
    dyn.mut_create("annotations", rec["annotationid"], rec)
    return dyn.created(req, "annotations", rec["annotationid"], rec)
