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


def test_a_key_file_with_another_keys_address_is_unverified_in_lists_and_refused_at_unlock(node):
    env = {"KONTOR_PASSPHRASE": "eve's passphrase"}
    eve = node.cli_json("keys", "new", "eve", keyring="file", env=env, node=False)
    assert eve["address_verified"] is True
    bob = node.address("bob")
    path = os.path.join(node.home, "keys", "eve.json")
    doc = json.load(open(path))
    assert doc["address"] == eve["address"]
    doc["address"] = bob
    json.dump(doc, open(path, "w"))

    # Listing cannot decrypt: the stored address is shown, never as a fact.
    listed = node.cli_json("keys", "list", keyring="file", node=False)
    assert [(k["name"], k["address"], k["address_verified"]) for k in listed] == [("eve", bob, False)]
    text = node.cli("keys", "list", keyring="file", node=False).out
    assert [line.split() for line in text.splitlines() if line.startswith("eve")] == [["eve", bob, "(unverified)"]]
    assert "keys show NAME --verify" in text
    shown = node.cli("keys", "show", "eve", keyring="file", node=False).out
    assert "unverified" in shown

    # Unlocking derives the key and refuses the file, naming it: no tx is signed.
    r = node.cli("keys", "show", "eve", "--verify", keyring="file", node=False, env=env, output="json", check=False)
    assert r.rc == 1
    assert r.json()["error"]["code"] == 309 and r.json()["error"]["name"] == "mismatch"
    assert path in r.err and bob in r.err and eve["address"] in r.err
    node.cli("tx", "transfer", "--from", "alice", "--to", eve["address"], "--amount", "2", "--asset", "KTR")
    before = node.balance(eve["address"], "KTR")
    r = node.cli("tx", "transfer", "--from", "eve", "--to", "carol", "--amount", "1", "--asset", "KTR",
                 keyring="file", env=env, check=False)
    assert r.rc == 1 and "is not the address of the key it holds" in r.err and path in r.err
    assert node.balance(eve["address"], "KTR") == before == 2 * 10 ** 6
    r = node.cli("keys", "export", "eve", "--unsafe-secret", keyring="file", node=False, env=env, check=False)
    assert r.rc == 1 and "is not the address of the key it holds" in r.err and r.out == ""

    # With her own address back, --verify confirms it.
    doc["address"] = eve["address"]
    json.dump(doc, open(path, "w"))
    verified = node.cli_json("keys", "show", "eve", "--verify", keyring="file", node=False, env=env)
    assert verified["address"] == eve["address"] and verified["address_verified"] is True


def test_a_test_key_with_another_keys_address_is_refused(node):
    bob = node.address("bob")
    path = os.path.join(node.home, "keyring-test", "carol.json")
    doc = json.load(open(path))
    carol = doc["address"]
    doc["address"] = bob
    json.dump(doc, open(path, "w"))
    r = node.cli("keys", "show", "carol", node=False, output="json", check=False)
    assert r.rc == 1 and r.json()["error"]["code"] == 309 and path in r.err
    # The list leaves it out and says why on stderr.
    r = node.cli("keys", "list", node=False, output="json")
    assert sorted(k["name"] for k in r.json()) == ["alice", "bob", "gateway"]
    assert all(k["address_verified"] is True for k in r.json())
    assert "warning: skipped" in r.err and path in r.err
    r = node.cli("tx", "transfer", "--from", "carol", "--to", "alice", "--amount", "1", "--asset", "USDC", check=False)
    assert r.rc == 1 and path in r.err
    assert node.balance(carol, "USDC") == FUNDED


def test_tx_sign_and_broadcast_refuse_a_file_whose_decoded_body_was_edited(node, tmp_path):
    path = str(tmp_path / "tx.json")
    node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "3", "--asset", "USDC",
             "--generate-only", "--out", path)
    original = json.load(open(path))
    assert original["decoded_body"]["transfer"]["amount"] == "3000000"

    # A co-signer would read 0.01 USDC while signing 3 USDC.
    edited = json.loads(json.dumps(original))
    edited["decoded_body"]["transfer"]["amount"] = "10000"
    json.dump(edited, open(path, "w"), indent=2)
    r = node.cli("tx", "sign", path, "--from", "alice", output="json", check=False)
    assert r.rc == 1
    assert r.json()["error"]["code"] == 309 and r.json()["error"]["name"] == "mismatch"
    assert '"decoded_body" does not match "body"' in r.err and "/transfer/amount" in r.err
    assert json.load(open(path))["signatures"] == {}  # nothing signed, file untouched

    # Other edits of the readable fields: a dropped payload field, an added one, the chain id, the signers.
    for field, edit in [
            ("decoded_body", lambda d: d["decoded_body"]["transfer"].pop("amount")),
            ("decoded_body", lambda d: d["decoded_body"].update({"memo_shown": "free"})),
            ("chain_id", lambda d: d.update({"chain_id": "kontor-main"})),
            ("signers", lambda d: d.update({"signers": [node.address("carol")]})),
    ]:
        doc = json.loads(json.dumps(original))
        edit(doc)
        json.dump(doc, open(path, "w"))
        r = node.cli("tx", "sign", path, "--from", "alice", check=False)
        assert r.rc == 1 and '"%s" does not match "body"' % field in r.err, (field, r.err)

    # The file as generated (re-indented: the content, not the layout, is compared) is signed, and
    # the signer is shown the body on stderr first.
    json.dump(original, open(path, "w"), indent=4, sort_keys=True)
    r = node.cli("tx", "sign", path, "--from", "alice")
    assert "signing tx %s" % original["txid"] in r.err
    assert '"amount": "3000000"' in r.err and node.address("alice") in r.err
    assert "still to sign" in r.out
    signed = json.load(open(path))
    assert signed["missing_signatures"] == []

    # broadcast checks the same: a signed file whose decoded_body is edited afterwards is refused.
    edited = json.loads(json.dumps(signed))
    edited["decoded_body"]["transfer"]["amount"] = "10000"
    json.dump(edited, open(path, "w"))
    r = node.cli("tx", "broadcast", path, output="json", check=False)
    assert r.rc == 1 and r.json()["error"]["code"] == 309 and "/transfer/amount" in r.err
    assert node.cli_json("query", "tx", original["txid"])["status"] == "unknown"
    assert node.balance("bob", "USDC") == FUNDED
    json.dump(signed, open(path, "w"))
    assert node.cli_json("tx", "broadcast", path)["status"] == "committed"
    assert node.balance("bob", "USDC") == FUNDED + 3 * USDC
