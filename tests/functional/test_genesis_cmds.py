"""`kontord genesis …` (issue 9, "Genesis with several validators"): operators each run
`kontord init`; the coordinator adds their validator addresses and balances to its genesis.json,
shares it, and every operator adopts it, pinning the same genesis hash. Errors name what is wrong
and leave the file as it was. A node refuses to start a chain it cannot run alone yet."""

import json
import os
import re
import subprocess

from kontor_harness import KONTORD

PASSPHRASE = "a passphrase for the test"


def kontord(*args, env=None):
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([KONTORD, *map(str, args)], capture_output=True, text=True, timeout=60, env=full_env)


def init(home, pw):
    r = kontord("--home", home, "init", "--chain-id", "kontor-net-1", "--passphrase-file", pw)
    assert r.returncode == 0, r.stderr
    return re.search(r"validator: (kx1[0-9a-z]+)", r.stdout).group(1)


def test_three_operators_build_and_adopt_one_genesis(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    homes = [tmp_path / ("node%d" % i) for i in range(3)]
    addresses = [init(h, pw) for h in homes]
    coordinator = homes[0]

    r = kontord("--home", coordinator, "genesis", "add-validator", addresses[1], "--power", "2", "--name", "bravo")
    assert r.returncode == 0, r.stderr
    assert "kontord init --home" in r.stderr and "--adopt-genesis" in r.stderr
    r = kontord("--home", coordinator, "genesis", "add-validator", addresses[2], "--name", "charlie")
    assert r.returncode == 0, r.stderr
    r = kontord("--home", coordinator, "genesis", "add-balance", addresses[2], "KTR", "5000")
    assert r.returncode == 0, r.stderr
    r = kontord("--home", coordinator, "genesis", "add-balance", addresses[2], "KTR", "7")
    shown = json.loads(kontord("--home", coordinator, "genesis", "show").stdout)
    assert [v["address"] for v in shown["validators"]] == addresses
    assert [v["power"] for v in shown["validators"]] == [1, 2, 1]
    assert shown["validators"][1]["name"] == "bravo" and shown["total_power"] == 4
    with open(coordinator / "genesis.json") as f:
        doc = json.load(f)
    funded = [b for b in doc["balances"] if b["asset"] == "KTR" and b["amount"] in ("5007", 5007)]
    assert len(funded) == 1, doc["balances"]

    # Errors: nothing is written.
    before = (coordinator / "genesis.json").read_bytes()
    for args, fragment in [
        (["add-validator", addresses[1]], "duplicate (304)"),
        (["add-validator", addresses[1][:-1] + ("q" if addresses[1][-1] != "q" else "p")], "bad_address (111)"),
        (["add-validator", "kx1qqq"], "bad_address (111)"),
        (["add-validator", addresses[1], "--power", "0"], "bad_amount (106)"),
        (["add-balance", addresses[1], "NOPE", "5"], "unknown_asset (302)"),
        (["add-balance", addresses[1], "KTR", "0"], "bad_amount (106)"),
        (["add-balance", addresses[1], "KTR", "18446744073709551615"], "total KTR exceeds 2^64-1"),
        (["remove-validator", "kx1" + "q" * 58], "bad_address (111)"),
    ]:
        r = kontord("--home", coordinator, "genesis", *args)
        assert r.returncode == 1 and fragment in r.stderr, (args, r.stderr)
        assert (coordinator / "genesis.json").read_bytes() == before, args

    # Everyone adopts the shared file: one genesis hash.
    hashes = set()
    for h in homes:
        if h != coordinator:
            (h / "genesis.json").write_bytes((coordinator / "genesis.json").read_bytes())
        r = kontord("--home", h, "init", "--adopt-genesis")
        assert r.returncode == 0, r.stderr
        hashes.add(re.search(r"genesis:\s+([0-9a-f]{64})", r.stdout).group(1))
    assert len(hashes) == 1

    # Until nodes can reach consensus with each other, a node refuses to start such a chain.
    r = kontord("--home", homes[1], "start", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0",
                env={"KONTOR_NODE_PASSPHRASE": PASSPHRASE})
    assert r.returncode == 1 and "not the chain's single validator" in r.stderr, r.stderr


def test_the_last_validator_cannot_be_removed(tmp_path):
    pw = tmp_path / "pw"
    pw.write_text(PASSPHRASE + "\n")
    home = tmp_path / "node"
    address = init(home, pw)
    r = kontord("--home", home, "genesis", "remove-validator", address)
    assert r.returncode == 1 and "wrong_state (306)" in r.stderr and "at least one validator" in r.stderr
    r = kontord("--home", tmp_path / "nowhere", "genesis", "show")
    assert r.returncode == 1 and "genesis.json" in r.stderr
