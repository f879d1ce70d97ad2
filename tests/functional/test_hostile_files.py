"""Hostile catalogue, files (issue 8): a node home whose files were damaged or replaced, one pytest
item per damage.

`kontord start` on a stopped home (genesis.json, config.toml, node_key.json and its passphrase,
tip.json, the store): each case damages one file, starts kontord, restores the file, and checks
(1) the exact outcome: exit code 1 (never a signal, never a start) with "kontord: " and a stable
fragment of the message on stderr; (2) the home's chain unchanged: `kontor audit replay` verifies
the whole store from genesis to the same tip height and state root as before, and tip.json is
byte for byte what it was; (3) kontord exits within a deadline (no hang) and leaves no
kontord.json behind. The home is started at the end and serves the same state root.

The CLI and a running node (kontord.json, a second kontord on a running home, `init` over it,
`audit replay` of damaged files): exit code and message, and the running node's state root,
mempool and GetStatus as in the other hostile_*.py files.

Only 127.0.0.1 and ephemeral ports; homes are temporary directories."""

import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from hostile_cases import Api, guarded_node
from kontor_harness import KONTOR, KONTORD, Node
from proto_wire import one

START_DEADLINE_S = 20  # a start decrypts the node key (scrypt, 256 MiB): seconds on a loaded machine


def run(cmd, timeout=30, env=None):
    full = dict(os.environ)
    full.pop("KONTOR_NODE_PASSPHRASE", None)
    full.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full)


class Stopped:
    """A stopped dev home with one committed block, its replayed state and its files."""

    def __init__(self):
        self.node = Node()
        self.home = self.node.home
        self.node.start()
        self.node.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1", "--asset", "USDC")
        self.node.stop()
        self.replayed = self.replay()
        assert self.replayed["ok"] and self.replayed["tip_height"] >= 1, self.replayed
        self.text = {}
        for name in ("genesis.json", "config.toml", "tip.json", "node_key.json", "node_key.passphrase"):
            with open(self.path(name)) as f:
                self.text[name] = f.read()
        self.passphrase = self.text["node_key.passphrase"].strip()

    def path(self, name):
        return os.path.join(self.home, name)

    def replay(self):
        r = run([KONTOR, "--home", self.home, "--output", "json", "audit", "replay", "--node-home", self.home])
        return json.loads(r.stdout)

    def start(self, deadline=START_DEADLINE_S):
        """kontord start: (exit code, stderr, seconds); "started" if it came up, "hung" if it neither
        exited nor started within `deadline` seconds (then it is killed)."""
        run_file = self.path("kontord.json")
        if os.path.exists(run_file):
            os.remove(run_file)
        proc = subprocess.Popen([KONTORD, "--home", self.home, "start", "--grpc-listen", "127.0.0.1:0", "--http-listen",
                                 "127.0.0.1:0"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={k: v for k, v in os.environ.items() if k != "KONTOR_NODE_PASSPHRASE"})
        started = time.monotonic()
        outcome = None
        while outcome is None:
            if proc.poll() is not None:
                outcome = proc.returncode
            elif os.path.exists(run_file):
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=30)
                outcome = "started"
            elif time.monotonic() - started > deadline:
                proc.kill()
                proc.wait()
                outcome = "hung"
            else:
                time.sleep(0.02)
        err = proc.stderr.read()
        proc.stderr.close()
        return outcome, err, time.monotonic() - started


@pytest.fixture(scope="module")
def stopped():
    s = Stopped()
    yield s
    s.node.cleanup()


def replace(name, content):
    """Damage: the file's new content (bytes or str), or a function of (stopped, path)."""
    def damage(s, path):
        if callable(content):
            content(s, path)
        else:
            os.remove(path)
            with open(path, "wb") as f:
                f.write(content if isinstance(content, bytes) else content.encode())
    return name, damage


def edit(name, fn):
    return replace(name, lambda s, path: _write(path, fn(s, s.text[name])))


def _write(path, text):
    os.remove(path)
    with open(path, "w") as f:
        f.write(text)


def make_dir(s, path):
    os.remove(path)
    os.mkdir(path)


def make_fifo(s, path):
    os.remove(path)
    os.mkfifo(path)


def link_to(target):
    def damage(s, path):
        os.remove(path)
        os.symlink(target, path)
    return damage


def remove(s, path):
    os.remove(path)


def restore(path, original):
    """Puts the original bytes back as a regular file, with the mode it had (0600 for key files)."""
    mode = 0o600 if os.path.basename(path).startswith("node_key") else 0o644
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as f:
        f.write(original)


