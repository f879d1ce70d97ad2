#!/usr/bin/python3
"""Crash campaign (issue 8): kill -9 a loaded kontord again and again and check that nothing it
acknowledged as committed is ever lost.

One dev home is initialised (`kontord init --dev`), then every cycle:

  1. start kontord on 127.0.0.1 with ephemeral ports; it must start (no damaged-store refusal);
  2. verify the restarted node against everything acknowledged so far, in every cycle:
     - the tip is at or above the highest height ever acknowledged, and every acknowledged
       block (StreamBlocks event) has the same hash at its height;
     - every txid ever acknowledged as committed (a StreamBlocks event listing it, or GetTx
       answering committed) is in the block at its height, with the same block hash (the whole
       chain is streamed from height 1: one pass covers every txid);
     - GetTx (the tx index, another path) answers committed, same height and block hash, for
       every txid acknowledged in the cycle before and a random sample of older ones (and for
       every one of them after the last cycle);
     - the chain holds only txs this script signed, each sender's nonces 0, 1, 2, ... once each;
       re-executing them here from the genesis balances gives every account's balances and nonce
       exactly as GetAccount serves them; the validator holds exactly the fees paid; per asset,
       the accounts' balances add up to ListAssets' outstanding supply;
     - when the stopped store was just replayed, the node's tip and state root are the replay's;
  3. load: one submitter thread per sender (genesis keys alice, bob, carol, gateway and fresh keys
     funded by alice) signs transfers here (BIP-340 in pure Python, checked against the worked
     example of docs/protocol.md) with consecutive nonces and submits them raw over gRPC
     (SubmitTxBatch streams and single SubmitTx calls), a StreamBlocks follower records every
     block and txid the node reports committed, submitters poll GetTx for their oldest txs;
  4. after a random delay (--min-ms..--max-ms), or once the cycle's budget of txs is submitted,
     SIGKILL the node mid-load;
  5. every --audit-every cycles, and after the last one, `kontor audit replay --node-home` on
     the stopped store (every block, signature, index entry and the state root from genesis).

After the last cycle the node is started once more, verified with GetTx for every acknowledged
txid, stopped with SIGTERM (it must stop cleanly), and the store is replayed once more.

Pending txs lost in a crash are fine: after each restart every sender continues from the nonce
the node reports. Only 127.0.0.1, ephemeral ports and a temporary home are used; every node this
script starts is killed or stopped before it exits. Exit status 0: no failure; 1: a failure
(named on stderr, with the node's log); 2: bad usage or the binaries are missing.

Example (the long form, documented in docs/reliability.md):
    nice tools/crash-campaign.py --cycles 50
"""

import argparse
import collections
import datetime
import hashlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(REPO, "tests", "functional"))

import kontor_harness  # noqa: E402
from proto_wire import field_bytes, field_varint, fields, one  # noqa: E402

grpc = None  # imported in main(), so that --help works without grpcio


# ---------------------------------------------------------------------------------------------
# BIP-340 Schnorr signatures over secp256k1, pure Python (docs/protocol.md §4). Only signing is
# needed: the node verifies. A fixed-base table (4-bit windows) makes k*G ~64 affine additions.
# ---------------------------------------------------------------------------------------------

P = 2 ** 256 - 2 ** 32 - 977
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    x1, y1 = a
    x2, y2 = b
    if x1 == x2:
        if (y1 + y2) % P == 0:
            return None
        lam = 3 * x1 * x1 * pow(2 * y1, -1, P) % P
    else:
        lam = (y2 - y1) * pow(x2 - x1, -1, P) % P
    x3 = (lam * lam - x1 - x2) % P
    return x3, (lam * (x1 - x3) - y1) % P


def _build_table():
    table, base = [], G
    for _ in range(64):
        row, point = [None], None
        for _ in range(15):
            point = _add(point, base)
            row.append(point)
        table.append(row)
        base = _add(row[15], base)  # 16 * base
    return table


_TABLE = _build_table()


def mul_g(k):
    r = None
    for i in range(64):
        d = (k >> (4 * i)) & 15
        if d:
            r = _add(r, _TABLE[i][d])
    return r


def tagged_hash(tag, msg):
    t = hashlib.sha256(tag.encode()).digest()
    return hashlib.sha256(t + t + msg).digest()


class Key:
    def __init__(self, secret):
        d = int.from_bytes(secret, "big")
        if not 0 < d < N:
            raise ValueError("invalid secret key")
        point = mul_g(d)
        self.pub = point[0].to_bytes(32, "big")
        self.d = d if point[1] % 2 == 0 else N - d

    def sign(self, msg, aux):
        t = (self.d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux), "big")).to_bytes(32, "big")
        k0 = int.from_bytes(tagged_hash("BIP0340/nonce", t + self.pub + msg), "big") % N
        if k0 == 0:
            raise ValueError("nonce is zero")
        r = mul_g(k0)
        k = k0 if r[1] % 2 == 0 else N - k0
        rx = r[0].to_bytes(32, "big")
        e = int.from_bytes(tagged_hash("BIP0340/challenge", rx + self.pub + msg), "big") % N
        return rx + ((k + e * self.d) % N).to_bytes(32, "big")


def txid_of(body):
    return tagged_hash("kontor/tx", body)


def transfer_body(chain_id, sender_pub, nonce, fee, to_pub, asset, amount, memo, expiry=0):
    """A canonical TxBody (docs/protocol.md §5.1) with a Transfer payload."""
    payload = field_bytes(1, to_pub) + field_bytes(2, asset) + field_varint(3, amount) + field_bytes(4, memo)
    return (field_bytes(1, chain_id) + field_bytes(2, sender_pub) + field_varint(3, nonce) + field_varint(4, fee)
            + field_varint(5, expiry) + field_bytes(16, payload))


