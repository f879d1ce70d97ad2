"""Independent check of the worked examples in docs/protocol.md against its own rules.

Pure Python, standard library only (hashlib): the tagged hash (§2.1), a hand-written canonical
protobuf encoder/decoder (§3) for the handful of kontor.v1 messages involved, BIP-340 Schnorr
verification written from the BIP-340 specification (secp256k1 affine arithmetic, lift_x,
tagged challenge hash) and BIP-350 bech32m address decoding (§4.1). Nothing here calls Kontor code
or a protobuf/crypto library, so it is a second implementation of the rules, not a replay of them.

It reads docs/protocol.md at test time (failing with DocError when a section, code block or
labelled value it needs is missing or malformed) and checks:
  - BIP-340: every row of the BIP-340 vector CSV (TRUE and FALSE rows must come out as listed;
    rows with a secret key also through Sign), so the verifier is itself shown correct;
  - §2.2/§2.3: SHA256(tag) for the tags used here, TH("kontor/tx", ""), SHA256("");
  - §3: the hand-written codec accepts/rejects what the canonical rules say (self-check);
  - §6.5 / Appendix A keys: the genesis file bytes and size, genesis hash, validators data and hash
    (the validator key taken from its bech32m address), the parties' addresses and keys;
  - Appendix A state tables: state keys (§7.2), decoded values, genesis state root and block 1's
    state root (§7.4) against the A.1 header;
  - §9.5: enc(Vote) (built from the rules and decoded), vote_message, the BIP-340 signature under
    the Appendix A validator key, enc(Commit) (decoded, re-encoded, verified as §9.4 says),
    commit_hash;
  - §9.6: the BFT-time statements of its example paragraph (weighted median of each certificate);
  - A.1: txid of the §3.2 body, Alice's signature, the envelope, tx leaf and tx_root; the header
    lines (concatenation, size, decoded fields: chain id, height 1, time = genesis time, prev_hash =
    genesis hash, tx_root, state_root, validators_hash, proposer, zero last_commit_hash, tx_count);
    block_hash; commit_hash = §9.5's;
  - A.2: last_commit (canonical, §9.4-valid for block 1 with its own timestamp), last_commit_hash,
    header (height 2, prev_hash = block 1's hash, tx_root = SHA256(""), unchanged state_root,
    time_ms = BFT median of last_commit > block 1's time), block_hash, enc(Commit) of block 2
    (§9.4), commit_hash;
  - §4: every example signature is BIP-340 Sign with aux_rand = 32 zero bytes, as §4 states;
  - that single-bit changes to a signature, a message, a height, a chain id or a timestamp make
    the checks fail (so a pass is not vacuous).

Run: cd tests/property && /usr/bin/python3 -m pytest -q verify_protocol_examples.py
Environment: KONTOR_PROTOCOL_MD (default docs/protocol.md), KONTOR_BIP340_CSV (default: the first
of tests/data/bip340-test-vectors.csv and /work/shared/vectors/bip340-test-vectors.csv that exists).
"""
import csv
import hashlib
import json
import os
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROTOCOL_MD = pathlib.Path(os.environ.get("KONTOR_PROTOCOL_MD", ROOT / "docs" / "protocol.md"))
# The repository's copy (tests/data/VECTORS.md says where it comes from); the shared checked copy
# only where a checkout lacks it.
BIP340_CANDIDATES = [
    ROOT / "tests" / "data" / "bip340-test-vectors.csv",
    pathlib.Path("/work/shared/vectors/bip340-test-vectors.csv"),
]

VOTE_TYPE_PRECOMMIT = 2


class DocError(AssertionError):
    """protocol.md does not have the shape this verifier expects (a section, block or field is missing)."""


# --------------------------------------------------------------------------------------------
# §2.1 tagged hash
# --------------------------------------------------------------------------------------------


def sha256(data):
    return hashlib.sha256(data).digest()


def tagged_hash(tag, data):
    """TH(tag, m) = SHA256(SHA256(tag) || SHA256(tag) || m), tag as ASCII without terminator."""
    t = sha256(tag.encode("ascii"))
    return sha256(t + t + data)


# --------------------------------------------------------------------------------------------
# BIP-340 verification, from the specification
# --------------------------------------------------------------------------------------------

P_FIELD = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G_POINT = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)
INFINITY = None


def _on_curve(pt):
    x, y = pt
    return (y * y - x * x * x - 7) % P_FIELD == 0


def point_add(a, b):
    """Affine addition on y^2 = x^3 + 7 over F_p; None is the point at infinity."""
    if a is INFINITY:
        return b
    if b is INFINITY:
        return a
    x1, y1 = a
    x2, y2 = b
    if x1 == x2:
        if (y1 + y2) % P_FIELD == 0:
            return INFINITY  # b == -a (covers doubling a point with y == 0, which secp256k1 lacks)
        lam = 3 * x1 * x1 * pow(2 * y1, P_FIELD - 2, P_FIELD) % P_FIELD
    else:
        lam = (y2 - y1) * pow(x2 - x1, P_FIELD - 2, P_FIELD) % P_FIELD
    x3 = (lam * lam - x1 - x2) % P_FIELD
    y3 = (lam * (x1 - x3) - y1) % P_FIELD
    return (x3, y3)


def point_mul(k, pt):
    """k * pt by double-and-add (no secrets here, so no need for constant time)."""
    result = INFINITY
    addend = pt
    while k > 0:
        if k & 1:
            result = point_add(result, addend)
        addend = point_add(addend, addend)
        k >>= 1
    return result