def genesis_doc(fn):
    def apply(s, text):
        doc = json.loads(text)
        fn(doc)
        return json.dumps(doc, indent=2)
    return apply


def sub(pattern, repl):
    return lambda s, text: re.sub(pattern, repl, text)


START_CASES = []


def start_case(cid, damage, fragment, xfail=None, deadline=START_DEADLINE_S):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    START_CASES.append(pytest.param((damage, fragment, deadline), id=cid, marks=marks))


PINNED = "is not the genesis this home was initialised with"
BIP340_KEY_3 = "kx1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmusr0yvxj"  # a valid key that is nobody's here
# -- genesis.json --------------------------------------------------------------------------------
start_case("genesis-truncated", edit("genesis.json", lambda s, t: t[:100]), "genesis: not a JSON object")
start_case("genesis-empty", replace("genesis.json", b""), "genesis: not a JSON object")
start_case("genesis-json-array", replace("genesis.json", "[]"), "genesis: not a JSON object")
start_case("genesis-nul-bytes", replace("genesis.json", b"\x00" * 100), "genesis: not a JSON object")
start_case("genesis-100000-nested-arrays", replace("genesis.json", "[" * 100000 + "]" * 100000), "genesis: not a JSON object")
start_case("genesis-17MiB", edit("genesis.json", lambda s, t: t + " " * (17 << 20)), "genesis.json is larger than 16777216 bytes")
start_case("genesis-a-directory", ("genesis.json", make_dir), "genesis.json is not a regular file")
start_case("genesis-missing", ("genesis.json", remove), "genesis.json: No such file or directory")
start_case("genesis-a-fifo", ("genesis.json", make_fifo), "genesis.json is not a regular file")
start_case("genesis-symlink-to-dev-zero", ("genesis.json", link_to("/dev/zero")), "genesis.json is not a regular file")
start_case("genesis-no-chain-id", edit("genesis.json", genesis_doc(lambda d: d.pop("chain_id"))),
           "genesis: missing string 'chain_id'")
start_case("genesis-chain-id-65-bytes", edit("genesis.json", genesis_doc(lambda d: d.__setitem__("chain_id", "c" * 65))),
           "genesis: chain_id must be 1..64 bytes")
start_case("genesis-no-assets", edit("genesis.json", genesis_doc(lambda d: d.__setitem__("assets", []))),
           "genesis: 'assets' must be a non-empty array")
start_case("genesis-65-assets",
           edit("genesis.json", genesis_doc(lambda d: d.__setitem__("assets", [{"symbol": "A%d" % i, "decimals": 0}
                                                                             for i in range(65)]))),
           "genesis: more than 64 assets (the most one account can hold)")
start_case("genesis-amount-2^64", edit("genesis.json", genesis_doc(lambda d: d["balances"][0].__setitem__(
    "amount", "18446744073709551616"))), "genesis: balances[0].amount '18446744073709551616' exceeds 2^64-1")
start_case("genesis-amount-negative", edit("genesis.json", genesis_doc(lambda d: d["balances"][0].__setitem__("amount", "-1"))),
           "genesis: balances[0].amount '-1' is not a decimal amount")
start_case("genesis-amount-zero", edit("genesis.json", genesis_doc(lambda d: d["balances"][0].__setitem__("amount", "0"))),
           "genesis: balances[0].amount must be greater than zero")
start_case("genesis-bad-address", edit("genesis.json", genesis_doc(lambda d: d["balances"][0].__setitem__("address", "kx1qqq"))),
           "genesis: balances[0].address: address 'kx1qqq': bech32m string is too short")
start_case("genesis-undeclared-asset", edit("genesis.json", genesis_doc(lambda d: d["balances"][0].__setitem__("asset", "NOPE"))),
           "genesis: balances[0].asset 'NOPE' is not declared in 'assets'")
start_case("genesis-no-validators", edit("genesis.json", genesis_doc(lambda d: d.__setitem__("validators", []))),
           "genesis: 'validators' must be a non-empty array")
start_case("genesis-fee-asset-undeclared",
           edit("genesis.json", genesis_doc(lambda d: d["params"].__setitem__("fee_asset", "NOPE"))),
           "genesis: params.fee_asset 'NOPE' is not declared")
start_case("genesis-decimals-a-string", edit("genesis.json", genesis_doc(lambda d: d["assets"][0].__setitem__("decimals", "6"))),
           "genesis: assets[0].decimals must be an integer 0..18")
