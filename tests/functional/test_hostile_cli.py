"""Hostile catalogue, CLI (issue 8): malformed arguments, addresses, amounts, key files and tx files
given to the real `kontor` against a real kontord, one pytest item per input. Each case checks
(1) the exact outcome: the exit code (1 for a refusal of kontor's own, CLI11's codes 104/105 for
an option it cannot parse) and a stable fragment of the message on stderr ("kontor: ..."), with
the node's result code where the node refused; (2) an unchanged state root and an empty mempool
(hostile_cases.Guard); (3) a node that is alive and answers GetStatus within the deadline.

One node for the module; key files and tx files are written into its home's keyrings or a
temporary directory. Only 127.0.0.1 and ephemeral ports."""

import json
import os
import re
import time

import pytest

from hostile_cases import (Guard, Keys, address, bech32m, body, off_curve_key, schnorr_sign, to5, transfer, txid_of)
from kontor_harness import Node

USDC = ["--asset", "USDC"]


class Ctx:
    def __init__(self, node, tmp):
        self.node, self.tmp = node, tmp
        self.guard = Guard(node)
        self.k = Keys(node.home)
        self.alice = address(self.k.pub["alice"])
        self.bob = address(self.k.pub["bob"])
        self.keys_dir = os.path.join(node.home, "keys")
        self.test_dir = os.path.join(node.home, "keyring-test")
        os.makedirs(self.keys_dir, exist_ok=True)
        self.count = 0

    def cli(self, *args, **kw):
        kw.setdefault("check", False)
        return self.node.cli(*args, **kw)

    def path(self, name):
        self.count += 1
        return os.path.join(self.tmp, "%d-%s" % (self.count, name))

    def write(self, name, content):
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        return p

    def transfer(self, *extra, **kw):
        return self.cli("tx", "transfer", "--from", "alice", "--to", "bob", *extra, **kw)

    def tx_file(self):
        """A fresh unsigned transfer file from alice to bob (3 USDC)."""
        p = self.path("tx.json")
        self.node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "3", *USDC, "--generate-only",
                      "--out", p)
        with open(p) as f:
            return p, json.load(f)


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    node = Node()
    config = os.path.join(node.home, "config.toml")
    with open(config) as f:
        text = f.read()
    with open(config, "w") as f:
        f.write(re.sub(r"(?m)^heartbeat_interval_ms = \d+", "heartbeat_interval_ms = 500", text))
    node.start()
    c = Ctx(node, str(tmp_path_factory.mktemp("hostile-cli")))
    try:
        # A committed tx: alice's nonce is 1, the tip is past height 1.
        c.node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", *USDC)
        yield c
    finally:
        c.guard.close()
        node.stop()
        node.cleanup()


CASES = []


