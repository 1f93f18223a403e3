"""Reads NetApp's Python client, `netapp-ontap`, and prints the facts its resource classes state
as one JSON document on standard output: per resource class its path, keys, methods and fields
(JSON name, type, nullability, validators' limits, gettable / patchable / postable).

`ontap-conform spec import --netapp-ontap` runs this with the package on `sys.path` and turns the
document into a contract directory. Only facts are copied: no descriptions, no examples.
Usage: python3 netapp_ontap.py [PACKAGE_PARENT_DIR] [GLOB ...]
"""

import fnmatch
import importlib
import inspect
import json
import pkgutil
import re
import sys

if len(sys.argv) > 1 and sys.argv[1]:
    sys.path.insert(0, sys.argv[1])
GLOBS = sys.argv[2:]

try:
    import netapp_ontap
    import netapp_ontap.resources as resources
    import netapp_ontap.resource as nr
    from netapp_ontap.resource import Resource
    from marshmallow import fields as mf
    # Older releases (9.6, 9.7) have neither of these: their integers are plain Integer fields.
    Size = getattr(nr, "Size", None)
    ImpreciseDateTime = getattr(nr, "ImpreciseDateTime", None)
except ImportError as e:
    print(json.dumps({"error": "netapp-ontap is not importable: %s" % e}))
    sys.exit(3)

METHODS = [
    "get_collection",
    "patch_collection",
    "post_collection",
    "delete_collection",
    "get",
    "patch",
    "post",
    "delete",
]


def version():
    try:
        from importlib.metadata import version as v

        return v("netapp-ontap")
    except Exception:
        return getattr(netapp_ontap, "__version__", "unknown")


def cells(fn):
    """The values a validator closure captured, by name."""
    code = getattr(fn, "__code__", None)
    if code is None or not fn.__closure__:
        return {}
    out = {}
    for name, cell in zip(code.co_freevars, fn.__closure__):
        try:
            out[name] = cell.cell_contents
        except ValueError:
            pass
    return out


def limits(field):
    """enum / length / range limits from the field's validators."""
    out = {}
    for v in getattr(field, "validators", []) or []:
        q = getattr(v, "__qualname__", "")
        c = cells(v)
        if q.startswith("enum_validation"):
            out["enum"] = [x for x in c.get("choices", [])]
        elif q.startswith("len_validation"):
            if c.get("minimum") is not None:
                out["min_length"] = c["minimum"]
            if c.get("maximum") is not None:
                out["max_length"] = c["maximum"]
        elif q.startswith("integer_validation"):
            if c.get("minimum") is not None:
                out["minimum"] = c["minimum"]
            if c.get("maximum") is not None:
                out["maximum"] = c["maximum"]
    return out


def nested_schema(field):
    try:
        s = field.schema
    except Exception:
        return None
    return s


def scalar_type(field):
    if isinstance(field, mf.Boolean):
        return "boolean"
    if (Size and isinstance(field, Size)) or isinstance(field, mf.Integer):
        return "integer"
    if isinstance(field, mf.Number):
        return "number"
    if isinstance(field, mf.DateTime):
        return "date-time"
    if isinstance(field, mf.String):
        return "string"
    if isinstance(field, mf.Dict):
        return "object"
    return None


def by_attr(schema):
    return getattr(schema, "_declared_fields", None) or getattr(schema, "fields", {})


def json_name(attr, field):
    """The JSON name: `data_key`, or (9.6, which has none) the attribute's name, where `links`
    stands for `_links` and a trailing `_` marks a Python keyword (`self_`)."""
    if field.data_key:
        return field.data_key
    if attr == "links":
        return "_links"
    return attr[:-1] if attr.endswith("_") else attr


def is_resource(schema):
    return ".resources." in type(schema).__module__


