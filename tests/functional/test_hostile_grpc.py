"""Hostile catalogue, gRPC (issue 8): malformed and adversarial requests to a real kontord, one
pytest item per input. Each case checks (1) the exact outcome: the gRPC status and, for a ledger
rejection, the ErrorDetail of grpc-status-details-bin (code, name, category) with a stable
fragment of its message; (2) an unchanged state root and an empty mempool; (3) a node that is
alive and answers GetStatus within hostile_cases.RESPONSIVE_DEADLINE_S.

Inputs are built byte by byte (hostile_cases.py), signed in pure Python where a case must get
past the signature check (BIP-340), and sent raw over a generic channel. The node makes an empty
block every 500 ms meanwhile, so the cases also run against a moving tip. One node for the
module; only 127.0.0.1 and ephemeral ports."""

import os
import re
import socket
import time

import grpc
import pytest

from hostile_cases import (ASSET_DEPOSIT, ASSET_WITHDRAW, CONTRACT_TOPUP, N, NODE, OFFER_WITHDRAW, PROVIDER_REGISTER,
                           RESPONSIVE_DEADLINE_S, Api, Guard, Keys, address, bfield, body, envelope, expect,
                           key, off_curve_key, opt_b, opt_v, schnorr_sign, signature_msg, submit_request, transfer,
                           txid_of, varint, vfield)
from kontor_harness import Node
from proto_wire import fields, one

CHAIN = "kontor-dev"
Z64 = b"\x00" * 64
OK = grpc.StatusCode.OK
IA = grpc.StatusCode.INVALID_ARGUMENT
FP = grpc.StatusCode.FAILED_PRECONDITION
PD = grpc.StatusCode.PERMISSION_DENIED
NF = grpc.StatusCode.NOT_FOUND
UN = grpc.StatusCode.UNAVAILABLE
RE = grpc.StatusCode.RESOURCE_EXHAUSTED
AE = grpc.StatusCode.ALREADY_EXISTS

# Payload numbers not named in hostile_cases
OFFER_POST = 22
CONTRACT_PROPOSE = 26
USAGE_REPORT = 31
INVOICE_ISSUE = 32
INVOICE_DISPUTE = 34
ATTESTATION_CREATE = 20


class Ctx:
    """What the cases build with: the node, its dev keys and an unfunded key, and helpers."""

    def __init__(self, node):
        self.node = node
        self.api = Api(node.grpc)
        self.guard = Guard(node)
        self.k = Keys(node.home)
        self.A, self.B, self.C = self.k.pub["alice"], self.k.pub["bob"], self.k.pub["carol"]
        self.E = self.k.fresh("eve")  # holds nothing
        self.spares = [self.k.fresh("spare-%d" % i) for i in range(9)]
        self.committed_tx = None

    def sub(self, env):
        return self.api.unary("SubmitTx", submit_request(env))

    def fake(self, b, *signers):
        """The body with a 64-byte zero "signature" per signer: well formed, never valid."""
        return envelope(b, [(s, Z64) for s in (signers or (self.A,))])

    def body(self, signers=None, **kw):
        kw.setdefault("payload", transfer(self.B))
        return body(CHAIN, signers if signers is not None else [self.A], **kw)

    def signed(self, names, **kw):
        kw.setdefault("payload", transfer(self.B))
        return self.k.sign(body(CHAIN, [self.k.pub[n] for n in names], **kw), names)

    def tip(self):
        return one(self.api.status(), 2, 0)


@pytest.fixture(scope="module")
def ctx():
    node = Node()
    config = os.path.join(node.home, "config.toml")
    with open(config) as f:
        text = f.read()
    # An empty block every 500 ms: the catalogue runs against a chain that keeps moving.
    text = re.sub(r"(?m)^heartbeat_interval_ms = \d+", "heartbeat_interval_ms = 500", text)
    with open(config, "w") as f:
        f.write(text)
    node.start()
    c = Ctx(node)
    try:
        # alice's nonce 0 is used by a committed tx (for the used-nonce, duplicate and expiry cases).
        tx = c.signed(["alice"], payload=transfer(c.B, amount=7))
        assert c.sub(tx).code == OK
        deadline = time.time() + 20
        while one(c.api.call("GetTx", bfield(1, txid_of(fields(tx)[1][0]))), 2, 0) != 2:
            assert time.time() < deadline, "the setup tx was not committed"
            time.sleep(0.05)
        c.committed_tx = tx
        yield c
    finally:
        c.api.close()
        c.guard.close()
        node.stop()
        node.cleanup()


def test_empty_blocks_keep_the_state_root(ctx):
    """The guard compares state roots across cases while empty blocks keep coming: check first
    that an empty block leaves the root as it was (heights move, roots do not)."""
    s1 = ctx.api.status()
    deadline = time.time() + 10
    while one(ctx.api.status(), 2, 0) < one(s1, 2, 0) + 3:
        assert time.time() < deadline, "no empty blocks were made"
        time.sleep(0.1)
    s2 = ctx.api.status()
    assert one(s2, 2) >= one(s1, 2) + 3 and one(s2, 3) != one(s1, 3)
    assert one(s2, 9) == one(s1, 9)


# ---------------------------------------------------------------------------------------------
# The catalogue: (id, act(ctx) -> Outcome, expected status, ledger code, name, message fragment)
# ---------------------------------------------------------------------------------------------

CASES = []


def case(cid, act, status, code=None, name=None, fragment=None, xfail=None, **kw):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    CASES.append(pytest.param((act, status, code, name, fragment, kw), id=cid, marks=marks))


def sub_raw(raw):
    return lambda c: c.sub(raw)


def sub_body(make_body, signers=None):
    """A body (built from ctx) in an envelope with well-formed zero signatures."""
    return lambda c: c.sub(c.fake(make_body(c), *(signers(c) if signers else ())))


