// Our canonical-encoding check (ledger/canonical.h, docs/protocol.md §3) on the vectors of
// tests/data/canonical-vectors.txt: each verdict exactly, the library agreeing on every `ok`
// vector, and error messages that name the field and the byte.
#include <catch2/catch.hpp>

#include <google/protobuf/descriptor.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "kontor/v1/block.pb.h"
#include "kontor/v1/node.pb.h"
#include "kontor/v1/state.pb.h"
#include "kontor/v1/tx.pb.h"
#include "ledger/bytes.h"
#include "ledger/canonical.h"
#include "ledger/codec.h"
#include "ledger/limits.h"

namespace kontor {
namespace {

struct Vector {
  std::string type, verdict, hex, description;
  int line = 0;
};

std::vector<Vector> LoadVectors() {
  std::ifstream in(std::string(KONTOR_TEST_DATA) + "/canonical-vectors.txt");
  REQUIRE(in.good());
  std::vector<Vector> out;
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Vector v;
    v.line = n;
    fields >> v.type >> v.verdict >> v.hex;
    std::getline(fields, v.description);
    out.push_back(v);
  }
  return out;
}

const google::protobuf::Descriptor* TypeNamed(const std::string& name) {
  // Touch one message of each file so its descriptors are registered.
  (void)v1::Tx::descriptor();
  (void)v1::Block::descriptor();
  (void)v1::Account::descriptor();
  (void)v1::GetStatusResponse::descriptor();
  return google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(name);
}

Bytes BytesOf(const Vector& v) {
  if (v.hex == "-") return {};
  auto b = HexDecode(v.hex);
  REQUIRE(b.has_value());
  return *b;
}

TEST_CASE("canonical: every vector gets exactly its verdict", "[canonical]") {
  std::vector<Vector> vectors = LoadVectors();
  REQUIRE(vectors.size() >= 60);
  int ok = 0, non_canonical = 0, malformed = 0;
  for (const Vector& v : vectors) {
    INFO("line " << v.line << ": " << v.type << " " << v.hex << " --" << v.description);
    const auto* type = TypeNamed(v.type);
    REQUIRE(type != nullptr);
    Result r = CheckCanonical(BytesOf(v), type, "vector");
    INFO("check said: " << r.ToString());
    if (v.verdict == "ok") {
      ++ok;
      CHECK(r.ok());
    } else if (v.verdict == "non_canonical" || v.verdict == "non_canonical:strict") {
      ++non_canonical;
      CHECK(r.code() == Code::kNonCanonical);
    } else {
      REQUIRE(v.verdict == "malformed");
      ++malformed;
      CHECK(r.code() == Code::kMalformed);
    }
  }
  CHECK(ok >= 15);
  CHECK(non_canonical >= 25);
  CHECK(malformed >= 15);
}

TEST_CASE("canonical: the library parses and re-encodes every ok vector unchanged", "[canonical]") {
  for (const Vector& v : LoadVectors()) {
    if (v.verdict != "ok") continue;
    INFO("line " << v.line << ":" << v.description);
    const auto* type = TypeNamed(v.type);
    std::unique_ptr<google::protobuf::Message> message(
        google::protobuf::MessageFactory::generated_factory()->GetPrototype(type)->New());
    Bytes bytes = BytesOf(v);
    REQUIRE(DecodeCanonical(bytes, limits::kTxBytesMax, "vector", message.get()).ok());
    CHECK(HexEncode(CanonicalBytes(*message)) == HexEncode(bytes));
  }
}

TEST_CASE("canonical: messages name the object, the byte offset and the field path", "[canonical]") {
  // nonce 0 written out after chain_id "c" (3 bytes): the key of nonce is at byte 3.
  Bytes body = *HexDecode("0a01631800");
  Result r = CheckCanonical(body, v1::TxBody::descriptor(), "tx body");
  CHECK(r.code() == Code::kNonCanonical);
  CHECK(r.message() == "tx body is not canonically encoded at byte 3: nonce is written with its default value 0");

  // An unknown field inside transfer: the path goes through the oneof member.
  Bytes nested = *HexDecode("8201024801");
  r = CheckCanonical(nested, v1::TxBody::descriptor(), "tx body");
  CHECK(r.code() == Code::kNonCanonical);
  CHECK(r.message() == "tx body is not canonically encoded at byte 3: transfer field 9 is not a field of kontor.v1.Transfer");

  // Invalid UTF-8 in transfer.asset: malformed, at the first byte of the string.
  r = CheckCanonical(*HexDecode("820103120180"), v1::TxBody::descriptor(), "tx body");
  CHECK(r.code() == Code::kMalformed);
  CHECK(r.message() == "tx body is malformed at byte 5: transfer.asset is not valid UTF-8");
}

TEST_CASE("canonical: decode refuses before parsing, and size is checked first", "[canonical]") {
  v1::TxBody body;
  Result r = DecodeCanonical(*HexDecode("0a01631800"), limits::kTxBytesMax, "tx body", &body);
  CHECK(r.code() == Code::kNonCanonical);
  Bytes big(limits::kTxBytesMax + 1, '\0');
  CHECK(DecodeCanonical(big, limits::kTxBytesMax, "tx body", &body).code() == Code::kTooLarge);
  // The same bytes the library would accept and re-encode (enum -1 as 10 bytes) are refused.
  v1::Vote vote;
  r = DecodeCanonical(*HexDecode("20ffffffffffffffffff01"), 1000, "vote", &vote);
  CHECK(r.code() == Code::kNonCanonical);
  CHECK(vote.ParseFromString(*HexDecode("20ffffffffffffffffff01")));
  CHECK(HexEncode(vote.SerializeAsString()) == "20ffffffffffffffffff01");
}

TEST_CASE("canonical: the codec self-test passes with this build's protobuf", "[canonical]") {
  Result r = CodecSelfTest();
  INFO(r.ToString());
  CHECK(r.ok());
}

}  // namespace
}  // namespace kontor
