"""A snapshot session read does not see a later write."""
import sys

from common import check, client, result

c, rec = client(sys.argv[1])
coll = c.sim_test.snap
coll.drop()
coll.insert_one({"_id": 1, "x": 1})
with c.start_session(snapshot=True) as s:
    before = coll.find_one({"_id": 1}, session=s)
    coll.update_one({"_id": 1}, {"$inc": {"x": 1}})
    again = coll.find_one({"_id": 1}, session=s)
    now = coll.find_one({"_id": 1})
check(before["x"] == 1 and again["x"] == 1, "snapshot saw the later write: %r %r" % (before, again))
check(now["x"] == 2, "the write is missing outside the snapshot: %r" % now)
finds = rec.named("find")
check("atClusterTime" in finds[1].get("readConcern", {}), "second snapshot read lacks atClusterTime")
result(snapshot_x=again["x"], current_x=now["x"])