# -- the envelope (Tx): size and canonical encoding (docs/protocol.md §3.1, §5.4 #1) ----------

case("envelope-empty", lambda c: c.api.unary("SubmitTx", b""), IA, 100, "malformed", "the tx is empty (0 bytes)")
case("envelope-field-number-0", sub_raw(b"\x00"), IA, 100, "malformed", "field number 0 is out of range")
case("envelope-length-varint-truncated", sub_raw(b"\x0a"), IA, 100, "malformed", "body length varint is truncated")
case("envelope-length-past-the-end", sub_raw(b"\x0a\x05ab"), IA, 100, "malformed",
     "body length 5 runs past the end (2 bytes left)")
case("envelope-key-varint-16-bytes-ff", sub_raw(b"\xff" * 16), IA, 100, "malformed", "field key varint is above 2^64-1")
case("envelope-length-varint-above-2^64", sub_raw(b"\x0a" + b"\xff" * 9 + b"\x7f"), IA, 100, "malformed",
     "body length varint is above 2^64-1")
case("envelope-wire-type-3-group", sub_raw(b"\x0b\x0c"), IA, 100, "malformed", "wire type 3 (groups")
case("envelope-wire-type-4", sub_raw(b"\x0c"), IA, 100, "malformed", "wire type 4 (groups")
case("envelope-wire-type-6", sub_raw(b"\x0e\x01"), IA, 100, "malformed", "wire type 6 (groups")
case("envelope-wire-type-7", sub_raw(b"\x0f\x01"), IA, 100, "malformed", "wire type 7 (groups")
case("envelope-field-number-2^29", sub_raw(key(1 << 29, 2) + b"\x00"), IA, 100, "malformed",
     "field number 536870912 is out of range")
case("envelope-unknown-field-3", lambda c: c.sub(c.fake(c.body()) + bfield(3, b"x")), IA, 101, "non_canonical",
     "field 3 is not a field of kontor.v1.Tx")
case("envelope-fields-out-of-order", lambda c: c.sub(bfield(2, signature_msg(c.A, Z64)) + bfield(1, c.body())), IA, 101,
     "non_canonical", "body field 1 comes after field 2 (fields must be in ascending order)")
case("envelope-body-twice", lambda c: c.sub(bfield(1, c.body()) + bfield(1, c.body())), IA, 101, "non_canonical",
     "body is written more than once")
case("envelope-empty-body-written", lambda c: c.sub(bfield(1, b"") + bfield(2, signature_msg(c.A, Z64))), IA, 101,
     "non_canonical", "body is written with its default (empty) value")
case("envelope-body-as-varint", sub_raw(vfield(1, 5)), IA, 101, "non_canonical", "body has wire type 0, expected 2")
case("envelope-length-not-minimal",
     lambda c: c.sub(key(1, 2) + bytes([len(c.body()) | 0x80, 0x00]) + c.body()), IA, 101, "non_canonical",
     "body length varint is not in its shortest form")
case("envelope-without-body", lambda c: c.sub(bfield(2, signature_msg(c.A, Z64))), IA, 100, "malformed",
     "the tx has no body")
case("signature-unknown-field", lambda c: c.sub(bfield(1, c.body()) + bfield(2, signature_msg(c.A, Z64) + bfield(3, b"x"))),
     IA, 101, "non_canonical", "signatures field 3 is not a field of kontor.v1.Signature")
case("signature-empty-signer-written", lambda c: c.sub(bfield(1, c.body()) + bfield(2, bfield(1, b"") + bfield(2, Z64))),
     IA, 101, "non_canonical", "signatures.signer is written with its default (empty) value")
case("envelope-65537-bytes", sub_raw(bfield(1, b"\x0a" + varint(65530) + b"k" * 65530)), IA, 102, "too_large",
     "bytes; at most 65536 allowed")
case("request-70000-bytes-refused-by-grpc", lambda c: c.api.unary("SubmitTx", b"x" * 70000), RE, None, None,
     "Received message larger than max (70000 vs. 69632)")
case("request-4MiB-refused-by-grpc", lambda c: c.api.unary("SubmitTx", submit_request(b"\x00" * (4 << 20))), RE, None,
     None, "Received message larger than max")
case("gzip-bomb-16MiB-refused-by-grpc",
     lambda c: c.api.unary("GetStatus", b"\x00" * (16 << 20), compression=grpc.Compression.Gzip), RE, None, None,
     "Received message larger than max (16777216 vs. 69632)")
# A header block over gRPC's 8 KiB limit: refused by the transport, which races between answering
# RESOURCE_EXHAUSTED and closing the connection first (seen 4-11 times in 30): either is a refusal.
HEADERS_REFUSED = ((RE, UN), ("metadata size exceeds limit", "Socket closed", "Broken pipe"))
case("metadata-20KiB-refused-by-grpc", lambda c: c.api.unary("GetStatus", b"", metadata=[("x-junk", "a" * 20000)]),
     HEADERS_REFUSED[0], None, None, HEADERS_REFUSED[1])
case("metadata-200-headers-refused-by-grpc",
     lambda c: c.api.unary("GetStatus", b"", metadata=[("x-junk-%d" % i, "a" * 100) for i in range(200)]),
     HEADERS_REFUSED[0], None, None, HEADERS_REFUSED[1])

# -- the body (TxBody): canonical encoding, with well-formed zero signatures ---------------------


def raw_body(head_fields, payload=True):
    """chain id, alice as signer, then `head_fields` bytes, then a transfer to bob."""
    return lambda c: (opt_b(1, CHAIN) + bfield(2, c.A) + head_fields + (bfield(16, transfer(c.B)) if payload else b""))


case("body-nonce-0-written", sub_body(raw_body(vfield(3, 0) + vfield(4, 1000))), IA, 101, "non_canonical",
     "nonce is written with its default value 0")