def envelope(body, signer_pub, signature):
    return field_bytes(1, body) + field_bytes(2, field_bytes(1, signer_pub) + field_bytes(2, signature))


def self_test():
    """The worked example of docs/protocol.md Appendix A.1: txid, signature and envelope."""
    alice = Key((3).to_bytes(32, "big"))
    assert alice.pub.hex() == "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"
    bob = bytes.fromhex("dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8")
    body = transfer_body("kontor-example-1", alice.pub, 0, 1000, bob, "USDC", 250_000_000, "invoice 42", expiry=10)
    assert body.hex() == ("0a106b6f6e746f722d6578616d706c652d311220f9308a019258c31049344f85"
                          "f89d5229b531c845836f99b08601f113bce036f920e807280a8201390a20dd30"
                          "8afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb81204"
                          "555344431880e59a77220a696e766f696365203432"), body.hex()
    txid = txid_of(body)
    assert txid.hex() == "2c1122b4f286af3ef0427e887d8d3c05f273505bcdf3ac346ce8bf54bad0e8e9"
    sig = alice.sign(txid, bytes(32))
    assert sig.hex() == ("88fcdd0bbe0fba26b65f96d64694f10f66f67fddff7d48402111b0f2166d6ffa"
                         "d17a0d0e560cc438a2db90c13d64058ae5f3cdfcacd9a2ae420e66c35786b6d5"), sig.hex()
    assert len(envelope(body, alice.pub, sig)) == 221


# ---------------------------------------------------------------------------------------------
# Raw gRPC (proto/kontor/v1/node.proto), decoded with proto_wire
# ---------------------------------------------------------------------------------------------

TX_PENDING, TX_COMMITTED, TX_REJECTED, TX_UNKNOWN = 1, 2, 3, 4


def error_name(detail_bytes):
    d = fields(detail_bytes or b"")
    return (one(d, 2, b"") or b"?").decode(errors="replace"), (one(d, 4, b"") or b"").decode(errors="replace")


class Api:
    def __init__(self, address):
        self.channel = grpc.insecure_channel(address)

    def _call(self, method, request, timeout=10):
        rpc = self.channel.unary_unary("/kontor.v1.Node/" + method, request_serializer=None, response_deserializer=None)
        return fields(rpc(request, timeout=timeout))

    def status(self):
        s = self._call("GetStatus", b"")
        return {"chain_id": one(s, 1, b"").decode(), "height": one(s, 2, 0), "hash": one(s, 3, b""),
                "state_root": one(s, 9, b""), "validator": one(s, 12, b""), "fee_asset": one(s, 13, b"").decode(),
                "min_fee": one(s, 14, 0), "mempool_txs": one(s, 10, 0)}

    def account(self, key):
        a = self._call("GetAccount", field_bytes(1, key))
        balances = {}
        for raw in a.get(4, []):
            b = fields(raw)
            balances[one(b, 1, b"").decode()] = one(b, 2, 0)
        return {"nonce": one(a, 3, 0), "next_nonce": one(a, 7, 0), "height": one(a, 5, 0), "balances": balances}

    def get_tx(self, txid, timeout=10):
        t = self._call("GetTx", field_bytes(1, txid), timeout=timeout)
        return one(t, 2, 0), one(t, 3, 0), one(t, 5, b"")

    def list_assets(self):
        out = {}
        for raw in self._call("ListAssets", b"").get(1, []):
            a = fields(raw)
            out[one(a, 1, b"").decode()] = one(a, 9, 0)
        return out

    def submit(self, env, timeout=10):
        """[(txid or None, error name or None, message)] for one envelope, via SubmitTx."""
        try:
            r = self._call("SubmitTx", field_bytes(1, env), timeout=timeout)
            return [(one(r, 1), None, "")]
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.CANCELLED) \
                    and not dict(e.trailing_metadata() or ()).get("grpc-status-details-bin"):
                raise  # the node is gone (or going): not a rejection
            raw = dict(e.trailing_metadata() or ()).get("grpc-status-details-bin")
            name, msg = error_name(raw) if raw else (str(e.code()), e.details() or "")
            return [(None, name, msg)]

    def submit_batch(self, envs, timeout=10):
        rpc = self.channel.stream_unary("/kontor.v1.Node/SubmitTxBatch", request_serializer=None, response_deserializer=None)
        r = fields(rpc(iter([field_bytes(1, e) for e in envs]), timeout=timeout))
        out = []
        for raw in r.get(1, []):
            res = fields(raw)
            if 2 in res:
                name, msg = error_name(one(res, 2))
                out.append((one(res, 1), name, msg))
            else:
                out.append((one(res, 1), None, ""))
        return out

    def stream_blocks(self, from_height, timeout=None):
        """A call object: iterate it for BlockEvent field dicts, cancel() it to stop."""
        rpc = self.channel.unary_stream("/kontor.v1.Node/StreamBlocks", request_serializer=None, response_deserializer=None)
        return rpc(field_varint(1, from_height), timeout=timeout)

    def close(self):
        self.channel.close()


def event_of(raw):
    e = fields(raw)
    return one(e, 1, 0), one(e, 2, b""), e.get(5, []), one(e, 6, b"")


# ---------------------------------------------------------------------------------------------
# The campaign
# ---------------------------------------------------------------------------------------------


