"""The CLI's own rules, each at its boundary, through the real kontor against a real kontord:
passphrase length, amounts at an asset's full precision, the offer price filter, waiting for a
tx that the block drops, and an auditor's replay of a store that is not there."""

import os
import time

import pytest

from kontor_harness import Node

USDC = 10 ** 6


@pytest.fixture(scope="module")
def node():
    """One node for the module (init takes seconds); the tests use separate keys and records,
    and the last one stops it."""
    n = Node().start()
    yield n
    n.stop()
    n.cleanup()


def test_a_file_key_needs_a_passphrase_of_at_least_8_characters(node):
    r = node.cli("keys", "new", "seven", keyring="file", node=False, check=False, env={"KONTOR_PASSPHRASE": "1234567"})
    assert r.rc == 1 and "at least 8 characters" in r.err
    r = node.cli("keys", "list", keyring="file", node=False, output="json")
    assert "seven" not in [k["name"] for k in r.json()]
    node.cli("keys", "new", "eight", keyring="file", node=False, env={"KONTOR_PASSPHRASE": "12345678"})
    names = [k["name"] for k in node.cli("keys", "list", keyring="file", node=False, output="json").json()]
    assert "eight" in names


def test_amounts_take_the_assets_full_precision_and_no_more(node):
    before = node.balance("bob", "USDC")
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "0.000001", "--asset", "USDC")
    assert node.balance("bob", "USDC") == before + 1
    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "0.0000001", "--asset", "USDC",
                 check=False)
    assert r.rc == 1 and "decimals" in r.err
    assert node.balance("bob", "USDC") == before + 1


def test_offer_list_max_price_includes_offers_at_exactly_that_price(node):
    node.cli("provider", "register", "--from", "bob", "--attr", "gpu_model=H100", "--endpoint", "https://bob.example")
    offer = node.cli_json("offer", "post", "--from", "bob", "--resource", "gpu_model=H100", "--capacity", "4",
                          "--price", "2.5", "--max-duration", "1d")["txid"]
    assert [o["id"] for o in node.cli_json("offer", "list", "--max-price", "2.5")] == [offer]
    assert [o["id"] for o in node.cli_json("offer", "list", "--max-price", "2.500001")] == [offer]
    assert node.cli_json("offer", "list", "--max-price", "2.499999") == []


def test_a_payer_cannot_queue_more_than_its_balance(node):
    # The first tx leaves alice too little USDC for the second: admission counts what her pending
    # txs can spend, so the second is refused at once, before any block.
    have = node.balance("alice", "USDC")
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", str(have // USDC - 1), "--asset", "USDC",
             "--async")
    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "2", "--asset", "USDC", check=False)
    assert r.rc == 1
    assert "insufficient_funds (400)" in r.err
    # The first one commits (it was sent with --async: wait for its block).
    deadline = time.time() + 30
    while node.balance("alice", "USDC") == have and time.time() < deadline:
        time.sleep(0.1)
    assert node.balance("alice", "USDC") == have - (have // USDC - 1) * USDC


def test_waiting_for_a_tx_that_is_dropped_reports_why(node):
    # A tx behind a nonce gap that never fills expires in the mempool; the CLI, waiting for its
    # block, reports the drop and its code instead of waiting on.
    nonce = node.cli_json("query", "account", "carol")["nonce"]
    r = node.cli("tx", "transfer", "--from", "carol", "--to", "bob", "--amount", "1", "--asset", "USDC",
                 "--nonce", str(nonce + 1), "--expires-in", "3", "--wait", "30", check=False)
    assert r.rc == 1
    assert "expired (301)" in r.err
    assert node.cli_json("query", "account", "carol")["nonce"] == nonce


def test_a_tx_that_needs_other_parties_is_not_sent_with_one_signature(node):
    nonce = node.cli_json("query", "account", "alice")["nonce"]
    r = node.cli("contract", "propose", "--from", "alice", "--provider", "bob", "--price", "3.6", "--deposit", "20",
                 check=False)
    assert r.rc == 1
    assert "needs the signatures of other parties" in r.err and "--generate-only" in r.err
    # Nothing reached the node: alice's nonce did not move and bob is party to no contract.
    assert node.cli_json("query", "account", "alice")["nonce"] == nonce
    assert node.cli_json("contract", "list", "bob") == []


def test_invoice_issue_keeps_the_due_time_past_the_agreed_dispute_window(node, tmp_path):
    # bob registered as a provider in the offer test above.
    path = str(tmp_path / "invoiced.json")
    node.cli("contract", "propose", "--from", "carol", "--provider", "bob", "--price", "3.6", "--asset", "USDC",
             "--deposit", "10", "--invoiced", "--dispute-window", "1h", "--generate-only", "--out", path)
    for signer in ("bob", "carol"):
        node.cli("tx", "sign", path, "--from", signer)
    cid = node.cli_json("tx", "broadcast", path)["txid"]
    # Asked for 10 minutes, the CLI gives the renter at least the agreed hour (and a minute of
    # slack for the block to come), so the ledger accepts the invoice.
    inv = node.cli_json("invoice", "issue", cid, "--from", "bob", "--direct", "--due", "10m")["txid"]
    shown = node.cli_json("invoice", "show", inv)
    due, issued = int(shown["lines"]["due_at_ms"]), int(shown["issued_at_ms"])
    assert due - issued >= 3_600_000
    assert due - issued <= 3_600_000 + 60_000


def test_audit_replay_of_a_missing_store_says_so_and_creates_nothing(node, tmp_path):
    missing = tmp_path / "no-such-store"
    r = node.cli("audit", "replay", "--data", str(missing), "--genesis", os.path.join(node.home, "genesis.json"),
                 node=False, check=False)
    assert r.rc != 0
    assert "no store at" in r.err and "damaged" not in r.err
    assert not missing.exists()
    # The real store replays (once the node has let go of it).
    assert node.stop() == 0
    ok = node.cli_json("audit", "replay", "--node-home", node.home, node=False)
    assert ok["ok"] is True
