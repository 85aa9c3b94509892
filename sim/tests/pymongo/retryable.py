"""A retryable insert whose first attempt loses its connection: stored exactly once."""
import sys

from common import check, client, result

c, rec = client(sys.argv[1], retryWrites=True)
coll = c.sim_test.retry
coll.drop()
c.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                 "data": {"failCommands": ["insert"], "closeConnection": True}})
coll.insert_one({"_id": 1, "v": "once"})
inserts = rec.named("insert")
check(len(inserts) == 2, "expected 2 insert attempts, got %d" % len(inserts))
check(inserts[0]["txnNumber"] == inserts[1]["txnNumber"], "txnNumber changed between attempts")
count = coll.count_documents({})
check(count == 1, "expected exactly one document, got %d" % count)
# A write-concern error after the write applied (labelled retryable): the retry replays the
# recorded reply instead of inserting again.
c.admin.command({"configureFailPoint": "failCommand", "mode": {"times": 1},
                 "data": {"failCommands": ["insert"], "errorLabels": ["RetryableWriteError"],
                          "writeConcernError": {"code": 64, "errmsg": "waiting for replication timed out"}}})
before = len(rec.named("insert"))
coll.insert_one({"_id": 2})
check(len(rec.named("insert")) - before == 2, "the write-concern error was not retried")
check(coll.count_documents({}) == 2, "second insert applied twice or not at all")
result(attempts=len(inserts), documents=count)
