"""A user's view: keys, transfers, rejections and queries through the real kontor CLI
against a real kontord."""

import json
import os

from kontor_harness import KONTOR

USDC = 10 ** 6  # USDC has 6 decimals on the dev chain
FUNDED = 100_000 * USDC


def test_transfer_is_committed_and_visible_as_text_and_json(node):
    out = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "12.5", "--asset", "USDC").out
    assert "status  committed" in out
    txid = out.split()[1]
    assert len(txid) == 64

    text = node.cli("query", "account", "bob").out
    assert "100012.500000 USDC" in text
    assert "nonce      0" in text

    doc = node.cli_json("query", "account", "alice")
    assert doc["nonce"] == 1
    usdc = [b for b in doc["balances"] if b["asset"] == "USDC"][0]
    assert usdc["amount"] == str(FUNDED - 12_500_000)
    assert usdc["display"] == "99987.500000 USDC"

    tx = node.cli_json("query", "tx", txid)
    assert tx["status"] == "committed"
    assert tx["height"] >= 1
    block = node.cli_json("query", "block", str(tx["height"]))
    assert txid in block["txids"]
    assert block["hash"] == tx["block_hash"]


def test_rejections_show_code_and_what_to_do(node):
    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1000000", "--asset", "USDC", check=False)
    assert r.rc == 1
    assert "insufficient_funds (400)" in r.err
    assert "balance 100000.000000 USDC < 1000000.000000 USDC" in r.err

    j = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1000000", "--asset", "USDC",
                 output="json", check=False)
    assert j.rc == 1
    assert j.json()["error"]["code"] == 400
    assert j.json()["error"]["name"] == "insufficient_funds"

    # Nothing changed.
    assert node.balance("alice", "USDC") == FUNDED

    bad = node.address("bob")
    bad = bad[:-1] + ("q" if bad[-1] != "q" else "p")
    r = node.cli("tx", "transfer", "--from", "alice", "--to", bad, "--amount", "1", "--asset", "USDC", check=False)
    assert r.rc == 1 and "checksum" in r.err

    r = node.cli("tx", "transfer", "--from", "mallory", "--to", "bob", "--amount", "1", "--asset", "USDC", check=False)
    assert r.rc == 1 and "'mallory'" in r.err

    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--asset", "DOGE", check=False)
    assert r.rc == 1 and "DOGE" in r.err and "USDC" in r.err

    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1.0000001", "--asset", "USDC", check=False)
    assert r.rc == 1 and "7 decimals" in r.err

    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--asset", "USDC", "--nonce", "0",
                 check=False)
    assert r.rc == 0  # nonce 0 is alice's next
    r = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--asset", "USDC", "--nonce", "0",
                 check=False)
    assert r.rc == 1 and "bad_nonce (300)" in r.err and "nonce 1 expected, got 0" in r.err

    r = KONTOR_unreachable(node)
    assert r.rc == 1 and "cannot reach the node at 127.0.0.1:1" in r.err


def KONTOR_unreachable(node):
    import subprocess
    from kontor_harness import CliResult
    proc = subprocess.run([KONTOR, "--home", node.home, "--node", "127.0.0.1:1", "query", "head"],
                          capture_output=True, text=True, timeout=60)
    return CliResult(proc)


def test_generate_sign_broadcast_across_parties(node, tmp_path):
    path = str(tmp_path / "tx.json")
    node.cli("tx", "transfer", "--from", "carol", "--to", "alice", "--amount", "3", "--asset", "USDT",
             "--generate-only", "--out", path)
    doc = json.load(open(path))
    assert doc["format"] == "kontor-tx/1" and doc["missing_signatures"] == [node.address("carol")]

    r = node.cli("tx", "broadcast", path, check=False)
    assert r.rc == 1 and "not fully signed" in r.err and node.address("carol") in r.err

    r = node.cli("tx", "sign", path, "--from", "bob", check=False)
    assert r.rc == 1 and "not a signer" in r.err

    signed = node.cli_json("tx", "sign", path, "--from", "carol")
    assert signed["missing_signatures"] == []
    out = node.cli_json("tx", "broadcast", path)
    assert out["status"] == "committed"
    assert node.balance("alice", "USDT") == FUNDED + 3 * USDC

    # A tampered file is refused before it reaches the node.
    # Flip a bit inside the recipient key: still a canonical body, but no longer the signed one.
    doc = json.load(open(path))
    alice = node.cli_json("keys", "show", "alice", node=False)["public_key"]
    assert alice in doc["body"]
    flipped = alice[:10] + ("0" if alice[10] != "0" else "1") + alice[11:]
    doc["body"] = doc["body"].replace(alice, flipped)
    json.dump(doc, open(path, "w"))
    r = node.cli("tx", "broadcast", path, check=False)
    assert r.rc == 1 and "does not match the body" in r.err


def test_encrypted_keys_new_list_export_delete(node):
    env = {"KONTOR_PASSPHRASE": "correct horse battery"}
    created = node.cli_json("keys", "new", "dave", keyring="file", env=env, node=False)
    assert created["address"].startswith("kx1") and created["keyring"] == "file"
    listed = node.cli_json("keys", "list", keyring="file", node=False)
    assert [k["name"] for k in listed] == ["dave"]
    exported = node.cli("keys", "export", "dave", keyring="file", node=False).out
    assert json.loads(exported)["crypto"]["kdf"] == "scrypt"
    assert json.loads(exported)["address"] == created["address"]

    r = node.cli("keys", "export", "dave", "--unsafe-secret", keyring="file", node=False,
                 env={"KONTOR_PASSPHRASE": "wrong passphrase"}, check=False)
    assert r.rc == 1 and "wrong passphrase" in r.err

    # Fund dave and let him pay: his encrypted key signs.
    node.cli("tx", "transfer", "--from", "alice", "--to", created["address"], "--amount", "5", "--asset", "KTR")
    node.cli("tx", "transfer", "--from", "dave", "--to", node.address("bob"), "--amount", "1", "--asset", "KTR",
             keyring="file", env=env)
    assert node.balance(created["address"], "KTR") == 4 * 10 ** 6 - 1000  # minus the 0.001 KTR fee

    r = node.cli("keys", "delete", "dave", keyring="file", node=False, check=False)
    assert r.rc == 1 and "--yes" in r.err
    node.cli("keys", "delete", "dave", "--yes", keyring="file", node=False)
    assert node.cli_json("keys", "list", keyring="file", node=False) == []


def test_state_query_with_proof(node):
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--asset", "USDC")
    key_hex = node.cli_json("keys", "show", "bob", node=False)["public_key"]
    doc = node.cli_json("query", "state", "--kind", "1", "--id", key_hex, "--prove")
    assert doc["found"] is True
    assert doc["proof"] == "membership proof verifies against the state root"
    head = node.cli_json("query", "head")
    assert doc["state_root"] == head["state_root"]
    absent = node.cli_json("query", "state", "--kind", "1", "--id", "11" * 32, "--prove")
    assert absent["found"] is False and absent["proof"].startswith("absence proof verifies")
    asset = node.cli_json("query", "state", "--kind", "2", "--id-text", "USDC")
    assert asset["decoded"]["symbol"] == "USDC"
