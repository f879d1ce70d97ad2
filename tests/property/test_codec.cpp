// Canonical protobuf encoding of tx bodies, and stateless tx decoding.
#include <rapidcheck/catch.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include "kontor/v1/tx.pb.h"
#include "ledger/bech32m.h"
#include "ledger/codec.h"
#include "ledger/hash.h"
#include "ledger/keys.h"
#include "ledger/limits.h"
#include "ledger/tx.h"

namespace kontor {
namespace {

// ---- Hand-written protobuf wire pieces ----

std::string Varint(uint64_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

// The same value with one redundant continuation byte (0x80 on the last byte, then 0x00).
std::string PaddedVarint(uint64_t v) {
  std::string out = Varint(v);
  out.back() = static_cast<char>(out.back() | 0x80);
  out.push_back('\0');
  return out;
}

std::string Tag(int field, int wire_type) { return Varint(static_cast<uint64_t>(field) << 3 | wire_type); }

// ---- Bodies ----

struct Keys {
  std::vector<PrivateKey> signers;
  PrivateKey outsider;
};

Keys MakeKeys(uint64_t seed, int n) {
  SeededRandom random(seed);
  std::vector<PrivateKey> keys;
  while (static_cast<int>(keys.size()) < n) {
    PrivateKey k = GeneratePrivateKey(random);
    bool dup = false;
    for (const auto& e : keys) dup |= e.public_key() == k.public_key();
    if (!dup) keys.push_back(k);
  }
  PrivateKey outsider = GeneratePrivateKey(random);
  return {keys, outsider};
}

rc::Gen<uint64_t> GenU64() {
  return rc::gen::weightedOneOf<uint64_t>(
      {{3, rc::gen::arbitrary<uint64_t>()},
       {1, rc::gen::element<uint64_t>(0, 1, 127, 128, 16383, 16384, (uint64_t{1} << 63) - 1, uint64_t{1} << 63,
                                      UINT64_MAX)}});
}

rc::Gen<std::string> GenText(int max_len) {
  return rc::gen::resize(max_len, rc::gen::container<std::string>(rc::gen::inRange<char>(' ', '~' + 1)));
}

v1::TxBody GenBody(const Keys& keys) {
  v1::TxBody body;
  body.set_chain_id(*GenText(24));
  for (const auto& k : keys.signers) body.add_signers(k.public_key().bytes());
  body.set_nonce(*GenU64());
  body.set_fee(*GenU64());
  body.set_expiry_height(*GenU64());
  v1::Transfer* t = body.mutable_transfer();
  t->set_to(keys.outsider.public_key().bytes());
  t->set_asset(*GenText(8));
  t->set_amount(*GenU64());
  t->set_memo(*GenText(60));
  return body;
}

// The canonical bytes of each field alone, in field-number order.
std::vector<std::string> FieldPieces(const v1::TxBody& body) {
  std::vector<std::string> pieces;
  v1::TxBody only;
  only.set_chain_id(body.chain_id());
  pieces.push_back(EncodeTxBody(only));
  only.Clear();
  *only.mutable_signers() = body.signers();
  pieces.push_back(EncodeTxBody(only));
  only.Clear();
  only.set_nonce(body.nonce());
  pieces.push_back(EncodeTxBody(only));
  only.Clear();
  only.set_fee(body.fee());
  pieces.push_back(EncodeTxBody(only));
  only.Clear();
  only.set_expiry_height(body.expiry_height());
  pieces.push_back(EncodeTxBody(only));
  only.Clear();
  *only.mutable_transfer() = body.transfer();
  pieces.push_back(EncodeTxBody(only));
  return pieces;
}

std::string Concat(const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += p;
  return out;
}

bool SameBody(const v1::TxBody& a, const v1::TxBody& b) {
  if (a.chain_id() != b.chain_id() || a.signers_size() != b.signers_size() || a.nonce() != b.nonce() ||
      a.fee() != b.fee() || a.expiry_height() != b.expiry_height() || a.payload_case() != b.payload_case())
    return false;
  for (int i = 0; i < a.signers_size(); ++i)
    if (a.signers(i) != b.signers(i)) return false;
  const auto &x = a.transfer(), &y = b.transfer();
  return x.to() == y.to() && x.asset() == y.asset() && x.amount() == y.amount() && x.memo() == y.memo();
}

Code DecodeBodyCode(const std::string& bytes) {
  v1::TxBody out;
  return DecodeCanonical(bytes, limits::kTxBytesMax, "tx body", &out).code();
}

v1::Tx SignedTx(const v1::TxBody& body, const std::vector<PrivateKey>& signers, uint64_t seed) {
  v1::Tx tx;
  tx.set_body(EncodeTxBody(body));
  SeededRandom random(seed);
  for (const auto& k : signers) {
    // Throws rather than REQUIREs: also used inside rapidcheck properties.
    Result r = SignTx(&tx, k, random);
    if (!r.ok()) throw std::runtime_error("SignTx failed: " + r.ToString());
  }
  return tx;
}

}  // namespace

TEST_CASE("Codec: random tx bodies round-trip canonically", "[codec][property]") {
  rc::prop("EncodeTxBody -> DecodeCanonical gives the same message and bytes", [] {
    const Keys keys = MakeKeys(*rc::gen::arbitrary<uint64_t>(), *rc::gen::inRange(1, 4));
    const v1::TxBody body = GenBody(keys);
    const std::string bytes = EncodeTxBody(body);
    RC_ASSERT(bytes == CanonicalBytes(body));
    v1::TxBody decoded;
    Result r = DecodeCanonical(bytes, limits::kTxBytesMax, "tx body", &decoded);
    RC_ASSERT(r.ok());
    RC_ASSERT(SameBody(body, decoded));
    RC_ASSERT(EncodeTxBody(decoded) == bytes);
    // Canonical = the fields alone, concatenated in field-number order.
    RC_ASSERT(Concat(FieldPieces(body)) == bytes);
    // The size limit applies before parsing.
    RC_ASSERT(DecodeCanonical(bytes, bytes.size() - 1, "tx body", &decoded).code() == Code::kTooLarge);
    RC_ASSERT(DecodeCanonical(bytes, bytes.size(), "tx body", &decoded).ok());
  });
}

TEST_CASE("Codec: non-canonical bodies are rejected", "[codec][property]") {
  rc::prop("unknown field appended", [] {
    const Keys keys = MakeKeys(*rc::gen::arbitrary<uint64_t>(), *rc::gen::inRange(1, 4));
    const std::string bytes = EncodeTxBody(GenBody(keys));
    // Field 99 (varint 1), and field 6 (varint), field 15 (bytes): none is in TxBody.
    RC_ASSERT(DecodeBodyCode(bytes + Tag(99, 0) + Varint(1)) == Code::kNonCanonical);
    RC_ASSERT(DecodeBodyCode(bytes + Tag(6, 0) + Varint(*GenU64())) == Code::kNonCanonical);
    RC_ASSERT(DecodeBodyCode(bytes + Tag(15, 2) + Varint(3) + "abc") == Code::kNonCanonical);
    RC_ASSERT(DecodeBodyCode(Tag(99, 0) + Varint(0) + bytes) == Code::kNonCanonical);
  });

  rc::prop("default value written explicitly", [] {
    const Keys keys = MakeKeys(*rc::gen::arbitrary<uint64_t>(), *rc::gen::inRange(1, 4));
    v1::TxBody body = GenBody(keys);
    body.set_nonce(0);
    std::vector<std::string> pieces = FieldPieces(body);
    RC_ASSERT(pieces[2].empty());
    RC_ASSERT(DecodeBodyCode(Concat(pieces)) == Code::kOk);
    pieces[2] = Tag(3, 0) + Varint(0);  // nonce = 0, in its place
    RC_ASSERT(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);

    body.set_chain_id("");
    pieces = FieldPieces(body);
    RC_ASSERT(pieces[0].empty());
    pieces[0] = Tag(1, 2) + Varint(0);  // chain_id = "", in its place
    RC_ASSERT(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
  });

  rc::prop("two fields in swapped order", [] {
    const Keys keys = MakeKeys(*rc::gen::arbitrary<uint64_t>(), *rc::gen::inRange(1, 4));
    std::vector<std::string> pieces = FieldPieces(GenBody(keys));
    std::vector<size_t> present;
    for (size_t i = 0; i < pieces.size(); ++i)
      if (!pieces[i].empty()) present.push_back(i);
    RC_ASSERT(present.size() >= 2u);  // signers and payload are always there
    const size_t a = *rc::gen::inRange<size_t>(0, present.size() - 1);
    const size_t b = *rc::gen::inRange<size_t>(a + 1, present.size());
    std::swap(pieces[present[a]], pieces[present[b]]);
    RC_ASSERT(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
  });

  rc::prop("non-minimal varint", [] {
    const Keys keys = MakeKeys(*rc::gen::arbitrary<uint64_t>(), *rc::gen::inRange(1, 4));
    v1::TxBody body = GenBody(keys);
    const uint64_t nonce = *rc::gen::suchThat(GenU64(), [](uint64_t v) { return v != 0; });
    body.set_nonce(nonce);
    std::vector<std::string> pieces = FieldPieces(body);
    RC_ASSERT(pieces[2] == Tag(3, 0) + Varint(nonce));
    pieces[2] = Tag(3, 0) + PaddedVarint(nonce);
    // A varint has at most 10 bytes: padding a 10-byte one makes it unparseable.
    const Code expected = Varint(nonce).size() < 10 ? Code::kNonCanonical : Code::kMalformed;
    RC_ASSERT(DecodeBodyCode(Concat(pieces)) == expected);

    // A padded length prefix (of the chain id) and a padded tag (of the nonce).
    pieces = FieldPieces(body);
    const std::string chain = body.chain_id();
    if (!chain.empty()) {
      pieces[0] = Tag(1, 2) + PaddedVarint(chain.size()) + chain;
      RC_ASSERT(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
      pieces = FieldPieces(body);
    }
    pieces[2] = PaddedVarint(3 << 3 | 0) + Varint(nonce);
    RC_ASSERT(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
  });
}

TEST_CASE("Codec: fixed non-canonical and malformed examples", "[codec]") {
  const Keys keys = MakeKeys(1, 1);
  v1::TxBody body;
  body.set_chain_id("kontor-test");
  body.add_signers(keys.signers[0].public_key().bytes());
  body.set_nonce(5);
  body.set_fee(10);
  body.mutable_transfer()->set_to(keys.outsider.public_key().bytes());
  body.mutable_transfer()->set_asset("KTR");
  body.mutable_transfer()->set_amount(1000);
  const std::string bytes = EncodeTxBody(body);
  // Byte-exact start: field 1 (len 11) "kontor-test", then field 2 (len 32).
  CHECK(bytes.substr(0, 13) == std::string("\x0a\x0b", 2) + "kontor-test");
  CHECK(bytes.substr(13, 2) == std::string("\x12\x20", 2));
  CHECK(bytes.substr(47, 4) == std::string("\x18\x05\x20\x0a", 4));  // nonce 5, fee 10; expiry omitted
  CHECK(static_cast<uint8_t>(bytes[51]) == 0x82);  // field 16, wire type 2: tag 130 = 0x82 0x01
  CHECK(static_cast<uint8_t>(bytes[52]) == 0x01);
  CHECK(DecodeBodyCode(bytes) == Code::kOk);

  std::vector<std::string> pieces = FieldPieces(body);
  // nonce 5 as 0x85 0x00: non-minimal.
  pieces[2] = std::string("\x18\x85\x00", 3);
  CHECK(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
  // A nonce of 2^64-1 padded to 11 bytes is no varint at all.
  pieces[2] = Tag(3, 0) + PaddedVarint(UINT64_MAX);
  CHECK(DecodeBodyCode(Concat(pieces)) == Code::kMalformed);
  // The same field twice (last one wins in protobuf): decodes, but is not canonical.
  pieces = FieldPieces(body);
  pieces[2] = Tag(3, 0) + Varint(4) + Tag(3, 0) + Varint(5);
  CHECK(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
  // Truncated: the payload's length prefix points past the end.
  CHECK(DecodeBodyCode(bytes.substr(0, bytes.size() - 1)) == Code::kMalformed);
  // Wrong wire type for a field: nonce sent as length-delimited.
  pieces = FieldPieces(body);
  // (protobuf keeps it as an unknown field, which is then dropped)
  pieces[2] = Tag(3, 2) + Varint(1) + "x";
  CHECK(DecodeBodyCode(Concat(pieces)) == Code::kNonCanonical);
  // Field number 0 and a group wire type do not parse.
  CHECK(DecodeBodyCode(std::string("\x00\x01", 2)) == Code::kMalformed);
  CHECK(DecodeBodyCode(Tag(3, 3)) == Code::kMalformed);
  // A proto3 string field must be UTF-8 (protobuf logs an error for this one).
  pieces = FieldPieces(body);
  pieces[0] = Tag(1, 2) + Varint(2) + std::string("\xff\xfe", 2);
  CHECK(DecodeBodyCode(Concat(pieces)) == Code::kMalformed);
  // Garbage.
  CHECK(DecodeBodyCode(std::string("\xff\xff\xff", 3)) == Code::kMalformed);
  // The empty body is the canonical encoding of the empty message.
  CHECK(DecodeBodyCode("") == Code::kOk);
}

TEST_CASE("Tx: a signed tx decodes, and each stateless fault has its code", "[codec][tx]") {
  const Keys keys = MakeKeys(77, 3);
  v1::TxBody body;
  body.set_chain_id("kontor-devnet");
  for (const auto& k : keys.signers) body.add_signers(k.public_key().bytes());
  body.set_nonce(1);
  body.set_fee(100);
  body.set_expiry_height(50);
  body.mutable_transfer()->set_to(keys.outsider.public_key().bytes());
  body.mutable_transfer()->set_asset("KTR");
  body.mutable_transfer()->set_amount(12345);
  body.mutable_transfer()->set_memo("rent for May");
  const std::string body_bytes = EncodeTxBody(body);

  // Parties sign in any order; the signatures end up in signer order.
  v1::Tx tx = SignedTx(body, {keys.signers[2], keys.signers[0], keys.signers[1]}, 5);
  REQUIRE(tx.signatures_size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(tx.signatures(i).signer() == keys.signers[static_cast<size_t>(i)].public_key().bytes());
  const std::string envelope = EncodeTx(tx);

  DecodedTx decoded;
  Result r = DecodeTx(envelope, "kontor-devnet", &decoded);
  REQUIRE(r.ok());
  CHECK(decoded.envelope == envelope);
  CHECK(decoded.tx.body() == body_bytes);
  CHECK(SameBody(decoded.body, body));
  CHECK(decoded.txid == ComputeTxid(body_bytes));
  CHECK(decoded.txid == TaggedHash("kontor/tx", body_bytes));
  CHECK(decoded.envelope_hash == Sha256(envelope));
  REQUIRE(decoded.signers.size() == 3);
  CHECK(decoded.fee_payer() == keys.signers[0].public_key());
  for (size_t i = 0; i < 3; ++i) {
    CHECK(decoded.signers[i] == keys.signers[i].public_key());
    CHECK(VerifySignature(keys.signers[i].public_key(), decoded.txid, tx.signatures(static_cast<int>(i)).signature()));
  }
  CHECK(VerifyTxSignatures(decoded).ok());

  SECTION("missing signature") {
    for (size_t skip = 0; skip < 3; ++skip) {
      INFO("signer " << skip << " does not sign");
      std::vector<PrivateKey> some;
      for (size_t i = 0; i < 3; ++i)
        if (i != skip) some.push_back(keys.signers[i]);
      DecodedTx d;
      Result m = DecodeTx(EncodeTx(SignedTx(body, some, 6)), "kontor-devnet", &d);
      CHECK(m.code() == Code::kMissingSignature);
      CHECK(m.message().find(EncodeAddress(keys.signers[skip].public_key())) != std::string::npos);
    }
    v1::Tx unsigned_tx;
    unsigned_tx.set_body(body_bytes);
    DecodedTx d;
    CHECK(DecodeTx(EncodeTx(unsigned_tx), "kontor-devnet", &d).code() == Code::kMissingSignature);
  }
  SECTION("signature by a non-signer") {
    SeededRandom random(8);
    CHECK(SignTx(&tx, keys.outsider, random).code() == Code::kNotAuthorized);
    v1::Tx extra = tx;
    Signature64 sig = keys.outsider.Sign(decoded.txid, random.Array<32>());
    v1::Signature* s = extra.add_signatures();
    s->set_signer(keys.outsider.public_key().bytes());
    s->set_signature(std::string(reinterpret_cast<const char*>(sig.data()), 64));
    DecodedTx d;
    Result u = DecodeTx(EncodeTx(extra), "kontor-devnet", &d);
    CHECK(u.code() == Code::kUnexpectedSignature);
    CHECK(u.message().find(EncodeAddress(keys.outsider.public_key())) != std::string::npos);
    // Replacing a signer's signature by the outsider's is unexpected too.
    v1::Tx replaced = tx;
    replaced.mutable_signatures(1)->set_signer(keys.outsider.public_key().bytes());
    replaced.mutable_signatures(1)->set_signature(std::string(reinterpret_cast<const char*>(sig.data()), 64));
    CHECK(DecodeTx(EncodeTx(replaced), "kontor-devnet", &d).code() == Code::kUnexpectedSignature);
    // One signer signing twice: more signatures than signers.
    v1::Tx twice = tx;
    *twice.add_signatures() = tx.signatures(0);
    CHECK(DecodeTx(EncodeTx(twice), "kontor-devnet", &d).code() == Code::kUnexpectedSignature);
  }
  SECTION("signatures out of signer order") {
    v1::Tx swapped = tx;
    swapped.mutable_signatures()->SwapElements(0, 1);
    DecodedTx d;
    // Every signer signed, but not in signer order: one tx, one encoding.
    CHECK(DecodeTx(EncodeTx(swapped), "kontor-devnet", &d).code() == Code::kNonCanonical);
  }
  SECTION("wrong chain") {
    DecodedTx d;
    Result w = DecodeTx(envelope, "kontor-mainnet", &d);
    CHECK(w.code() == Code::kWrongChain);
    CHECK(w.message().find("kontor-devnet") != std::string::npos);
    CHECK(DecodeTx(envelope, "", &d).code() == Code::kWrongChain);
    CHECK(DecodeTx(envelope, "kontor-devne", &d).code() == Code::kWrongChain);
  }
  SECTION("flipped signature byte") {
    for (int which = 0; which < 3; ++which) {
      for (size_t byte : {0u, 31u, 32u, 63u}) {
        INFO("signature " << which << " byte " << byte);
        v1::Tx bad = tx;
        std::string sig = bad.signatures(which).signature();
        sig[byte] = static_cast<char>(sig[byte] ^ 0x01);
        bad.mutable_signatures(which)->set_signature(sig);
        DecodedTx d;
        REQUIRE(DecodeTx(EncodeTx(bad), "kontor-devnet", &d).ok());  // decoding does not verify
        Result v = VerifyTxSignatures(d);
        CHECK(v.code() == Code::kBadSignature);
        CHECK(v.message().find(EncodeAddress(keys.signers[static_cast<size_t>(which)].public_key())) !=
              std::string::npos);
      }
    }
    // A signature over another body does not verify for this one.
    v1::TxBody other = body;
    other.set_nonce(2);
    v1::Tx moved = tx;
    moved.set_body(EncodeTxBody(other));
    DecodedTx d;
    REQUIRE(DecodeTx(EncodeTx(moved), "kontor-devnet", &d).ok());
    CHECK(VerifyTxSignatures(d).code() == Code::kBadSignature);
  }
  SECTION("over the size limit") {
    // Find a memo length that makes the envelope exactly kTxBytesMax: accepted; one more byte: refused.
    v1::TxBody big = body;
    big.mutable_transfer()->set_memo(std::string(60000, 'm'));
    const size_t overhead = EncodeTx(SignedTx(big, keys.signers, 9)).size() - 60000;
    const size_t estimate = limits::kTxBytesMax - overhead;
    bool found = false;
    for (size_t memo = estimate - 3; memo <= estimate + 3 && !found; ++memo) {
      big.mutable_transfer()->set_memo(std::string(memo, 'm'));
      v1::Tx t = SignedTx(big, keys.signers, 9);
      std::string env = EncodeTx(t);
      if (env.size() != limits::kTxBytesMax) continue;
      found = true;
      DecodedTx d;
      CHECK(DecodeTx(env, "kontor-devnet", &d).ok());
      big.mutable_transfer()->set_memo(std::string(memo + 1, 'm'));
      std::string env2 = EncodeTx(SignedTx(big, keys.signers, 9));
      REQUIRE(env2.size() == limits::kTxBytesMax + 1);
      Result l = DecodeTx(env2, "kontor-devnet", &d);
      CHECK(l.code() == Code::kTooLarge);
    }
    CHECK(found);
    DecodedTx d;
    CHECK(DecodeTx(std::string(limits::kTxBytesMax + 1, '\0'), "kontor-devnet", &d).code() == Code::kTooLarge);
    CHECK(DecodeTx(std::string(10 * limits::kTxBytesMax, 'x'), "kontor-devnet", &d).code() == Code::kTooLarge);
  }
  SECTION("non-canonical envelope or body") {
    DecodedTx d;
    CHECK(DecodeTx(envelope + Tag(99, 0) + Varint(1), "kontor-devnet", &d).code() == Code::kNonCanonical);
    v1::Tx noncanon = tx;
    noncanon.set_body(body_bytes + Tag(99, 0) + Varint(1));
    CHECK(DecodeTx(EncodeTx(noncanon), "kontor-devnet", &d).code() == Code::kNonCanonical);
    CHECK(DecodeTx(envelope.substr(0, envelope.size() - 1), "kontor-devnet", &d).code() == Code::kMalformed);
    CHECK(DecodeTx("", "kontor-devnet", &d).code() != Code::kOk);
  }
  SECTION("signer list faults") {
    DecodedTx d;
    auto code_of = [&](const v1::TxBody& b) {
      v1::Tx t;
      t.set_body(EncodeTxBody(b));
      return DecodeTx(EncodeTx(t), "kontor-devnet", &d).code();
    };
    v1::TxBody none = body;
    none.clear_signers();
    CHECK(code_of(none) == Code::kNoSigners);
    v1::TxBody dup = body;
    dup.add_signers(keys.signers[1].public_key().bytes());
    CHECK(code_of(dup) == Code::kDuplicateSigner);
    v1::TxBody many = body;
    const Keys more = MakeKeys(78, 9);
    many.clear_signers();
    for (const auto& k : more.signers) many.add_signers(k.public_key().bytes());
    CHECK(code_of(many) == Code::kTooLarge);
    v1::TxBody short_key = body;
    short_key.set_signers(1, keys.signers[1].public_key().bytes().substr(0, 31));
    CHECK(code_of(short_key) == Code::kBadKey);
    v1::TxBody no_payload = body;
    no_payload.clear_transfer();
    CHECK(code_of(no_payload) == Code::kUnknownPayload);
    // A 63-byte signature is malformed.
    v1::Tx short_sig = tx;
    short_sig.mutable_signatures(0)->set_signature(tx.signatures(0).signature().substr(0, 63));
    CHECK(DecodeTx(EncodeTx(short_sig), "kontor-devnet", &d).code() == Code::kMalformed);
  }
  SECTION("signer key that is not a curve point") {
    // tx.h: DecodeTx checks signer keys are 32 bytes; VerifyTxSignatures checks they are points.
    v1::TxBody bad = body;
    bad.set_signers(2, Hash256::FromHex("eefdea4cdb677750a420fee807eacf21eb9898ae79b9768766e4faa04a2d4a34")->bytes());
    v1::Tx t = SignedTx(bad, {keys.signers[0], keys.signers[1]}, 10);
    v1::Signature* s = t.add_signatures();
    s->set_signer(bad.signers(2));
    s->set_signature(std::string(64, '\x01'));
    DecodedTx d;
    Result dr = DecodeTx(EncodeTx(t), "kontor-devnet", &d);
    if (dr.ok()) CHECK(VerifyTxSignatures(d).code() == Code::kBadKey);
    else CHECK(dr.code() == Code::kBadKey);
  }
}

TEST_CASE("Tx: random signed txs decode and verify", "[codec][tx][property]") {
  rc::prop("any signing order gives one canonical envelope that decodes and verifies", [] {
    const int n = *rc::gen::inRange(1, 4);
    const Keys keys = MakeKeys(*rc::gen::arbitrary<uint64_t>(), n);
    const v1::TxBody body = GenBody(keys);
    std::vector<PrivateKey> order = keys.signers;
    std::rotate(order.begin(), order.begin() + *rc::gen::inRange(0, n), order.end());
    const v1::Tx tx = SignedTx(body, order, *rc::gen::arbitrary<uint64_t>());
    const std::string envelope = EncodeTx(tx);
    DecodedTx d;
    RC_ASSERT(DecodeTx(envelope, body.chain_id(), &d).ok());
    RC_ASSERT(VerifyTxSignatures(d).ok());
    RC_ASSERT(d.signers.size() == static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) RC_ASSERT(d.signers[static_cast<size_t>(i)] == keys.signers[static_cast<size_t>(i)].public_key());
    RC_ASSERT(d.txid == ComputeTxid(EncodeTxBody(body)));
    RC_ASSERT(DecodeTx(envelope, body.chain_id() + "x", &d).code() == Code::kWrongChain);
    // Re-signing replaces a signature (fresh aux randomness) and keeps the others.
    v1::Tx resigned = tx;
    SeededRandom random(*rc::gen::arbitrary<uint64_t>());
    RC_ASSERT(SignTx(&resigned, keys.signers.back(), random).ok());
    RC_ASSERT(resigned.signatures_size() == n);
    for (int i = 0; i + 1 < n; ++i) RC_ASSERT(resigned.signatures(i).signature() == tx.signatures(i).signature());
    DecodedTx d2;
    RC_ASSERT(DecodeTx(EncodeTx(resigned), body.chain_id(), &d2).ok());
    RC_ASSERT(VerifyTxSignatures(d2).ok());
  });
}

}  // namespace kontor
