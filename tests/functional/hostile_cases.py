"""Shared pieces of the hostile catalogue (issue 8): test_hostile_grpc.py, test_hostile_cli.py,
test_hostile_files.py and test_hostile_http.py send malformed or adversarial inputs to real
kontord processes and check, for each one, (1) the exact outcome, (2) an unchanged state root and
an empty mempool, (3) a node that still answers GetStatus within a short deadline.

Here: BIP-340 signing in pure Python (so txs can be signed by any key, funded or not, without a
process per signature), bech32m, raw protobuf wire writers that can also write what a canonical
encoder never would, a raw gRPC client that returns the ErrorDetail of a rejection, and the
guard that checks (2) and (3) around every case. Nothing here talks to anything but 127.0.0.1.
"""

import contextlib
import hashlib
import json
import os
import time

import grpc

from proto_wire import fields, one, varint

# ---------------------------------------------------------------------------------------------
# Hashes, BIP-340 (after the BIP's reference code), addresses
# ---------------------------------------------------------------------------------------------

P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def sha256(data):
    return hashlib.sha256(data).digest()


def tagged_hash(tag, msg):
    t = sha256(tag.encode())
    return sha256(t + t + msg)


def txid_of(body):
    return tagged_hash("kontor/tx", body)


def _add(p1, p2):
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    if p1[0] == p2[0] and p1[1] != p2[1]:
        return None
    if p1 == p2:
        lam = 3 * p1[0] * p1[0] * pow(2 * p1[1], P - 2, P) % P
    else:
        lam = (p2[1] - p1[1]) * pow(p2[0] - p1[0], P - 2, P) % P
    x3 = (lam * lam - p1[0] - p2[0]) % P
    return x3, (lam * (p1[0] - x3) - p1[1]) % P


# Jacobian coordinates for the scalar multiplication: one inversion per signature.
def _jdouble(p):
    x, y, z = p
    if y == 0:
        return (0, 0, 0)
    s = 4 * x * y * y % P
    m = 3 * x * x % P
    x3 = (m * m - 2 * s) % P
    return x3, (m * (s - x3) - 8 * y * y * y * y) % P, 2 * y * z % P


def _jadd(p, q):
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    z1z1, z2z2 = p[2] * p[2] % P, q[2] * q[2] % P
    u1, u2 = p[0] * z2z2 % P, q[0] * z1z1 % P
    s1, s2 = p[1] * q[2] * z2z2 % P, q[1] * p[2] * z1z1 % P
    if u1 == u2:
        return _jdouble(p) if s1 == s2 else (0, 0, 0)
    h, r = (u2 - u1) % P, (s2 - s1) % P
    h2 = h * h % P
    h3 = h * h2 % P
    x3 = (r * r - h3 - 2 * u1 * h2) % P
    return x3, (r * (u1 * h2 - x3) - s1 * h3) % P, h * p[2] * q[2] % P


def point_mul(point, k):
    acc, add = (0, 0, 0), (point[0], point[1], 1)
    while k:
        if k & 1:
            acc = _jadd(acc, add)
        add = _jdouble(add)
        k >>= 1
    if acc[2] == 0:
        return None
    zi = pow(acc[2], P - 2, P)
    return acc[0] * zi * zi % P, acc[1] * zi * zi * zi % P


def lift_x(x):
    if x >= P:
        return None
    c = (pow(x, 3, P) + 7) % P
    y = pow(c, (P + 1) // 4, P)
    if y * y % P != c:
        return None
    return x, y if y % 2 == 0 else P - y


def is_valid_key(key32):
    return lift_x(int.from_bytes(key32, "big")) is not None


def pubkey(secret32):
    return point_mul(G, int.from_bytes(secret32, "big"))[0].to_bytes(32, "big")


def schnorr_sign(secret32, msg32, aux=b"\x00" * 32):
    d0 = int.from_bytes(secret32, "big")
    pt = point_mul(G, d0)
    d = d0 if pt[1] % 2 == 0 else N - d0
    t = (d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux), "big")).to_bytes(32, "big")
    px = pt[0].to_bytes(32, "big")
    k0 = int.from_bytes(tagged_hash("BIP0340/nonce", t + px + msg32), "big") % N
    r = point_mul(G, k0)
    k = k0 if r[1] % 2 == 0 else N - k0
    rx = r[0].to_bytes(32, "big")
    e = int.from_bytes(tagged_hash("BIP0340/challenge", rx + px + msg32), "big") % N
    return rx + ((k + e * d) % N).to_bytes(32, "big")


