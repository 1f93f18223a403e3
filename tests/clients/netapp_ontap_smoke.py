#!/usr/bin/env python3
"""Drives the ontap-conform reference mock with NetApp's own Python client (netapp-ontap).

Usage: netapp_ontap_smoke.py HOST PORT [USER PASSWORD]
Exits 0 when every step passed; prints the failing step and exits 1 otherwise. tests/mock_clients.rs
runs it against a freshly started mock (built-in fixtures).
"""
import sys
import warnings

from netapp_ontap import HostConnection, config, utils
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import Duo, LoginMessages, Totp

CLUSTER = "2581e5aa-9fe3-11e8-b309-005056bbef18"
SVM1 = "7b1b3715-9ffa-11e8-a5dd-005056bbef18"
SVM2 = "f7e41c99-9ffa-11e8-a5dd-005056bbef18"
SVM3 = "8ddee11e-a58c-11e8-85e0-005056bbef18"



def unlf(text):
    """ONTAP (and the mock, by default) appends a LF to a banner or message without one."""
    return text[:-1] if isinstance(text, str) and text.endswith("\n") else text

def check(cond, what):
    if not cond:
        raise AssertionError(what)
    print(f"ok - {what}")


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    user = sys.argv[3] if len(sys.argv) > 3 else "admin"
    password = sys.argv[4] if len(sys.argv) > 4 else "netapp1!"
    warnings.simplefilter("ignore")
    utils.DEBUG = 1
    config.CONNECTION = HostConnection(host, username=user, password=password, verify=False, port=port)

    # Login messages: list, get, find, count, paging, patch.
    msgs = list(LoginMessages.get_collection())
    check(len(msgs) == 4, "list login messages: 4 records")
    check({m.uuid for m in msgs} == {CLUSTER, SVM1, SVM2, SVM3}, "list login messages: the doc's uuids")

    paged = list(LoginMessages.get_collection(max_records=2, fields="*"))
    check([m.uuid for m in paged] == [m.uuid for m in msgs], "paging with max_records=2 yields every record once")
    check(paged[0].show_cluster_message is True, "fields=* records carry show_cluster_message")

    cl = LoginMessages(uuid=CLUSTER)
    cl.get()
    check(cl.scope == "cluster" and "NOT AUTHORIZED" in cl.banner, "get the cluster login messages")

    found = LoginMessages.find(scope="cluster")
    check(found is not None and found.uuid == CLUSTER, "find(scope='cluster')")
    svm1 = LoginMessages.find(**{"svm.name": "svm1"})
    check(svm1 is not None and svm1.uuid == SVM1, "find(svm.name='svm1')")

    check(LoginMessages.count_collection() == 4, "count_collection() == 4")
    check(LoginMessages.count_collection(scope="svm") == 3, "count_collection(scope='svm') == 3")

    m = LoginMessages(uuid=SVM2)
    m.banner = "Authorized use only\r\nfrom netapp-ontap"
    m.message = "motd from python"
    m.patch()
    m2 = LoginMessages(uuid=SVM2)
    m2.get()
    check(unlf(m2.banner) == "Authorized use only\nfrom netapp-ontap", "patch banner: CRLF comes back as LF")
    check(unlf(m2.message) == "motd from python", "patch message stored")

    LoginMessages.patch_collection({"message": "bulk"}, scope="svm")
    check(all(unlf(x.message) == "bulk" for x in LoginMessages.get_collection(scope="svm", fields="message")),
          "patch_collection(scope='svm')")

    # Server-side errors reach the client as NetAppRestError with ONTAP's envelope.
    try:
        LoginMessages(uuid="00000000-0000-0000-0000-000000000000").get()
        check(False, "a missing login messages record is refused")
    except NetAppRestError as e:
        resp = e.http_err_response
        check(resp is not None and resp.http_response.status_code == 404
              and resp.http_response.json()["error"]["code"] == "4",
              "a missing record answers 404 with code \"4\"")
    admin_conn = config.CONNECTION
    config.CONNECTION = HostConnection(host, username="vsadmin", password=password, verify=False, port=port)
    try:
        check(LoginMessages.count_collection() == 1, "the SVM administrator sees one record")
        v = LoginMessages(uuid=SVM1)
        v.show_cluster_message = False
        v.patch()
        check(False, "the SVM administrator may not change show_cluster_message")
    except NetAppRestError as e:
        check(e.http_err_response.http_response.status_code == 403,
              "the SVM administrator may not change show_cluster_message (403)")
    finally:
        config.CONNECTION = admin_conn

    # Duo profiles: get, patch, post, delete.
    duo = Duo(owner={"uuid": CLUSTER})
    duo.get()
    check(duo.owner.name == "cluster-1" and duo.status == "OK", "get the cluster Duo profile")
    check(not hasattr(duo, "secret_key"), "the Duo secret_key is never returned")
    old_fp = duo.fingerprint

    duo.comment = "patched from netapp-ontap"
    duo.max_prompts = 2
    duo.secret_key = "new-secret-from-python"
    duo.patch()
    duo2 = Duo(owner={"uuid": CLUSTER})
    duo2.get()
    check(duo2.comment == "patched from netapp-ontap" and duo2.max_prompts == 2, "patch the Duo profile")
    check(duo2.fingerprint != old_fp, "a new secret_key changes the fingerprint")

    new = Duo(owner={"uuid": SVM2}, api_host="api-svm2.duosecurity.com", integration_key="IKSVM2",
              secret_key="svm2-secret", fail_mode="secure")
    new.post()
    got = Duo(owner={"uuid": SVM2})
    got.get()
    check(got.api_host == "api-svm2.duosecurity.com" and got.owner.name == "svm2", "post a Duo profile for svm2")
    check(len(list(Duo.get_collection())) == 3, "the Duo collection has the new profile")

    got.delete()
    try:
        Duo(owner={"uuid": SVM2}).get()
        check(False, "a deleted Duo profile is gone")
    except NetAppRestError as e:
        check(e.http_err_response.http_response.status_code == 404, "a deleted Duo profile answers 404")

    # TOTP profiles: get, patch.
    totp = Totp(owner={"uuid": SVM1}, account={"name": "joe.smith"})
    totp.get()
    check(totp.enabled is True and totp.scope == "svm", "get joe.smith's TOTP profile")
    check(not hasattr(totp, "secret_key"), "the TOTP secret is never returned by GET")
    totp.comment = "rotated"
    totp.enabled = False
    totp.patch()
    t2 = Totp(owner={"uuid": SVM1}, account={"name": "joe.smith"})
    t2.get()
    check(t2.comment == "rotated" and t2.enabled is False, "patch joe.smith's TOTP profile")

    print("all netapp-ontap steps passed")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, NetAppRestError) as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
