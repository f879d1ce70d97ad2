"""The rules as a gRPC client and a CLI user meet them, against real kontord processes:
every mapping from a ledger result code to a gRPC status (node/grpc_service.cpp ToStatus), the
ErrorDetail each carries, duplicates of pending and of committed txs, the next-nonce hint with
txs pending, and the CLI's local checks of tx files before anything is sent
(tools/kontor/tx_common.cpp ReadTxFile, tx_cmd.cpp broadcast).

Txs are built here byte by byte (canonical protobuf), signed by the real CLI (`kontor tx sign`
on a tx file) and submitted raw over gRPC, so each submission reaches exactly the rule it is
meant to. Only 127.0.0.1, ephemeral ports and temporary homes are used."""

import json
import os
import re
import time

import grpc
import pytest

from kontor_harness import Node
from proto_wire import field_bytes, field_varint, fields, one  # noqa: F401 (one: used by tests below)

# TxBody payload field numbers (proto/kontor/v1/tx.proto)
TRANSFER = 16
CONTRACT_TOPUP = 27


def transfer_payload(to_key, asset, amount, memo=""):
    return field_bytes(1, to_key) + field_bytes(2, asset) + field_varint(3, amount) + field_bytes(4, memo)


def tx_body(chain_id, signers, nonce, fee, payload_number, payload, expiry=0):
    body = field_bytes(1, chain_id)
    for s in signers:
        body += field_bytes(2, s)
    body += field_varint(3, nonce) + field_varint(4, fee) + field_varint(5, expiry)
    return body + field_bytes(payload_number, payload)


def envelope(body, signatures):
    """Tx { body = 1; repeated Signature { signer = 1; signature = 2 } signatures = 2 }"""
    out = field_bytes(1, body)
    for signer, sig in signatures:
        out += field_bytes(2, field_bytes(1, signer) + field_bytes(2, sig))
    return out


# ---------------------------------------------------------------------------------------------
# Raw gRPC
# ---------------------------------------------------------------------------------------------


class Api:
    def __init__(self, node):
        self.channel = grpc.insecure_channel(node.grpc)

    def call(self, method, request):
        rpc = self.channel.unary_unary("/kontor.v1.Node/" + method, request_serializer=None, response_deserializer=None)
        return fields(rpc(request, timeout=10))

    def error(self, method, request):
        """Calls a method that must fail; returns (status code, ErrorDetail fields, details text)."""
        try:
            self.call(method, request)
        except grpc.RpcError as e:
            raw = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
            detail = fields(raw) if raw else {}
            return e.code(), detail, e.details()
        raise AssertionError("%s succeeded but should have failed" % method)

    def submit(self, env_bytes):
        return self.call("SubmitTx", field_bytes(1, env_bytes))

    def submit_error(self, env_bytes):
        return self.error("SubmitTx", field_bytes(1, env_bytes))

    def status(self):
        return self.call("GetStatus", b"")

    def account(self, key):
        return self.call("GetAccount", field_bytes(1, key))

    def tx_status(self, txid):
        # TxStatus: 1 pending, 2 committed, 3 rejected, 4 unknown
        return one(self.call("GetTx", field_bytes(1, txid)), 2, 0)

    def close(self):
        self.channel.close()


def expect_code(result, status, code, name, fragment=None):
    got_status, detail, text = result
    assert got_status == status, (got_status, text)
    assert one(detail, 1) == code, (detail, text)
    assert one(detail, 2) == name.encode(), (detail, text)
    assert text.startswith("%s (%d)" % (name, code)), text
    if fragment:
        assert fragment in one(detail, 4).decode(), (detail, text)


# ---------------------------------------------------------------------------------------------
# Building and signing through the CLI
# ---------------------------------------------------------------------------------------------