def off_curve_key():
    """The smallest x-only key that is no point on secp256k1 (x^3 + 7 has no square root)."""
    x = 1
    while lift_x(x) is not None:
        x += 1
    return x.to_bytes(32, "big")


def secret_from_seed(seed):
    """A deterministic valid secret key, for keys nobody funded."""
    return (int.from_bytes(sha256(b"kontor hostile " + seed.encode()), "big") % (N - 1) + 1).to_bytes(32, "big")


BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if (top >> i) & 1 else 0
    return chk


def bech32m(hrp, data5):
    values = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp] + list(data5)
    mod = _polymod(values + [0] * 6) ^ 0x2BC830A3
    return hrp + "1" + "".join(BECH32_CHARSET[d] for d in data5) + "".join(
        BECH32_CHARSET[(mod >> 5 * (5 - i)) & 31] for i in range(6))


def to5(data, pad=True):
    acc = bits = 0
    out = []
    for b in data:
        acc = acc << 8 | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(acc >> bits & 31)
    if bits and pad:
        out.append(acc << (5 - bits) & 31)
    return out


def address(key32, hrp="kx"):
    return bech32m(hrp, to5(key32))


# ---------------------------------------------------------------------------------------------
# Protobuf wire, including what a canonical encoder never writes
# ---------------------------------------------------------------------------------------------


def key(number, wire):
    return varint(number << 3 | wire)


def vfield(number, value):
    """A varint field, written even when it is 0."""
    return key(number, 0) + varint(value)


def bfield(number, value):
    """A length-delimited field, written even when it is empty."""
    if isinstance(value, str):
        value = value.encode()
    return key(number, 2) + varint(len(value)) + value


def opt_v(number, value):
    return b"" if value == 0 else vfield(number, value)


def opt_b(number, value):
    return b"" if len(value) == 0 else bfield(number, value)


# TxBody payload numbers (proto/kontor/v1/tx.proto)
TRANSFER = 16
ASSET_DEPOSIT = 17
ASSET_WITHDRAW = 18
PROVIDER_REGISTER = 19
OFFER_WITHDRAW = 24
CONTRACT_TOPUP = 27


def transfer(to, asset="USDC", amount=1, memo=b""):
    return opt_b(1, to) + opt_b(2, asset) + opt_v(3, amount) + opt_b(4, memo)


def body(chain_id, signers, nonce=0, fee=1000, expiry=0, payload_number=TRANSFER, payload=None, extra=b""):
    """A canonical TxBody (unless its parts are not); `payload` None = no payload field."""
    out = opt_b(1, chain_id)
    for s in signers:
        out += bfield(2, s)
    out += opt_v(3, nonce) + opt_v(4, fee) + opt_v(5, expiry) + extra
    if payload is not None:
        out += bfield(payload_number, payload)
    return out


def signature_msg(signer, sig):
    return opt_b(1, signer) + opt_b(2, sig)


def envelope(body_bytes, sigs):
    """Tx { body = 1; repeated Signature signatures = 2 }; sigs: [(signer, signature)]."""
    out = opt_b(1, body_bytes)
    for signer, sig in sigs:
        out += bfield(2, signature_msg(signer, sig))
    return out


def submit_request(env):
    return opt_b(1, env)