start_case("genesis-decimals-19", edit("genesis.json", genesis_doc(lambda d: d["assets"][0].__setitem__("decimals", 19))),
           "genesis: assets[0].decimals must be an integer 0..18")
start_case("genesis-time-negative", edit("genesis.json", genesis_doc(lambda d: d.__setitem__("genesis_time_ms", -1))),
           "genesis: missing integer 'genesis_time_ms'")
start_case("genesis-one-space-added", edit("genesis.json", lambda s, t: t + " "), PINNED)
start_case("genesis-byte-order-mark", replace("genesis.json", lambda s, p: _write(p, "\ufeff" + s.text["genesis.json"])), PINNED)
start_case("genesis-chain-id-twice", edit("genesis.json", lambda s, t: t.replace("{", '{\n  "chain_id": "evil",', 1)), PINNED)
start_case("genesis-validator-replaced",
           edit("genesis.json", sub(r'("validators": \[\s*\{\s*"address": ")[^"]+', lambda m: m.group(1) + BIP340_KEY_3)),
           "is not the chain's single validator")

# -- config.toml ---------------------------------------------------------------------------------
CFG = "config.toml: "
start_case("config-syntax-error", edit("config.toml", lambda s, t: t + "\n[[[\n"),
           CFG + "line 32: Error while parsing key: expected bare key")
start_case("config-unknown-key", edit("config.toml", lambda s, t: t.replace("[api]", "[api]\nbogus = 1")),
           CFG + "unknown key api.bogus")
start_case("config-unknown-section", edit("config.toml", lambda s, t: t + "\n[bogus]\nx = 1\n"), CFG + "unknown section [bogus]")
start_case("config-section-not-a-table", replace("config.toml", "node = 5\n"), CFG + "[node] must be a table")
start_case("config-integer-as-string", edit("config.toml", sub(r"block_interval_ms = \d+", 'block_interval_ms = "100"')),
           CFG + "consensus.block_interval_ms must be a non-negative integer")
start_case("config-integer-negative", edit("config.toml", sub(r"block_interval_ms = \d+", "block_interval_ms = -100")),
           CFG + "consensus.block_interval_ms must be a non-negative integer")
start_case("config-integer-as-float", edit("config.toml", sub(r"block_interval_ms = \d+", "block_interval_ms = 100.0")),
           CFG + "consensus.block_interval_ms must be a non-negative integer")
start_case("config-integer-2^67",
           edit("config.toml", sub(r"block_interval_ms = \d+", "block_interval_ms = 99999999999999999999")),
           "is not representable in 64 bits")
start_case("config-block-interval-5ms", edit("config.toml", sub(r"block_interval_ms = \d+", "block_interval_ms = 5")),
           CFG + "consensus.block_interval_ms must be 10..600000")
start_case("config-heartbeat-below-interval",
           edit("config.toml", sub(r"heartbeat_interval_ms = \d+", "heartbeat_interval_ms = 50")),
           CFG + "consensus.heartbeat_interval_ms must be >= block_interval_ms")
start_case("config-txs-max-0", edit("config.toml", sub(r"(?m)^txs_max = \d+", "txs_max = 0")),
           CFG + "mempool.txs_max must be 1..10000000")
start_case("config-tx-ttl-1ms", edit("config.toml", sub(r"tx_ttl_ms = \d+", "tx_ttl_ms = 1")),
           CFG + "mempool.tx_ttl_ms must be 1000..86400000")
start_case("config-grpc-message-max-1", edit("config.toml", sub(r"grpc_message_bytes_max = \d+", "grpc_message_bytes_max = 1")),
           CFG + "api.grpc_message_bytes_max must be 65536..2^30")
start_case("config-state-history-0", edit("config.toml", sub(r"state_history_heights = \d+", "state_history_heights = 0")),
           CFG + "storage.state_history_heights must be 1..100000")
start_case("config-grpc-listen-without-port", edit("config.toml", lambda s, t: t.replace('"127.0.0.1:26657"', '"localhost"')),
           CFG + "api.grpc_listen must be host:port")
start_case("config-log-level-unknown", edit("config.toml", lambda s, t: t.replace('log_level = "info"', 'log_level = "verbose"')),
           CFG + "node.log_level must be one of trace, debug, info, warn, error")
start_case("config-log-level-a-number", edit("config.toml", lambda s, t: t.replace('log_level = "info"', "log_level = 3")),
           CFG + "node.log_level must be a string")
