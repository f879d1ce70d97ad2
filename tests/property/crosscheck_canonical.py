"""Our canonical check against a second implementation: Debian's python3-protobuf, forced
to its pure-Python backend (no shared code with the C++ library or with ledger/canonical.cpp).

Python's verdict for bytes b of type T: parse b (refusing what it cannot decode, including
invalid UTF-8), drop unknown fields, re-serialize deterministically; canonical iff that gives b.
Ours: tools' kontor-canonical-oracle (DecodeCanonical). They must agree on
  - every vector of tests/data/canonical-vectors.txt (python: accept iff the verdict is ok,
    or the vector is marked non_canonical:strict);
  - random valid messages of every kontor.v1 type, where the C++ library's re-encoding must
    also equal Python's bytes;
  - mutations of those messages (flips, inserts, deletes, truncations, duplicated and swapped
    pieces). The only disagreement allowed is the documented strict rule: an enum value above
    2^31-1 that the library would re-encode unchanged.

Short form (CI): 2000 random messages, 12 mutations each. Long form:
  KONTOR_CROSSCHECK_MESSAGES=20000 KONTOR_CROSSCHECK_SEED=7 python3 -m pytest -v tests/property/crosscheck_canonical.py
"""
import os

os.environ["PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION"] = "python"

import importlib  # noqa: E402
import pathlib  # noqa: E402
import random  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402

import pytest  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("KONTOR_BUILD_DIR", ROOT / "build"))
ORACLE = BUILD / "tests" / "kontor-canonical-oracle"
VECTORS = ROOT / "tests" / "data" / "canonical-vectors.txt"
MESSAGES = int(os.environ.get("KONTOR_CROSSCHECK_MESSAGES", "2000"))
MUTATIONS = int(os.environ.get("KONTOR_CROSSCHECK_MUTATIONS", "12"))
SEED = int(os.environ.get("KONTOR_CROSSCHECK_SEED", "1"))


@pytest.fixture(scope="module")
def pb():
    """Generates the kontor.v1 Python modules with protoc and imports them."""
    out = tempfile.mkdtemp(prefix="kontor-pb2-")
    protos = sorted(str(p.relative_to(ROOT / "proto")) for p in (ROOT / "proto" / "kontor" / "v1").glob("*.proto"))
    subprocess.run(["protoc", f"--python_out={out}", "-I", str(ROOT / "proto"), *protos], check=True)
    sys.path.insert(0, out)
    from google.protobuf.internal import api_implementation

    assert api_implementation.Type() == "python", "the cross-check needs the pure-Python protobuf backend"
    modules = [importlib.import_module("kontor.v1." + pathlib.Path(p).stem + "_pb2") for p in protos]
    types = {}
    for m in modules:
        for name, desc in m.DESCRIPTOR.message_types_by_name.items():
            types["kontor.v1." + name] = getattr(m, name)
    return types


def python_accepts(cls, data):
    msg = cls()
    try:
        msg.ParseFromString(data)
    except Exception:  # DecodeError, or UnicodeDecodeError for a bad string
        return False
    msg.DiscardUnknownFields()
    return msg.SerializeToString(deterministic=True) == data


class Oracle:
    def __init__(self):
        assert ORACLE.exists(), f"{ORACLE} is not built (cmake --build build --target kontor-canonical-oracle)"

    def run(self, items):
        """items: [(type name, bytes)] -> [(verdict, rest)]"""
        text = "".join(f"{t} {d.hex() if d else '-'}\n" for t, d in items)
        proc = subprocess.run([str(ORACLE)], input=text, capture_output=True, text=True, check=True)
        lines = proc.stdout.split("\n")[:-1]
        assert len(lines) == len(items)
        return [tuple((ln.split(" ", 1) + [""])[:2]) for ln in lines]


def load_vectors():
    rows = []
    for ln in VECTORS.read_text().splitlines():
        if not ln or ln.startswith("#"):
            continue
        t, verdict, hx, desc = ln.split(" ", 3)
        rows.append((t, verdict, b"" if hx == "-" else bytes.fromhex(hx), desc))
    return rows


def test_vectors_python_agrees(pb):
    rows = load_vectors()
    assert len(rows) >= 60
    results = Oracle().run([(t, d) for t, _, d, _ in rows])
    for (t, verdict, data, desc), (ours, _) in zip(rows, results):
        py = python_accepts(pb[t], data)
        expect_py = verdict in ("ok", "non_canonical:strict")
        assert py == expect_py, f"python: {desc} ({t} {data.hex()})"
        expect_ours = "ok" if verdict == "ok" else verdict.split(":")[0]
        assert ours == expect_ours, f"ours: {desc} ({t} {data.hex()})"


# ---- random messages from the descriptors ----

EDGE = [0, 1, 127, 128, 255, 16383, 16384, 2**31 - 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1]
TEXT = ["", "a", "USDC", "gpu_count", "ü", "€", "🚀", "kontor-example-1", "x" * 40]