class Failure(Exception):
    pass


class Sender:
    def __init__(self, name, key, assets):
        self.name, self.key, self.assets = name, key, assets
        self.next_nonce = 0
        self.inflight = collections.deque()  # txids submitted this cycle, not yet seen committed, nonce order


class TxRecord:
    __slots__ = ("sender", "nonce", "to", "asset", "amount", "fee", "cycle")

    def __init__(self, sender, nonce, to, asset, amount, fee, cycle):
        self.sender, self.nonce, self.to, self.asset, self.amount, self.fee, self.cycle = \
            sender, nonce, to, asset, amount, fee, cycle


def hms(seconds):
    return str(datetime.timedelta(seconds=int(seconds)))


class Campaign:
    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.txs = {}            # txid -> TxRecord: every tx this script signed
        self.acked = {}          # txid -> (height, block hash, how, cycle): acknowledged as committed
        self.acked_blocks = {}   # height -> block hash, from StreamBlocks events
        self.acked_by_cycle = collections.defaultdict(list)
        self.failures = []
        self.cycle = 0
        self.tx_checks = 0       # (txid, height, hash) comparisons made, all cycles
        self.gettx_checks = 0
        self.max_height = 0
        self.replays = 0
        self.last_replay = None
        self.rejections = collections.Counter()
        self.stalls = 0
        self.restarts_above = 0   # restarts whose tip was above the last acknowledged block
        self.node = None
        self.log_offset = self.prev_log_offset = 0
        self.t0 = time.time()
        self.final = None
        self.cycle_stats = {}

    # -- acknowledgements (any thread)
    def fail(self, message):
        with self.lock:
            self.failures.append("cycle %d: %s" % (self.cycle, message))

    def ack_block(self, height, block_hash, txids):
        with self.lock:
            known = self.acked_blocks.get(height)
            if known is not None and known != block_hash:
                self.failures.append("cycle %d: StreamBlocks reported block %d as %s, earlier as %s"
                                     % (self.cycle, height, block_hash.hex(), known.hex()))
            self.acked_blocks[height] = block_hash
            for txid in txids:
                self._ack(txid, height, block_hash, "StreamBlocks")

    def ack_tx(self, txid, height, block_hash):
        with self.lock:
            self._ack(txid, height, block_hash, "GetTx")

    def _ack(self, txid, height, block_hash, how):
        if txid not in self.txs:
            self.failures.append("cycle %d: %s reported a tx this campaign never signed as committed: %s at height %d"
                                 % (self.cycle, how, txid.hex(), height))
            return
        known = self.acked.get(txid)
        if known is None:
            self.acked[txid] = (height, block_hash, how, self.cycle)
            self.acked_by_cycle[self.cycle].append(txid)
            self.max_height = max(self.max_height, height)
        elif known[:2] != (height, block_hash):
            self.failures.append("cycle %d: %s reported tx %s committed at height %d in block %s; it was acknowledged "
                                 "in cycle %d (by %s) at height %d in block %s"
                                 % (self.cycle, how, txid.hex(), height, block_hash.hex(), known[3], known[2], known[0],
                                    known[1].hex()))

    # -- node control
    def log_tail(self, lines=40, previous_run=False):
        try:
            with open(self.node.log_path, errors="replace") as f:
                if previous_run:
                    f.seek(self.prev_log_offset)
                    text = f.read(max(0, self.log_offset - self.prev_log_offset))
                else:
                    f.seek(self.log_offset)
                    text = f.read()
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def start_node(self):
        self.prev_log_offset = self.log_offset
        self.log_offset = os.path.getsize(self.node.log_path) if os.path.exists(self.node.log_path) else 0
        started = time.time()
        try:
            self.node.start()
        except RuntimeError as e:
            self.node.proc = None
            raise Failure("kontord did not start after the crash (a refused or failed restart):\n%s" % e)
        return time.time() - started

    # -- setup
    def setup(self):
        a = self.args
        self.node = kontor_harness.Node(block_interval_ms=a.block_interval_ms, home=self.home)
        self.start_node()
        api = Api(self.node.grpc)
        try:
            st = api.status()
            self.chain_id, self.fee_asset, self.min_fee = st["chain_id"], st["fee_asset"], st["min_fee"]
            self.validator = st["validator"]
            if st["height"] != 0:
                raise Failure("a fresh dev home is at height %d" % st["height"])
            self.senders = []
            for name in ("alice", "bob", "carol", "gateway"):
                with open(os.path.join(self.home, "keyring-test", name + ".json")) as f:
                    key = Key(bytes.fromhex(json.load(f)["secret"]))
                shown = self.node.cli_json("keys", "show", name, node=False)
                if shown["public_key"] != key.pub.hex():
                    raise Failure("key %s: public key %s here, %s from kontor keys show"
                                  % (name, key.pub.hex(), shown["public_key"]))
                self.senders.append(Sender(name, key, ["KTR"] if name == "gateway" else ["USDC", "USDT", "KTR"]))
            seed_rng = random.Random(self.args.seed * 7919 + 1)
            for i in range(a.extra_senders):
                self.senders.append(Sender("fresh%d" % i, Key(seed_rng.randbytes(31) + b"\x01"), ["USDC", "KTR"]))
            # Receivers that never send: new accounts on the chain.
            self.sinks = [Key(seed_rng.randbytes(31) + b"\x02").pub for _ in range(4)]
            self.accounts = [s.key.pub for s in self.senders] + self.sinks + [self.validator]
            self.names = {s.key.pub: s.name for s in self.senders}
            self.names.update({k: "sink%d" % i for i, k in enumerate(self.sinks)})
            self.names[self.validator] = "validator"
            self.genesis_balances = {k: dict(api.account(k)["balances"]) for k in self.accounts}
            supply = api.list_assets()
            held = collections.Counter()
            for bal in self.genesis_balances.values():
                held.update(bal)
            self.supply_known = all(held.get(asset, 0) == amount for asset, amount in supply.items())
            if not self.supply_known:
                print("note: the genesis funds accounts this script does not know; the supply check is skipped", flush=True)
            # Fund the fresh senders from alice and wait until that is committed.
            alice = self.senders[0]
            funding = []
            for s in self.senders[4:]:
                for asset in s.assets:
                    funding.append(self.sign(alice, s.key.pub, asset, 1_000_000_000))
            if funding:
                for txid, name, msg in api.submit_batch([e for e, _ in funding]):
                    if name:
                        raise Failure("funding tx refused: %s: %s" % (name, msg))
                self.wait_committed(api, [t for _, t in funding], 30)
        finally:
            api.close()

    def sign(self, sender, to, asset, amount):
        nonce = sender.next_nonce
        memo = "crash c%d %s n%d" % (self.cycle, sender.name, nonce)
        body = transfer_body(self.chain_id, sender.key.pub, nonce, self.min_fee, to, asset, amount, memo)
        txid = txid_of(body)
        env = envelope(body, sender.key.pub, sender.key.sign(txid, os.urandom(32)))
        with self.lock:
            self.txs[txid] = TxRecord(sender.key.pub, nonce, to, asset, amount, self.min_fee, self.cycle)
        sender.next_nonce += 1
        return env, txid

    def wait_committed(self, api, txids, timeout):
        deadline = time.time() + timeout
        for txid in txids:
            while True:
                status, height, block_hash = api.get_tx(txid)
                if status == TX_COMMITTED:
                    self.ack_tx(txid, height, block_hash)
                    break
                if status == TX_REJECTED or time.time() > deadline:
                    raise Failure("tx %s was not committed within %d s (status %d): the node hangs?\n%s"
                                  % (txid.hex(), timeout, status, self.log_tail()))
                time.sleep(0.02)

    # -- verification of a running node
    def verify(self, api, all_gettx=False, replay=None):
        """Checks the running node against everything acknowledged so far; returns a summary."""
        for attempt in range(5):
            result = self._verify_once(api, all_gettx, replay)
            if result is not None:
                return result
            time.sleep(0.2)
        raise Failure("the node's height kept moving during verification (no load was running)")

    def _verify_once(self, api, all_gettx, replay):
        problems = []
        st = api.status()
        tip = st["height"]
        with self.lock:
            acked = dict(self.acked)
            acked_blocks = dict(self.acked_blocks)
        top = max(acked_blocks) if acked_blocks else 0
        top = max([top] + [h for h, _, _, _ in acked.values()])
        if tip < top:
            problems.append("the height went backwards: the node restarted at height %d, but height %d was "
                            "acknowledged as committed" % (tip, top))
        # The whole chain, from height 1: every block's hash and txids.
        chain = {}       # txid -> (height, hash, index)
        order = []       # txids in chain order
        hashes = {}
        last_root = None
        if tip > 0:
            call = api.stream_blocks(1, timeout=120)
            try:
                expected = 1
                for raw in call:
                    height, block_hash, txids, state_root = event_of(raw)
                    if height != expected:
                        problems.append("StreamBlocks from 1 sent height %d where %d was expected" % (height, expected))
                        break
                    hashes[height] = block_hash
                    for i, txid in enumerate(txids):
                        if txid in chain:
                            problems.append("tx %s is committed twice: heights %d and %d"
                                            % (txid.hex(), chain[txid][0], height))
                        chain[txid] = (height, block_hash, i)
                        order.append(txid)
                    last_root = state_root if height == tip else last_root
                    if height >= tip:
                        break
                    expected += 1
            finally:
                call.cancel()
            if len(hashes) < tip:
                problems.append("StreamBlocks from 1 ended at height %d; the tip is %d" % (len(hashes), tip))
            if hashes.get(tip) != st["hash"]:
                problems.append("GetStatus says the tip %d is %s, StreamBlocks %s"
                                % (tip, st["hash"].hex(), hashes.get(tip, b"").hex()))
        if tip > 0 and last_root != st["state_root"]:
            problems.append("the tip's state root in StreamBlocks is not GetStatus' state root")
        bad_blocks = [h for h, block_hash in sorted(acked_blocks.items()) if hashes.get(h) != block_hash]
        for height in bad_blocks[:5]:
            problems.append("block %d was acknowledged as %s but the node now has %s there"
                            % (height, acked_blocks[height].hex(),
                               hashes[height].hex() if height in hashes else "no block"))
        if len(bad_blocks) > 5:
            problems.append("... %d acknowledged blocks missing or different in all (heights %d..%d)"
                            % (len(bad_blocks), bad_blocks[0], bad_blocks[-1]))
        lost, shown = 0, 10
        for txid, (height, block_hash, how, cycle) in acked.items():
            got = chain.get(txid)
            if got is None or got[:2] != (height, block_hash):
                lost += 1
                if lost <= shown:
                    problems.append("tx %s, acknowledged committed (%s, cycle %d) at height %d in block %s, is %s"
                                    % (txid.hex(), how, cycle, height, block_hash.hex(),
                                       "lost" if got is None else "at height %d in block %s" % (got[0], got[1].hex())))
        if lost > shown:
            problems.append("... %d acknowledged txs lost or moved in all" % lost)
        # Re-execute the chain here and compare every known account.
        balances = {k: collections.Counter(v) for k, v in self.genesis_balances.items()}
        nonces = collections.Counter()
        with self.lock:
            records = {txid: self.txs.get(txid) for txid in order}
        for txid in order:
            rec = records[txid]
            if rec is None:
                problems.append("the chain holds tx %s at height %d, which this campaign never signed"
                                % (txid.hex(), chain[txid][0]))
                continue
            if rec.nonce != nonces[rec.sender]:
                problems.append("tx %s at height %d has nonce %d of %s where %d was next"
                                % (txid.hex(), chain[txid][0], rec.nonce, self.names[rec.sender], nonces[rec.sender]))
            nonces[rec.sender] = rec.nonce + 1
            balances[rec.sender][self.fee_asset] -= rec.fee
            balances[self.validator][self.fee_asset] += rec.fee
            balances[rec.sender][rec.asset] -= rec.amount
            balances[rec.to][rec.asset] += rec.amount
        for key in self.accounts:
            acct = api.account(key)
            if acct["height"] != tip:
                return None  # a block came meanwhile (e.g. a heartbeat): once more
            # The validator's expected balance is its genesis balance plus every fee in the chain.
            want = {a: v for a, v in balances[key].items() if v != 0}
            if acct["balances"] != want:
                problems.append("account %s holds %s; re-executing the chain gives %s"
                                % (self.names[key], acct["balances"], want))
            if key != self.validator and acct["nonce"] != nonces[key]:
                problems.append("account %s has nonce %d; the chain holds %d of its txs"
                                % (self.names[key], acct["nonce"], nonces[key]))
        if self.supply_known:
            held = collections.Counter()
            for key in self.accounts:
                held.update(balances[key])
            for asset, outstanding in api.list_assets().items():
                if held.get(asset, 0) != outstanding:
                    problems.append("asset %s: accounts hold %d, ListAssets says %d outstanding"
                                    % (asset, held.get(asset, 0), outstanding))
        if replay is not None:
            if replay["verified_height"] != tip or replay["state_root"] != st["state_root"].hex():
                problems.append("audit replay of the stopped store ended at height %d, root %s; the node restarted at "
                                "height %d, root %s"
                                % (replay["verified_height"], replay["state_root"], tip, st["state_root"].hex()))
        # GetTx (the tx index): the previous cycle's acknowledgements, and a sample of older ones.
        if all_gettx:
            sample = list(acked)
        else:
            recent = set(self.acked_by_cycle.get(self.cycle - 1, [])) | set(self.acked_by_cycle.get(self.cycle, []))
            older = [t for t in acked if t not in recent]
            sample = [t for t in recent if t in acked] + self.rng.sample(older, min(len(older), self.args.gettx_sample))
        bad_gettx = 0
        for txid in sample:
            height, block_hash, how, cycle = acked[txid]
            status, h, bh = api.get_tx(txid)
            if (status, h, bh) != (TX_COMMITTED, height, block_hash):
                bad_gettx += 1
                if bad_gettx > 5:
                    continue
                problems.append("GetTx %s: status %d height %d block %s; acknowledged committed (%s, cycle %d) at %d in %s"
                                % (txid.hex(), status, h, bh.hex(), how, cycle, height, block_hash.hex()))
        if bad_gettx > 5:
            problems.append("... GetTx disagrees for %d of the %d acknowledged txs asked" % (bad_gettx, len(sample)))
        with self.lock:
            self.tx_checks += len(acked)
            self.gettx_checks += len(sample)
        if problems:
            raise Failure("after the restart:\n  " + "\n  ".join(problems[:40]))
        committed = {}
        for s in self.senders:
            committed[s.key.pub] = nonces[s.key.pub]
        return {"tip": tip, "chain_txs": len(order), "acked": len(acked), "gettx": len(sample),
                "above": tip - top, "nonces": committed}

    # -- load
    def submitter(self, sender, api, stop, budget, rng):
        a = self.args
        try:
            while not stop.is_set():
                # Flow control: at most --inflight txs not yet seen committed; poll GetTx for the oldest.
                waited = time.time()
                while len(sender.inflight) >= a.inflight and not stop.is_set():
                    with self.lock:
                        while sender.inflight and sender.inflight[0] in self.acked:
                            sender.inflight.popleft()
                    if len(sender.inflight) < a.inflight:
                        break
                    status, height, block_hash = api.get_tx(sender.inflight[0], timeout=5)
                    if status == TX_COMMITTED:
                        self.ack_tx(sender.inflight[0], height, block_hash)
                    elif status in (TX_REJECTED, TX_UNKNOWN):
                        # Dropped (it should not be): continue from what the node expects.
                        with self.lock:
                            self.rejections["dropped"] += 1
                        sender.inflight.clear()
                        sender.next_nonce = api.account(sender.key.pub)["next_nonce"]
                    else:
                        if time.time() - waited > 15:
                            self.stalls += 1
                            self.fail("%s's tx %s has been pending for 15 s: the node stopped committing?\n%s"
                                      % (sender.name, sender.inflight[0].hex(), self.log_tail(20)))
                            return
                        time.sleep(0.01)
                if stop.is_set() or budget[0] <= 0:
                    return
                n = min(rng.randint(1, a.batch_max), budget[0])
                budget[0] -= n
                batch = []
                for _ in range(n):
                    to = rng.choice([k for k in self.accounts if k != sender.key.pub and k != self.validator])
                    batch.append(self.sign(sender, to, rng.choice(sender.assets), rng.randint(1, 10_000)))
                envs = [e for e, _ in batch]
                results = api.submit(envs[0]) if n == 1 and rng.random() < 0.5 else api.submit_batch(envs)
                accepted = 0
                for (env, txid), (got, name, msg) in zip(batch, results):
                    if name is None:
                        sender.inflight.append(txid)
                        accepted += 1
                    else:
                        with self.lock:
                            self.rejections[name] += 1
                        if name in ("bad_signature", "malformed", "non_canonical", "wrong_chain"):
                            self.fail("the node refused a tx signed here: %s: %s" % (name, msg))
                if accepted < n:
                    # A rejection: continue from the nonce the node expects next.
                    sender.next_nonce = api.account(sender.key.pub)["next_nonce"]
                    with self.lock:
                        self.cycle_stats["submitted"] = self.cycle_stats.get("submitted", 0) + accepted
                    time.sleep(0.05)
                    continue
                with self.lock:
                    self.cycle_stats["submitted"] = self.cycle_stats.get("submitted", 0) + accepted
        except grpc.RpcError as e:
            if not stop.is_set() and self.node.proc is not None and self.node.proc.poll() is not None:
                return  # the main loop reports a node that died by itself
            if not stop.is_set():
                self.fail("%s: gRPC error during the load: %s %s" % (sender.name, e.code(), e.details()))

    def watcher(self, call):
        try:
            for raw in call:
                height, block_hash, txids, _ = event_of(raw)
                self.ack_block(height, block_hash, txids)
        except grpc.RpcError:
            pass  # the node was killed, or the stream cancelled

    def run_cycle(self, api):
        a = self.args
        stats = self.cycle_stats = {"submitted": 0}
        st = api.status()
        for s in self.senders:
            s.inflight.clear()
            s.next_nonce = api.account(s.key.pub)["next_nonce"]
        # Liveness: one tx committed before the load (the node commits after its restart).
        probe = self.senders[self.cycle % len(self.senders)]
        env, txid = self.sign(probe, self.sinks[0], "KTR", 1)
        for _, name, msg in api.submit_batch([env]):
            if name:
                raise Failure("the probe tx was refused: %s: %s" % (name, msg))
        self.wait_committed(api, [txid], 30)
        stream = api.stream_blocks(api.status()["height"] + 1)
        watch = threading.Thread(target=self.watcher, args=(stream,), daemon=True)
        watch.start()
        stop = threading.Event()
        budget = [a.txs_per_cycle]
        threads = [threading.Thread(target=self.submitter, args=(s, api, stop, budget, random.Random(self.rng.random())),
                                    daemon=True) for s in self.senders]
        delay = self.rng.uniform(a.min_ms, a.max_ms) / 1000.0
        started = time.time()
        for t in threads:
            t.start()
        acked_before = len(self.acked)
        reason = "delay"
        while time.time() - started < delay:
            if budget[0] <= 0:
                reason = "budget"
                break
            if self.node.proc.poll() is not None:
                raise self.died()
            if self.failures:
                break
            time.sleep(0.005)
        if self.node.proc.poll() is not None:
            raise self.died()
        with self.lock:
            pending = sum(1 for s in self.senders for t in s.inflight if t not in self.acked)
        killed_at = time.time() - started
        # stop first: submitters look at it only between submissions, so the ones under way are
        # cut by the kill, and their errors are expected from here on.
        stop.set()
        self.node.kill9()
        stream.cancel()
        for t in threads:
            t.join(timeout=30)
            if t.is_alive():
                raise Failure("a submitter did not finish within 30 s of the kill")
        watch.join(timeout=30)
        return {"killed_at": killed_at, "reason": reason, "submitted": stats["submitted"],
                "acked": len(self.acked) - acked_before, "inflight": pending, "height_before": st["height"]}

    def inject_rollback(self, cycle):
        """Self-check of the campaign: the stopped store (data/ and tip.json together) of the cycle
        before --inject-rollback-at is put back after that cycle's kill, as a disk that lost synced
        writes would. The node cannot tell and starts; the next verification must fail."""
        saved = os.path.join(os.path.dirname(self.home), "rollback-copy")
        if cycle == self.args.inject_rollback_at - 1:
            shutil.rmtree(saved, ignore_errors=True)
            os.makedirs(saved)
            shutil.copytree(os.path.join(self.home, "data"), os.path.join(saved, "data"))
            shutil.copy2(os.path.join(self.home, "tip.json"), saved)
        elif cycle == self.args.inject_rollback_at:
            shutil.rmtree(os.path.join(self.home, "data"))
            shutil.copytree(os.path.join(saved, "data"), os.path.join(self.home, "data"))
            shutil.copy2(os.path.join(saved, "tip.json"), self.home)
            print("(injected: the store and tip.json of cycle %d put back)" % (cycle - 1), flush=True)

    def died(self):
        return Failure("kontord exited by itself (status %s) during the load:\n%s"
                       % (self.node.proc.returncode, self.log_tail()))

    def replay(self):
        started = time.time()
        r = self.node.cli("audit", "replay", "--node-home", self.home, output="json", node=False, check=False, timeout=1800)
        try:
            doc = json.loads(r.out)
        except ValueError:
            raise Failure("kontor audit replay failed (%d) and printed no JSON:\n%s%s" % (r.rc, r.out, r.err))
        if r.rc != 0 or not doc.get("ok"):
            raise Failure("kontor audit replay of the stopped store failed:\n%s%s" % (r.out, r.err))
        doc["elapsed"] = time.time() - started
        self.replays += 1
        return doc

    def run(self):
        a = self.args
        t0 = self.t0 = time.time()
        self.cycle = 1
        self.setup()
        replay = None
        for cycle in range(1, a.cycles + 1):
            self.cycle = cycle
            line = "[%3d/%d %s]" % (cycle, a.cycles, hms(time.time() - t0))
            if cycle > 1:
                line += " start %.2fs" % self.start_node()
            api = Api(self.node.grpc)
            try:
                verify_started = time.time()
                v = self.verify(api, replay=replay) if cycle > 1 else None
                if v:
                    if v["above"] > 0:
                        self.restarts_above += 1
                        line += (" | tip %d (+%d past the last ack): %d acked txs at their heights, %d via GetTx, "
                             "balances ok (%.1fs)") % (
                        v["tip"], v["above"], v["acked"], v["gettx"], time.time() - verify_started)
                c = self.run_cycle(api)
            finally:
                api.close()
            if self.failures:
                raise Failure("\n".join(self.failures))
            line += " | load: kill -9 at %.2fs (%s), %d accepted, %d acked, %d in flight, max height %d" % (
                c["killed_at"], c["reason"], c["submitted"], c["acked"], c["inflight"], self.max_height)
            if a.inject_rollback_at:
                self.inject_rollback(cycle)
            replay = None
            if cycle % a.audit_every == 0 or cycle == a.cycles:
                replay = self.replay()
                if replay["verified_height"] < self.max_height:
                    raise Failure("audit replay verified the store to height %d, below the acknowledged height %d"
                                  % (replay["verified_height"], self.max_height))
                line += " | audit replay ok to %d (%.1fs)" % (replay["verified_height"], replay["elapsed"])
            print(line, flush=True)
        # Final: restart, verify every acknowledged txid through GetTx too, stop cleanly, replay.
        self.cycle = a.cycles + 1
        line = "[final %s] start %.2fs" % (hms(time.time() - t0), self.start_node())
        api = Api(self.node.grpc)
        try:
            v = self.verify(api, all_gettx=True, replay=replay)
            head = api.status()
        finally:
            api.close()
        rc = self.node.stop()
        if rc != 0 or "stopped cleanly at height %d" % head["height"] not in self.log_tail(5):
            raise Failure("kontord did not stop cleanly on SIGTERM (status %s):\n%s" % (rc, self.log_tail()))
        final = self.replay()
        if final["verified_height"] != head["height"] or final["state_root"] != head["state_root"].hex():
            raise Failure("the final audit replay ended at height %d root %s; the node stopped at %d root %s"
                          % (final["verified_height"], final["state_root"], head["height"], head["state_root"].hex()))
        line += (" | tip %d, %d acked txs at their heights, all %d via GetTx, stopped cleanly, "
                 "audit replay ok (%d txs, %.1fs)") % (
            v["tip"], v["acked"], v["gettx"], final["txs"], final["elapsed"])
        print(line, flush=True)
        self.final = v


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="crash-campaign.py",
        description=__doc__.split("\nExample")[0],
        epilog="Short form (CI, about 6 cycles): tests/functional/test_crash_campaign.py. Long form: "
               "`nice tools/crash-campaign.py --cycles 50` (results in docs/reliability.md).",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cycles", type=int, default=50, metavar="N", help="kill -9 cycles (default 50)")
    p.add_argument("--seed", type=int, default=None,
                   help="random seed for kill delays, the load's shape and the fresh keys (default: from the clock; "
                        "printed, but thread timing makes no two runs alike)")
    p.add_argument("--build-dir", default=os.environ.get("KONTOR_BUILD_DIR", os.path.join(REPO, "build")), metavar="DIR",
                   help="build directory holding node/kontord and tools/kontor (default: $KONTOR_BUILD_DIR, else "
                        "./build); both are copied first, so a rebuild during the run does not affect it")
    p.add_argument("--keep-home", action="store_true",
                   help="keep the node home (with kontord.log of every run) after a successful run; it is always "
                        "kept after a failure")
    p.add_argument("--home", metavar="DIR", help="initialise the node home here (it must not exist) instead of in a "
                   "temporary directory")
    p.add_argument("--txs-per-cycle", type=int, default=3000, metavar="N",
                   help="most txs submitted per cycle; when all are submitted before the kill delay, the node is "
                        "killed at once, with them in flight (default 3000)")
    p.add_argument("--min-ms", type=int, default=300, metavar="MS",
                   help="shortest delay from the start of the load to the kill (default 300)")
    p.add_argument("--max-ms", type=int, default=3000, metavar="MS",
                   help="longest delay from the start of the load to the kill (default 3000)")
    p.add_argument("--audit-every", type=int, default=5, metavar="N",
                   help="run `kontor audit replay` on the stopped store every N cycles, and after the last (default 5)")
    p.add_argument("--extra-senders", type=int, default=2, metavar="N",
                   help="fresh keys funded by alice that send too, besides alice, bob, carol and gateway (default 2)")
    p.add_argument("--inflight", type=int, default=96, metavar="N",
                   help="most txs per sender submitted but not yet seen committed (default 96; the node's "
                        "per-account window is 256)")
    p.add_argument("--batch-max", type=int, default=24, metavar="N",
                   help="most txs per submission: a SubmitTxBatch stream, or for one tx SubmitTx half the time "
                        "(default 24)")
    p.add_argument("--block-interval-ms", type=int, default=100, metavar="MS",
                   help="block interval of the dev node (default 100)")
    p.add_argument("--gettx-sample", type=int, default=200, metavar="N",
                   help="older acknowledged txs also checked with GetTx after each restart, besides the previous "
                        "cycle's (default 200; the whole chain is streamed and compared every time, and every "
                        "acknowledged tx goes through GetTx after the last cycle)")
    p.add_argument("--inject-rollback-at", type=int, default=0, metavar="C",
                   help="self-check of this script: after cycle C's kill, put back the store and tip.json saved "
                        "after cycle C-1's, as a disk that lost synced writes would; the campaign must then fail "
                        "(needs 2 <= C < --cycles)")
    a = p.parse_args(argv)
    if a.cycles < 1 or a.min_ms < 0 or a.max_ms < a.min_ms or a.txs_per_cycle < 1 or a.audit_every < 1 \
            or a.extra_senders < 0 or a.inflight < 1 or not 1 <= a.batch_max <= 200 \
            or (a.inject_rollback_at and not 2 <= a.inject_rollback_at < a.cycles):
        p.error("need --cycles >= 1, 0 <= --min-ms <= --max-ms, --txs-per-cycle >= 1, --audit-every >= 1, "
                "--inflight >= 1, 1 <= --batch-max <= 200, 2 <= --inject-rollback-at < --cycles")
    if a.seed is None:
        a.seed = int(time.time() * 1000) % 1_000_000_007
    return a


