"""A damaged store is never served (issue 8): each kind of damage to a stopped node's home makes
`kontord start` exit non-zero with a message naming the problem, and `kontor audit replay`
reports it. Damage: a truncated table file, a truncated LevelDB log (a rollback), a deleted
CURRENT, an emptied data/, bytes overwritten inside a table, and genesis.json edited after init."""

import glob
import json
import os
import shutil
import subprocess

import pytest

from kontor_harness import KONTORD, Node


def transfer(node, amount="1"):
    out = node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", amount, "--asset", "USDC").out
    assert "status  committed" in out
    return out.split()[1]


def start_fails(node):
    """Runs `kontord start` on the stopped node's home; it must exit non-zero. Returns its output."""
    proc = subprocess.run([KONTORD, "--home", node.home, "start", "--grpc-listen", "127.0.0.1:0",
                           "--http-listen", "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0, "kontord started on a damaged home:\n" + proc.stdout + proc.stderr
    return proc.stdout + proc.stderr


def audit_fails(node):
    r = node.cli("audit", "replay", "--node-home", node.home, node=False, check=False)
    assert r.rc != 0, "audit replay passed a damaged home:\n" + r.out + r.err
    return r.err


@pytest.fixture
def stopped():
    """A node with txs in a table file (committed, restarted so LevelDB moved its log into a
    table) and more in the current log; stopped. Yields (node, txids)."""
    node = Node().start()
    txids = [transfer(node, str(i + 1)) for i in range(4)]
    assert node.stop() == 0
    node.start()
    txids += [transfer(node, str(i + 10)) for i in range(4)]
    assert node.stop() == 0
    assert glob.glob(os.path.join(node.home, "data", "*.ldb")), "expected a table file"
    yield node, txids
    node.cleanup()


def data(node, *parts):
    return os.path.join(node.home, "data", *parts)


def largest(pattern):
    return max(glob.glob(pattern), key=os.path.getsize)


def test_the_undamaged_home_restarts_and_audits(stopped):
    node, txids = stopped
    ok = node.cli_json("audit", "replay", "--node-home", node.home, node=False)
    assert ok["ok"] is True and ok["txs"] == len(txids)
    node.start()
    assert node.cli_json("query", "tx", txids[0])["status"] == "committed"
    assert node.stop() == 0


def test_a_truncated_table_file_is_refused(stopped):
    node, _ = stopped
    table = largest(data(node, "*.ldb"))
    os.truncate(table, os.path.getsize(table) // 2)
    out = start_fails(node)
    assert "store is damaged or unreadable" in out and "audit replay" in out and "backup" in out
    err = audit_fails(node)
    assert "replay failed" in err


def test_bytes_overwritten_in_a_table_are_refused(stopped):
    node, _ = stopped
    table = largest(data(node, "*.ldb"))
    with open(table, "r+b") as f:
        f.seek(100)
        original = f.read(8)
        f.seek(100)
        f.write(bytes(b ^ 0x5A for b in original))
    out = start_fails(node)
    assert "checksum mismatch" in out and "store is damaged or unreadable" in out
    err = audit_fails(node)
    assert "checksum mismatch" in err


def test_a_truncated_log_is_a_rollback_and_is_refused(stopped):
    node, _ = stopped
    with open(os.path.join(node.home, "tip.json")) as f:
        tip = json.load(f)
    log = largest(data(node, "*.log"))
    os.truncate(log, os.path.getsize(log) // 2)
    out = start_fails(node)
    assert "this node committed up to height %d" % tip["height"] in out
    assert tip["hash"] in out and "are missing" in out and "backup" in out
    err = audit_fails(node)
    assert "are missing" in err


@pytest.mark.parametrize("damage", ["CURRENT deleted", "data emptied"])
def test_a_missing_store_is_refused_never_replaced_by_a_new_chain(stopped, damage):
    node, _ = stopped
    if damage == "CURRENT deleted":
        os.remove(data(node, "CURRENT"))
    else:
        shutil.rmtree(data(node))
        os.mkdir(data(node))
    out = start_fails(node)
    assert "no chain store in this home" in out and "will not start a new chain" in out
    assert not os.path.exists(data(node, "CURRENT"))
    err = audit_fails(node)
    assert "no store at" in err


def test_genesis_edited_after_init_is_refused_until_adopted_before_the_first_block():
    node = Node()
    try:
        path = os.path.join(node.home, "genesis.json")
        with open(path) as f:
            original = f.read()
        edited = original.replace("1000000000000", "1000000000001", 1)
        assert edited != original
        with open(path, "w") as f:
            f.write(edited)
        out = start_fails(node)
        assert "is not the genesis this home was initialised with" in out and "--adopt-genesis" in out
        err = audit_fails(node)
        assert "is not the genesis this home was initialised with" in err

        adopt = subprocess.run([KONTORD, "--home", node.home, "init", "--adopt-genesis"], capture_output=True, text=True,
                               timeout=60)
        assert adopt.returncode == 0, adopt.stderr
        node.start()
        transfer(node)
        assert node.stop() == 0
        # Once a block exists the genesis is final.
        with open(path, "w") as f:
            f.write(original)
        assert "is not the genesis this home was initialised with" in start_fails(node)
        again = subprocess.run([KONTORD, "--home", node.home, "init", "--adopt-genesis"], capture_output=True, text=True,
                               timeout=60)
        assert again.returncode != 0 and "holds blocks" in again.stderr
    finally:
        node.cleanup()
