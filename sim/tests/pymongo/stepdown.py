"""replSetStepDown: pymongo finds the new primary and writes succeed; a cursor survives."""
import sys
import time

from common import check, client, result

c, rec = client(sys.argv[1])
coll = c.sim_test.stepdown
coll.drop()
coll.insert_many([{"_id": i} for i in range(6)])
cursor = coll.find({}, batch_size=2)
first = [next(cursor)["_id"], next(cursor)["_id"]]
old = c.primary
c.admin.command("replSetStepDown", 5, force=True)
coll.insert_one({"_id": 100})
deadline = time.time() + 10
while c.primary in (None, old) and time.time() < deadline:
    time.sleep(0.05)
check(c.primary is not None and c.primary != old, "primary did not change: %r" % (c.primary,))
rest = [d["_id"] for d in cursor]
check(first + rest == list(range(6)), "cursor did not survive the step-down: %r" % (first + rest))
check(coll.count_documents({}) == 7, "write after step-down missing")
result(old="%s:%d" % old, new="%s:%d" % c.primary, documents=7)