class Keys:
    """Secrets of the dev keyring (plaintext test keys of `kontord init --dev`) and of fresh keys."""

    def __init__(self, home):
        self.secret = {}
        for name in ("alice", "bob", "carol", "gateway"):
            with open(os.path.join(home, "keyring-test", name + ".json")) as f:
                self.secret[name] = bytes.fromhex(json.load(f)["secret"])
        self.pub = {name: pubkey(s) for name, s in self.secret.items()}

    def fresh(self, seed):
        s = secret_from_seed(seed)
        self.secret[seed] = s
        self.pub[seed] = pubkey(s)
        return self.pub[seed]

    def sign(self, body_bytes, names):
        """The envelope of `body_bytes` signed by `names`, in that order."""
        tid = txid_of(body_bytes)
        return envelope(body_bytes, [(self.pub[n], schnorr_sign(self.secret[n], tid)) for n in names])


# ---------------------------------------------------------------------------------------------
# Raw gRPC
# ---------------------------------------------------------------------------------------------

NODE = "/kontor.v1.Node/"


class Outcome:
    """What a call ended with: a gRPC status code, its details text, and the ErrorDetail."""

    def __init__(self, code, text, detail, reply=None):
        self.code, self.text, self.detail, self.reply = code, text or "", detail, reply

    @property
    def ledger_code(self):
        return one(self.detail, 1) if self.detail is not None else None

    @property
    def name(self):
        return one(self.detail, 2, b"").decode() if self.detail is not None else None

    @property
    def message(self):
        return one(self.detail, 4, b"").decode("utf-8", "replace") if self.detail is not None else ""

    def __repr__(self):
        return "Outcome(%s, %r, ledger=%r %r, message=%r)" % (self.code, self.text[:300], self.ledger_code, self.name,
                                                             self.message[:300])


def detail_of(err):
    raw = dict(err.trailing_metadata() or ()).get("grpc-status-details-bin")
    return fields(raw) if raw else None


class Api:
    def __init__(self, target):
        self.channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", 64 << 20),
                                                              ("grpc.max_send_message_length", 64 << 20)])

    def close(self):
        self.channel.close()

    def unary(self, method, request, timeout=10, compression=None, metadata=None, full=False):
        """Calls `method` with raw request bytes; returns an Outcome (OK or not)."""
        path = method if method.startswith("/") else NODE + method
        rpc = self.channel.unary_unary(path, request_serializer=None, response_deserializer=None)
        try:
            reply = rpc(request, timeout=timeout, compression=compression, metadata=metadata)
            return Outcome(grpc.StatusCode.OK, "", None, reply)
        except grpc.RpcError as e:
            return Outcome(e.code(), e.details(), detail_of(e))

    def call(self, method, request, timeout=10):
        out = self.unary(method, request, timeout)
        assert out.code == grpc.StatusCode.OK, out
        return fields(out.reply)

    def stream_in(self, method, requests, timeout=60):
        rpc = self.channel.stream_unary(NODE + method, request_serializer=None, response_deserializer=None)
        try:
            reply = rpc(iter(requests), timeout=timeout)
            return Outcome(grpc.StatusCode.OK, "", None, reply)
        except grpc.RpcError as e:
            return Outcome(e.code(), e.details(), detail_of(e))

    def stream_out(self, method, request, timeout=5):
        """A server stream: (messages received, Outcome at its end)."""
        rpc = self.channel.unary_stream(NODE + method, request_serializer=None, response_deserializer=None)
        got = []
        call = rpc(request, timeout=timeout)
        try:
            for m in call:
                got.append(m)
            return got, Outcome(grpc.StatusCode.OK, "", None)
        except grpc.RpcError as e:
            return got, Outcome(e.code(), e.details(), detail_of(e))

    def status(self, timeout=10):
        return self.call("GetStatus", b"", timeout=timeout)


def category_of(code):
    """docs/protocol.md §12: the category follows from the code's range."""
    for low, high, name in ((100, 200, "malformed"), (200, 300, "unauthorized"), (300, 400, "state_conflict"),
                            (400, 500, "insufficient"), (500, 600, "retry"), (700, 800, "invalid_block")):
        if low <= code < high:
            return name
    return "internal"


