"""Helpers shared by the pymongo scenarios run from sim/tests/pymongo.rs."""
import sys
import time

from pymongo import MongoClient, monitoring


class Recorder(monitoring.CommandListener):
    def __init__(self):
        self.events = []
        self.failures = []

    def started(self, event):
        self.events.append((event.command_name, dict(event.command)))

    def succeeded(self, event):
        pass

    def failed(self, event):
        self.failures.append((event.command_name, event.failure))

    def named(self, name):
        return [cmd for (n, cmd) in self.events if n == name]


def client(uri, **kwargs):
    """A client with a command recorder and short timeouts."""
    recorder = Recorder()
    kwargs.setdefault("serverSelectionTimeoutMS", 10000)
    c = MongoClient(uri, event_listeners=[recorder], **kwargs)
    return c, recorder


def check(condition, message):
    """Fails the scenario with `message` unless `condition`."""
    if not condition:
        print("FAILED: " + message, flush=True)
        sys.exit(1)


def result(**values):
    """Prints one result line the Rust test asserts on."""
    print("RESULT " + " ".join("%s=%s" % (k, v) for k, v in sorted(values.items())), flush=True)


def wait_for(predicate, message, timeout=10.0):
    """Polls `predicate` (monitoring is asynchronous) and fails with `message` on timeout."""
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            check(False, message)
        time.sleep(0.01)