class Wallet:
    """Keys of the dev keyring and txs signed by `kontor tx sign` on tx files."""

    def __init__(self, node, tmp_path):
        self.node, self.tmp, self.count = node, tmp_path, 0
        self.keys = {}
        for name in ("alice", "bob", "carol"):
            shown = node.cli_json("keys", "show", name, node=False)
            self.keys[name] = (bytes.fromhex(shown["public_key"]), shown["address"])
        status = Api(node)
        s = status.status()
        status.close()
        self.chain_id = one(s, 1).decode()
        self.min_fee = one(s, 14, 0)

    def key(self, name):
        return self.keys[name][0]

    def address(self, name):
        return self.keys[name][1]

    def file(self, body):
        self.count += 1
        path = str(self.tmp / ("tx-%d.json" % self.count))
        with open(path, "w") as f:
            json.dump({"format": "kontor-tx/1", "body": body.hex()}, f)
        return path

    def sign(self, path, name):
        self.node.cli("tx", "sign", path, "--from", name, node=False)

    def signed(self, signers, nonce, payload_number, payload, fee=None, expiry=0):
        """(envelope, txid, body) of a tx signed by every signer, in signer order."""
        body = tx_body(self.chain_id, [self.key(s) for s in signers], nonce, self.min_fee if fee is None else fee,
                       payload_number, payload, expiry)
        path = self.file(body)
        for s in signers:
            self.sign(path, s)
        with open(path) as f:
            doc = json.load(f)
        assert doc["missing_signatures"] == []
        sigs = [(self.key(s), bytes.fromhex(doc["signatures"][self.address(s)])) for s in signers]
        return envelope(body, sigs), bytes.fromhex(doc["txid"]), body

    def transfer(self, sender, to, amount, nonce, asset="USDC", fee=None, memo=""):
        return self.signed([sender], nonce, TRANSFER, transfer_payload(self.key(to), asset, amount, memo), fee=fee)


def committed_nonce(api, key):
    return one(api.account(key), 3, 0)


