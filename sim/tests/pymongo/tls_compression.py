"""pymongo over TLS and/or a wire compressor: CRUD works, the connection is encrypted when
asked, and the simulator's serverStatus shows the compressor's traffic.

argv: URI (with tls=true&tlsCAFile=... when TLS is on), compressor name or "none".
"""
import sys

from common import check, client, result

uri, compressor = sys.argv[1], sys.argv[2]
kwargs = {} if compressor == "none" else {"compressors": compressor}
c, rec = client(uri, **kwargs)
coll = c.sim_test.wire
coll.drop()
coll.insert_many([{"i": i, "pad": "abc" * 100} for i in range(50)])
check(coll.count_documents({}) == 50, "count after insert_many")
check(coll.find_one({"i": 7})["i"] == 7, "find_one")
status = c.admin.command("serverStatus")
compression = status.get("network", {}).get("compression", {})
inflated = 0
if compressor != "none":
    inflated = compression.get(compressor, {}).get("decompressor", {}).get("bytesOut", 0)
    check(inflated > 15000, "the server decompressed %s requests: %r" % (compressor, compression))
    replies = compression.get(compressor, {}).get("compressor", {}).get("bytesIn", 0)
    check(replies > 0, "the server compressed replies with %s: %r" % (compressor, compression))
tls = "tls=true" in uri
result(tls=tls, compressor=compressor, inflated_over_15k=inflated > 15000)
