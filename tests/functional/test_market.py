"""The compute market through the real CLI against a real kontord: a provider registers H100
servers, an auditor attests them, an offer is posted and rented, a negotiated contract is
co-signed by renter, provider and broker on separate steps, escrow is topped up, usage is
reported, charges are settled, the provider gives notice, the renter closes, and bridged assets
move through the gateway. Balances and records are asserted for every party."""

import json

from kontor_harness import Node

USDC = 10 ** 6


def contract(node, cid):
    return node.cli_json("contract", "show", cid)


def test_market_flow_with_co_signed_contract_escrow_usage_and_close(tmp_path):
    node = Node(block_interval_ms=100).start()
    try:
        before = {n: node.balance(n, "USDC") for n in ("alice", "bob", "carol")}

        node.cli("provider", "register", "--from", "bob", "--attr", "gpu_model=H100", "--attr", "gpu_count=8",
                 "--attr", "region=eu-west", "--endpoint", "https://bob.example")
        profile = node.cli_json("provider", "show", "bob")
        assert [a["key"] for a in profile["attributes"]] == ["gpu_count", "gpu_model", "region"]

        # An offer that needs carol's attestation: refused until she attests.
        offer = node.cli_json("offer", "post", "--from", "bob", "--resource", "gpu_model=H100", "--capacity", "8",
                              "--price", "2.5", "--max-duration", "1d", "--require-auditor", "carol",
                              "--require-key", "gpu_model")["txid"]
        r = node.cli("contract", "accept", offer, "--from", "alice", "--units", "2", "--duration", "1h",
                     "--deposit", "50", check=False)
        assert r.rc == 1 and "not_authorized (203)" in r.err and "attestation" in r.err
        node.cli("attest", "create", "--from", "carol", "--provider", "bob", "--key", "gpu_model", "--key", "gpu_count")

        listed = node.cli_json("offer", "list", "--gpu-model", "H100", "--attested-by", "carol", "--region", "eu-west")
        assert [o["id"] for o in listed] == [offer]
        assert node.cli_json("offer", "list", "--gpu-model", "A100") == []
        assert node.cli_json("offer", "list", "--max-price", "2.4") == []

        rented = node.cli_json("contract", "accept", offer, "--from", "alice", "--units", "2", "--duration", "1h",
                               "--deposit", "50")["txid"]
        c1 = contract(node, rented)
        assert c1["state"] == "CONTRACT_STATE_ACTIVE" and c1["escrow_total"] == str(50 * USDC)
        assert node.cli_json("offer", "show", offer)["reserved_units"] == "2"

        # A negotiated contract with a broker, signed on separate steps (as on separate machines).
        path = str(tmp_path / "proposal.json")
        node.cli("contract", "propose", "--from", "alice", "--provider", "bob", "--broker", "carol",
                 "--broker-fee-bps", "1000", "--price", "3.6", "--deposit", "20", "--metered", "egress_gb=0.5",
                 "--notice-period", "2s", "--generate-only", "--out", path)
        assert len(json.load(open(path))["missing_signatures"]) == 3
        r = node.cli("tx", "broadcast", path, check=False)
        assert r.rc == 1 and "not fully signed" in r.err
        for signer in ("bob", "carol", "alice"):
            node.cli("tx", "sign", path, "--from", signer)
        negotiated = node.cli_json("tx", "broadcast", path)["txid"]
        c2 = contract(node, negotiated)
        assert c2["terms"]["broker_fee_bps"] == 1000 and c2["state"] == "CONTRACT_STATE_ACTIVE"

        # Anyone may top up; usage is charged from escrow; the provider cannot close at once.
        node.cli("contract", "topup", negotiated, "--from", "carol", "--amount", "10")
        node.cli("usage", "report", negotiated, "--from", "bob", "--cumulative", "egress_gb=10")
        c2 = contract(node, negotiated)
        assert c2["metered_charged"] == str(5 * USDC)
        r = node.cli("usage", "report", negotiated, "--from", "bob", "--cumulative", "egress_gb=4", check=False)
        assert r.rc == 1 and "went down" in r.err
        r = node.cli("contract", "close", negotiated, "--from", "bob", check=False)
        assert r.rc == 1 and "not_authorized (203)" in r.err and "notice" in r.err

        node.cli("contract", "settle", rented, "--from", "bob")
        node.cli("contract", "notice", negotiated, "--from", "bob")
        assert contract(node, negotiated)["state"] == "CONTRACT_STATE_NOTICE"
        node.cli("contract", "close", rented, "--from", "alice")

        # The notice period (2 s) ends; the ledger closes the negotiated contract by itself.
        import time
        deadline = time.time() + 15
        while contract(node, negotiated)["state"] != "CONTRACT_STATE_CLOSED":
            assert time.time() < deadline, "the ledger did not close the contract after its notice period"
            node.cli("tx", "transfer", "--from", "alice", "--to", "alice", "--amount", "0.000001", "--asset", "KTR")
            time.sleep(0.3)
        c1, c2 = contract(node, rented), contract(node, negotiated)
        assert c1["close_reason"] == "CLOSE_REASON_RENTER_CLOSED"
        assert c2["close_reason"] == "CLOSE_REASON_PROVIDER_TERMINATED"
        for c in (c1, c2):
            assert c.get("escrow", []) == []
            paid = int(c.get("paid_provider", "0")) + int(c.get("paid_broker", "0"))
            assert paid == int(c.get("charged", "0")) + int(c.get("metered_charged", "0"))
        assert node.cli_json("offer", "show", offer).get("reserved_units", "0") == "0"

        # Every USDC went somewhere: bob got what the contracts paid him, carol her broker share
        # and her unused top-up back, alice the rest of her deposits.
        after = {n: node.balance(n, "USDC") for n in ("alice", "bob", "carol")}
        paid_provider = int(c1.get("paid_provider", "0")) + int(c2.get("paid_provider", "0"))
        paid_broker = int(c2.get("paid_broker", "0"))
        assert after["bob"] - before["bob"] == paid_provider
        assert paid_broker == (int(c2.get("charged", "0")) + int(c2["metered_charged"])) * 1000 // 10000
        alice_spent = before["alice"] - after["alice"]
        carol_net = after["carol"] - before["carol"]
        # USDC only moved between these three: what alice and carol put in net of refunds is
        # exactly what bob (provider) and carol (broker) were paid.
        assert alice_spent - carol_net == paid_provider
        assert carol_net <= paid_broker  # carol's top-up was partly used, her broker share came in

        rep = node.cli_json("reputation", "alice")
        assert rep["renter_closed_early"] == 1
        assert node.cli_json("reputation", "bob")["provider_terminated_early"] == 1
        assert {c["id"] for c in node.cli_json("contract", "list", "alice")} == {rented, negotiated}

        # Bridged assets: the gateway records a deposit once; a holder withdraws.
        node.cli("tx", "transfer", "--from", "alice", "--to", "gateway", "--amount", "1", "--asset", "KTR")
        node.cli("asset", "deposit", "--from", "gateway", "--asset", "USDT", "--amount", "7", "--to", "alice",
                 "--network", "tron", "--external-txid", "0xabc")
        r = node.cli("asset", "deposit", "--from", "gateway", "--asset", "USDT", "--amount", "7", "--to", "alice",
                     "--network", "tron", "--external-txid", "0xabc", check=False)
        assert r.rc == 1 and "duplicate (304)" in r.err
        r = node.cli("asset", "deposit", "--from", "alice", "--asset", "USDT", "--amount", "7", "--to", "alice",
                     "--network", "tron", "--external-txid", "0xdef", check=False)
        assert r.rc == 1 and "not_authorized (203)" in r.err
        node.cli("asset", "withdraw", "--from", "alice", "--asset", "USDT", "--amount", "2", "--network", "tron",
                 "--destination", "TXYZ")
        assets = {a["symbol"]: a for a in node.cli_json("query", "assets")}
        assert assets["USDT"]["deposited"] == str(7 * USDC) and assets["USDT"]["withdrawn"] == str(2 * USDC)

        # The whole history verifies from genesis.
        assert node.stop() == 0
        replay = node.cli_json("audit", "replay", "--node-home", node.home, node=False)
        assert replay["ok"] is True and replay["txs"] >= 15
    finally:
        node.stop()
        node.cleanup()