case("body-fee-varint-not-minimal", sub_body(raw_body(key(4, 0) + b"\xe8\x87\x00")), IA, 101, "non_canonical",
     "fee value varint is not in its shortest form")
case("body-empty-chain-id-written",
     sub_body(lambda c: bfield(1, b"") + bfield(2, c.A) + vfield(4, 1000) + bfield(16, transfer(c.B))), IA, 101,
     "non_canonical", "chain_id is written with its default (empty) value")
case("body-fee-before-nonce", sub_body(raw_body(vfield(4, 1000) + vfield(3, 1))), IA, 101, "non_canonical",
     "nonce field 3 comes after field 4 (fields must be in ascending order)")
case("body-nonce-twice", sub_body(raw_body(vfield(3, 1) + vfield(3, 2) + vfield(4, 1000))), IA, 101, "non_canonical",
     "nonce is written more than once")
case("body-two-payloads",
     sub_body(lambda c: raw_body(vfield(4, 1000))(c) + bfield(ASSET_DEPOSIT, opt_b(1, "USDC") + opt_v(2, 1))), IA, 101,
     "non_canonical", "asset_deposit a second member of a oneof is set (field 16 already is)")
case("body-unknown-field-6", sub_body(raw_body(vfield(4, 1000) + vfield(6, 1))), IA, 101, "non_canonical",
     "field 6 is not a field of kontor.v1.TxBody")
case("body-unknown-payload-39", sub_body(lambda c: raw_body(vfield(4, 1000), payload=False)(c) + bfield(39, b"x")), IA,
     101, "non_canonical", "field 39 is not a field of kontor.v1.TxBody")
case("body-key-varint-not-minimal", sub_body(lambda c: b"\x8a\x00" + varint(len(CHAIN)) + CHAIN.encode() + bfield(2, c.A)),
     IA, 101, "non_canonical", "field key varint is not in its shortest form")
case("body-nonce-as-length-delimited", sub_body(raw_body(bfield(3, b"\x01") + vfield(4, 1000))), IA, 101,
     "non_canonical", "nonce has wire type 2, expected 0")
case("body-fee-varint-above-2^64", sub_body(raw_body(key(4, 0) + b"\xff" * 9 + b"\x02")), IA, 100, "malformed",
     "fee value varint is above 2^64-1")
case("body-payload-length-past-the-end",
     sub_body(lambda c: raw_body(vfield(4, 1000), payload=False)(c) + key(16, 2) + varint(200) + transfer(c.B)), IA, 100,
     "malformed", "transfer length 200 runs past the end")
case("body-chain-id-overlong-utf8", sub_body(lambda c: bfield(1, b"\xc0\x80") + bfield(2, c.A)), IA, 100, "malformed",
     "chain_id is not valid UTF-8")
case("body-chain-id-truncated-utf8", sub_body(lambda c: bfield(1, b"kontor-\xe2\x82") + bfield(2, c.A)), IA, 100,
     "malformed", "chain_id is not valid UTF-8")
case("body-memo-utf16-surrogate", sub_body(lambda c: c.body(payload=transfer(c.B, memo=b"ok \xed\xa0\x80"))), IA, 100,
     "malformed", "transfer.memo is not valid UTF-8")
case("body-asset-above-U+10FFFF", sub_body(lambda c: c.body(payload=transfer(c.B, asset=b"\xf4\x90\x80\x80"))), IA, 100,
     "malformed", "transfer.asset is not valid UTF-8")
case("transfer-unknown-field-5", sub_body(lambda c: c.body(payload=transfer(c.B) + bfield(5, b"x"))), IA, 101,
     "non_canonical", "transfer field 5 is not a field of kontor.v1.Transfer")
case("transfer-amount-0-written",
     sub_body(lambda c: c.body(payload=bfield(1, c.B) + bfield(2, "USDC") + vfield(3, 0))), IA, 101, "non_canonical",
     "transfer.amount is written with its default value 0")
case("uint32-above-2^32-1",
     sub_body(lambda c: c.body(payload_number=CONTRACT_PROPOSE,
                               payload=bfield(1, bfield(1, c.A) + bfield(2, c.B) + vfield(4, 1 << 32)))), IA, 101,
     "non_canonical", "contract_propose.terms.broker_fee_bps value 4294967296 does not fit uint32")
case("bool-value-2", sub_body(lambda c: c.body(payload_number=OFFER_POST, payload=bfield(1, vfield(2, 1) + vfield(10, 2)))),
     IA, 101, "non_canonical", "offer_post.terms.invoiced bool value 2 is not 0 or 1")
case("enum-above-2^31-1",
     sub_body(lambda c: c.body(payload_number=INVOICE_ISSUE, payload=bfield(1, b"\x42" * 32) + vfield(10, 1 << 31))), IA,
     101, "non_canonical", "invoice_issue.source enum value 2147483648 is above 2^31-1")

# -- stateless rules (docs/protocol.md §5.4), with well-formed zero signatures -------------------

case("wrong-chain", sub_body(lambda c: body("kontor-other", [c.A], payload=transfer(c.B))), IA, 103, "wrong_chain",
     "tx is for chain 'kontor-other', this is 'kontor-dev'")
case("chain-id-absent", sub_body(lambda c: body("", [c.A], payload=transfer(c.B))), IA, 103, "wrong_chain",
     "tx names no chain, this is 'kontor-dev'")
case("chain-id-10KiB-echo-capped", sub_body(lambda c: body("c" * 10240, [c.A], payload=transfer(c.B))), IA, 103,
     "wrong_chain", "'" + "c" * 64 + "'...(10240 bytes), this is 'kontor-dev'", message_max=200)
case("chain-id-60KiB-echo-capped", sub_body(lambda c: body("c" * 61440, [c.A], payload=transfer(c.B))), IA, 103,
     "wrong_chain", "...(61440 bytes), this is 'kontor-dev'", message_max=200)