def lift_x(x):
    """BIP-340 lift_x: the point with x coordinate x and even y, or None."""
    if x >= P_FIELD:
        return None
    c = (pow(x, 3, P_FIELD) + 7) % P_FIELD
    y = pow(c, (P_FIELD + 1) // 4, P_FIELD)  # p = 3 mod 4
    if y * y % P_FIELD != c:
        return None
    return (x, y if y % 2 == 0 else P_FIELD - y)


def bip340_verify(pubkey, msg, sig):
    """BIP-340 Verify(pk, m, sig) for a 32-byte x-only key and a 64-byte signature."""
    if len(pubkey) != 32 or len(sig) != 64:
        return False
    pt = lift_x(int.from_bytes(pubkey, "big"))
    if pt is None:
        return False
    r = int.from_bytes(sig[:32], "big")
    s = int.from_bytes(sig[32:], "big")
    if r >= P_FIELD or s >= N_ORDER:
        return False
    e = int.from_bytes(tagged_hash("BIP0340/challenge", sig[:32] + pubkey + msg), "big") % N_ORDER
    big_r = point_add(point_mul(s, G_POINT), point_mul(N_ORDER - e, pt))
    if big_r is INFINITY:
        return False
    assert _on_curve(big_r)
    if big_r[1] % 2 != 0:
        return False
    return big_r[0] == r


def bip340_sign(secret, msg, aux_rand):
    """BIP-340 Sign, used only to check §4's statement that the examples use aux_rand = 32 zero
    bytes (the signatures are then reproducible); verification above does not depend on it."""
    d0 = int.from_bytes(secret, "big")
    assert 0 < d0 < N_ORDER
    pt = point_mul(d0, G_POINT)
    d = d0 if pt[1] % 2 == 0 else N_ORDER - d0
    t = (d ^ int.from_bytes(tagged_hash("BIP0340/aux", aux_rand), "big")).to_bytes(32, "big")
    px = pt[0].to_bytes(32, "big")
    k0 = int.from_bytes(tagged_hash("BIP0340/nonce", t + px + msg), "big") % N_ORDER
    assert k0 != 0
    big_r = point_mul(k0, G_POINT)
    k = k0 if big_r[1] % 2 == 0 else N_ORDER - k0
    rx = big_r[0].to_bytes(32, "big")
    e = int.from_bytes(tagged_hash("BIP0340/challenge", rx + px + msg), "big") % N_ORDER
    sig = rx + ((k + e * d) % N_ORDER).to_bytes(32, "big")
    assert bip340_verify(px, msg, sig)
    return sig


def xonly_pubkey(secret):
    d = int.from_bytes(secret, "big")
    assert 0 < d < N_ORDER
    return point_mul(d, G_POINT)[0].to_bytes(32, "big")


# --------------------------------------------------------------------------------------------
# BIP-350 bech32m (§4.1): address -> key
# --------------------------------------------------------------------------------------------

BECH32_ALPHABET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3


def _bech32_polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i in range(5):
            if (top >> i) & 1:
                chk ^= gen[i]
    return chk


def decode_address(addr):
    """§4.1 decoding of a `kx` address to its 32-byte key (strict; raises ValueError)."""
    if len(addr) > 90 or any(not 33 <= ord(c) <= 126 for c in addr):
        raise ValueError("bad characters or too long")
    if addr.lower() != addr and addr.upper() != addr:
        raise ValueError("mixed case")
    addr = addr.lower()
    pos = addr.rfind("1")
    if pos < 1 or pos + 7 > len(addr):
        raise ValueError("bad separator position")
    hrp, data_part = addr[:pos], addr[pos + 1:]
    if any(c not in BECH32_ALPHABET for c in data_part):
        raise ValueError("character outside the alphabet")
    data = [BECH32_ALPHABET.index(c) for c in data_part]
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    if _bech32_polymod(expanded + data) != BECH32M_CONST:
        raise ValueError("bech32m checksum fails")
    if hrp != "kx":
        raise ValueError("wrong human-readable part")
    acc, bits, out = 0, 0, bytearray()
    for v in data[:-6]:
        acc = (acc << 5) | v
        bits += 5
        while bits >= 8:
            bits -= 8
            out.append((acc >> bits) & 0xFF)
    if bits >= 5 or (acc & ((1 << bits) - 1)) != 0:
        raise ValueError("bad padding")
    if len(out) != 32:
        raise ValueError("not 32 bytes")
    key = bytes(out)
    if lift_x(int.from_bytes(key, "big")) is None:
        raise ValueError("not a valid key")
    return key


# --------------------------------------------------------------------------------------------
# §3 canonical protobuf: schemas, encoder, strict decoder
# --------------------------------------------------------------------------------------------
# A schema is a list of (number, name, kind) in ascending number order; kind is one of
# "string", "bytes", "uint64", "uint32", "enum", ("message", schema) (singular, explicit presence)
# or ("repeated", kind).

SIGNATURE = [(1, "signer", "bytes"), (2, "signature", "bytes")]
TX = [(1, "body", "bytes"), (2, "signatures", ("repeated", ("message", SIGNATURE)))]
TRANSFER = [(1, "to", "bytes"), (2, "asset", "string"), (3, "amount", "uint64"), (4, "memo", "string")]
TX_BODY_TRANSFER = [  # TxBody restricted to the transfer payload (the only one Appendix A uses)
    (1, "chain_id", "string"),
    (2, "signers", ("repeated", "bytes")),
    (3, "nonce", "uint64"),
    (4, "fee", "uint64"),
    (5, "expiry_height", "uint64"),
    (16, "transfer", ("message", TRANSFER)),
]
VOTE = [
    (1, "chain_id", "string"),
    (2, "height", "uint64"),
    (3, "round", "uint32"),
    (4, "type", "enum"),
    (5, "block_hash", "bytes"),
    (6, "timestamp_ms", "uint64"),
]
COMMIT_SIGNATURE = [(1, "validator", "bytes"), (2, "signature", "bytes"), (3, "timestamp_ms", "uint64")]
COMMIT = [
    (1, "height", "uint64"),
    (2, "round", "uint32"),
    (3, "block_hash", "bytes"),
    (4, "signatures", ("repeated", ("message", COMMIT_SIGNATURE))),
]
BLOCK_HEADER = [
    (1, "chain_id", "string"),
    (2, "height", "uint64"),
    (3, "time_ms", "uint64"),
    (4, "prev_hash", "bytes"),
    (5, "tx_root", "bytes"),
    (6, "state_root", "bytes"),
    (7, "validators_hash", "bytes"),
    (8, "proposer", "bytes"),
    (9, "last_commit_hash", "bytes"),
    (10, "tx_count", "uint32"),
]

BALANCE = [(1, "asset", "string"), (2, "amount", "uint64")]
ACCOUNT = [(1, "nonce", "uint64"), (2, "balances", ("repeated", ("message", BALANCE)))]
ASSET = [
    (1, "symbol", "string"),
    (2, "decimals", "uint32"),
    (3, "gateway", "bytes"),
    (4, "genesis_supply", "uint64"),
    (5, "deposited", "uint64"),
    (6, "withdrawn", "uint64"),
    (7, "deposited_hi", "uint64"),
    (8, "withdrawn_hi", "uint64"),
]

SCALARS = {"uint64": 0, "uint32": 0, "enum": 0, "string": 2, "bytes": 2}


def varint(n):
    if n < 0 or n >= 1 << 64:
        raise ValueError(f"varint out of range: {n}")
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _wire_type(kind):
    if isinstance(kind, tuple):
        return 2  # messages; repeated of bytes/messages
    return SCALARS[kind]


def _check_range(kind, value):
    if kind == "uint32" and value >= 1 << 32:
        raise ValueError("uint32 above 2^32-1")
    if kind == "enum" and value >= 1 << 31:
        raise ValueError("enum above 2^31-1")


def _encode_one(number, kind, value):
    key = varint((number << 3) | _wire_type(kind))
    if isinstance(kind, tuple) and kind[0] == "message":
        inner = encode(kind[1], value)
        return key + varint(len(inner)) + inner
    if kind == "string":
        raw = value.encode("utf-8")
        return key + varint(len(raw)) + raw
    if kind == "bytes":
        return key + varint(len(value)) + bytes(value)
    _check_range(kind, value)
    return key + varint(value)


def encode(schema, msg):
    """Canonical bytes (§3): ascending field numbers, implicit-presence defaults omitted, singular
    messages written iff set (not None), every repeated element written in order."""
    names = {name for _, name, _ in schema}
    unknown = set(msg) - names
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    out = bytearray()
    for number, name, kind in schema:
        value = msg.get(name)
        if isinstance(kind, tuple) and kind[0] == "repeated":
            for element in value or []:
                out += _encode_one(number, kind[1], element)
        elif isinstance(kind, tuple) and kind[0] == "message":
            if value is not None:
                out += _encode_one(number, kind, value)
        elif value in (None, 0, "", b""):
            continue  # proto3 implicit presence: the default is not written
        else:
            out += _encode_one(number, kind, value)
    return bytes(out)


def _default(kind):
    if isinstance(kind, tuple):
        return [] if kind[0] == "repeated" else None
    return {"string": "", "bytes": b""}.get(kind, 0)


def _read_varint(data, pos, what):
    """Minimal LEB128 varint at pos -> (value, new pos); rejects truncated, long and non-minimal forms."""
    value, shift, start = 0, 0, pos
    while True:
        if pos >= len(data):
            raise ValueError(f"{what}: truncated varint at byte {start}")
        b = data[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            break
        if pos - start >= 10:
            raise ValueError(f"{what}: varint longer than 10 bytes at byte {start}")
    if pos - start > 1 and data[pos - 1] == 0:
        raise ValueError(f"{what}: varint not in its shortest form at byte {start}")
    if value >= 1 << 64:
        raise ValueError(f"{what}: varint above 2^64-1 at byte {start}")
    return value, pos


def decode(schema, data, what="message"):
    """Strict canonical decode (§3, §3.1 as far as these messages need): rejects unknown fields,
    wrong wire types, fields out of order, repeated singular fields, written defaults, non-minimal
    varints, invalid UTF-8, out-of-range uint32/enum; finally re-encodes and compares."""
    by_number = {number: (name, kind) for number, name, kind in schema}
    msg = {name: _default(kind) for _, name, kind in schema}
    pos, last_number, seen = 0, 0, set()
    while pos < len(data):
        key, pos = _read_varint(data, pos, what)
        number, wt = key >> 3, key & 7
        if number == 0 or number not in by_number:
            raise ValueError(f"{what}: undeclared field {number}")
        name, kind = by_number[number]
        if number < last_number:
            raise ValueError(f"{what}: field {name} out of order")
        repeated = isinstance(kind, tuple) and kind[0] == "repeated"
        element_kind = kind[1] if repeated else kind
        if not repeated and number in seen:
            raise ValueError(f"{what}: field {name} written twice")
        if wt != _wire_type(element_kind):
            raise ValueError(f"{what}: field {name} has wire type {wt}")
        seen.add(number)
        last_number = number
        if wt == 0:
            value, pos = _read_varint(data, pos, f"{what}.{name}")
            if value == 0:
                raise ValueError(f"{what}: field {name} written with its default 0")
            _check_range(element_kind, value)
        else:
            length, pos = _read_varint(data, pos, f"{what}.{name}")
            if pos + length > len(data):
                raise ValueError(f"{what}: field {name} runs past the end")
            raw = bytes(data[pos:pos + length])
            pos += length
            if isinstance(element_kind, tuple) and element_kind[0] == "message":
                value = decode(element_kind[1], raw, f"{what}.{name}")
            else:
                if not repeated and length == 0:
                    raise ValueError(f"{what}: field {name} written empty")
                value = raw.decode("utf-8") if element_kind == "string" else raw
        if repeated:
            msg[name].append(value)
        else:
            msg[name] = value
    if encode(schema, msg) != bytes(data):
        raise ValueError(f"{what}: does not re-encode to the same bytes")
    return msg


# --------------------------------------------------------------------------------------------
# §9 votes, commits, BFT time
# --------------------------------------------------------------------------------------------


def vote_message(chain_id, height, round_, vote_type, block_hash, timestamp_ms):
    vote = {"chain_id": chain_id, "height": height, "round": round_, "type": vote_type,
            "block_hash": block_hash, "timestamp_ms": timestamp_ms}
    return tagged_hash("kontor/vote", encode(VOTE, vote))


def commit_hash(commit_bytes):
    return tagged_hash("kontor/commit", commit_bytes)


def verify_commit(commit_bytes, height, block_hash, chain_id, validators):
    """§9.4 for block hash B = block_hash at height h; validators = [(key, power)] in genesis order.
    Returns the decoded commit; raises AssertionError naming the failed check."""
    commit = decode(COMMIT, commit_bytes, "commit")  # check 0: canonical
    assert commit["height"] == height, f"check 1: commit height {commit['height']} != {height}"
    assert commit["block_hash"] == block_hash, "check 2: commit block_hash != B"
    assert len(commit["signatures"]) <= len(validators), "check 3: more signatures than validators"
    power = dict(validators)
    previous, signed = None, 0
    for i, sig in enumerate(commit["signatures"]):
        assert len(sig["validator"]) == 32 and len(sig["signature"]) == 64, f"check 4: sizes of signature {i}"
        assert previous is None or sig["validator"] > previous, f"check 4: signature {i} out of key order"
        assert sig["validator"] in power, f"check 4: signature {i} is not from a genesis validator"
        msg = vote_message(chain_id, height, commit["round"], VOTE_TYPE_PRECOMMIT, block_hash, sig["timestamp_ms"])
        assert bip340_verify(sig["validator"], msg, sig["signature"]), (
            f"check 4: signature {i} ({sig['signature'].hex()}) does not verify on vote message {msg.hex()} "
            f"(timestamp_ms {sig['timestamp_ms']})")
        previous = sig["validator"]
        signed += power[sig["validator"]]
    total = sum(p for _, p in validators)
    assert 3 * signed > 2 * total, f"check 5: signed power {signed} of {total} is not more than 2/3"
    return commit


def bft_time(commit, validators):
    """§9.6: weighted median of the certificate's timestamps (certificate order, stable sort)."""
    power = dict(validators)
    entries = [(s["timestamp_ms"], power[s["validator"]]) for s in commit["signatures"]]
    entries.sort(key=lambda e: e[0])  # list.sort is stable
    total = sum(p for _, p in entries)
    running = 0
    for ts, p in entries:
        running += p
        if 2 * running > total:
            return ts
    raise AssertionError("empty certificate has no median")


# --------------------------------------------------------------------------------------------
# §7.2-7.4 state keys and the sparse Merkle root
# --------------------------------------------------------------------------------------------


def state_key(kind, ident):
    return tagged_hash("kontor/state/key", bytes([kind]) + ident)


def _bit(key, i):
    return (key[i >> 3] >> (7 - (i & 7))) & 1


def smt_root(items, depth=0):
    """§7.4 root over [(state key, value hash)] with distinct keys."""
    if not items:
        return bytes(32)
    if len(items) == 1:
        key, value_hash = items[0]
        return tagged_hash("kontor/state/leaf", key + value_hash)
    assert depth < 256, "duplicate state keys"
    left = [x for x in items if _bit(x[0], depth) == 0]
    right = [x for x in items if _bit(x[0], depth) == 1]
    return tagged_hash("kontor/state/node", smt_root(left, depth + 1) + smt_root(right, depth + 1))


def state_root(records):
    """records: [(state key, value bytes)]."""
    return smt_root([(k, tagged_hash("kontor/state/value", v)) for k, v in records])


# --------------------------------------------------------------------------------------------
# protocol.md parsing
# --------------------------------------------------------------------------------------------

HEX_DATA = re.compile(r"^[0-9a-f]{2,}(?: [0-9a-f]{2,})*$")


def is_hex_data(text):
    return bool(HEX_DATA.match(text)) and all(len(t) % 2 == 0 for t in text.split(" "))


class Doc:
    def __init__(self, text):
        self.text = text
        self.lines = text.split("\n")
        self.headings = []  # (line index, level, title)
        fenced = False
        for i, line in enumerate(self.lines):
            if line.startswith("```"):
                fenced = not fenced
                continue
            m = re.match(r"^(#{1,6}) (.*)$", line)
            if m and not fenced:
                self.headings.append((i, len(m.group(1)), m.group(2).strip()))
        if fenced:
            raise DocError("protocol.md ends inside a code block")

    def section(self, title_prefix):
        """Lines of the section whose heading starts with title_prefix, up to the next heading of
        the same or a higher level."""
        found = [(i, lvl) for i, lvl, t in self.headings if t.startswith(title_prefix)]
        if len(found) != 1:
            raise DocError(f"protocol.md: expected one section headed '{title_prefix}…', found {len(found)}")
        start, level = found[0]
        end = len(self.lines)
        for i, lvl, _ in self.headings:
            if i > start and lvl <= level:
                end = i
                break
        return self.lines[start + 1:end]


def code_blocks(section_lines):
    """[(index of the paragraph text before it, language, [lines])] for each fenced block."""
    blocks, i = [], 0
    while i < len(section_lines):
        line = section_lines[i]
        if line.startswith("```"):
            lang = line[3:].strip()
            j = i + 1
            while j < len(section_lines) and not section_lines[j].startswith("```"):
                j += 1
            if j == len(section_lines):
                raise DocError("unterminated code block")
            prose = "\n".join(section_lines[:i])
            blocks.append((prose, lang, section_lines[i + 1:j]))
            i = j + 1
        else:
            i += 1
    return blocks


def parse_fields(block_lines, where):
    """Labelled hex fields of a code block -> {label: bytes}, plus "" for unlabelled hex that opens
    the block (the A.1 header lines). Parts of a line are separated by two or more spaces. A line
    at column 0 whose first part is not hex data starts a field with that label; hex data (the
    first part of an indented or column-0 line, or the part after a label) continues the current
    field. Parts after the data are comments. A blank line ends a field. Hex data is lower-case
    groups of whole bytes separated by single spaces; a part made only of hex digits and spaces
    that is not valid hex data (odd digit count, upper case) is an error, not a comment."""
    fields = {}
    current = ""

    def data_part(part, n):
        if is_hex_data(part):
            return part
        if re.fullmatch(r"[0-9a-fA-F ]{8,}", part):
            raise DocError(f"{where}: line {n + 1} of the block holds malformed hex: {part!r}")
        return None

    for n, line in enumerate(block_lines):
        if not line.strip():
            current = None
            continue
        parts = re.split(r" {2,}", line.strip())
        data = None
        if not line.startswith(" ") and data_part(parts[0], n) is None:
            current = parts[0]
            if current in fields:
                raise DocError(f"{where}: label '{current}' appears twice")
            fields[current] = ""
            if len(parts) > 1:
                data = data_part(parts[1], n)
        else:
            data = data_part(parts[0], n)
        if data is not None:
            if current is None:
                raise DocError(f"{where}: hex on line {n + 1} of the block belongs to no label: {line!r}")
            fields[current] = fields.get(current, "") + data.replace(" ", "")
    return {k: bytes.fromhex(v) for k, v in fields.items()}


def field(fields, label, where, size=None):
    if label not in fields:
        raise DocError(f"{where}: no '{label}' in the code block (labels: {sorted(fields)})")
    value = fields[label]
    if not value:
        raise DocError(f"{where}: '{label}' has no hex")
    if size is not None and len(value) != size:
        raise DocError(f"{where}: '{label}' is {len(value)} bytes, expected {size}")
    return value


def one_block(section_lines, where, predicate, what):
    matches = [b for b in code_blocks(section_lines) if predicate(b)]
    if len(matches) != 1:
        raise DocError(f"{where}: expected one code block {what}, found {len(matches)}")
    return matches[0]


def state_tables(section_lines, where):
    """The `| record | state key | value |` tables of a section, in order, as lists of
    (record, state key bytes, value bytes)."""
    tables, i = [], 0
    while i < len(section_lines):
        if section_lines[i].strip() == "| record | state key | value |":
            rows, j = [], i + 2
            while j < len(section_lines) and section_lines[j].startswith("|"):
                m = re.match(r"^\| ([^|]+?) \| `([0-9a-f]{64})` \| `([0-9a-f]*)` \|$", section_lines[j])
                if not m:
                    raise DocError(f"{where}: state table row not understood: {section_lines[j]!r}")
                rows.append((m.group(1), bytes.fromhex(m.group(2)), bytes.fromhex(m.group(3))))
                j += 1
            tables.append(rows)
            i = j
        else:
            i += 1
    return tables


def find_int(pattern, text, where):
    m = re.search(pattern, text)
    if not m:
        raise DocError(f"{where}: pattern {pattern!r} not found")
    return int(m.group(1))


def find_hex(pattern, text, where):
    m = re.search(pattern, text)
    if not m:
        raise DocError(f"{where}: pattern {pattern!r} not found")
    return bytes.fromhex(m.group(1))


# --------------------------------------------------------------------------------------------
# fixtures: the documented values
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def doc():
    if not PROTOCOL_MD.is_file():
        raise DocError(f"{PROTOCOL_MD} not found")
    return Doc(PROTOCOL_MD.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def genesis(doc):
    sec = doc.section("6.5 Example")
    where = "§6.5"
    _, _, lines = one_block(sec, where, lambda b: b[1] == "json", "of type json")
    raw = ("\n".join(lines) + "\n").encode("utf-8")
    data = json.loads(raw)
    stated = find_int(r"exactly these (\d+) bytes", "\n".join(sec), where)
    _, _, hlines = one_block(sec, where, lambda b: b[1] == "" and any("genesis_hash" in x for x in b[2]),
                          "with a genesis_hash line")
    f = parse_fields(hlines, where)
    validators = [(decode_address(v["address"]), v["power"]) for v in data["validators"]]
    return {
        "raw": raw,
        "stated_size": stated,
        "json": data,
        "chain_id": data["chain_id"],
        "time_ms": data["genesis_time_ms"],
        "validators": validators,
        "genesis_hash": field(f, "genesis_hash", where, 32),
        "validators_data": field(f, "validators data", where),
        "validators_hash": field(f, "validators_hash", where, 32),
    }


@pytest.fixture(scope="module")
def keys(doc):
    """Appendix A key table: party -> (key, address)."""
    sec = doc.section("Appendix A")
    out = {}
    for line in sec:
        m = re.match(r"^\| (\w+) \| [^|]* \| `([0-9a-f]{64})` \| `(kx1[0-9a-z]+)` \|$", line)
        if m:
            out[m.group(1)] = (bytes.fromhex(m.group(2)), m.group(3))
    for party in ("Alice", "validator", "Bob"):
        if party not in out:
            raise DocError(f"Appendix A: no key row for {party}")
    return out


@pytest.fixture(scope="module")
def states(doc):
    """Appendix A's genesis state table and root, and A.1's state table after block 1."""
    appendix = doc.section("Appendix A")
    tables = state_tables(appendix, "Appendix A")
    a1_tables = state_tables(doc.section("A.1 Block 1"), "Appendix A.1")
    if len(tables) != 2 or len(a1_tables) != 1 or tables[1] != a1_tables[0]:
        raise DocError(f"Appendix A: expected a genesis state table and one in A.1, found {len(tables)} / {len(a1_tables)}")
    root = find_hex(r"Genesis state root: `([0-9a-f]{64})`", "\n".join(appendix), "Appendix A")
    return {"genesis": tables[0], "genesis_root": root, "block1": a1_tables[0]}


@pytest.fixture(scope="module")
def s95(doc):
    sec = doc.section("9.5 Example")
    where = "§9.5"
    prose, _, lines = one_block(sec, where, lambda b: any(x.startswith("enc(Vote)") for x in b[2]),
                                 "with an enc(Vote) line")
    f = parse_fields(lines, where)
    return {
        "prose": prose,
        "block_text": "\n".join(lines),
        "block_hash": find_hex(r"hash `([0-9a-f]{64})`", prose, where),
        "round": find_int(r"round (\d+)", prose, where),
        "power": find_int(r"one validator of power (\d+)", prose, where),
        "timestamp_ms": find_int(r"timestamp_ms = (\d+)", "\n".join(lines), where),
        "enc_vote": field(f, "enc(Vote)", where),
        "vote_message": field(f, "vote_message", where, 32),
        "signature": field(f, "signature", where, 64),
        "enc_commit": field(f, "enc(Commit)", where),
        "commit_hash": field(f, "commit_hash", where, 32),
    }


@pytest.fixture(scope="module")
def s96(doc):
    text = "\n".join(doc.section("9.6 BFT time"))
    where = "§9.6"
    m = re.search(r"one signature, timestamp (\d+); a block 2\s+carrying it would have time (\d+)", text)
    if not m:
        raise DocError(f"{where}: example paragraph about §9.5's certificate not found")
    m2 = re.search(r"re-signed at (\d+) \(§10\.8\), so its time is (\d+)", text)
    if not m2:
        raise DocError(f"{where}: example paragraph about Appendix A's block 2 not found")
    return {"s95_ts": int(m.group(1)), "s95_time": int(m.group(2)),
            "a2_ts": int(m2.group(1)), "a2_time": int(m2.group(2))}


@pytest.fixture(scope="module")
def a1(doc):
    sec = doc.section("A.1 Block 1")
    where = "Appendix A.1"
    prose, _, lines = one_block(sec, where, lambda b: re.search(r"(^|\n)Header \(", b[0]) is not None
                                and any("block_hash" in x for x in b[2]), "after 'Header (' with a block_hash line")
    header_para = prose[prose.rfind("Header ("):]
    f = parse_fields(lines, where)
    header_lines = [x for x in lines[:next((i for i, x in enumerate(lines) if not x.strip()), len(lines))]]
    _, _, txlines = one_block(sec, where, lambda b: any(x.startswith("txid") for x in b[2]), "with a txid line")
    tf = parse_fields(txlines, where + " tx block")
    tx_leaf_line = next((x for x in txlines if x.startswith("tx leaf")), None)
    if tx_leaf_line is None:
        raise DocError(f"{where}: no 'tx leaf' line")
    return {
        "header": field(f, "", where),
        "header_lines": header_lines,
        "header_size": find_int(r"(\d+) bytes, the concatenation", header_para, where),
        "header_time": find_int(r"Header \(time (\d+)", header_para, where),
        "block_hash": field(f, "block_hash", where, 32),
        "commit_hash": field(f, "commit_hash", where, 32),
        "txid": field(tf, "txid", where, 32),
        "tx_signature": field(tf, "signature", where, 64),
        "envelope": field(tf, "envelope", where),
        "envelope_size": find_int(r"\((\d+) bytes = ", "\n".join(txlines), where),
        "tx_leaf": find_hex(r"= ([0-9a-f]{64})", tx_leaf_line, where),
        "tx_root": field(tf, "tx_root", where, 32),
    }


@pytest.fixture(scope="module")
def a2(doc):
    sec = doc.section("A.2 Block 2")
    where = "Appendix A.2"
    text = "\n".join(sec)
    _, _, lc_lines = one_block(sec, where, lambda b: any(x.startswith("last_commit ") for x in b[2]),
                                "with a last_commit line")
    _, _, h_lines = one_block(sec, where, lambda b: any(x.startswith("header ") for x in b[2]), "with a header line")
    lf = parse_fields(lc_lines, where)
    hf = parse_fields(h_lines, where)
    return {
        "produced_at": find_int(r"Produced at (\d+)", text, where),
        "resigned_at": find_int(r"re-signed at (\d+)", text, where),
        "stated_time": find_int(r"block 2's time \(§9\.6\) is (\d+)", text, where),
        "last_commit": field(lf, "last_commit", where),
        "last_commit_hash": field(lf, "last_commit_hash", where, 32),
        "header": field(hf, "header", where),
        "block_hash": field(hf, "block_hash", where, 32),
        "enc_commit": field(hf, "enc(Commit)", where),
        "commit_hash": field(hf, "commit_hash", where, 32),
    }


@pytest.fixture(scope="module")
def s32_body(doc):
    sec = doc.section("3.2 Example")
    where = "§3.2"
    # the block right after "N bytes in all:" is pure hex
    blocks = code_blocks(sec)
    body_block = [b for b in blocks if b[0].rstrip().endswith("bytes in all:")]
    if len(body_block) != 1:
        raise DocError(f"{where}: the 'bytes in all' block not found")
    body = bytes.fromhex("".join(x.strip() for x in body_block[0][2]))
    size = find_int(r"(\d+) bytes in all", body_block[0][0], where)
    return {"body": body, "size": size}


@pytest.fixture(scope="module")
def block1(a1):
    return decode(BLOCK_HEADER, a1["header"], "A.1 header")


@pytest.fixture(scope="module")
def block2(a2):
    return decode(BLOCK_HEADER, a2["header"], "A.2 header")


# --------------------------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------------------------


def bip340_csv():
    override = os.environ.get("KONTOR_BIP340_CSV")
    paths = [pathlib.Path(override)] if override else BIP340_CANDIDATES
    for p in paths:
        if p.is_file():
            return p
    raise DocError(f"no BIP-340 vector file among {[str(p) for p in paths]}")


def test_bip340_verifier_against_official_vectors():
    path = bip340_csv()
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows, f"{path} has no rows"
    seen = {"TRUE": 0, "FALSE": 0}
    wrong = []
    for row in rows:
        expected = row["verification result"].strip()
        assert expected in seen, f"vector {row['index']}: result {expected!r}"
        seen[expected] += 1
        pk = bytes.fromhex(row["public key"])
        msg = bytes.fromhex(row["message"])
        sig = bytes.fromhex(row["signature"])
        got = bip340_verify(pk, msg, sig)
        if got != (expected == "TRUE"):
            wrong.append(f"vector {row['index']} ({row['comment'] or 'valid'}): expected {expected}, got {got}")
        if row["secret key"]:
            secret = bytes.fromhex(row["secret key"])
            assert xonly_pubkey(secret) == pk, f"vector {row['index']}: d*G != public key"
            assert bip340_sign(secret, msg, bytes.fromhex(row["aux_rand"])) == sig, f"vector {row['index']}: Sign differs"
    assert not wrong, "\n".join(wrong)
    assert seen["TRUE"] > 0 and seen["FALSE"] > 0, seen


def test_tags_and_tagged_hash(doc):
    table = "\n".join(doc.section("2.2 Tags"))
    for tag in ("kontor/tx", "kontor/block", "kontor/vote", "kontor/commit", "kontor/genesis", "kontor/validators",
                "kontor/state/key", "kontor/state/value", "kontor/state/leaf", "kontor/state/node"):
        documented = find_hex(r"\| `" + re.escape(tag) + r"` \| `([0-9a-f]{64})` \|", table, "§2.2")
        assert documented == sha256(tag.encode()), f"§2.2 SHA256({tag!r}) is {documented.hex()}, computed {sha256(tag.encode()).hex()}"
    ex = "\n".join(doc.section("2.3 Examples"))
    documented = find_hex(r'TH\("kontor/tx", ""\)\s+= ([0-9a-f]{64})', ex, "§2.3")
    assert documented == tagged_hash("kontor/tx", b"")
    assert find_hex(r'SHA256\(""\)\s+= ([0-9a-f]{64})', ex, "§2.3") == sha256(b"")


def test_protobuf_codec_self_check():
    # §3 examples and rules, on the hand-written codec
    assert varint(1000) == bytes.fromhex("e807") and varint(250000000) == bytes.fromhex("80e59a77")
    assert encode(VOTE, {"height": 1, "round": 0}) == bytes.fromhex("1001")
    rejected = [
        (VOTE, "1000"),                    # height written with its default 0
        (VOTE, "18011001"),                # round before height
        (VOTE, "10011001"),                # height written twice
        (VOTE, "108100"),                  # varint not in its shortest form
        (VOTE, "2a00"),                    # empty block_hash written
        (VOTE, "3a00"),                    # undeclared field 7
        (VOTE, "0801"),                    # chain_id (string) with wire type 0
        (VOTE, "1880808080"),              # truncated varint
        (VOTE, "188080808010"),            # uint32 round = 2^32
        (VOTE, "1080808080808080808002"),  # varint above 2^64-1
        (VOTE, "0a05616263"),              # length past the end
        (COMMIT, "22021000"),              # signature with timestamp 0 written
    ]
    for schema, bad in rejected:
        with pytest.raises(ValueError):
            decode(schema, bytes.fromhex(bad))
    empty_element = {"height": 0, "round": 0, "block_hash": b"",
                     "signatures": [{"validator": b"", "signature": b"", "timestamp_ms": 0}]}
    assert decode(COMMIT, bytes.fromhex("2200")) == empty_element  # an empty repeated element is written
    assert decode(VOTE, bytes.fromhex("18ffffffff0f"))["round"] == 2**32 - 1
    with pytest.raises(ValueError):
        decode(VOTE, bytes.fromhex("0a01ff"))  # invalid UTF-8


def test_genesis_example(genesis, keys):
    assert len(genesis["raw"]) == genesis["stated_size"], (
        f"§6.5 says {genesis['stated_size']} bytes, the JSON block is {len(genesis['raw'])} bytes")
    got = tagged_hash("kontor/genesis", genesis["raw"])
    assert got == genesis["genesis_hash"], f"§6.5 genesis_hash {genesis['genesis_hash'].hex()}, computed {got.hex()}"
    data = b"".join(k + p.to_bytes(8, "big") for k, p in genesis["validators"])
    assert data == genesis["validators_data"], f"§6.5 validators data {genesis['validators_data'].hex()}, computed {data.hex()}"
    got = tagged_hash("kontor/validators", data)
    assert got == genesis["validators_hash"], f"§6.5 validators_hash {genesis['validators_hash'].hex()}, computed {got.hex()}"
    assert genesis["time_ms"] == 1700000000000
    # Appendix A's keys: addresses decode to the keys, and the keys are BIP-340 vectors 0, 1, 2
    for party, secret in (("Alice", 3), ("validator", 0xB7E151628AED2A6ABF7158809CF4F3C762E7160F38B4DA56A784D9045190CFEF),
                          ("Bob", 0xC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B14E5C9)):
        key, address = keys[party]
        assert decode_address(address) == key, f"Appendix A: {party}'s address does not decode to its key"
        assert xonly_pubkey(secret.to_bytes(32, "big")) == key, f"Appendix A: {party}'s key is not d*G"
    assert genesis["validators"] == [(keys["validator"][0], 10)]


def test_s95_vote_and_commit(s95, a1, genesis, keys):
    validator = keys["validator"][0]
    assert s95["block_hash"] == a1["block_hash"], "§9.5 names another block hash than A.1's block_hash"
    assert s95["round"] == 0 and s95["power"] == dict(genesis["validators"])[validator]
    vote = {"chain_id": genesis["chain_id"], "height": 1, "round": 0, "type": VOTE_TYPE_PRECOMMIT,
            "block_hash": a1["block_hash"], "timestamp_ms": s95["timestamp_ms"]}
    enc_vote = encode(VOTE, vote)
    assert enc_vote == s95["enc_vote"], f"§9.5 enc(Vote) {s95['enc_vote'].hex()}, computed {enc_vote.hex()}"
    assert decode(VOTE, s95["enc_vote"], "§9.5 Vote") == vote
    msg = tagged_hash("kontor/vote", enc_vote)
    assert msg == s95["vote_message"], f"§9.5 vote_message {s95['vote_message'].hex()}, computed {msg.hex()}"
    assert bip340_verify(validator, msg, s95["signature"]), "§9.5 signature does not verify under the validator key"
    commit = decode(COMMIT, s95["enc_commit"], "§9.5 Commit")
    assert commit == {"height": 1, "round": 0, "block_hash": a1["block_hash"],
                      "signatures": [{"validator": validator, "signature": s95["signature"],
                                      "timestamp_ms": s95["timestamp_ms"]}]}, f"§9.5 Commit decodes to {commit}"
    verify_commit(s95["enc_commit"], 1, a1["block_hash"], genesis["chain_id"], genesis["validators"])
    got = commit_hash(s95["enc_commit"])
    assert got == s95["commit_hash"], f"§9.5 commit_hash {s95['commit_hash'].hex()}, computed {got.hex()}"
    # §10.8: the proposer's precommit is timestamped max(now, time_ms + 1)
    assert s95["timestamp_ms"] >= genesis["time_ms"] + 1


def test_s96_bft_time_example(s95, s96, a2, genesis):
    commit = decode(COMMIT, s95["enc_commit"])
    assert s96["s95_ts"] == s95["timestamp_ms"] == commit["signatures"][0]["timestamp_ms"]
    assert bft_time(commit, genesis["validators"]) == s96["s95_time"]
    last = decode(COMMIT, a2["last_commit"])
    assert s96["a2_ts"] == last["signatures"][0]["timestamp_ms"]
    assert bft_time(last, genesis["validators"]) == s96["a2_time"]
    # the weighted median itself, on a hand example: powers 1,1,1 -> middle; 1,5 -> the heavy one
    k = [bytes([i]) * 32 for i in range(1, 4)]
    c = {"signatures": [{"validator": k[0], "timestamp_ms": 30}, {"validator": k[1], "timestamp_ms": 10},
                        {"validator": k[2], "timestamp_ms": 20}]}
    assert bft_time(c, [(k[0], 1), (k[1], 1), (k[2], 1)]) == 20
    assert bft_time(c, [(k[0], 5), (k[1], 1), (k[2], 1)]) == 30


def test_a1_transaction(a1, s32_body, keys, genesis):
    body = s32_body["body"]
    assert len(body) == s32_body["size"]
    alice, bob = keys["Alice"][0], keys["Bob"][0]
    assert decode(TX_BODY_TRANSFER, body, "§3.2 body") == {
        "chain_id": genesis["chain_id"], "signers": [alice], "nonce": 0, "fee": 1000, "expiry_height": 10,
        "transfer": {"to": bob, "asset": "USDC", "amount": 250000000, "memo": "invoice 42"}}
    txid = tagged_hash("kontor/tx", body)
    assert txid == a1["txid"], f"A.1 txid {a1['txid'].hex()}, computed {txid.hex()}"
    assert bip340_verify(alice, txid, a1["tx_signature"]), "A.1 tx signature does not verify under Alice's key"
    env = a1["envelope"]
    assert len(env) == a1["envelope_size"]
    assert decode(TX, env, "A.1 envelope") == {"body": body, "signatures": [{"signer": alice, "signature": a1["tx_signature"]}]}
    leaf = sha256(b"\x00" + env)
    assert leaf == a1["tx_leaf"], f"A.1 tx leaf {a1['tx_leaf'].hex()}, computed {leaf.hex()}"
    assert a1["tx_root"] == leaf  # RFC 9162 root of one leaf


def test_a1_header_and_hashes(a1, block1, genesis, keys, s95):
    # the header lines (data part of each) concatenate to the header
    assert len(a1["header_lines"]) == 10, f"A.1: {len(a1['header_lines'])} header lines"
    joined = b"".join(bytes.fromhex(re.split(r" {2,}", x.strip())[0].replace(" ", "")) for x in a1["header_lines"])
    assert joined == a1["header"]
    assert len(a1["header"]) == a1["header_size"], f"A.1 says {a1['header_size']} bytes, the lines give {len(a1['header'])}"
    h = block1
    assert h["chain_id"] == genesis["chain_id"]
    assert h["height"] == 1
    assert h["time_ms"] == genesis["time_ms"] == a1["header_time"], "A.1 time_ms is not the genesis time (§9.6 block 1)"
    assert h["prev_hash"] == genesis["genesis_hash"] == tagged_hash("kontor/genesis", genesis["raw"])
    assert h["tx_root"] == a1["tx_root"]
    assert len(h["state_root"]) == 32
    assert h["validators_hash"] == genesis["validators_hash"]
    assert h["proposer"] == keys["validator"][0]
    assert h["last_commit_hash"] == bytes(32), "A.1 last_commit_hash is not 32 zero bytes"
    assert h["tx_count"] == 1
    got = tagged_hash("kontor/block", a1["header"])
    assert got == a1["block_hash"], f"A.1 block_hash {a1['block_hash'].hex()}, computed {got.hex()}"
    assert a1["commit_hash"] == s95["commit_hash"], "A.1 commit_hash differs from §9.5's"
    assert a1["commit_hash"] == commit_hash(s95["enc_commit"])


def test_a2_last_commit(a2, a1, block1, block2, genesis, keys, s96):
    # last_commit is a canonical, §9.4-valid certificate for block 1 (height 1, block 1's hash)
    lc = verify_commit(a2["last_commit"], 1, a1["block_hash"], genesis["chain_id"], genesis["validators"])
    assert lc["round"] == 0 and len(lc["signatures"]) == 1
    sig = lc["signatures"][0]
    assert sig["validator"] == keys["validator"][0]
    assert sig["timestamp_ms"] == a2["resigned_at"] == s96["a2_ts"]
    msg = vote_message(genesis["chain_id"], 1, 0, VOTE_TYPE_PRECOMMIT, a1["block_hash"], sig["timestamp_ms"])
    assert bip340_verify(sig["validator"], msg, sig["signature"])
    got = commit_hash(a2["last_commit"])
    assert got == a2["last_commit_hash"], f"A.2 last_commit_hash {a2['last_commit_hash'].hex()}, computed {got.hex()}"
    assert block2["last_commit_hash"] == got
    # BFT time: block 2's time is the weighted median of last_commit, and after block 1's
    t = bft_time(lc, genesis["validators"])
    assert block2["time_ms"] == t == a2["stated_time"] == a2["produced_at"], (
        f"A.2 header time_ms {block2['time_ms']}, BFT median {t}, prose {a2['stated_time']}")
    assert block2["time_ms"] > block1["time_ms"]
    # §10.8: re-signed at max(now, parent.time_ms + 1)
    assert sig["timestamp_ms"] >= block1["time_ms"] + 1


def test_a2_header_and_commit(a2, a1, block1, block2, genesis, keys):
    h = block2
    assert h["chain_id"] == genesis["chain_id"]
    assert h["height"] == 2
    assert h["prev_hash"] == a1["block_hash"] == tagged_hash("kontor/block", a1["header"])
    assert h["tx_root"] == sha256(b""), "A.2 tx_root is not SHA256(\"\")"
    assert h["state_root"] == block1["state_root"], "A.2 state_root differs from block 1's (A.2 says unchanged)"
    assert h["validators_hash"] == genesis["validators_hash"]
    assert h["proposer"] == keys["validator"][0]
    assert h["tx_count"] == 0 and not a2["header"].endswith(b"\x50\x00")
    got = tagged_hash("kontor/block", a2["header"])
    assert got == a2["block_hash"], f"A.2 block_hash {a2['block_hash'].hex()}, computed {got.hex()}"
    c = verify_commit(a2["enc_commit"], 2, a2["block_hash"], genesis["chain_id"], genesis["validators"])
    assert c["round"] == 0 and [s["validator"] for s in c["signatures"]] == [keys["validator"][0]]
    assert c["signatures"][0]["timestamp_ms"] >= h["time_ms"] + 1  # §10.8
    got = commit_hash(a2["enc_commit"])
    assert got == a2["commit_hash"], f"A.2 commit_hash {a2['commit_hash'].hex()}, computed {got.hex()}"


def test_verifier_rejects_tampering(s95, a1, a2, genesis):
    """The checks above would notice a wrong value: flip one bit of each signed/hashed input."""
    validator = genesis["validators"][0][0]
    sig = bytearray(s95["signature"])
    sig[63] ^= 1
    assert not bip340_verify(validator, s95["vote_message"], bytes(sig))
    msg = bytearray(s95["vote_message"])
    msg[0] ^= 1
    assert not bip340_verify(validator, bytes(msg), s95["signature"])
    with pytest.raises(AssertionError):  # the §9.5 certificate is not one for block 2's hash
        verify_commit(s95["enc_commit"], 1, a2["block_hash"], genesis["chain_id"], genesis["validators"])
    with pytest.raises(AssertionError):  # wrong height
        verify_commit(a2["last_commit"], 2, a1["block_hash"], genesis["chain_id"], genesis["validators"])
    with pytest.raises(AssertionError):  # wrong chain id in the signed vote
        verify_commit(a2["last_commit"], 1, a1["block_hash"], genesis["chain_id"] + "x", genesis["validators"])
    # a timestamp changed in the certificate breaks its signature (the vote covers timestamp_ms)
    c = decode(COMMIT, a2["last_commit"])
    c["signatures"][0]["timestamp_ms"] += 1
    with pytest.raises(AssertionError):
        verify_commit(encode(COMMIT, c), 1, a1["block_hash"], genesis["chain_id"], genesis["validators"])


def _check_state_table(rows, keys, genesis, where):
    """Each record's state key is §7.2's for its kind and id, and its value is canonical.
    Returns {record: decoded value}."""
    out = {}
    for record, key, value in rows:
        kind_name, _, name = record.partition(" ")
        if kind_name == "asset":
            expected_key, schema = state_key(2, name.encode()), ASSET
        elif kind_name == "account":
            expected_key, schema = state_key(1, keys[name][0]), ACCOUNT
        else:
            raise DocError(f"{where}: unknown record {record!r}")
        assert key == expected_key, f"{where}: state key of {record} is {key.hex()}, computed {expected_key.hex()}"
        out[record] = decode(schema, value, f"{where} {record}")
    return out


def _balances(account):
    return {b["asset"]: b["amount"] for b in account["balances"]}


def test_state_roots(states, keys, genesis, block1, block2):
    validator = keys["validator"][0]
    g = _check_state_table(states["genesis"], keys, genesis, "Appendix A genesis state")
    supply = {}
    for b in genesis["json"]["balances"]:
        supply[b["asset"]] = supply.get(b["asset"], 0) + int(b["amount"])
    assert g["asset USDC"] == {"symbol": "USDC", "decimals": 6, "gateway": validator, "genesis_supply": supply["USDC"],
                               "deposited": 0, "withdrawn": 0, "deposited_hi": 0, "withdrawn_hi": 0}
    assert g["asset KTR"] == {"symbol": "KTR", "decimals": 6, "gateway": b"", "genesis_supply": supply["KTR"],
                              "deposited": 0, "withdrawn": 0, "deposited_hi": 0, "withdrawn_hi": 0}
    assert g["account Alice"]["nonce"] == 0
    assert _balances(g["account Alice"]) == {"KTR": 1000000000, "USDC": 500000000}
    got = state_root([(k, v) for _, k, v in states["genesis"]])
    assert got == states["genesis_root"], f"Appendix A genesis state root {states['genesis_root'].hex()}, computed {got.hex()}"

    b = _check_state_table(states["block1"], keys, genesis, "A.1 state after block 1")
    assert b["asset USDC"] == g["asset USDC"] and b["asset KTR"] == g["asset KTR"]
    assert b["account Alice"]["nonce"] == 1
    assert _balances(b["account Alice"]) == {"KTR": 1000000000 - 1000, "USDC": 500000000 - 250000000}
    assert b["account Bob"]["nonce"] == 0 and _balances(b["account Bob"]) == {"USDC": 250000000}
    assert b["account validator"]["nonce"] == 0 and _balances(b["account validator"]) == {"KTR": 1000}
    got = state_root([(k, v) for _, k, v in states["block1"]])
    assert got == block1["state_root"], f"A.1 header state_root {block1['state_root'].hex()}, computed {got.hex()}"
    assert block2["state_root"] == got


def test_example_signatures_use_zero_aux_rand(s95, a1, a2, genesis):
    """§4: the examples use aux_rand = 32 zero bytes, so each documented signature is exactly
    BIP-340 Sign(secret key of Appendix A, message, 00 x 32)."""
    zero = bytes(32)
    alice = (3).to_bytes(32, "big")
    val = bytes.fromhex("b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef")
    assert xonly_pubkey(val) == genesis["validators"][0][0]
    assert bip340_sign(alice, a1["txid"], zero) == a1["tx_signature"], "A.1 tx signature is not the aux_rand=0 one"
    assert bip340_sign(val, s95["vote_message"], zero) == s95["signature"], "§9.5 signature is not the aux_rand=0 one"
    for name, height, enc_commit in (("A.2 last_commit", 1, a2["last_commit"]), ("A.2 commit", 2, a2["enc_commit"])):
        c = decode(COMMIT, enc_commit)
        sig = c["signatures"][0]
        msg = vote_message(genesis["chain_id"], height, c["round"], VOTE_TYPE_PRECOMMIT, c["block_hash"], sig["timestamp_ms"])
        assert bip340_sign(val, msg, zero) == sig["signature"], f"{name} signature is not the aux_rand=0 one"