def expect(out, status, code=None, name=None, fragment=None, message_max=None):
    """(1) of every case: the gRPC status, and for ledger rejections the ErrorDetail's code, name
    and category, the details text "name (code): ...", and a stable fragment of the message.
    `status` may be a tuple only where gRPC's own transport races (a refused header block is
    RESOURCE_EXHAUSTED or a closed connection, whichever the client sees first)."""
    assert (out.code in status) if isinstance(status, tuple) else (out.code == status), out
    if code is None:
        assert out.ledger_code is None, out
    else:
        assert out.detail is not None, "no ErrorDetail in grpc-status-details-bin: %r" % (out,)
        assert out.ledger_code == code and out.name == name, out
        assert one(out.detail, 3, b"").decode() == category_of(code), out
        assert out.text.startswith("%s (%d): " % (name, code)), out
    if fragment is not None:
        haystack = out.message if code is not None else out.text
        if isinstance(fragment, tuple):
            assert any(f in haystack for f in fragment), (fragment, out)
        else:
            assert fragment in haystack, (fragment, out)
    # Every error text is capped (docs/operator.md, limits): 512 bytes and a "...(N bytes)" tail.
    cap = 512 + len("...(18446744073709551615 bytes)")
    assert len(out.text.encode()) <= cap and len(out.message.encode()) <= cap, (len(out.text), len(out.message))
    if message_max is not None:
        assert len(out.message.encode()) <= message_max and len(out.text.encode()) <= message_max, out


# ---------------------------------------------------------------------------------------------
# The guard: state root, mempool and liveness around a case
# ---------------------------------------------------------------------------------------------

RESPONSIVE_DEADLINE_S = 3.0


class Guard:
    """Reads the node's state root before a case and checks after it that the root is the same,
    the mempool empty, the process alive and GetStatus answered within RESPONSIVE_DEADLINE_S.

    An idle chain makes an empty block every heartbeat; an empty block does not change the state
    root (test_hostile_grpc.py checks that first: test_empty_blocks_keep_the_state_root), so the
    roots are compared directly, not the heights."""

    def __init__(self, node):
        self.node = node
        self.api = Api(node.grpc)

    def close(self):
        self.api.close()

    def snapshot(self):
        s = self.api.status(timeout=RESPONSIVE_DEADLINE_S)
        assert one(s, 10, 0) == 0 and one(s, 11, 0) == 0, "mempool not empty before the case: %r" % s
        return one(s, 9)

    def check(self, root_before):
        assert self.node.proc.poll() is None, "kontord exited (%s):\n%s" % (self.node.proc.returncode,
                                                                          self.node.read_log()[-3000:])
        started = time.monotonic()
        out = self.api.unary("GetStatus", b"", timeout=RESPONSIVE_DEADLINE_S)
        if out.code == grpc.StatusCode.UNAVAILABLE:
            # The case made the node close this client's connection (e.g. oversized headers):
            # the first call on the channel reports the dead connection. A node that answers a
            # new connection within the deadline is responsive.
            self.api.close()
            self.api = Api(self.node.grpc)
            out = self.api.unary("GetStatus", b"", timeout=RESPONSIVE_DEADLINE_S)
        assert out.code == grpc.StatusCode.OK, out
        s = fields(out.reply)
        assert time.monotonic() - started < RESPONSIVE_DEADLINE_S
        assert one(s, 10, 0) == 0 and one(s, 11, 0) == 0, "the input left something in the mempool: %r" % s
        assert one(s, 9) == root_before, "the state root changed"
        # A tx slipped in and committed at once would have changed the root; one still in flight
        # would show in the mempool. Look once more after a block interval to be sure.
        time.sleep(0.15)
        s = self.api.status(timeout=RESPONSIVE_DEADLINE_S)
        assert one(s, 9) == root_before and one(s, 10, 0) == 0, "the state root changed after the case"
        assert self.node.proc.poll() is None


@contextlib.contextmanager
def guarded_node(prepare=None):
    """A started dev node with its Guard (`node.guard`); `prepare(node)` runs first. Stopped and
    removed afterwards, whatever happens."""
    from kontor_harness import Node

    n = Node().start()
    n.guard = Guard(n)
    try:
        if prepare:
            prepare(n)
        yield n
    finally:
        n.guard.close()
        n.stop()
        n.cleanup()