case("chain-id-control-bytes-escaped", sub_body(lambda c: body("a\x01\x7f'\\\n", [c.A], payload=transfer(c.B))), IA, 103,
     "wrong_chain", "tx is for chain 'a\\x01\\x7f\\x27\\x5c\\x0a'")
case("no-signers", sub_body(lambda c: body(CHAIN, [], payload=transfer(c.B))), IA, 104, "no_signers", "tx has no signers")
case("nine-signers", sub_body(lambda c: body(CHAIN, c.spares[:9], payload=transfer(c.B)), lambda c: c.spares[:9]), IA, 102,
     "too_large", "tx has 9 signers; at most 8 allowed")
case("signer-31-bytes", sub_body(lambda c: body(CHAIN, [c.A[:31]], payload=transfer(c.B))), IA, 105, "bad_key",
     "signer key is 31 bytes, expected 32")
case("signer-33-bytes", sub_body(lambda c: body(CHAIN, [c.A + b"\x00"], payload=transfer(c.B))), IA, 105, "bad_key",
     "signer key is 33 bytes, expected 32")
case("signer-empty-entry", sub_body(lambda c: body(CHAIN, [b""], payload=transfer(c.B))), IA, 105, "bad_key",
     "signer key is 0 bytes, expected 32")
case("duplicate-signer", sub_body(lambda c: body(CHAIN, [c.A, c.A], payload=transfer(c.B)), lambda c: [c.A, c.A]), IA,
     109, "duplicate_signer", "is listed twice")
case("no-payload", sub_body(lambda c: body(CHAIN, [c.A], payload=None)), IA, 107, "unknown_payload",
     "tx body has no payload")
case("signature-63-bytes", lambda c: c.sub(envelope(c.body(), [(c.A, b"\x00" * 63)])), IA, 100, "malformed",
     "signature 0 must be a 32-byte key and a 64-byte signature")
case("signature-65-bytes", lambda c: c.sub(envelope(c.body(), [(c.A, b"\x00" * 65)])), IA, 100, "malformed",
     "signature 0 must be a 32-byte key and a 64-byte signature")
case("signature-signer-31-bytes", lambda c: c.sub(envelope(c.body(), [(c.A[:31], Z64)])), IA, 100, "malformed",
     "signature 0 must be a 32-byte key and a 64-byte signature")
case("signature-by-a-non-signer", lambda c: c.sub(envelope(c.body(), [(c.B, Z64)])), PD, 202, "unexpected_signature",
     "which is not a signer")
case("signature-missing", lambda c: c.sub(envelope(c.body(), [])), PD, 201, "missing_signature",
     lambda c: "signer 1 of 1 (%s) has not signed" % address(c.A))
case("signature-twice", lambda c: c.sub(envelope(c.body(), [(c.A, Z64), (c.A, Z64)])), PD, 202,
     "unexpected_signature", "tx carries more signatures than signers")
case("signatures-out-of-signer-order",
     lambda c: c.sub(envelope(c.body(signers=[c.A, c.B]), [(c.B, Z64), (c.A, Z64)])), IA, 101, "non_canonical",
     "signatures are not in the order of the signers (signer 1 signed at another position)")
case("second-signature-missing", lambda c: c.sub(envelope(c.body(signers=[c.A, c.B]), [(c.A, Z64)])), PD, 201,
     "missing_signature", "signer 2 of 2")
case("fee-one-below-the-floor", sub_body(lambda c: c.body(fee=999)), IA, 112, "fee_too_low",
     "fee 999 is below the minimum 1000 KTR")
case("fee-zero", sub_body(lambda c: c.body(fee=0)), IA, 112, "fee_too_low", "fee 0 is below the minimum 1000 KTR")
case("transfer-with-two-signers", sub_body(lambda c: c.body(signers=[c.A, c.B]), lambda c: [c.A, c.B]), IA, 108,
     "bad_field", "a transfer has exactly one signer (the sender)")
case("transfer-to-31-bytes", sub_body(lambda c: c.body(payload=transfer(c.B[:31]))), IA, 105, "bad_key",
     "transfer recipient must be a 32-byte key")
case("transfer-empty-payload", sub_body(lambda c: c.body(payload=b"")), IA, 105, "bad_key",
     "transfer recipient must be a 32-byte key")
case("transfer-no-asset", sub_body(lambda c: c.body(payload=transfer(c.B, asset=""))), IA, 108, "bad_field",
     "transfer asset symbol must be 1..16 bytes")
case("transfer-asset-17-bytes", sub_body(lambda c: c.body(payload=transfer(c.B, asset="A" * 17))), IA, 108, "bad_field",
     "transfer asset symbol must be 1..16 bytes")
case("transfer-amount-zero", sub_body(lambda c: c.body(payload=transfer(c.B, amount=0))), IA, 106, "bad_amount",
     "transfer amount must be greater than zero")
case("transfer-memo-257-bytes", sub_body(lambda c: c.body(payload=transfer(c.B, memo=b"m" * 257))), IA, 102, "too_large",
     "transfer memo is 257 bytes; at most 256")
case("transfer-memo-60KiB", sub_body(lambda c: c.body(payload=transfer(c.B, memo=b"m" * 61440))), IA, 102, "too_large",
     "transfer memo is 61440 bytes; at most 256")
case("signature-all-zero", sub_body(lambda c: c.body()), PD, 200, "bad_signature", "does not verify for tx")
case("signature-all-ff", lambda c: c.sub(envelope(c.body(), [(c.A, b"\xff" * 64)])), PD, 200, "bad_signature",
     "does not verify for tx")
case("signature-of-another-body",
     lambda c: c.sub(envelope(c.body(), [(c.A, schnorr_sign(c.k.secret["alice"], txid_of(c.body(fee=1001))))])), PD, 200,
     "bad_signature", "does not verify for tx")
