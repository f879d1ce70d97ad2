"""Invoices through the real CLI against a real kontord: a provider registers H100 servers, an
auditor attests them, renter and provider co-sign an invoiced contract with a broker and an
arbiter, time passes, the provider invoices, the renter disputes part, the arbiter resolves, an
external USDT payment receipt settles the rest, a second invoice is paid from escrow on
acceptance, and the renter closes early and gets the refund. Final USDT balances are asserted for
every party against amounts worked out here from the rules (docs/protocol.md, "Invoices")."""

import json
import time

from kontor_harness import Node

USDT = 10 ** 6
MS_PER_HOUR = 3_600_000
BPS = 500          # broker's share
UNITS = 2
PRICE = 3_600_000  # 3.6 USDT per unit-hour: one unit accrues 0.001 USDT (1000 base units) per second
DEPOSIT = 100 * USDT


def accrued(c, t):
    """floor(units x price x (t - start) / 1 h), the ledger's one rounding rule."""
    start = int(c["terms"]["start_ms"])
    return UNITS * PRICE * max(0, t - start) // MS_PER_HOUR


def broker_total(paid):
    return paid * BPS // 10_000


def test_invoice_dispute_arbiter_external_payment_and_early_close(tmp_path):
    node = Node(block_interval_ms=100).start()
    try:
        for name in ("prov", "arb"):
            node.cli("keys", "new", name, node=False)
            node.cli("tx", "transfer", "--from", "alice", "--to", name, "--amount", "5", "--asset", "KTR")
        node.cli("tx", "transfer", "--from", "alice", "--to", "prov", "--amount", "10", "--asset", "USDT")
        parties = ("alice", "bob", "prov", "arb")
        before = {n: node.balance(n, "USDT") for n in parties}

        # The provider registers H100 servers; carol, an auditor, attests them.
        node.cli("provider", "register", "--from", "prov", "--attr", "gpu_model=H100", "--attr", "gpu_count=8",
                 "--attr", "region=eu-west", "--endpoint", "https://prov.example")
        node.cli("attest", "create", "--from", "carol", "--provider", "prov", "--key", "gpu_model", "--key", "gpu_count")

        # Renter, provider and broker co-sign an invoiced contract on separate steps.
        path = str(tmp_path / "proposal.json")
        node.cli("contract", "propose", "--from", "alice", "--provider", "prov", "--broker", "bob",
                 "--broker-fee-bps", str(BPS), "--arbiter", "arb", "--units", str(UNITS), "--price", "3.6",
                 "--asset", "USDT", "--deposit", "100", "--duration", "30d", "--invoiced", "--resource", "gpu_model=H100",
                 "--require-auditor", "carol", "--require-key", "gpu_model", "--generate-only", "--out", path)
        for signer in ("prov", "bob", "alice"):
            node.cli("tx", "sign", path, "--from", signer)
        cid = node.cli_json("tx", "broadcast", path)["txid"]
        c = node.cli_json("contract", "show", cid)
        assert c["billing"] == "invoiced" and c["escrow_total"] == str(DEPOSIT)
        assert node.balance("alice", "USDT") == before["alice"] - DEPOSIT

        # Time passes; the provider invoices the period so far, to be paid directly.
        time.sleep(1.5)
        inv1 = node.cli_json("invoice", "issue", cid, "--from", "prov", "--direct", "--due", "1h")["txid"]
        i1 = node.cli_json("invoice", "show", inv1)
        lines = i1["lines"]
        total = int(lines["total"])
        assert int(lines["period_start_ms"]) == int(c["terms"]["start_ms"])
        assert int(lines["time_charge"]) == accrued(c, int(lines["period_end_ms"])) == total > 0
        assert int(lines.get("broker_fee", "0")) == total * BPS // 10_000
        assert i1["state"] == "INVOICE_STATE_ISSUED"

        # The text view shows the lines with decimals and symbol.
        text = node.cli("invoice", "show", inv1).out
        assert "time charge" in text and "USDT" in text

        # The renter disputes part of it; the disputed part is locked in escrow.
        accepted = total // 2
        disputed = total - accepted
        r = node.cli("invoice", "dispute", inv1, "--from", "bob", "--accept", "0", "--reason", "degraded", check=False)
        assert r.rc == 1 and "not_authorized (203)" in r.err
        node.cli("invoice", "dispute", inv1, "--from", "alice", "--accept", "%d.%06d" % divmod(accepted, USDT),
                 "--reason", "degraded")
        i1 = node.cli_json("invoice", "show", inv1)
        assert i1["state"] == "INVOICE_STATE_DISPUTED" and int(i1["disputed"]) == disputed and int(i1["locked"]) == disputed
        assert int(i1["payable"]) == accepted  # the disputed part is not payable until resolved
        assert int(node.cli_json("contract", "show", cid)["locked"]) == disputed

        # Only the arbiter (or both parties) may split it; the arbiter gives the provider a third.
        award = disputed // 3
        r = node.cli("invoice", "resolve", inv1, "--from", "prov", "--provider-amount", "%d.%06d" % divmod(award, USDT),
                     check=False)
        assert r.rc == 1 and "missing_signature (201)" in r.err
        node.cli("invoice", "resolve", inv1, "--from", "arb", "--provider-amount", "%d.%06d" % divmod(award, USDT))
        i1 = node.cli_json("invoice", "show", inv1)
        assert int(i1["amount_due"]) == accepted + award and int(i1["paid"]) == award
        assert i1["state"] == "INVOICE_STATE_PARTIALLY_PAID" and int(i1["payable"]) == accepted
        assert "locked" not in node.cli_json("contract", "show", cid)

        # The renter pays the rest in USDT on Tron; the provider confirms the receipt once.
        node.cli("payment", "record-external", "--from", "prov", "--invoice", inv1, "--network", "tron",
                 "--external-txid", "0x7e11", "--amount", "%d.%06d" % divmod(accepted, USDT), "--payer", "TRenterAddr")
        i1 = node.cli_json("invoice", "show", inv1)
        assert i1["state"] == "INVOICE_STATE_PAID" and int(i1["paid"]) == accepted + award
        assert [p["method"] for p in i1["payments"]] == ["PAYMENT_METHOD_ESCROW", "PAYMENT_METHOD_EXTERNAL"]
        r = node.cli("payment", "record-external", "--from", "prov", "--invoice", inv1, "--network", "tron",
                     "--external-txid", "0x7e11", "--amount", "0.000001", "--payer", "TRenterAddr", check=False)
        assert r.rc == 1 and "wrong_state (306)" in r.err  # the invoice is paid
        r = node.cli("invoice", "pay", inv1, "--from", "alice", "--amount", "1", check=False)
        assert r.rc == 1 and "wrong_state (306)" in r.err

        # A second period, paid from escrow when the renter accepts it.
        time.sleep(1.0)
        inv2 = node.cli_json("invoice", "issue", cid, "--from", "prov", "--due", "1h")["txid"]
        i2 = node.cli_json("invoice", "show", inv2)
        total2 = int(i2["lines"]["total"])
        assert i2["lines"]["period_start_ms"] == lines["period_end_ms"]
        assert total2 == accrued(c, int(i2["lines"]["period_end_ms"])) - accrued(c, int(lines["period_end_ms"]))
        assert int(node.cli_json("contract", "show", cid)["owed"]) == total2
        node.cli("invoice", "accept", inv2, "--from", "alice")
        assert node.cli_json("invoice", "show", inv2)["state"] == "INVOICE_STATE_PAID"
        listed = node.cli_json("invoice", "list", cid)
        assert [i["id"] for i in listed] == [inv1, inv2]

        # The renter closes early: the time since the last invoice is paid from escrow, the rest refunded.
        time.sleep(0.5)
        node.cli("contract", "close", cid, "--from", "alice")
        c = node.cli_json("contract", "show", cid)
        assert c["close_reason"] == "CLOSE_REASON_RENTER_CLOSED" and c.get("escrow", []) == []
        uninvoiced = accrued(c, int(c["closed_at_ms"])) - accrued(c, int(i2["lines"]["period_end_ms"]))

        # Final balances, from the rules: escrow paid the award, the second invoice and the
        # uninvoiced time; the broker's share of everything paid is floor(total paid x bps).
        from_escrow = award + total2 + uninvoiced
        paid_all = award + accepted + total2 + uninvoiced
        assert int(c["paid_provider"]) + int(c["paid_broker"]) == paid_all
        assert int(c["paid_broker"]) == broker_total(paid_all)
        assert int(c["refunded"]) == DEPOSIT - from_escrow
        after = {n: node.balance(n, "USDT") for n in parties}
        broker_on_external = broker_total(award + accepted) - broker_total(award)
        assert after["alice"] - before["alice"] == -from_escrow
        assert after["bob"] - before["bob"] == broker_total(paid_all)
        # The provider got its share of escrow payments on the ledger, the external payment off it,
        # and paid the broker's share of that one from its ledger balance.
        assert after["prov"] - before["prov"] == from_escrow - broker_total(paid_all)
        assert after["prov"] - before["prov"] == (award + total2 + uninvoiced) - broker_total(paid_all)
        assert broker_on_external > 0
        assert after["arb"] == before["arb"]

        # Reputation facts, counted by the ledger.
        assert node.cli_json("reputation", "alice")["renter_invoices_disputed"] == 1
        assert node.cli_json("reputation", "alice")["renter_closed_early"] == 1
        assert node.cli_json("reputation", "prov")["provider_invoices_disputed"] == 1

        # The whole history verifies from genesis.
        assert node.stop() == 0
        replay = node.cli_json("audit", "replay", "--node-home", node.home, node=False)
        assert replay["ok"] is True
    finally:
        node.stop()
        node.cleanup()
