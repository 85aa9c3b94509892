"""An auth-enabled deployment: pymongo's SCRAM client against the simulator's server side."""
import sys

from pymongo.errors import OperationFailure

from common import check, client, result

uri = sys.argv[1]

# Default negotiation (saslSupportedMechs in hello picks SCRAM-SHA-256).
c, rec = client(uri, username="alice", password="wonderland")
c.sim_test.auth.insert_one({"_id": 1})
check(c.sim_test.auth.count_documents({}) == 1, "the authenticated insert is visible")
# pymongo publishes its (redacted) SASL commands: the simulator answered the handshake's
# speculativeAuthenticate, so no saslStart was needed, only saslContinue.
check(rec.named("saslStart") == [], "saslStart after speculative authentication")
check(len(rec.named("saslContinue")) >= 1, "no saslContinue: %r" % [n for (n, _) in rec.events])
c.close()

# SCRAM-SHA-1 explicitly.
c, _ = client(uri, username="alice", password="wonderland", authMechanism="SCRAM-SHA-1")
check(c.sim_test.auth.find_one({"_id": 1}) == {"_id": 1}, "SCRAM-SHA-1 read")
c.close()

# A wrong password fails with AuthenticationFailed.
c, _ = client(uri, username="alice", password="wrong", serverSelectionTimeoutMS=2000)
wrong = None
try:
    c.sim_test.auth.find_one({})
except OperationFailure as e:
    wrong = e.code
c.close()
check(wrong == 18, "wrong password: %r" % wrong)

# Without credentials, commands are refused with Unauthorized.
c, _ = client(uri)
anonymous = None
try:
    c.sim_test.auth.find_one({})
except OperationFailure as e:
    anonymous = e.code
c.close()
check(anonymous == 13, "unauthenticated find: %r" % anonymous)
result(wrong_password=wrong, anonymous=anonymous)