def case(cid, act, rc, fragment=None, out=None, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    CASES.append(pytest.param((act, rc, fragment, out), id=cid, marks=marks))


def flip_last(addr):
    return addr[:-1] + ("q" if addr[-1] != "q" else "p")


# -- addresses (docs/protocol.md §4.1) -----------------------------------------------------------

ACCOUNT = lambda who: lambda c: c.cli("query", "account", who(c) if callable(who) else who)  # noqa: E731
case("address-checksum-mistyped", ACCOUNT(lambda c: flip_last(c.alice)), 1,
     "bech32m checksum does not match (a character is mistyped")
def upper_one_letter(a):
    """Upper-cases the first letter of the data part (a position holding a digit would not change)."""
    i = next(i for i in range(3, len(a)) if a[i].isalpha())
    return a[:i] + a[i].upper() + a[i + 1:]


case("address-mixed-case", ACCOUNT(lambda c: upper_one_letter(c.alice)), 1,
     "bech32m string mixes upper and lower case")
case("address-91-characters", ACCOUNT("kx1" + "q" * 88), 1, "bech32m string is 91 characters long; at most 90 allowed")
case("address-other-hrp-kx1x", ACCOUNT(lambda c: address(c.k.pub["alice"], hrp="kx1x")), 1,
     "has prefix 'kx1x', expected 'kx'")
case("address-bitcoin-hrp", ACCOUNT(lambda c: address(c.k.pub["alice"], hrp="bc")), 1,
     "is neither a kx1... address nor a key name")
case("address-character-not-in-alphabet", ACCOUNT(lambda c: "kx1b" + c.alice[4:]), 1,
     "has character 'b' at position 3, which is not in the bech32 alphabet")
case("address-too-short", ACCOUNT("kx1qqq"), 1, "bech32m string is too short after the separator")
case("address-31-byte-key", ACCOUNT(bech32m("kx", to5(b"\x01" * 31))), 1, "does not hold a 32-byte key")
case("address-33-byte-key", ACCOUNT(bech32m("kx", to5(b"\x01" * 33))), 1, "does not hold a 32-byte key")
case("address-key-not-on-the-curve", ACCOUNT(address(off_curve_key())), 1,
     "holds a key that is not a point on secp256k1")
case("address-with-a-space", ACCOUNT(lambda c: "kx1 " + c.alice[3:]), 1,
     "bech32m string has an invalid character (byte 32) at position 3")
case("address-with-non-ascii", ACCOUNT(lambda c: "kx1\u00e9" + c.alice[4:]), 1,
     "bech32m string has an invalid character (byte 195) at position 3")
case("address-all-upper-case-accepted", ACCOUNT(lambda c: c.alice.upper()), 0, out=lambda c: c.alice)
case("key-name-path-traversal", ACCOUNT("../../etc/passwd"), 1, "key name '../../etc/passwd' may only use a-z, 0-9, _ and -")
case("key-name-65-characters", ACCOUNT("a" * 65), 1, "key name must be 1..64 characters")
case("key-name-unknown", ACCOUNT("nobody"), 1, "'nobody' is neither a kx1... address nor a key name: no key named 'nobody'")
TRANSFER_TO = lambda to: lambda c: c.cli("tx", "transfer", "--from", "alice", "--to", to(c) if callable(to) else to,  # noqa
                                          "--amount", "1", *USDC)
case("transfer-to-mistyped-address", TRANSFER_TO(lambda c: flip_last(c.bob)), 1, "bech32m checksum does not match")
case("transfer-to-off-curve-address", TRANSFER_TO(address(off_curve_key())), 1,
     "holds a key that is not a point on secp256k1")
case("transfer-to-given-twice", lambda c: c.transfer("--to", "carol", "--amount", "1", *USDC), 114,
     "--to: At Most 1 required but received 2")

# -- amounts and numeric options -----------------------------------------------------------------

for cid, amount, fragment in [
        ("exponent", "1e5", "amount '1e5' is not a decimal number (digits and one '.', no sign or exponent)"),
        ("negative", "-1", "amount '-1' is not a decimal number"),
        ("plus-sign", "+1", "amount '+1' is not a decimal number"),
        ("hex", "0x10", "amount '0x10' is not a decimal number"),
        ("2^64-whole-units", "18446744073709551616", "amount '18446744073709551616' is too large"),
        ("2^64-smallest-units", "18446744073709.551616", "amount '18446744073709.551616' is too large"),
        ("empty", "", "amount '' is empty"),
        ("dot-only", ".", "amount '.' is not a number"),
        ("two-dots", "1..2", "amount '1..2' is not a decimal number"),
        ("seven-decimals", "1.0000001", "amount '1.0000001' has 7 decimals; USDC has 6"),
        ("comma", "1,5", "amount '1,5' is not a decimal number"),
        ("leading-space", " 1", "amount ' 1' is not a decimal number"),
        ("arabic-digit", "\u0661", "is not a decimal number"),
        ("nan", "NaN", "amount 'NaN' is not a decimal number"),
        ("infinity", "inf", "amount 'inf' is not a decimal number"),
        ("zero", "0", "--amount must be greater than zero"),
        ("zero-point-zero", "0.000000", "--amount must be greater than zero")]:
    case("amount-" + cid, lambda c, a=amount: c.transfer("--amount", a, *USDC), 1, fragment)

case("amount-2^64-1-smallest-units-refused-by-the-node",
     lambda c: c.transfer("--amount", "18446744073709.551615", *USDC), 1,
     "insufficient_funds (400): balance")
case("asset-unknown", lambda c: c.transfer("--amount", "1", "--asset", "NOPE"), 1,
     "asset 'NOPE' does not exist on this chain (assets: KTR, USDC, USDT)")
case("asset-empty", lambda c: c.transfer("--amount", "1", "--asset", ""), 1, "asset '' does not exist on this chain")
case("memo-257-bytes", lambda c: c.transfer("--amount", "1", *USDC, "--memo", "m" * 257), 1,
     "--memo is longer than 256 bytes")
case("memo-100KiB", lambda c: c.transfer("--amount", "1", *USDC, "--memo", "m" * 102400), 1,
     "--memo is longer than 256 bytes")
case("fee-negative", lambda c: c.transfer("--amount", "1", *USDC, "--fee", "-5"), 1, "amount '-5' is not a decimal number")
case("fee-below-the-floor", lambda c: c.transfer("--amount", "1", *USDC, "--fee", "0.000999"), 1,
     "fee_too_low (112): fee 999 is below the minimum 1000 KTR")
case("fee-2^64-1", lambda c: c.transfer("--amount", "1", *USDC, "--fee", "18446744073709.551615"), 1,
     "insufficient_funds (400): cannot pay the fee: balance")
case("nonce-used", lambda c: c.transfer("--amount", "1", *USDC, "--nonce", "0"), 1,
     "bad_nonce (300): nonce 1 expected, got 0 (already used)")
case("nonce-10000", lambda c: c.transfer("--amount", "1", *USDC, "--nonce", "10000"), 1,
     "nonce_gap (500): nonce 10000 is too far ahead")
case("expiry-height-1", lambda c: c.transfer("--amount", "1", *USDC, "--expiry-height", "1"), 1,
     "expired (301): tx expired at height 1; block is")
case("nonce-not-a-number", lambda c: c.transfer("--amount", "1", *USDC, "--nonce", "one"), 105,
     "--nonce: value 'one' is not a whole number")
case("nonce-minus-1-generate-only",
     lambda c: c.transfer("--amount", "1", *USDC, "--nonce", "-1", "--generate-only", "--out", c.path("n.json")), 105,
     "--nonce: value '-1' is not a whole number (decimal digits only, no sign)")
case("nonce-2^64-generate-only",
     lambda c: c.transfer("--amount", "1", *USDC, "--nonce", "18446744073709551616", "--generate-only", "--out",
                          c.path("n.json")), 105, "--nonce: value '18446744073709551616' is too large")
case("expiry-height-minus-1-generate-only",
     lambda c: c.transfer("--amount", "1", *USDC, "--expiry-height", "-1", "--generate-only", "--out", c.path("e.json")),
     105, "--expiry-height: value '-1' is not a whole number")
case("output-format-xml", lambda c: c.cli("--output", "xml", "query", "head"), 105, "--output: xml not in {text,json}")
case("keyring-unknown", lambda c: c.node.cli("query", "head", keyring="vault", check=False), 105,
     "--keyring: vault not in {file,test}")
case("node-closed-port", lambda c: c.cli("--node", "127.0.0.1:1", "query", "head", node=False), 1,
     "cannot reach the node at 127.0.0.1:1")
case("node-unparseable-address", lambda c: c.cli("--node", "[::1", "query", "head", node=False), 1,
     "cannot reach the node at [::1 (DNS resolution failed for [::1: unparseable host:port)")
case("node-port-above-65535", lambda c: c.cli("--node", "127.0.0.1:99999", "query", "head", node=False), 1,
     "--node: '127.0.0.1:99999' is not HOST:PORT with a port of 1..65535")

# -- queries -------------------------------------------------------------------------------------

case("query-tx-not-hex", lambda c: c.cli("query", "tx", "zz"), 1, "txid must be 64 hex characters, got 'zz'")
case("query-tx-66-hex", lambda c: c.cli("query", "tx", "ab" * 33), 1, "txid must be 64 hex characters")
case("query-block-word", lambda c: c.cli("query", "block", "abc"), 1,
     "give a block height or a 64-hex-character block hash, not 'abc'")
case("query-block-2^64", lambda c: c.cli("query", "block", "99999999999999999999"), 1,
     "give a block height or a 64-hex-character block hash, not '99999999999999999999'")
case("query-block-2^64-1", lambda c: c.cli("query", "block", "18446744073709551615"), 1,
     "not_found (305): no block at height 18446744073709551615; the tip is")
case("query-block-unknown-hash", lambda c: c.cli("query", "block", "42" * 32), 1, "not_found (305): no block with hash")
case("query-block-minus-1", lambda c: c.cli("query", "block", "-1"), 1, "give a block height or a 64-hex-character block hash, not '-1'")
case("query-block-trailing-garbage", lambda c: c.cli("query", "block", "1abc"), 1, "give a block height or a 64-hex-character block hash, not '1abc'")
case("query-state-kind-256", lambda c: c.cli("query", "state", "--kind", "256", "--id", "00"), 1,
     "bad_field (108): record kind must be 1..255")
case("query-state-kind-2^32", lambda c: c.cli("query", "state", "--kind", "4294967296", "--id", "00"), 104,
     "Could not convert: --kind = 4294967296")
case("query-state-id-not-hex", lambda c: c.cli("query", "state", "--kind", "1", "--id", "zz"), 1, "--id must be hex")
case("query-state-id-257-bytes", lambda c: c.cli("query", "state", "--kind", "16", "--id", "00" * 257), 1,
     "too_large (102): record id is longer than 256 bytes")
case("query-state-height-2^64-1",
     lambda c: c.cli("query", "state", "--kind", "1", "--id", "00" * 32, "--height", "18446744073709551615"), 1,
     "not_found (305): state at height 18446744073709551615 is not kept")

# -- keys and passphrases ------------------------------------------------------------------------

case("keys-show-unknown", lambda c: c.cli("keys", "show", "nope"), 1, "no key named 'nope' in")
case("keys-show-path-traversal", lambda c: c.cli("keys", "show", "../../x"), 1, "key name '../../x' may only use")
case("keys-new-existing-name", lambda c: c.cli("keys", "new", "alice"), 1, "a key named 'alice' already exists in")
case("keys-delete-without-yes", lambda c: c.cli("keys", "delete", "alice"), 1, "cannot be undone; run again with --yes")
case("keys-new-short-passphrase",
     lambda c: c.cli("keys", "new", "short", keyring="file", env={"KONTOR_PASSPHRASE": "short"}), 1,
     "choose a passphrase of at least 8 characters")
for cid, secret in [("zero", "00" * 32), ("order", "%064x" % 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141),
                    ("not-hex", "zz" * 32), ("31-bytes", "01" * 31)]:
    case("keys-import-secret-" + cid, lambda c, s=secret: c.cli("keys", "import", "imp", "--secret-file",
                                                                 c.write("secret", s)), 1,
         "does not hold a valid secp256k1 secret key (64 hex characters)")
case("keys-import-nothing", lambda c: c.cli("keys", "import", "imp", keyring="file", env={"KONTOR_PASSPHRASE": "x" * 8}), 1,
     "give --keystore FILE or --secret-file FILE")
case("keys-import-missing-keystore",
     lambda c: c.cli("keys", "import", "imp", "--keystore", "/nonexistent/k.json", keyring="file",
                     env={"KONTOR_PASSPHRASE": "x" * 8}), 1, "--keystore: cannot read /nonexistent/k.json")


def keystore(addr, n=2, r=1, p=1, kdf="scrypt", c=None, version=3, cipher="aes-128-ctr", iv="00" * 16, ct="11" * 32,
             dklen=32, mac="00" * 32, edit=None):
    """A Web3 v3 key file with the given parameters; its MAC never matches (no passphrase opens it)."""
    kp = {"dklen": dklen, "salt": "00" * 32}
    kp.update({"n": n, "r": r, "p": p} if kdf == "scrypt" else {"c": c, "prf": "hmac-sha256"})
    doc = {"version": version, "address": addr,
           "crypto": {"cipher": cipher, "cipherparams": {"iv": iv}, "ciphertext": ct, "kdf": kdf, "kdfparams": kp,
                      "mac": mac}}
    if edit:
        edit(doc)
    return json.dumps(doc)


def file_key(name, text, *cmd, verify=True):
    """Writes keys/NAME.json, then runs `keys show NAME [--verify]` (or `cmd`) on the file keyring."""
    def act(c):
        with open(os.path.join(c.keys_dir, name + ".json"), "w") as f:
            f.write(text(c) if callable(text) else text)
        args = cmd or (("keys", "show", name, "--verify") if verify else ("keys", "show", name))
        return c.cli(*[a.replace("NAME", name) for a in args], keyring="file", env={"KONTOR_PASSPHRASE": "whatever1"})
    return act


KS = lambda **kw: lambda c: keystore(c.alice, **kw)  # noqa: E731


def with_passphrase_file(name, content):
    def act(c):
        with open(os.path.join(c.keys_dir, name + ".json"), "w") as f:
            f.write(keystore(c.alice))
        pp = c.write("pp", content) if content is not None else "/nonexistent/pp"
        return c.cli("--passphrase-file", pp, "keys", "show", name, "--verify", keyring="file")
    return act


case("passphrase-file-5000-bytes", with_passphrase_file("pp1", "x" * 5000), 1, "is larger than 4096 bytes")
case("passphrase-file-missing", with_passphrase_file("pp2", None), 1, "--passphrase-file: cannot read /nonexistent/pp")
case("keyfile-scrypt-n-2^30", file_key("huge", KS(n=2 ** 30, r=8)), 1,
     "key file asks for scrypt n=1073741824 r=8 p=1; 128*r*n bytes of memory may be at most 256 MiB")
case("keyfile-scrypt-n-2^62", file_key("huge2", KS(n=2 ** 62)), 1,
     "n=4611686018427387904 r=1 p=1; 128*r*n bytes of memory may be at most 256 MiB")
case("keyfile-scrypt-n-not-a-power-of-two", file_key("notpow", KS(n=1000)), 1, "kdfparams.n must be a power of two >= 2")
case("keyfile-scrypt-p-17", file_key("p17", KS(p=17)), 1, "p may be at most 16")
case("keyfile-scrypt-r-33", file_key("r33", KS(r=33)), 1, "r may be at most 32")
case("keyfile-scrypt-work-5GiB", file_key("work", KS(n=2 ** 18, r=8, p=5)), 1,
     "128*r*n*p bytes of work may be at most 1 GiB")
case("keyfile-pbkdf2-10^9-rounds", file_key("pbk", KS(kdf="pbkdf2", c=10 ** 9)), 1,
     "key file asks for 1000000000 PBKDF2 rounds; at most 2000000")
case("keyfile-pbkdf2-0-rounds", file_key("pbk0", KS(kdf="pbkdf2", c=0)), 1, "kdfparams.c must be positive")
case("keyfile-wrong-passphrase", file_key("wrongpass", KS()), 1, "wrong passphrase for this key file (MAC check failed)")
case("keyfile-wrong-passphrase-when-signing",
     file_key("wrongpass2", KS(), "tx", "transfer", "--from", "NAME", "--to", "bob", "--amount", "1", "--asset", "USDC"),
     1, "key 'wrongpass2': wrong passphrase for this key file (MAC check failed)")
case("keyfile-truncated-json", file_key("trunc", lambda c: keystore(c.alice)[:40], verify=False), 1,
     "trunc.json is not a Kontor key file (no \"address\")")
case("keyfile-70KiB", file_key("big", lambda c: keystore(c.alice) + " " * 70000, verify=False), 1,
     "big.json is larger than 65536 bytes")
case("keyfile-version-2", file_key("v2", KS(version=2)), 1, "key file is not a Web3 v3 keystore: 'version' is not 3")
case("keyfile-cipher-aes-256-gcm", file_key("gcm", KS(cipher="aes-256-gcm")), 1, "cipher must be 'aes-128-ctr'")
case("keyfile-iv-8-bytes", file_key("iv", KS(iv="00" * 8)), 1, "field 'iv' must be 16 bytes")
case("keyfile-ciphertext-16-bytes", file_key("ct16", KS(ct="11" * 16)), 1,
     "ciphertext must be 32 bytes (a secp256k1 secret)")
case("keyfile-n-as-string", file_key("nstr", KS(n="1024")), 1, "missing number field 'n'")
case("keyfile-n-negative", file_key("nneg", KS(n=-2)), 1, "missing number field 'n'")
case("keyfile-n-fraction", file_key("nfloat", KS(n=2.5)), 1, "missing number field 'n'")
case("keyfile-dklen-64", file_key("dk", KS(dklen=64)), 1, "kdfparams.dklen must be 32")
case("keyfile-crypto-is-an-array", file_key("arr", KS(edit=lambda d: d.__setitem__("crypto", []))), 1,
     "missing 'crypto' object")
case("keyfile-kdf-argon2id", file_key("argon", KS(edit=lambda d: d["crypto"].__setitem__("kdf", "argon2id"))), 1,
     "kdf must be 'scrypt' or 'pbkdf2'")
case("keyfile-salt-a-number", file_key("salt", KS(edit=lambda d: d["crypto"]["kdfparams"].__setitem__("salt", 5))), 1,
     "missing string field 'salt'")
case("keyfile-address-not-an-address", file_key("addrbad", lambda c: keystore("kx1qqq"), verify=False), 1,
     "\"address\": address 'kx1qqq': bech32m string is too short")
case("keyfile-fifo", lambda c: (os.mkfifo(os.path.join(c.keys_dir, "fifo.json")),
                                c.cli("keys", "show", "fifo", keyring="file", timeout=20))[1], 1,
     "fifo.json is not a regular file")
case("keyfile-symlink-to-dev-zero", lambda c: (os.symlink("/dev/zero", os.path.join(c.keys_dir, "zero.json")),
                                               c.cli("keys", "show", "zero", keyring="file", timeout=20))[1], 1,
     "zero.json is not a regular file")
case("keyfile-import-scrypt-n-2^40",
     lambda c: c.cli("keys", "import", "imp2", "--keystore", c.write("ks.json", keystore(c.alice, n=2 ** 40)),
                     keyring="file", env={"KONTOR_PASSPHRASE": "whatever1"}), 1,
     "n=1099511627776 r=1 p=1; 128*r*n bytes of memory may be at most 256 MiB")


def edited_test_key(name, edit):
    """A test-keyring file made from alice's, edited."""
    def act(c):
        with open(os.path.join(c.test_dir, "alice.json")) as f:
            doc = json.load(f)
        edit(c, doc)
        with open(os.path.join(c.test_dir, name + ".json"), "w") as f:
            json.dump(doc, f)
        return c.cli("keys", "show", name)
    return act


case("testkey-address-of-another-key", edited_test_key("alice2", lambda c, d: d.__setitem__("address", c.bob)), 1,
     lambda c: "the file's \"address\" %s is not the address of the key it holds" % c.bob)
case("testkey-secret-zero", edited_test_key("zero", lambda c, d: d.__setitem__("secret", "00" * 32)), 1,
     "holds an invalid secret")
case("testkey-secret-not-hex", edited_test_key("zz", lambda c, d: d.__setitem__("secret", "zz")), 1, "has no hex \"secret\"")
case("testkey-secret-above-the-order", edited_test_key("ffsec", lambda c, d: d.__setitem__("secret", "ff" * 32)), 1,
     "holds an invalid secret")
case("transfer-to-a-tampered-test-key",
     lambda c: (edited_test_key("alice3", lambda c_, d: d.__setitem__("address", c_.bob))(c),
                c.cli("tx", "transfer", "--from", "bob", "--to", "alice3", "--amount", "1", *USDC))[1], 1,
     "is not the address of the key it holds")

# -- tx files (tools/kontor/tx_common.cpp ReadTxFile) --------------------------------------------


def tx_file_case(mutate, command="sign", raw=None):
    """A fresh unsigned transfer file, edited by `mutate(ctx, doc)` (or replaced by `raw`), then
    `kontor tx sign FILE --from alice` or `kontor tx broadcast FILE`."""
    def act(c):
        path, doc = c.tx_file()
        if raw is not None:
            with open(path, "wb") as f:
                f.write(raw(c, doc) if callable(raw) else raw)
        elif mutate is not None:
            mutate(c, doc)
            with open(path, "w") as f:
                json.dump(doc, f)
        if command == "sign":
            return c.cli("tx", "sign", path, "--from", "alice")
        return c.cli("tx", "broadcast", path, "--async")
    return act


def set_(key, value):
    return lambda c, d: d.__setitem__(key, value(c, d) if callable(value) else value)


EDITED = "what the file shows is not what would be signed (was it edited?): refusing it"
case("txfile-decoded-amount-tampered", tx_file_case(lambda c, d: d["decoded_body"]["transfer"].__setitem__("amount", "4000000")),
     1, "\"decoded_body\" does not match \"body\" (first difference at /transfer/amount); " + EDITED)
case("txfile-decoded-recipient-tampered", tx_file_case(lambda c, d: d["decoded_body"]["transfer"].__setitem__("to", "AAAA")),
     1, "(first difference at /transfer/to)")
case("txfile-decoded-extra-key", tx_file_case(lambda c, d: d["decoded_body"].__setitem__("x", 1)), 1,
     "(first difference at /x)")
case("txfile-decoded-null", tx_file_case(set_("decoded_body", None)), 1, "\"decoded_body\" does not match \"body\"; " + EDITED)
case("txfile-chain-id-tampered", tx_file_case(set_("chain_id", "kontor-main")), 1,
     "\"chain_id\" does not match \"body\"; " + EDITED)
case("txfile-signers-tampered", tx_file_case(set_("signers", lambda c, d: [c.bob])), 1,
     "\"signers\" does not match \"body\"; " + EDITED)
case("txfile-txid-tampered", tx_file_case(set_("txid", "00" * 32)), 1, "\"txid\" does not match the body (the file was edited?)")
case("txfile-format-2", tx_file_case(set_("format", "kontor-tx/2")), 1, "is not a kontor tx file (made by --generate-only)")
case("txfile-no-body", tx_file_case(lambda c, d: d.pop("body")), 1, "is not a kontor tx file")
case("txfile-body-a-number", tx_file_case(set_("body", 5)), 1, "is not a kontor tx file")
case("txfile-body-not-hex", tx_file_case(set_("body", "zz")), 1, "\"body\" is not hex")
case("txfile-body-not-canonical",
     tx_file_case(lambda c, d: (d.__setitem__("body", d["body"] + "3001"), d.pop("txid"), d.pop("decoded_body"))), 1,
     "tx body is not canonically encoded")
case("txfile-body-65537-bytes",
     tx_file_case(lambda c, d: (d.__setitem__("body", "00" * 65537), d.pop("txid"), d.pop("decoded_body"))), 1,
     "tx body is 65537 bytes; at most 65536 allowed")
case("txfile-truncated-json", tx_file_case(None, raw=lambda c, d: json.dumps(d).encode()[:100]), 1,
     "is not a kontor tx file (made by --generate-only)")
case("txfile-empty", tx_file_case(None, raw=b""), 1, "is not a kontor tx file")
case("txfile-json-array", tx_file_case(None, raw=b"[]"), 1, "is not a kontor tx file")
case("txfile-binary", tx_file_case(None, raw=bytes(range(256))), 1, "is not a kontor tx file")
case("txfile-300KiB", tx_file_case(None, raw=b" " * 300000), 1, "is larger than 262144 bytes")
case("txfile-signatures-an-array", tx_file_case(set_("signatures", [])), 1,
     "\"signatures\" must be an object of address -> hex")
case("txfile-signature-63-bytes", tx_file_case(set_("signatures", lambda c, d: {c.alice: "00" * 63}), "broadcast"), 1,
     lambda c: "signature of %s is not 64 bytes of hex" % c.alice)
case("txfile-signature-a-number", tx_file_case(set_("signatures", lambda c, d: {c.alice: 5}), "broadcast"), 1,
     "is not 64 bytes of hex")
case("txfile-signature-zeros", tx_file_case(set_("signatures", lambda c, d: {c.alice: "00" * 64}), "broadcast"), 1,
     "does not verify for this body")
case("txfile-signature-of-another-body",
     tx_file_case(set_("signatures", lambda c, d: {c.alice: schnorr_sign(c.k.secret["alice"], b"\x01" * 32).hex()}),
                  "broadcast"), 1, "does not verify for this body")
case("txfile-unsigned-broadcast", tx_file_case(None, "broadcast"), 1, "tx is not fully signed; still to sign: kx1")
case("txfile-signed-by-a-non-signer", lambda c: c.cli("tx", "sign", c.tx_file()[0], "--from", "bob"), 1,
     "is not a signer of this tx")
case("txfile-signed-by-an-unknown-key", lambda c: c.cli("tx", "sign", c.tx_file()[0], "--from", "nobody"), 1,
     "no key named 'nobody'")
case("txfile-missing", lambda c: c.cli("tx", "sign", "/nonexistent/tx.json", "--from", "alice"), 105,
     "File does not exist: /nonexistent/tx.json")
case("txfile-a-directory", lambda c: c.cli("tx", "broadcast", c.tmp), 105, "File is actually a directory")


def other_chain_file(c):
    b = body("kontor-other", [c.k.pub["alice"]], nonce=1, fee=1000, payload=transfer(c.k.pub["bob"]))
    doc = {"format": "kontor-tx/1", "body": b.hex(),
           "signatures": {c.alice: schnorr_sign(c.k.secret["alice"], txid_of(b)).hex()}}
    return c.cli("tx", "broadcast", c.write("other.json", json.dumps(doc)))


case("txfile-signed-for-another-chain", other_chain_file, 1,
     "rejected: wrong_chain (103): tx is for chain 'kontor-other', this is 'kontor-dev'")


@pytest.mark.parametrize("spec", CASES)
def test_hostile_cli(ctx, spec):
    act, rc, fragment, out = spec
    root = ctx.guard.snapshot()
    started = time.monotonic()
    r = act(ctx)
    assert time.monotonic() - started < 30
    assert r.rc == rc, (r.rc, r.out[-500:], r.err[-1500:])
    if fragment is not None:
        fragment = fragment(ctx) if callable(fragment) else fragment
        if isinstance(fragment, tuple):  # (must be there, must not be there)
            assert fragment[0] in r.err and fragment[1] not in r.err, (fragment, r.err[-1500:])
        else:
            assert fragment in r.err, (fragment, r.err[-1500:])
    if rc == 1:
        assert r.err.startswith("kontor: ") or "\nkontor: " in r.err, r.err[-1500:]
        assert r.out == "", r.out[-500:]
    if out is not None:
        assert (out(ctx) if callable(out) else out) in r.out, r.out[-1500:]
    ctx.guard.check(root)