case("signature-s-above-the-order",
     lambda c: c.sub(envelope(c.body(), [(c.A, schnorr_sign(c.k.secret["alice"], txid_of(c.body()))[:32] +
                                          (N + 1).to_bytes(32, "big"))])), PD, 200, "bad_signature", "does not verify")
case("signer-not-on-the-curve", lambda c: c.sub(c.fake(c.body(signers=[off_curve_key()]), off_curve_key())), IA, 105,
     "bad_key", "signer key 0000000000000000000000000000000000000000000000000000000000000005 is not a point on secp256k1")
case("signer-x-above-p", lambda c: c.sub(c.fake(c.body(signers=[b"\xff" * 32]), b"\xff" * 32)), IA, 105, "bad_key",
     "signer key " + "ff" * 32 + " is not a point on secp256k1")


def eight_signers_last_bad(c):
    names = ["alice"] + ["spare-%d" % i for i in range(7)]
    b = body(CHAIN, [c.k.pub[n] for n in names], payload_number=CONTRACT_TOPUP, payload=opt_b(1, b"\x42" * 32) + opt_v(2, 5))
    tid = txid_of(b)
    sigs = [(c.k.pub[n], schnorr_sign(c.k.secret[n], tid)) for n in names[:7]] + [(c.k.pub[names[7]], Z64)]
    return c.sub(envelope(b, sigs))


case("eight-signers-seven-valid-last-bad", eight_signers_last_bad, PD, 200, "bad_signature",
     lambda c: "signature of %s does not verify" % address(c.k.pub["spare-6"]))


def attestation_64k(c, signer):
    keys = []
    size, i = 0, 0
    while size < 64900:
        k = "k%05d" % i
        keys.append(k)
        size += 2 + len(k)
        i += 1
    payload = bfield(1, c.B) + b"".join(bfield(2, k) for k in keys) + vfield(3, 1)
    return body(CHAIN, [c.k.pub[signer]], payload_number=ATTESTATION_CREATE, payload=payload)


case("attestation-64KiB-bad-signature", lambda c: c.sub(c.fake(attestation_64k(c, "alice"))), PD, 200, "bad_signature",
     "does not verify for tx")

# -- compute-market payloads, stateless (docs/protocol.md §5.5), zero signatures -----------------

case("deposit-amount-zero", sub_body(lambda c: c.body(payload_number=ASSET_DEPOSIT, payload=opt_b(1, "USDC") + opt_b(3, c.A))),
     IA, 106, "bad_amount", "deposit amount must be greater than zero")
case("deposit-network-control-character",
     sub_body(lambda c: c.body(payload_number=ASSET_DEPOSIT,
                               payload=opt_b(1, "USDC") + opt_v(2, 5) + opt_b(3, c.A) + opt_b(4, "eth\x1b[2J") + opt_b(5, "t"))),
     IA, 108, "bad_field", "deposit network has a control character")
case("deposit-network-129-bytes",
     sub_body(lambda c: c.body(payload_number=ASSET_DEPOSIT,
                               payload=opt_b(1, "USDC") + opt_v(2, 5) + opt_b(3, c.A) + opt_b(4, "n" * 129) + opt_b(5, "t"))),
     IA, 108, "bad_field", "deposit network must be 1..128 bytes")
case("withdraw-asset-17-bytes",
     sub_body(lambda c: c.body(payload_number=ASSET_WITHDRAW,
                               payload=opt_b(1, "U" * 17) + opt_v(2, 5) + opt_b(3, "eth") + opt_b(4, "0x1"))),
     IA, 108, "bad_field", "asset symbol must be 1..16 bytes")
case("provider-endpoint-257-bytes", sub_body(lambda c: c.body(payload_number=PROVIDER_REGISTER, payload=opt_b(2, "e" * 257))),
     IA, 102, "too_large", "provider endpoint is longer than 256 bytes")
case("offer-withdraw-id-31-bytes", sub_body(lambda c: c.body(payload_number=OFFER_WITHDRAW, payload=opt_b(1, b"\x42" * 31))),
     IA, 108, "bad_field", "offer id must be 32 bytes")
case("topup-amount-zero", sub_body(lambda c: c.body(payload_number=CONTRACT_TOPUP, payload=opt_b(1, b"\x42" * 32))), IA, 106,
     "bad_amount", "top-up amount must be greater than zero")
case("dispute-reason-99",
     sub_body(lambda c: c.body(payload_number=INVOICE_DISPUTE, payload=opt_b(1, b"\x42" * 32) + opt_v(2, 99))), IA, 108,
     "bad_field", "a dispute needs a reason code (1..5)")
case("usage-report-9-quantities",
     sub_body(lambda c: c.body(payload_number=USAGE_REPORT,
                               payload=opt_b(1, b"\x42" * 32) + b"".join(bfield(2, bfield(1, "q%d" % i) + vfield(2, 1))
                                                                          for i in range(9)))),
     IA, 108, "bad_field", "a usage report has 1..8 metered quantities")

# An error that quotes a 60 KiB field is cut to 512 bytes, at a UTF-8 character boundary, with the
# full length named (node/grpc_service.cpp Capped).
CAPPED = 512 + len("...(99999 bytes)")


def usage_name(name):
    return sub_body(lambda c: c.body(payload_number=USAGE_REPORT,
                                     payload=opt_b(1, b"\x42" * 32) + bfield(2, bfield(1, name) + vfield(2, 1))))


# The fragment is the start of the echoed name: the echo itself is cut (EchoInput), so no
# closing quote is expected.
case("usage-name-60KiB-message-capped", usage_name("X" * 61440), IA, 108, "bad_field", "usage name 'XXXX",
     message_max=CAPPED, capped=True)