def rand_value(rng, field, depth):
    from google.protobuf.descriptor import FieldDescriptor as F

    t = field.type
    if t == F.TYPE_UINT64:
        return rng.choice(EDGE) if rng.random() < 0.5 else rng.getrandbits(rng.choice([7, 14, 32, 64]))
    if t == F.TYPE_UINT32:
        return rng.choice([v for v in EDGE if v < 2**32]) if rng.random() < 0.5 else rng.getrandbits(rng.choice([7, 14, 32]))
    if t == F.TYPE_BOOL:
        return rng.random() < 0.5
    if t == F.TYPE_ENUM:
        named = [v.number for v in field.enum_type.values]
        return rng.choice(named + [rng.randrange(0, 2**31)])
    if t == F.TYPE_STRING:
        return "".join(rng.choice(TEXT) for _ in range(rng.randrange(0, 3)))
    if t == F.TYPE_BYTES:
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 32, 64, rng.randrange(0, 80)])))
    raise AssertionError(f"unexpected field type {t}")


def fill(rng, msg, depth=0):
    from google.protobuf.descriptor import FieldDescriptor as F

    desc = msg.DESCRIPTOR
    oneof_pick = {o.name: rng.choice(o.fields + [None]) for o in desc.oneofs}
    for field in desc.fields:
        if field.containing_oneof is not None and oneof_pick[field.containing_oneof.name] is not field:
            continue
        if field.containing_oneof is None and rng.random() < 0.3:
            continue
        is_msg = field.type == F.TYPE_MESSAGE
        if field.label == F.LABEL_REPEATED:
            for _ in range(rng.randrange(0, 4 if depth < 3 else 1)):
                if is_msg:
                    fill(rng, getattr(msg, field.name).add(), depth + 1)
                else:
                    getattr(msg, field.name).append(rand_value(rng, field, depth))
        elif is_msg:
            sub = getattr(msg, field.name)
            sub.SetInParent()
            if depth < 3:
                fill(rng, sub, depth + 1)
        else:
            setattr(msg, field.name, rand_value(rng, field, depth))


def mutate(rng, data):
    kind = rng.randrange(7)
    b = bytearray(data)
    if kind == 0 and b:  # flip one byte
        i = rng.randrange(len(b))
        b[i] ^= 1 << rng.randrange(8) if rng.random() < 0.7 else rng.randrange(1, 256)
    elif kind == 1:  # insert a byte
        b.insert(rng.randrange(len(b) + 1), rng.choice([0, 0x80, 0x01, 0x08, 0x0A, 0x12, 0xFF, rng.randrange(256)]))
    elif kind == 2 and b:  # delete a byte
        del b[rng.randrange(len(b))]
    elif kind == 3 and b:  # truncate
        del b[rng.randrange(len(b)):]
    elif kind == 4 and b:  # duplicate a slice
        i = rng.randrange(len(b))
        j = rng.randrange(i, min(len(b), i + 40) + 1)
        b[j:j] = b[i:j]
    elif kind == 5 and len(b) > 2:  # swap two slices
        i = rng.randrange(len(b) - 1)
        j = rng.randrange(i + 1, len(b))
        b = b[:i] + b[j:] + b[i:j]
    else:  # append a random field
        b += bytes([rng.randrange(1, 256)]) + bytes(rng.getrandbits(8) for _ in range(rng.randrange(0, 4)))
    return bytes(b)


def test_random_messages_and_mutations_agree(pb):
    rng = random.Random(SEED)
    names = sorted(pb)
    valid = []
    for i in range(MESSAGES):
        t = names[i % len(names)]
        msg = pb[t]()
        fill(rng, msg)
        valid.append((t, msg.SerializeToString(deterministic=True)))
    oracle = Oracle()
    # 1. What Python writes, our check accepts, and the C++ library writes the same bytes.
    for (t, data), (ours, rest) in zip(valid, oracle.run(valid)):
        assert ours == "ok", f"{t} {data.hex()}: ours said {ours} {rest}"
        assert rest.strip() == data.hex(), f"{t}: C++ re-encodes {rest} for python's {data.hex()}"
    # 2. Mutations: the verdicts agree (accept/refuse), but for the documented strict rule.
    mutants = [(t, mutate(rng, d)) for t, d in valid for _ in range(MUTATIONS)]
    accepted = strict = 0
    for (t, data), (ours, rest) in zip(mutants, oracle.run(mutants)):
        py = python_accepts(pb[t], data)
        if py and ours != "ok":
            assert ours == "non_canonical" and "enum value" in rest, f"{t} {data.hex()}: python accepts, ours: {ours} {rest}"
            strict += 1
            continue
        assert py == (ours == "ok"), f"{t} {data.hex()}: python {'accepts' if py else 'refuses'}, ours: {ours} {rest}"
        accepted += ours == "ok"
    print(f"\n{len(valid)} messages of {len(names)} types, {len(mutants)} mutations: "
          f"{accepted} still canonical, {strict} refused only by the strict enum rule")
    assert accepted > 0 and accepted < len(mutants)
