"""An explicit causally consistent session: reads after a write carry afterClusterTime."""
import sys

from common import check, client, result

c, rec = client(sys.argv[1])
coll = c.sim_test.causal
coll.drop()
with c.start_session(causal_consistency=True) as s:
    coll.insert_one({"_id": 1}, session=s)
    op_time = s.operation_time
    check(op_time is not None, "no operationTime after a write")
    check(s.cluster_time is not None, "no $clusterTime gossiped")
    doc = coll.find_one({"_id": 1}, session=s)
    check(doc == {"_id": 1}, "read %r" % doc)
finds = rec.named("find")
after = finds[-1].get("readConcern", {}).get("afterClusterTime")
check(after == op_time, "afterClusterTime %r != operationTime %r" % (after, op_time))
check(finds[-1]["lsid"] == rec.named("insert")[-1]["lsid"], "the read used another session")
result(after_cluster_time="ok")