case("usage-name-60KiB-multibyte-message-capped", usage_name("\u00e9" * 30720), IA, 108, "bad_field",
     "usage name '\u00e9\u00e9", message_max=CAPPED, capped=True)
case("attested-key-60KiB-message-capped",
     sub_body(lambda c: c.body(payload_number=ATTESTATION_CREATE, payload=bfield(1, c.B) + bfield(2, "K" * 61440) +
                               vfield(3, 1))), IA, 108, "bad_field", "attested attribute key 'KKKK",
     message_max=CAPPED, capped=True)

# -- stateful rules at admission, validly signed (docs/operator.md, limits) ----------------------

case("unknown-asset", lambda c: c.sub(c.signed(["alice"], nonce=1, payload=transfer(c.B, asset="NOPE"))), FP, 302,
     "unknown_asset", "asset 'NOPE' does not exist on this chain")
case("amount-2^64-1", lambda c: c.sub(c.signed(["alice"], nonce=1, payload=transfer(c.B, amount=2 ** 64 - 1))), FP, 400,
     "insufficient_funds", "< 18446744073709.551615 USDC to transfer from")
case("amount-all-KTR-plus-fee", lambda c: c.sub(c.signed(["alice"], nonce=1, payload=transfer(c.B, asset="KTR",
                                                                                              amount=10 ** 12))), FP, 400,
     "insufficient_funds", "< 1000000.000000 KTR to transfer from")
case("fee-2^64-1-from-an-unfunded-key", lambda c: c.sub(c.signed(["eve"], fee=2 ** 64 - 1)), FP, 400,
     "insufficient_funds", "cannot pay the fee: balance 0 KTR < 18446744073709551615 KTR needed")
case("fee-2^64-1-from-a-funded-key", lambda c: c.sub(c.signed(["alice"], nonce=1, fee=2 ** 64 - 1)), FP, 400,
     "insufficient_funds", "cannot pay the fee: balance")
case("unfunded-key-behind-a-nonce-gap", lambda c: c.sub(c.signed(["eve"], nonce=5)), UN, 500, "nonce_gap",
     "only a payer holding KTR may have txs wait behind a gap")
case("nonce-gap-17", lambda c: c.sub(c.signed(["alice"], nonce=18)), UN, 500, "nonce_gap",
     "leaves a gap of 17 after")
case("nonce-past-the-256-window", lambda c: c.sub(c.signed(["alice"], nonce=257)), UN, 500, "nonce_gap",
     "(at most 256 pending per account)")
case("nonce-2^64-1", lambda c: c.sub(c.signed(["alice"], nonce=2 ** 64 - 1)), UN, 500, "nonce_gap",
     "nonce 18446744073709551615 is too far ahead")
case("used-nonce", lambda c: c.sub(c.signed(["alice"], nonce=0, payload=transfer(c.B, amount=8))), FP, 300, "bad_nonce",
     "nonce 1 expected, got 0 (already used)")
case("expired-at-height-1", lambda c: c.sub(c.signed(["alice"], nonce=1, expiry=1)), FP, 301, "expired",
     "tx expired at height 1; block is")
case("recipient-not-on-the-curve", lambda c: c.sub(c.signed(["alice"], nonce=1, payload=transfer(off_curve_key()))), IA,
     105, "bad_key", "transfer recipient " + "00" * 31 + "05 is not a point on secp256k1")
case("recipient-x-above-p", lambda c: c.sub(c.signed(["alice"], nonce=1, payload=transfer(b"\xff" * 32))), IA, 105,
     "bad_key", "transfer recipient " + "ff" * 32 + " is not a point on secp256k1")
case("committed-tx-resubmitted", lambda c: c.sub(c.committed_tx), AE, 304, "duplicate", "is already committed")
case("deposit-not-by-the-gateway",
     lambda c: c.sub(c.signed(["alice"], nonce=1, payload_number=ASSET_DEPOSIT,
                              payload=opt_b(1, "USDC") + opt_v(2, 5) + opt_b(3, c.A) + opt_b(4, "eth") + opt_b(5, "0x1"))),
     PD, 203, "not_authorized", "only the gateway of USDC")
case("withdraw-an-unbridged-asset",
     lambda c: c.sub(c.signed(["alice"], nonce=1, payload_number=ASSET_WITHDRAW,
                              payload=opt_b(1, "KTR") + opt_v(2, 5) + opt_b(3, "eth") + opt_b(4, "0x1"))),
     FP, 306, "wrong_state", "asset 'KTR' is not bridged: it cannot be withdrawn")
case("withdraw-2^64-1",
     lambda c: c.sub(c.signed(["alice"], nonce=1, payload_number=ASSET_WITHDRAW,
                              payload=opt_b(1, "USDC") + opt_v(2, 2 ** 64 - 1) + opt_b(3, "eth") + opt_b(4, "0x1"))),
     FP, 400, "insufficient_funds", "< 18446744073709.551615 USDC to withdraw")
case("topup-of-a-missing-contract",
     lambda c: c.sub(c.signed(["alice"], nonce=1, payload_number=CONTRACT_TOPUP, payload=opt_b(1, b"\x42" * 32) + opt_v(2, 5))),
     NF, 305, "not_found", "no contract " + "42" * 32)
case("withdraw-a-missing-offer",
     lambda c: c.sub(c.signed(["alice"], nonce=1, payload_number=OFFER_WITHDRAW, payload=opt_b(1, b"\x42" * 32))),
     NF, 305, "not_found", "no offer " + "42" * 32)
case("attestation-64KiB-from-an-unfunded-key", lambda c: c.sub(c.k.sign(attestation_64k(c, "eve"), ["eve"])), FP, 400,
     "insufficient_funds", "cannot pay the fee: balance 0 KTR")

# -- SubmitTxBatch ------------------------------------------------------------------------------


def batch(requests, timeout=120):
    return lambda c: c.api.stream_in("SubmitTxBatch", requests(c) if callable(requests) else requests, timeout=timeout)