class Walker:
    """Expands a schema's dotted attribute lists into leaf fields named by their JSON names."""

    def __init__(self, legacy):
        # Releases whose schemas list no gettable fields (9.6, 9.7) name references to other
        # resources bare (`svm`) where later ones name their fields (`svm.name`, `svm.uuid`).
        self.legacy = legacy
        self.fields = {}

    def leaf(self, path, field, access):
        rec = self.fields.get(path)
        if rec is None:
            rec = {"nullable": bool(getattr(field, "allow_none", False))}
            if isinstance(field, mf.List):
                rec["type"] = "array"
                # marshmallow 3.0 release candidates (netapp-ontap 9.6) call it `container`.
                inner = getattr(field, "inner", None) or getattr(field, "container", None)
                if isinstance(inner, mf.Nested):
                    rec["items"] = "object"
                else:
                    rec["items"] = scalar_type(inner) or "any"
                    rec.update(limits(inner))
            elif isinstance(field, mf.Nested):
                rec["type"] = "object"
            else:
                rec["type"] = scalar_type(field) or "any"
                rec.update(limits(field))
            self.fields[path] = rec
        rec[access] = True

    def expand(self, schema, dotted, prefix, access, depth, seen=()):
        """One entry of a gettable/patchable/postable list, from `schema`. `seen` holds the
        schemas whose whole list was expanded above this one: expanding one again is a cycle
        (a snapshot's volume's snapshots...), not a deeper field. A dotted name always ends."""
        if depth > 12:
            return
        head, _, rest = dotted.partition(".")
        field = by_attr(schema).get(head)
        if field is None:
            return
        name = json_name(head, field)
        if name == "_links":
            return
        path = prefix + name
        if rest:
            if isinstance(field, mf.Nested):
                sub = nested_schema(field)
                if sub is not None:
                    self.expand(sub, rest, path + ".", access, depth + 1, seen)
            return
        if isinstance(field, mf.Nested):
            sub = nested_schema(field)
            if sub is not None and self.legacy and is_resource(sub):
                # A reference to another resource named bare in a legacy release: an object
                # whose fields this list does not state (not the other resource's whole list).
                self.leaf(path, field, access)
                return
            if sub is not None:
                names = getattr(sub, access + "_fields", None)
                if names is not None:
                    # The nested schema lists what is accessible below it (maybe nothing).
                    if type(sub) in seen:
                        return
                    for n in names:
                        self.expand(sub, n, path + ".", access, depth + 1, seen + (type(sub),))
                    return
            # A nested object whose schema lists nothing: an opaque object.
        self.leaf(path, field, access)


def keys_of(cls):
    keys = getattr(cls, "_keys", None) or []
    if isinstance(keys, property):
        # netapp-ontap 9.6 states them as a property returning a constant list.
        keys = keys.fget(None)
    return list(keys)


def declared(schema, prefix, out, seen=()):
    """Every declared field of a schema and of the models nested in it: what a GET may return
    in releases whose schemas list no gettable fields (9.6, 9.7). A nested *resource* (an
    `svm`, an `aggregate`) is left opaque: its whole schema is not part of this record."""
    if type(schema) in seen or len(seen) > 12:
        return
    seen = seen + (type(schema),)
    for head, field in by_attr(schema).items():
        name = json_name(head, field)
        if name == "_links":
            continue
        if isinstance(field, mf.Nested):
            sub = nested_schema(field)
            if sub is not None and not is_resource(sub):
                declared(sub, prefix + name + ".", out, seen)
                continue
            if sub is not None:
                continue
        out.append((prefix + name, field))


def family(modname, cls):
    schema = cls._schema()
    w = Walker(legacy=getattr(schema, "gettable_fields", None) is None)
    for access in ("gettable", "patchable", "postable"):
        names = getattr(schema, access + "_fields", None)
        if names is None and access == "gettable":
            found = []
            declared(schema, "", found)
            for path, field in found:
                w.leaf(path, field, access)
            continue
        for dotted in names or []:
            w.expand(schema, dotted, "", access, 0)
    methods = [m for m in METHODS if m in cls.__dict__]
    return {
        "name": modname,
        "class": cls.__name__,
        # A parent's key is written `{svm[uuid]}` in the client, `{svm.uuid}` in the contract.
        "path": re.sub(r"\{([\w-]+)\[([\w-]+)\]\}", r"{\1.\2}", cls._path),
        "keys": keys_of(cls),
        "methods": methods,
        "fields": dict(sorted(w.fields.items())),
    }


def main():
    out = []
    for m in sorted(pkgutil.iter_modules(resources.__path__), key=lambda m: m.name):
        if GLOBS and not any(fnmatch.fnmatchcase(m.name, g) for g in GLOBS):
            continue
        mod = importlib.import_module("netapp_ontap.resources." + m.name)
        for cls in vars(mod).values():
            if (
                inspect.isclass(cls)
                and issubclass(cls, Resource)
                and cls.__module__ == mod.__name__
                and getattr(cls, "_path", None)
            ):
                out.append(family(m.name, cls))
    json.dump(
        {"source": "netapp-ontap", "version": version(), "families": out},
        sys.stdout,
        separators=(",", ":"),
    )


main()
