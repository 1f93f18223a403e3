#!/usr/bin/env python3
"""Walks every resource class of NetApp's Python client (netapp-ontap) against a mock serving the
same release: `get_collection(fields="*")` where the class has it, then `get()` on one record,
parent keys taken from the parents' records; a singleton (or a record under an SVM) with `get()`
alone. Every record is loaded through the client's own marshmallow schema, so a value of the
wrong type or outside an enum fails the class.

Usage: netapp_ontap_walk.py HOST PORT
Prints one line per class (`ok CLASS`, `fail CLASS: why`, `unreachable CLASS: why`), then
`walked N classes: A ok, F failed, U unreachable`. Exits 0 when no class failed. A class is
unreachable when the client itself cannot address it (no method to read with, or keys no listing
shows); that is a fact about the client, not about the mock.
"""
import datetime
import importlib
import inspect
import operator
import pkgutil
import re
import sys
import warnings

from netapp_ontap import HostConnection, config
from netapp_ontap.resource import Resource
import netapp_ontap.resources as resources


def parent_params(path):
    """`/api/storage/volumes/{volume[uuid]}/snapshots` -> [("volume", "uuid")]."""
    return re.findall(r"\{([\w-]+)\[([\w-]+)\]\}", path)


def readable(rec, key):
    """Whether the client can read a key value from a record the way it builds an instance
    path (`operator.attrgetter`): a string, a number or a timestamp, not an object or a
    hyphenated name."""
    try:
        return isinstance(operator.attrgetter(key)(rec), (str, int, datetime.datetime))
    except AttributeError:
        return False


def value_at(d, dotted):
    for part in dotted.split("."):
        d = d.get(part) if isinstance(d, dict) else None
    return d


def shape(path):
    return re.sub(r"\{[^}]+\}", "{}", path)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    warnings.simplefilter("ignore")
    config.CONNECTION = HostConnection(
        host, username="admin", password="netapp1!", verify=False, port=port
    )
    classes = []
    for m in sorted(pkgutil.iter_modules(resources.__path__), key=lambda m: m.name):
        mod = importlib.import_module("netapp_ontap.resources." + m.name)
        for c in vars(mod).values():
            if (
                inspect.isclass(c)
                and issubclass(c, Resource)
                and c.__module__ == mod.__name__
                and getattr(c, "_path", None)
            ):
                classes.append(c)
    # Parents first: fewer keys in the path.
    classes.sort(key=lambda c: (len(parent_params(c._path)), c._path))
    # shape of a record's instance path -> a record read (its dict), to fill children's keys.
    found = {}
    ok = failed = unreachable = 0
    for c in classes:
        name = c.__name__
        has = lambda m: m in c.__dict__
        params = parent_params(c._path)
        args = []
        if params:
            # The parent: the class whose records live at the path up to the last parent key.
            last = c._path.rfind("}") + 1
            parent = found.get(shape(c._path[:last]))
            if parent is None:
                print(f"unreachable {name}: no record of its parent {c._path[:last]} was read")
                unreachable += 1
                continue
            args = parent["__args__"]
        if not (has("get_collection") or has("get")):
            print(f"unreachable {name}: the client offers no read")
            unreachable += 1
            continue
        try:
            in_path = {f"{a}.{b}" for a, b in params}
            own = [k for k in c._keys if k not in in_path]
            if has("get_collection"):
                recs = list(c.get_collection(*args, fields="*"))
                if not recs:
                    print(f"fail {name}: get_collection gave no record")
                    failed += 1
                    continue
                rec = recs[0]
                if has("get"):
                    missing = [k for k in own if not readable(rec, k)]
                    if missing:
                        # The client reads a record by its keys; these it cannot read from one.
                        print(f"unreachable {name}: the client cannot read its keys {missing} from a record")
                        unreachable += 1
                        continue
                    rec.get()
            else:
                if own:
                    print(f"unreachable {name}: keys {own} that no listing shows")
                    unreachable += 1
                    continue
                rec = c(*args)
                rec.get()
            # Children address this record by our parent keys followed by our own key values.
            d = rec.to_dict()
            vals = [value_at(d, k) for k in own]
            found[shape(c._path + "/{}" * len(own))] = {"__args__": list(args) + vals}
            print(f"ok {name}")
            ok += 1
        except Exception as e:  # the client's own errors: HTTP, marshmallow validation
            msg = str(e).splitlines()[0][:300] if str(e) else type(e).__name__
            print(f"fail {name}: {msg}")
            failed += 1
    print(f"walked {len(classes)} classes: {ok} ok, {failed} failed, {unreachable} unreachable")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