case("batch-empty-stream", batch([]), OK, reply=b"")
case("batch-1000-empty-txs", batch(lambda c: (b"" for _ in range(1000))), OK, results=(1000, 100, "the tx is empty"))
case("batch-100001-messages", batch(lambda c: (b"" for _ in range(100001)), timeout=300), IA, 102, "too_large",
     "a batch holds at most 100000 txs; the first 100000 were processed")
def flood(c, keys=200):
    """The 200-key flood of docs/operator.md: keys that hold nothing, each claiming a fee of 2^64-1."""
    requests = []
    for i in range(keys):
        name = "flood-%d" % i
        c.k.fresh(name)
        requests.append(submit_request(c.signed([name], fee=2 ** 64 - 1)))
    return requests


case("batch-200-unfunded-keys-max-fee", batch(flood), OK, results=(200, 400, "cannot pay the fee"))
case("batch-70000-byte-message", batch([b"", b"x" * 70000]), RE, None, None,
     "Received message larger than max (70000 vs. 69632)")
case("batch-garbage-third-message", batch([b"", b"", b"\x0a\x05ab", b""]), IA, 100, "malformed",
     "stream message 3 is not a valid kontor.v1.SubmitTxRequest")
case("batch-garbage-first-message", batch([b"\xff\xff"]), IA, 100, "malformed",
     "stream message 1 is not a valid kontor.v1.SubmitTxRequest")

# -- the other methods --------------------------------------------------------------------------


def call(method, request):
    return lambda c: c.api.unary(method, request(c) if callable(request) else request)


case("gettx-without-txid", call("GetTx", b""), IA, 100, "malformed", "txid must be 32 bytes")
case("gettx-31-bytes", call("GetTx", bfield(1, b"\x01" * 31)), IA, 100, "malformed", "txid must be 32 bytes")
case("gettx-33-bytes", call("GetTx", bfield(1, b"\x01" * 33)), IA, 100, "malformed", "txid must be 32 bytes")
case("gettx-60KiB", call("GetTx", bfield(1, b"\x01" * 61440)), IA, 100, "malformed", "txid must be 32 bytes")
case("gettx-unknown-txid-answered", call("GetTx", bfield(1, b"\x01" * 32)), OK, fields_equal={2: 4})
case("getblock-height-2^64-1", call("GetBlock", vfield(1, 2 ** 64 - 1)), NF, 305, "not_found",
     "no block at height 18446744073709551615; the tip is")
case("getblock-hash-31-bytes", call("GetBlock", bfield(2, b"\x01" * 31)), IA, 100, "malformed",
     "block hash must be 32 bytes")
case("getblock-hash-empty", call("GetBlock", bfield(2, b"")), IA, 100, "malformed", "block hash must be 32 bytes")
case("getblock-hash-unknown", call("GetBlock", bfield(2, b"\x42" * 32)), NF, 305, "not_found",
     "no block with hash " + "42" * 32)
case("getaccount-without-key", call("GetAccount", b""), IA, 105, "bad_key", "key must be 32 bytes, got 0")
case("getaccount-31-bytes", call("GetAccount", bfield(1, b"\x01" * 31)), IA, 105, "bad_key", "key must be 32 bytes, got 31")
case("getaccount-60KiB", call("GetAccount", bfield(1, b"\x01" * 61440)), IA, 105, "bad_key",
     "key must be 32 bytes, got 61440")
case("getaccount-off-curve-key-answered", call("GetAccount", bfield(1, off_curve_key())), OK, fields_equal={6: None})
case("querystate-kind-0", call("QueryState", bfield(2, b"x")), IA, 108, "bad_field", "record kind must be 1..255")
case("querystate-kind-256", call("QueryState", vfield(1, 256) + bfield(2, b"x")), IA, 108, "bad_field",
     "record kind must be 1..255")
case("querystate-kind-2^32-1", call("QueryState", vfield(1, 2 ** 32 - 1) + bfield(2, b"x")), IA, 108, "bad_field",
     "record kind must be 1..255")
case("querystate-id-257-bytes", call("QueryState", vfield(1, 16) + bfield(2, b"k" * 257)), IA, 102, "too_large",
     "record id is longer than 256 bytes")
case("querystate-id-60KiB", call("QueryState", vfield(1, 16) + bfield(2, b"k" * 61440)), IA, 102, "too_large",
     "record id is longer than 256 bytes")
case("querystate-height-2^64-1", call("QueryState", lambda c: vfield(1, 1) + bfield(2, c.A) + vfield(3, 2 ** 64 - 1)), NF,
     305, "not_found", "state at height 18446744073709551615 is not kept")
case("querystate-height-2^64-1-with-proof",
     call("QueryState", lambda c: vfield(1, 1) + bfield(2, c.A) + vfield(3, 2 ** 64 - 1) + vfield(4, 1)), NF, 305,
     "not_found", "state at height 18446744073709551615 is not kept")


def stream_blocks(request):
    def act(c):
        got, out = c.api.stream_out("StreamBlocks", request(c) if callable(request) else request, timeout=5)
        assert got == [], "a refused stream sent blocks"
        return out
    return act


case("streamblocks-from-2^64-1", stream_blocks(vfield(1, 2 ** 64 - 1)), NF, 305, "not_found",
     "no block at height 18446744073709551615 yet; the tip is")
case("streamblocks-from-tip-plus-1000", stream_blocks(lambda c: vfield(1, c.tip() + 1000)), NF, 305, "not_found",
     "(stream from at most tip + 1, or 0 for the next block)")
case("unknown-method", call("NoSuchMethod", b""), grpc.StatusCode.UNIMPLEMENTED)
case("unknown-service", call("/kontor.v9.Nope/GetStatus", b""), grpc.StatusCode.UNIMPLEMENTED)
case("health-check-unknown-service", call("/grpc.health.v1.Health/Check", bfield(1, "nope")), NF, None, None,
     "service name unknown")