start_case("config-bool-as-integer", edit("config.toml", lambda s, t: t.replace("sync_writes = true", "sync_writes = 1")),
           CFG + "storage.sync_writes must be true or false")
start_case("config-key-twice", edit("config.toml", lambda s, t: t.replace("[api]", "[api]\ngrpc_message_bytes_max = 1")),
           "cannot redefine existing integer 'grpc_message_bytes_max'")
start_case("config-nul-byte", edit("config.toml", lambda s, t: t.replace("[api]", "[api]\x00")), "saw '\\u0000'")
start_case("config-invalid-utf8", replace("config.toml", b"\xff\xfe\x00\x01garbage"),
           CFG + "line 1: Encountered invalid utf-8 sequence")
start_case("config-10MiB-comment",
           edit("config.toml", lambda s, t: "#" * (10 << 20) + "\n" + t.replace("[api]", "[api]\nbogus=1")),
           "config.toml is larger than 1048576 bytes")
start_case("config-missing", ("config.toml", remove), "no config at")
start_case("config-node-key-file-missing",
           edit("config.toml", lambda s, t: t.replace('"node_key.json"', '"nope.json"')), "nope.json: No such file or directory")
start_case("config-node-key-file-etc-passwd",
           edit("config.toml", lambda s, t: t.replace('"node_key.json"', '"/etc/passwd"')),
           "node key /etc/passwd: key file is not a Web3 v3 keystore: not a JSON object")
start_case("config-passphrase-file-missing",
           edit("config.toml", lambda s, t: t.replace('"node_key.passphrase"', '"nope.passphrase"')),
           "nope.passphrase: No such file or directory")
start_case("config-data-dir-elsewhere",
           edit("config.toml", lambda s, t: t.replace('data_dir = "data"', 'data_dir = "elsewhere"')),
           "no chain store in this home: no store at")
start_case("config-a-directory", ("config.toml", make_dir), "config.toml is not a regular file")
start_case("config-a-fifo", ("config.toml", make_fifo), "config.toml is not a regular file",
           deadline=6)  # config.toml is read before anything else: a refusal takes well under a second

# -- node key and passphrase ---------------------------------------------------------------------
start_case("node-key-truncated", edit("node_key.json", lambda s, t: t[:50]),
           "key file is not a Web3 v3 keystore: not a JSON object")
start_case("node-key-70KiB", edit("node_key.json", lambda s, t: t + " " * 70000), "node_key.json is larger than 65536 bytes")
start_case("node-key-scrypt-n-2^30", edit("node_key.json", sub(r'"n": \d+', '"n": 1073741824')),
           "key file asks for scrypt n=1073741824 r=8 p=1; 128*r*n bytes of memory may be at most 256 MiB")
start_case("node-key-pbkdf2-10^9-rounds",
           edit("node_key.json", lambda s, t: t.replace('"kdf": "scrypt"', '"kdf": "pbkdf2"').replace(
               '"n": 262144', '"c": 1000000000, "prf": "hmac-sha256"')),
           "key file asks for 1000000000 PBKDF2 rounds; at most 2000000")
start_case("node-key-wrong-passphrase", replace("node_key.passphrase", "not the passphrase\n"),
           "wrong passphrase for this key file (MAC check failed)")
start_case("node-key-passphrase-5000-bytes", replace("node_key.passphrase", "x" * 5000),
           "node_key.passphrase is larger than 4096 bytes")
start_case("node-key-passphrase-missing", ("node_key.passphrase", remove), "node_key.passphrase: No such file or directory")


def other_validator_key(s, path):
    """A valid key file, with the home's passphrase, of a key that is not the chain's validator."""
    keys = os.path.join(s.home, "keys", "other.json")
    if not os.path.exists(keys):
        r = run([KONTOR, "--home", s.home, "--keyring", "file", "keys", "new", "other"], env={"KONTOR_PASSPHRASE": s.passphrase})
        assert r.returncode == 0, r.stderr
    with open(keys) as f:
        _write(path, f.read())


start_case("node-key-of-another-key", ("node_key.json", other_validator_key), "is not the chain's single validator")
start_case("node-key-address-edited",
           edit("node_key.json", sub(r'"address": "[^"]+"', '"address": "%s"' % BIP340_KEY_3)),
           "is not the address of the key it holds")

