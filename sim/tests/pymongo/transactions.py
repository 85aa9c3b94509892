"""Multi-document transactions: own writes visible inside, invisible outside until commit;
abort discards; a write conflict is labelled TransientTransactionError."""
import sys

from pymongo.errors import OperationFailure

from common import check, client, result

c, rec = client(sys.argv[1])
coll = c.sim_test.txn
coll.drop()
coll.insert_one({"_id": 0, "n": 0})
with c.start_session() as s:
    with s.start_transaction():
        coll.insert_one({"_id": 1}, session=s)
        coll.update_one({"_id": 0}, {"$inc": {"n": 1}}, session=s)
        check(coll.count_documents({}, session=s) == 2, "transaction does not see its own insert")
        check(coll.count_documents({}) == 1, "uncommitted insert visible outside")
    check(coll.count_documents({}) == 2, "committed insert missing")
    check(coll.find_one({"_id": 0})["n"] == 1, "committed update missing")

    s.start_transaction()
    coll.insert_one({"_id": 2}, session=s)
    s.abort_transaction()
    check(coll.find_one({"_id": 2}) is None, "aborted insert visible")

    s.start_transaction()
    coll.update_one({"_id": 0}, {"$set": {"by": "txn"}}, session=s)
    coll.update_one({"_id": 0}, {"$set": {"by": "outside"}})
    labels = []
    try:
        coll.update_one({"_id": 0}, {"$set": {"again": True}}, session=s)
        s.commit_transaction()
    except OperationFailure as e:
        labels = e.details.get("errorLabels", []) if e.details else []
        if s.in_transaction:
            s.abort_transaction()
    check("TransientTransactionError" in labels, "write conflict not transient: %r" % labels)
check(coll.find_one({"_id": 0})["by"] == "outside", "conflicting transaction applied")
commits = len(rec.named("commitTransaction"))
result(committed=coll.count_documents({}), commits=commits, conflict="TransientTransactionError")