case("health-check-garbage", call("/grpc.health.v1.Health/Check", b"\x0a\x05ab"), IA, None, None,
     "could not parse request")
case("getstatus-1MiB-request-refused-by-grpc", call("GetStatus", bfield(1, b"\x00" * (1 << 20))), RE, None, None,
     "Received message larger than max")

# -- requests that do not parse at all: INVALID_ARGUMENT, malformed (100), naming the type -------
# (gRPC's own codec answered INTERNAL with an empty message; proto/grpc_codec.h)
for cid, method, rtype, raw in [
        ("getstatus-garbage-length-past-end", "GetStatus", "GetStatusRequest", b"\x0a\x05ab"),
        ("getstatus-garbage-truncated-varint", "GetStatus", "GetStatusRequest", b"\xff"),
        ("getstatus-garbage-wire-type-7", "GetStatus", "GetStatusRequest", b"\x0f\x00"),
        ("listassets-garbage", "ListAssets", "ListAssetsRequest", b"\x0a\x05ab"),
        ("gettx-garbage", "GetTx", "GetTxRequest", b"\x0a\x21" + b"\x01" * 8),
        ("getblock-garbage", "GetBlock", "GetBlockRequest", b"\x08\xff\xff"),
        ("getaccount-garbage", "GetAccount", "GetAccountRequest", b"\x0a\x20\x01"),
        ("querystate-garbage", "QueryState", "QueryStateRequest", b"\x08"),
        ("submittx-garbage", "SubmitTx", "SubmitTxRequest", b"\x0a\x05ab")]:
    case(cid, call(method, raw), IA, 100, "malformed", "kontor.v1." + rtype)
case("streamblocks-garbage", stream_blocks(b"\x08\xff"), IA, 100, "malformed", "kontor.v1.StreamBlocksRequest")


@pytest.mark.parametrize("spec", CASES)
def test_hostile_grpc(ctx, spec):
    act, status, code, name, fragment, kw = spec
    root = ctx.guard.snapshot()
    out = act(ctx)
    expect(out, status, code, name, fragment(ctx) if callable(fragment) else fragment, message_max=kw.get("message_max"))
    if kw.get("capped"):
        raw = one(out.detail, 4)
        raw.decode("utf-8")  # strict: the cut never splits a character
        assert re.search(r"\.\.\.\(\d+ bytes\)$", raw.decode()) and len(raw) <= CAPPED, raw[-80:]
        assert re.search(r"\.\.\.\(\d+ bytes\)$", out.text) and len(out.text.encode()) <= CAPPED, out.text[-80:]
    if "reply" in kw:
        assert out.reply == kw["reply"], out.reply
    if "fields_equal" in kw:
        got = fields(out.reply)
        for number, value in kw["fields_equal"].items():
            assert one(got, number) == value, (number, got)
    if "results" in kw:
        count, want_code, want_fragment = kw["results"]
        reply = fields(out.reply)
        assert one(reply, 2) is None and one(reply, 3) == count, reply  # accepted 0 (not written), rejected all
        results = reply[1]
        assert len(results) == count
        for r in (results[0], results[-1]):
            error = fields(one(fields(r), 2))
            assert one(error, 1) == want_code and want_fragment in one(error, 4).decode(), error
    ctx.guard.check(root)


# ---------------------------------------------------------------------------------------------
# Transport-level cases: not one request, so not in the table
# ---------------------------------------------------------------------------------------------


def _raw_exchange(node, payload, timeout=5):
    host, port = node.grpc.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=timeout)
    got = b""
    started = time.monotonic()
    try:
        s.sendall(payload)
        while True:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                break
            if not data:
                break
            got += data
    finally:
        s.close()
    return got, time.monotonic() - started


@pytest.mark.parametrize("payload", [
    pytest.param(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", id="http1-request"),
    pytest.param(bytes(range(256)) * 4, id="random-bytes"),
    pytest.param(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\xff" * 64, id="preface-then-bad-frames"),
])
def test_hostile_grpc_raw_bytes_on_the_port(ctx, payload):
    """Not HTTP/2: the server answers with its SETTINGS frame and closes the connection."""
    root = ctx.guard.snapshot()
    got, took = _raw_exchange(ctx.node, payload)
    assert took < 5, "the connection was held open %.1f s" % took
    assert len(got) >= 9 and got[3] == 0x04, got[:32]  # an HTTP/2 frame header of type SETTINGS
    ctx.guard.check(root)


def test_hostile_grpc_200_idle_connections(ctx):
    """TCP connections that never send the HTTP/2 preface cost the node nothing it needs."""
    root = ctx.guard.snapshot()
    host, port = ctx.node.grpc.rsplit(":", 1)
    idle = [socket.create_connection((host, int(port)), timeout=5) for _ in range(200)]
    try:
        started = time.monotonic()
        ctx.api.status(timeout=RESPONSIVE_DEADLINE_S)
        assert time.monotonic() - started < RESPONSIVE_DEADLINE_S
        ctx.guard.check(root)
    finally:
        for s in idle:
            s.close()


def test_hostile_grpc_64_streams_held_open(ctx):
    """64 StreamBlocks followers that never read do not starve unary calls; they end on cancel."""
    root = ctx.guard.snapshot()
    rpc = ctx.api.channel.unary_stream(NODE + "StreamBlocks", request_serializer=None, response_deserializer=None)
    calls = [rpc(vfield(1, 1), timeout=60) for _ in range(64)]
    try:
        time.sleep(0.5)
        ctx.guard.check(root)
    finally:
        for call_ in calls:
            call_.cancel()
    assert all(call_.code() == grpc.StatusCode.CANCELLED for call_ in calls)
    ctx.guard.check(root)