# -- tip.json and the store ----------------------------------------------------------------------
start_case("tip-truncated", edit("tip.json", lambda s, t: t[:20]), "tip.json is damaged; it must hold {genesis, height, hash}")
start_case("tip-height-negative", edit("tip.json", sub(r'"height":\d+', '"height":-1')), "tip.json is damaged")
start_case("tip-5000-bytes", replace("tip.json", " " * 5000), "tip.json is larger than 4096 bytes")
start_case("tip-height-ahead-of-the-store", edit("tip.json", sub(r'"height":\d+', '"height":99')),
           "the store ends at height 1 but this node committed up to height 99")
start_case("tip-hash-of-another-block", edit("tip.json", sub(r'"hash":"[0-9a-f]+"', '"hash":"' + "11" * 32 + '"')),
           "but this node committed " + "11" * 32 + " there")
start_case("tip-genesis-of-another-chain", edit("tip.json", sub(r'"genesis":"[0-9a-f]+"', '"genesis":"' + "00" * 32 + '"')),
           PINNED)
start_case("tip-a-directory", ("tip.json", make_dir), "tip.json is not a regular file")
start_case("tip-a-fifo", ("tip.json", make_fifo), "tip.json is not a regular file")
start_case("store-current-file-deleted", ("data/CURRENT", remove), "no chain store in this home")


@pytest.mark.parametrize("spec", START_CASES)
def test_hostile_start(stopped, spec):
    (name, damage), fragment, deadline = spec
    s = stopped
    path = s.path(name)
    with open(path, "rb") as f:
        original = f.read()
    try:
        damage(s, path)
        outcome, err, took = s.start(deadline)
    finally:
        restore(path, original)
    left_run_file = os.path.exists(s.path("kontord.json"))
    if left_run_file:
        os.remove(s.path("kontord.json"))
    # (3) it ended by itself, in time, and left no trace of a run
    assert outcome != "hung", "kontord neither started nor exited within %d s" % deadline
    assert not left_run_file
    # (1) refused: exit code 1 and the message
    assert outcome == 1, (outcome, err[-2000:])
    last = err.strip().splitlines()[-1] if err.strip() else ""
    assert last.startswith("kontord: ") and fragment in last, (fragment, err[-2000:])
    assert took < deadline
    # (2) the chain is as it was
    with open(s.path("tip.json")) as f:
        assert f.read() == s.text["tip.json"]
    _same_replay(s)


def _same_replay(s):
    now = s.replay()
    for k in ("ok", "tip_height", "verified_height", "txs", "state_root"):
        assert now[k] == s.replayed[k], (k, now, s.replayed)
    return True


# ---------------------------------------------------------------------------------------------
# The CLI and a running node
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def running():
    with guarded_node(lambda n: n.cli("tx", "transfer", "--from", "alice", "--to", "bob", "--amount", "1",
                                      "--asset", "USDC")) as n:
        yield n


RUN_FILE_CASES = []


def run_file_case(cid, content, fragment, xfail=None):
    marks = [pytest.mark.xfail(strict=True, reason=xfail)] if xfail else []
    RUN_FILE_CASES.append(pytest.param((content, fragment), id=cid, marks=marks))


DAMAGED = "kontord.json is damaged ("
run_file_case("truncated", lambda t: t[:20], DAMAGED + 'no "grpc" address in it); a running kontord rewrites it at start')
run_file_case("grpc-a-number", '{"grpc": 5}', DAMAGED + 'no "grpc" address in it)')
run_file_case("empty-object", "{}", DAMAGED + 'no "grpc" address in it)')
run_file_case("binary", b"\xff\xfe\x00", DAMAGED + 'no "grpc" address in it)')
run_file_case("5000-bytes", " " * 5000, "kontord.json is larger than 4096 bytes); a running kontord rewrites it")
run_file_case("a-directory", "DIR", "kontord.json is not a regular file)")
run_file_case("a-fifo", "FIFO", "kontord.json is not a regular file)")
run_file_case("closed-port", '{"grpc": "127.0.0.1:1"}', "cannot reach the node at 127.0.0.1:1")
run_file_case("grpc-empty", '{"grpc": ""}', DAMAGED + 'no "grpc" address in it)')


