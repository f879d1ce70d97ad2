"""Operator's view: restarts, crashes, a second instance, clean shutdown."""

import subprocess
import threading
import time

from kontor_harness import KONTORD, Node


def test_restart_keeps_state_and_shutdown_is_clean():
    node = Node().start()
    try:
        node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "7", "--asset", "USDC")
        head = node.cli_json("query", "head")
        bob = node.balance("bob", "USDC")
        assert node.stop() == 0
        assert "stopped cleanly at height %d" % head["height"] in node.read_log()

        node.start()
        again = node.cli_json("query", "head")
        assert again["height"] == head["height"]
        assert again["hash"] == head["hash"]
        assert again["state_root"] == head["state_root"]
        assert node.balance("bob", "USDC") == bob
        # And it keeps going.
        node.cli("tx", "transfer", "--from", "bob", "--to", "alice", "--amount", "1", "--asset", "USDC")
        assert node.cli_json("query", "head")["height"] > head["height"]
    finally:
        node.stop()
        node.cleanup()


def test_second_instance_on_the_same_home_is_refused(node):
    r = subprocess.run([KONTORD, "--home", node.home, "start", "--grpc-listen", "127.0.0.1:0",
                        "--http-listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "another kontord (pid %d) is already running" % node.proc.pid in r.stderr
    # The first one is unharmed.
    assert node.cli_json("query", "head")["chain_id"] == "kontor-dev"


def test_kill_9_during_submissions_loses_nothing_reported_committed():
    node = Node().start()
    try:
        committed = []
        stop = threading.Event()

        def submit(sender, receiver):
            while not stop.is_set():
                r = node.cli("tx", "transfer", "--from", sender, "--to", receiver, "--amount", "0.01",
                             "--asset", "USDC", "--wait", "10", output="json", check=False)
                if r.rc == 0:
                    committed.append(r.json())

        threads = [threading.Thread(target=submit, args=pair) for pair in [("alice", "bob"), ("carol", "alice")]]
        for t in threads:
            t.start()
        deadline = time.time() + 30
        while len(committed) < 12 and time.time() < deadline:
            time.sleep(0.05)
        node.kill9()
        stop.set()
        for t in threads:
            t.join()
        assert len(committed) >= 12

        # The auditor's replay of the store after the crash, before the node runs again.
        replay = node.cli_json("audit", "replay", "--node-home", node.home, node=False)
        assert replay["ok"] is True

        node.start()
        head = node.cli_json("query", "head")
        assert head["height"] == replay["verified_height"]
        assert head["state_root"] == replay["state_root"]
        for c in committed:
            tx = node.cli_json("query", "tx", c["txid"])
            assert tx["status"] == "committed", c
            assert tx["height"] == c["height"] and tx["block_hash"] == c["block_hash"]
    finally:
        node.stop()
        node.cleanup()