def wait_committed(api, txid, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if api.tx_status(txid) == 2:
            return
        time.sleep(0.05)
    raise AssertionError("tx %s not committed" % txid.hex())


# ---------------------------------------------------------------------------------------------
# Result code -> gRPC status, one submission per family
# ---------------------------------------------------------------------------------------------


def test_each_code_family_maps_to_its_grpc_status(node, tmp_path):
    w = Wallet(node, tmp_path)
    api = Api(node)
    try:
        alice = w.key("alice")
        # 1xx malformed -> INVALID_ARGUMENT: a fee one below the chain's minimum, and another chain.
        assert w.min_fee > 0
        low, _, _ = w.transfer("alice", "bob", 1, 0, fee=w.min_fee - 1)
        expect_code(api.submit_error(low), grpc.StatusCode.INVALID_ARGUMENT, 112, "fee_too_low",
                    "below the minimum %d" % w.min_fee)
        other_body = tx_body("kontor-other", [alice], 0, w.min_fee, TRANSFER, transfer_payload(w.key("bob"), "USDC", 1))
        path = w.file(other_body)
        w.sign(path, "alice")
        sig = bytes.fromhex(json.load(open(path))["signatures"][w.address("alice")])
        expect_code(api.submit_error(envelope(other_body, [(alice, sig)])), grpc.StatusCode.INVALID_ARGUMENT, 103,
                    "wrong_chain", "kontor-other")
        # A fee of exactly the minimum is accepted.
        exact, exact_id, _ = w.transfer("alice", "bob", 1, 0, fee=w.min_fee)
        assert one(api.submit(exact), 1) == exact_id
        wait_committed(api, exact_id)

        # 2xx unauthorized -> PERMISSION_DENIED: a signature that does not verify; a missing signature.
        tx, _, body = w.transfer("alice", "bob", 1, 1)
        bad_sig = bytearray(tx)
        bad_sig[-5] ^= 0x01  # inside the signature, the last field of the envelope
        expect_code(api.submit_error(bytes(bad_sig)), grpc.StatusCode.PERMISSION_DENIED, 200, "bad_signature")
        expect_code(api.submit_error(envelope(body, [])), grpc.StatusCode.PERMISSION_DENIED, 201, "missing_signature")

        # 3xx state conflict -> FAILED_PRECONDITION: a used nonce (with another body, so not a duplicate).
        used, _, _ = w.transfer("alice", "bob", 2, 0)
        expect_code(api.submit_error(used), grpc.StatusCode.FAILED_PRECONDITION, 300, "bad_nonce",
                    "nonce 1 expected, got 0")
        # 4xx insufficient -> FAILED_PRECONDITION: the payer's next tx runs against the state at admission.
        poor, _, _ = w.transfer("alice", "bob", 10 ** 15, 1)
        expect_code(api.submit_error(poor), grpc.StatusCode.FAILED_PRECONDITION, 400, "insufficient_funds")

        # kNotFound -> NOT_FOUND: a top-up of a contract that does not exist (the CLI would refuse it locally).
        topup = field_bytes(1, b"\x42" * 32) + field_varint(2, 5)
        missing, _, _ = w.signed(["alice"], 1, CONTRACT_TOPUP, topup)
        expect_code(api.submit_error(missing), grpc.StatusCode.NOT_FOUND, 305, "not_found", "42424242")
        # ... and a block above the tip.
        expect_code(api.error("GetBlock", field_varint(1, 1_000_000)), grpc.StatusCode.NOT_FOUND, 305, "not_found")

        # 5xx retry -> UNAVAILABLE: a nonce beyond the per-account pending window (256 by default).
        far, _, _ = w.transfer("alice", "bob", 1, 1 + 256)
        expect_code(api.submit_error(far), grpc.StatusCode.UNAVAILABLE, 500, "nonce_gap", "too far ahead")

        # Other requests: a key that is not 32 bytes, a record kind out of range.
        expect_code(api.error("GetAccount", field_bytes(1, b"\x01" * 31)), grpc.StatusCode.INVALID_ARGUMENT, 105, "bad_key")
        expect_code(api.error("QueryState", field_bytes(2, b"x")), grpc.StatusCode.INVALID_ARGUMENT, 108, "bad_field")
        expect_code(api.error("QueryState", field_varint(1, 1) + field_bytes(2, b"x" * 257)),
                    grpc.StatusCode.INVALID_ARGUMENT, 102, "too_large")

        # Nothing rejected moved funds: alice sent 1 USDC and paid one fee.
        assert committed_nonce(api, alice) == 1
        assert node.balance("alice", "USDC") == 100_000 * 10 ** 6 - 1
    finally:
        api.close()


# ---------------------------------------------------------------------------------------------
# Duplicates: committed, and pending
# ---------------------------------------------------------------------------------------------


def test_resubmitting_a_committed_tx_is_already_exists_not_a_nonce_error(node, tmp_path):
    w = Wallet(node, tmp_path)
    api = Api(node)
    try:
        tx, txid, _ = w.transfer("bob", "carol", 7, 0)
        api.submit(tx)
        wait_committed(api, txid)
        for _ in range(2):
            expect_code(api.submit_error(tx), grpc.StatusCode.ALREADY_EXISTS, 304, "duplicate", "already committed")
        # The same body signed again (another envelope, the same txid) is the same tx.
        again, again_id, _ = w.transfer("bob", "carol", 7, 0)
        assert again_id == txid and again != tx
        expect_code(api.submit_error(again), grpc.StatusCode.ALREADY_EXISTS, 304, "duplicate", "already committed")
        # The ledger applied it once.
        assert node.balance("carol", "USDC") == 100_000 * 10 ** 6 + 7
        assert committed_nonce(api, w.key("bob")) == 1
        assert api.tx_status(txid) == 2
    finally:
        api.close()


@pytest.fixture
def slow_node():
    """A node whose first block comes 30 s after start (txs stay pending meanwhile), with a small
    mempool: 4 txs, at most 3 pending per account."""
    n = Node(block_interval_ms=30_000)
    config = os.path.join(n.home, "config.toml")
    text = open(config).read()
    text = re.sub(r"(?m)^txs_max = \d+", "txs_max = 4", text)
    text = re.sub(r"(?m)^account_txs_max = \d+", "account_txs_max = 3", text)
    open(config, "w").write(text)
    n.start()
    yield n
    n.stop()
    n.cleanup()


def test_pending_duplicates_next_nonce_hint_and_a_full_mempool(slow_node, tmp_path):
    node = slow_node
    w = Wallet(node, tmp_path)  # sign everything first, then submit quickly
    alice, bob = w.key("alice"), w.key("bob")
    a0, a0_id, _ = w.transfer("alice", "bob", 1, 0)
    a1, a1_id, _ = w.transfer("alice", "bob", 2, 1)
    a1_other, _, _ = w.transfer("alice", "carol", 3, 1)
    a2, a2_id, _ = w.transfer("alice", "bob", 4, 2)
    a3, _, _ = w.transfer("alice", "bob", 5, 3)
    b0, b0_id, _ = w.transfer("bob", "alice", 1, 0)
    c0, _, _ = w.transfer("carol", "alice", 1, 0, memo="m" * 32)  # the lowest fee per byte of all
    c0_rich, c0_rich_id, _ = w.transfer("carol", "alice", 1, 0, fee=w.min_fee + 1)
    api = Api(node)
    try:
        s = api.status()
        assert one(s, 2, 0) == 0, "a block was produced before the test ran"
        # Nothing pending: the hint is the committed nonce.
        acct = api.account(alice)
        assert one(acct, 3, 0) == 0 and one(acct, 7, 0) == 0

        # alice 1 first: held behind the gap at 0; the hint stays at 0.
        api.submit(a1)
        assert one(api.account(alice), 7, 0) == 0
        api.submit(a0)
        api.submit(a2)
        acct = api.account(alice)
        assert one(acct, 3, 0) == 0      # committed nonce unchanged
        assert one(acct, 7, 0) == 3      # next nonce counts the 3 pending txs
        assert api.tx_status(a1_id) == 1

        # Duplicates of a pending tx: the same tx, and another tx with the same nonce.
        expect_code(api.submit_error(a1), grpc.StatusCode.ALREADY_EXISTS, 304, "duplicate", "already pending")
        expect_code(api.submit_error(a1_other), grpc.StatusCode.ALREADY_EXISTS, 304, "duplicate",
                    "nonce 1 of %s is already pending" % w.address("alice"))
        # A 4th pending tx of alice is past the per-account window (3): retry later.
        expect_code(api.submit_error(a3), grpc.StatusCode.UNAVAILABLE, 500, "nonce_gap", "at most 3 pending per account")

        # The mempool holds 4: bob fills it. Eviction compares fee per byte among the payers' last
        # txs: carol's larger tx at the same fee is refused; a higher fee evicts the lowest rate,
        # alice's nonce-2 tx (same fee as bob's, one byte longer for its nonce).
        api.submit(b0)
        assert one(api.status(), 10, 0) == 4
        expect_code(api.submit_error(c0), grpc.StatusCode.RESOURCE_EXHAUSTED, 501, "mempool_full", "mempool is full")
        api.submit(c0_rich)
        assert api.tx_status(c0_rich_id) == 1
        assert api.tx_status(a2_id) == 3  # evicted
        assert api.tx_status(b0_id) == 1
        assert one(api.account(alice), 7, 0) == 2
        assert one(api.status(), 10, 0) == 4
        assert one(api.status(), 2, 0) == 0, "a block was produced during the test; its timing assumption failed"
    finally:
        api.close()


# ---------------------------------------------------------------------------------------------
# The CLI checks a tx file before sending it
# ---------------------------------------------------------------------------------------------


def _unknown_to_node(node, txid_hex):
    return node.cli_json("query", "tx", txid_hex)["status"] == "unknown"


def test_broadcast_refuses_a_file_a_cosigner_did_not_sign(node, tmp_path):
    path = str(tmp_path / "two.json")
    node.cli("contract", "propose", "--from", "alice", "--provider", "bob", "--price", "3.6", "--deposit", "20",
             "--generate-only", "--out", path)
    doc = json.load(open(path))
    assert len(doc["signers"]) == 2
    node.cli("tx", "sign", path, "--from", "alice")
    r = node.cli("tx", "broadcast", path, check=False)
    assert r.rc == 1
    assert "not fully signed" in r.err and node.address("bob") in r.err and node.address("alice") not in r.err
    assert _unknown_to_node(node, doc["txid"])
    # Once bob signs too, the same file goes through.
    node.cli("tx", "sign", path, "--from", "bob")
    assert node.cli_json("tx", "broadcast", path)["status"] == "committed"
    assert node.cli_json("contract", "show", doc["txid"])["state"] == "CONTRACT_STATE_ACTIVE"


def test_broadcast_refuses_a_three_party_file_signed_by_one_party(node, tmp_path):
    path = str(tmp_path / "three.json")
    node.cli("contract", "propose", "--from", "alice", "--provider", "bob", "--broker", "carol", "--broker-fee-bps",
             "500", "--price", "3.6", "--deposit", "20", "--generate-only", "--out", path)
    doc = json.load(open(path))
    assert len(doc["signers"]) == 3
    for only in ("alice", "bob", "carol"):
        single = str(tmp_path / ("three-%s.json" % only))
        node.cli("tx", "sign", path, "--from", only, "--out", single)
        assert len(json.load(open(single))["missing_signatures"]) == 2
        r = node.cli("tx", "broadcast", single, check=False)
        assert r.rc == 1, r.out
        assert "not fully signed" in r.err
        others = [n for n in ("alice", "bob", "carol") if n != only]
        for n in others:
            assert node.address(n) in r.err
        assert node.address(only) not in r.err
    # Two of three is still refused.
    two = str(tmp_path / "three-two.json")
    node.cli("tx", "sign", path, "--from", "alice", "--out", two)
    node.cli("tx", "sign", two, "--from", "carol")
    r = node.cli("tx", "broadcast", two, check=False)
    assert r.rc == 1 and "not fully signed" in r.err and node.address("bob") in r.err
    # The node never saw it, and no contract exists.
    assert _unknown_to_node(node, doc["txid"])
    r = node.cli("contract", "show", doc["txid"], check=False)
    assert r.rc == 1
    assert node.balance("alice", "USDC") == 100_000 * 10 ** 6


def test_broadcast_and_sign_refuse_a_signature_that_does_not_verify(node, tmp_path):
    path = str(tmp_path / "t.json")
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "3", "--asset", "USDC",
             "--generate-only", "--out", path)
    other = str(tmp_path / "other.json")
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "4", "--asset", "USDC",
             "--generate-only", "--out", other)
    node.cli("tx", "sign", other, "--from", "alice")
    alice = node.address("alice")
    foreign = json.load(open(other))["signatures"][alice]  # a valid signature, of another body

    doc = json.load(open(path))
    doc["signatures"] = {alice: foreign}
    json.dump(doc, open(path, "w"))
    r = node.cli("tx", "broadcast", path, check=False)
    assert r.rc == 1 and "the signature of %s does not verify for this body" % alice in r.err
    # `tx sign` reads the file the same way: it refuses to add to a file with a bad signature.
    r = node.cli("tx", "sign", path, "--from", "alice", check=False)
    assert r.rc == 1 and "does not verify for this body" in r.err
    # A flipped hex digit of alice's own signature.
    doc["signatures"] = {}
    json.dump(doc, open(path, "w"))
    node.cli("tx", "sign", path, "--from", "alice")
    good = json.load(open(path))["signatures"][alice]
    doc = json.load(open(path))
    doc["signatures"][alice] = good[:20] + ("0" if good[20] != "0" else "1") + good[21:]
    json.dump(doc, open(path, "w"))
    r = node.cli("tx", "broadcast", path, check=False)
    assert r.rc == 1 and "does not verify" in r.err
    # A signature that is not 64 bytes.
    doc["signatures"][alice] = good[:-2]
    json.dump(doc, open(path, "w"))
    r = node.cli("tx", "broadcast", path, check=False)
    assert r.rc == 1 and "is not 64 bytes of hex" in r.err
    assert _unknown_to_node(node, doc["txid"])
    assert node.balance("bob", "USDC") == 100_000 * 10 ** 6
    # Repaired, it goes through.
    doc["signatures"][alice] = good
    json.dump(doc, open(path, "w"))
    assert node.cli_json("tx", "broadcast", path)["status"] == "committed"
    assert node.balance("bob", "USDC") == 100_000 * 10 ** 6 + 3 * 10 ** 6


def test_query_state_kind_is_1_to_255_and_id_at_most_256_bytes(node):
    api = Api(node)
    try:
        for kind in (0, 256, 257, 1 << 16):
            expect_code(api.error("QueryState", field_varint(1, kind) + field_bytes(2, b"x")),
                        grpc.StatusCode.INVALID_ARGUMENT, 108, "bad_field", "1..255")
        # 255 is a kind nobody uses: answered, not found.
        answer = api.call("QueryState", field_varint(1, 255) + field_bytes(2, b"x"))
        assert one(answer, 1, 0) == 0
        assert len(one(answer, 3)) == 32 and len(one(answer, 5)) == 32  # its state key and the root
        # An id of exactly 256 bytes is looked up; 257 is too large.
        api.call("QueryState", field_varint(1, 16) + field_bytes(2, b"k" * 256))
        expect_code(api.error("QueryState", field_varint(1, 16) + field_bytes(2, b"k" * 257)),
                    grpc.StatusCode.INVALID_ARGUMENT, 102, "too_large")
    finally:
        api.close()