@pytest.mark.parametrize("spec", RUN_FILE_CASES)
def test_hostile_run_file(running, spec):
    """kontord.json tells the CLI where the node listens: a damaged one is named, never guessed past."""
    content, fragment = spec
    root = running.guard.snapshot()
    path = os.path.join(running.home, "kontord.json")
    with open(path) as f:
        original = f.read()
    try:
        os.remove(path)
        if content == "DIR":
            os.mkdir(path)
        elif content == "FIFO":
            os.mkfifo(path)
        else:
            data = content(original) if callable(content) else content
            with open(path, "wb") as f:
                f.write(data if isinstance(data, bytes) else data.encode())
        r = run([KONTOR, "--home", running.home, "--keyring", "test", "query", "head"], timeout=20)
    finally:
        if os.path.isdir(path):
            os.rmdir(path)
        elif os.path.lexists(path):
            os.remove(path)
        with open(path, "w") as f:
            f.write(original)
    assert r.returncode == 1 and r.stdout == "", (r.returncode, r.stdout, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("kontor: ") and fragment in last, (fragment, r.stderr)
    running.guard.check(root)


HOME_CASES = []


def home_case(cid, cmd, fragment):
    HOME_CASES.append(pytest.param((cmd, fragment), id=cid))


home_case("second-kontord-on-a-running-home",
          lambda h: [KONTORD, "--home", h, "start", "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0"],
          "kontord: another kontord (pid %(pid)s) is already running with home %(home)s")
home_case("init-over-a-running-home", lambda h: [KONTORD, "--home", h, "init", "--dev"],
          "kontord: %(home)s is already initialised (config.toml exists); use another --home or remove it")
home_case("adopt-genesis-on-a-running-home", lambda h: [KONTORD, "--home", h, "init", "--adopt-genesis"],
          "kontord: store %(home)s/data is locked: another process (a running kontord?) has it open")
home_case("audit-replay-of-a-running-home", lambda h: [KONTOR, "--home", h, "audit", "replay", "--node-home", h],
          "kontor: store: store %(home)s/data is locked")
home_case("audit-replay-of-a-missing-store",
          lambda h: [KONTOR, "--home", h, "audit", "replay", "--data", "/nonexistent/data", "--genesis", h + "/genesis.json"],
          "kontor: store: no store at /nonexistent/data (no CURRENT file)")


@pytest.mark.parametrize("spec", HOME_CASES)
def test_hostile_running_home(running, spec):
    """Commands that would take over, re-create or read a running node's home are refused."""
    cmd, fragment = spec
    root = running.guard.snapshot()
    r = run(cmd(running.home), timeout=30)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    last = r.stderr.strip().splitlines()[-1]
    assert (fragment % {"pid": running.proc.pid, "home": running.home}) in last, r.stderr
    running.guard.check(root)


AUDIT_CASES = []


def audit_case(cid, damage, fragment):
    AUDIT_CASES.append(pytest.param((damage, fragment), id=cid))


audit_case("genesis-truncated", edit("genesis.json", lambda s, t: t[:50]), "genesis.json: genesis: not a JSON object")
audit_case("genesis-one-space-added", edit("genesis.json", lambda s, t: t + " "), "replay failed at height 0: mismatch (309): ")
audit_case("tip-height-ahead-of-the-store", edit("tip.json", sub(r'"height":\d+', '"height":99')),
           "corruption (901): the store ends at height 1 but this node committed up to height 99")
audit_case("store-current-file-deleted", ("data/CURRENT", remove), "kontor: store: no store at")


@pytest.mark.parametrize("spec", AUDIT_CASES)
def test_hostile_audit(stopped, spec):
    """`kontor audit replay` of a damaged home names the damage and exits 1."""
    (name, damage), fragment = spec
    s = stopped
    path = s.path(name)
    with open(path, "rb") as f:
        original = f.read()
    try:
        damage(s, path)
        r = run([KONTOR, "--home", s.home, "audit", "replay", "--node-home", s.home])
    finally:
        restore(path, original)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert fragment in r.stderr, (fragment, r.stderr)
    _same_replay(s)


def test_hostile_cli_damaged_config_is_named(tmp_path):
    """Without kontord.json the CLI reads the home's config.toml for the node's address."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text("[api]\ngrpc_listen = \"127.0.0.1:1\"\n[[[\n")
    r = run([KONTOR, "--home", str(home), "--keyring", "test", "query", "head"], timeout=20)
    assert r.returncode == 1 and r.stdout == ""
    assert "config.toml" in r.stderr.strip().splitlines()[-1], r.stderr


def test_the_damaged_home_still_starts_with_its_state_root(stopped):
    """Last: after every damage of this file was undone: the home starts and serves the state it had."""
    s = stopped
    s.node.start()
    try:
        api = Api(s.node.grpc)
        status = api.status()
        api.close()
        assert one(status, 9).hex() == s.replayed["state_root"] and one(status, 2) == s.replayed["tip_height"]
    finally:
        s.node.stop()
