"""Seed-list connect with replicaSet=: pymongo discovers the primary and secondaries,
reads server metadata, and sees failCommand errors with their codes."""
import sys

from pymongo.errors import OperationFailure

from common import check, client, result, wait_for

uri = sys.argv[1]
c, rec = client(uri)
c.admin.command("ping")
check(c.primary is not None, "no primary discovered")
wait_for(lambda: len(c.secondaries) == 2, "expected 2 secondaries, got %r" % (c.secondaries,))
check(c.topology_description.topology_type_name == "ReplicaSetWithPrimary",
      c.topology_description.topology_type_name)
info = c.server_info()
check(info["version"].startswith("7.0"), "version %r" % info["version"])
hello = c.admin.command("hello")
check(hello["setName"] == "rs0", "setName %r" % hello.get("setName"))
check(hello["isWritablePrimary"] is True, "isWritablePrimary")
status = c.admin.command("serverStatus")
check(status["connections"]["totalCreated"] >= 1, "totalCreated")
c.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                 "data": {"failCommands": ["ping"], "errorCode": 2, "errorLabels": ["Custom"]}})
code = None
try:
    c.admin.command("ping")
except OperationFailure as e:
    code = e.code
    check(e.has_error_label("Custom"), "label missing: %r" % (e.details,))
check(code == 2, "failCommand errorCode not surfaced: %r" % code)
c.admin.command("ping")
result(primary="%s:%d" % c.primary, secondaries=len(c.secondaries), code=code)
