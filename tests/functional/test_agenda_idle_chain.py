"""A contract's agenda event makes a block on an idle chain (issue 9, "When blocks are made"):
with the heartbeat set to ten minutes and no tx sent, a contract whose term ends closes at its
end time, in a block made because the event was due."""

import re
import time

from kontor_harness import Node


def test_contract_term_ends_on_an_idle_chain():
    node = Node(block_interval_ms=100)
    config = node.home + "/config.toml"
    with open(config) as f:
        text = f.read()
    text, n = re.subn(r"heartbeat_interval_ms = \d+", "heartbeat_interval_ms = 600000", text)
    assert n == 1
    with open(config, "w") as f:
        f.write(text)
    node.start()
    try:
        node.cli("provider", "register", "--from", "bob", "--attr", "gpu_model=H100", "--attr", "gpu_count=8")
        offer = node.cli_json("offer", "post", "--from", "bob", "--resource", "gpu_model=H100", "--capacity", "8",
                              "--price", "2.5", "--min-duration", "1s", "--max-duration", "1d")["txid"]
        rented = node.cli_json("contract", "accept", offer, "--from", "alice", "--units", "1", "--duration", "4s",
                               "--deposit", "50")["txid"]
        c = node.cli_json("contract", "show", rented)
        assert c["state"] == "CONTRACT_STATE_ACTIVE"
        end_ms = int(c["end_ms"])
        # Idle from here on: no tx is sent. Without the agenda the next block would come after the
        # ten-minute heartbeat.
        height = node.cli_json("query", "head")["height"]
        deadline = time.time() + 20
        while time.time() < deadline:
            c = node.cli_json("contract", "show", rented)
            if c["state"] == "CONTRACT_STATE_CLOSED":
                break
            time.sleep(0.2)
        assert c["state"] == "CONTRACT_STATE_CLOSED", c
        assert c["close_reason"] == "CLOSE_REASON_ENDED"
        assert int(c["closed_at_ms"]) == end_ms
        head = node.cli_json("query", "head")
        assert head["height"] > height
        # The closing block was made because the event was due, not by a heartbeat: its time is
        # the end time or just after (BFT time: the validator's clock when it made the block).
        assert end_ms <= int(head["time_ms"]) < end_ms + 5000, (head, end_ms)
    finally:
        node.stop()
        node.cleanup()
