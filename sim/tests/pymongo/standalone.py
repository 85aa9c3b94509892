"""A standalone: no retryable-write numbers, no $clusterTime; snapshot reads refused."""
import sys

from pymongo.errors import OperationFailure

from common import check, client, result

c, rec = client(sys.argv[1])
coll = c.sim_test.single
coll.drop()
coll.insert_one({"_id": 1})
check(c.topology_description.topology_type_name == "Single", c.topology_description.topology_type_name)
check(all("txnNumber" not in cmd for (_, cmd) in rec.events), "txnNumber sent to a standalone")
code = None
with c.start_session(snapshot=True) as s:
    try:
        coll.find_one({}, session=s)
    except OperationFailure as e:
        code = e.code
check(code == 123, "snapshot read on a standalone: %r" % code)
result(snapshot_error=code)
