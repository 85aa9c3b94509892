"""CRUD and a cursor over several getMores."""
import sys

from common import check, client, result

c, rec = client(sys.argv[1])
coll = c.sim_test.crud
coll.drop()
coll.insert_many([{"_id": i, "x": i % 3} for i in range(25)])
check(coll.count_documents({}) == 25, "count after insert")
seen = [d["_id"] for d in coll.find({}, batch_size=5).sort("_id", 1)]
check(seen == list(range(25)), "cursor order %r" % seen)
get_mores = len(rec.named("getMore"))
check(get_mores >= 4, "expected >= 4 getMores, got %d" % get_mores)
r = coll.update_many({"x": 0}, {"$set": {"zero": True}})
check(r.modified_count == 9, "update_many modified %d" % r.modified_count)
check(coll.find_one({"_id": 3})["zero"] is True, "update not visible")
r = coll.delete_many({"x": 1})
check(r.deleted_count == 8, "delete_many deleted %d" % r.deleted_count)
doc = coll.find_one_and_update({"_id": 0}, {"$inc": {"x": 10}}, return_document=True)
check(doc["x"] == 10, "find_one_and_update %r" % doc)
result(getmores=get_mores, remaining=coll.count_documents({}))
