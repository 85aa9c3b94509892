"""A sharded deployment through two routers."""
import sys

from pymongo import MongoClient

from common import check, client, result, wait_for

uri = sys.argv[1]
c, rec = client(uri)
coll = c.sim_test.sharded
coll.drop()
coll.insert_many([{"_id": i} for i in range(10)])
check(c.topology_description.topology_type_name == "Sharded", c.topology_description.topology_type_name)
wait_for(lambda: len(c.topology_description.known_servers) == 2, "expected 2 known routers")
routers = sorted(s.address for s in c.topology_description.known_servers)
counts = []
for host, port in routers:
    direct = MongoClient(host, port, directConnection=True, serverSelectionTimeoutMS=5000)
    check(direct.admin.command("hello").get("msg") == "isdbgrid", "not a mongos")
    counts.append(direct.sim_test.sharded.count_documents({}))
check(counts == [10, 10], "routers disagree: %r" % counts)
result(routers=len(routers), documents=counts[0])