def main(argv=None):
    global grpc
    args = parse_args(argv if argv is not None else sys.argv[1:])
    import grpc as grpc_module
    grpc = grpc_module
    self_test()
    # $KONTORD / $KONTOR override one program, as in the functional harness (tools/sanitize.sh).
    kontord = os.environ.get("KONTORD") or os.path.join(args.build_dir, "node", "kontord")
    kontor = os.environ.get("KONTOR") or os.path.join(args.build_dir, "tools", "kontor")
    for path in (kontord, kontor):
        if not os.access(path, os.X_OK):
            print("crash-campaign: %s is missing (build first, or pass --build-dir)" % path, file=sys.stderr)
            return 2
    if args.home:
        if os.path.exists(args.home):
            print("crash-campaign: --home %s exists" % args.home, file=sys.stderr)
            return 2
        home = os.path.abspath(args.home)
        work = tempfile.mkdtemp(prefix="kontor-crash-bin-")
    else:
        work = tempfile.mkdtemp(prefix="kontor-crash-")
        home = os.path.join(work, "home")
    # A copy of the binaries: a rebuild during a long run must not change them under the campaign.
    bindir = os.path.join(work, "bin")
    os.makedirs(bindir, exist_ok=True)
    kontor_harness.KONTORD = shutil.copy2(kontord, os.path.join(bindir, "kontord"))
    kontor_harness.KONTOR = shutil.copy2(kontor, os.path.join(bindir, "kontor"))
    campaign = Campaign(args)
    campaign.home = home
    print("crash campaign: %d cycles, seed %d, kill after %d..%d ms of load, up to %d txs per cycle, %d senders, "
          "block interval %d ms, audit replay every %d cycles; home %s; binaries from %s (built %s)"
          % (args.cycles, args.seed, args.min_ms, args.max_ms, args.txs_per_cycle, 4 + args.extra_senders,
             args.block_interval_ms, args.audit_every, home, os.path.abspath(args.build_dir),
             time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(kontord)))), flush=True)
    ok = False
    interrupted = False

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt  # so that the node is killed and the summary printed

    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        campaign.run()
        ok = True
    except Failure as e:
        campaign.failures.append(str(e))
    except KeyboardInterrupt:
        interrupted = True
        campaign.failures.append("interrupted")
    except Exception as e:  # a bug here, or an unexpected answer: report it as a failure, with the log
        import traceback
        campaign.failures.append("unexpected error: %r\n%s" % (e, traceback.format_exc()))
    finally:
        node = campaign.node
        if node is not None and node.proc is not None and node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()
    done = campaign.cycle - 1 if not ok else args.cycles
    acked = len(campaign.acked)
    checked = campaign.final["acked"] if ok else 0
    print("crash campaign %s: cycles %d, txs acknowledged committed %d, txs checked %d (every one after the last "
          "restart; %d tx checks and %d GetTx checks over all restarts), max height %d, audit replays %d, "
          "restarts above the last ack %d, rejections %s, time %s, failures %d, seed %d"
          % ("PASSED" if ok else "FAILED", done, acked, checked, campaign.tx_checks, campaign.gettx_checks,
             campaign.max_height, campaign.replays, campaign.restarts_above, dict(campaign.rejections) or "none",
             hms(time.time() - campaign.t0), 0 if ok else len(campaign.failures), args.seed), flush=True)
    if not ok:
        print("\nFAILURE in cycle %d:\n%s" % (campaign.cycle, "\n".join(campaign.failures)), file=sys.stderr)
        if campaign.node is not None and not interrupted and os.path.exists(campaign.node.log_path):
            if campaign.log_offset > 0:
                print("\nkontord log, the run before (killed), last lines:\n%s" % campaign.log_tail(25, previous_run=True),
                      file=sys.stderr)
            print("\nkontord log, the last run, last lines (the whole log is %s):\n%s"
                  % (campaign.node.log_path, campaign.log_tail(60)), file=sys.stderr)
        print("\nthe node home is kept for inspection: %s" % home, file=sys.stderr)
        return 130 if interrupted else 1
    if args.keep_home:
        print("node home kept: %s" % home)
    else:
        shutil.rmtree(home, ignore_errors=True)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
