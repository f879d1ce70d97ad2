#include "ledger/codec.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include "ledger/canonical.h"
#include "kontor/v1/block.pb.h"
#include "kontor/v1/state.pb.h"
#include "kontor/v1/tx.pb.h"
#include "ledger/check.h"

namespace kontor {

Bytes CanonicalBytes(const google::protobuf::Message& message) {
  Bytes out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    KONTOR_CHECK(message.SerializeToCodedStream(&coded));
  }
  return out;
}

Result DecodeCanonical(std::string_view bytes, size_t bytes_max, std::string_view what,
                       google::protobuf::Message* message) {
  if (bytes.size() > bytes_max)
    return {Code::kTooLarge, std::string(what) + " is " + std::to_string(bytes.size()) + " bytes; at most " +
                                 std::to_string(bytes_max) + " allowed"};
  // Validity is decided by our check alone (ledger/canonical.h), never by the library.
  KONTOR_RETURN_IF_ERROR(CheckCanonical(bytes, message->GetDescriptor(), what));
  if (!message->ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return {Code::kMalformed, std::string(what) + " passed the canonical check but protobuf could not parse it as " +
                                  message->GetTypeName()};
  return Result::Ok();
}

Result CodecSelfTest() {
  struct Case {
    const char* what;
    const google::protobuf::Message* message;
    const char* hex;
  };
  v1::TxBody example;  // docs/protocol.md §3.2
  example.set_chain_id("kontor-example-1");
  example.add_signers(*HexDecode("f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9"));
  example.set_fee(1000);
  example.set_expiry_height(10);
  v1::Transfer* t = example.mutable_transfer();
  t->set_to(*HexDecode("dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8"));
  t->set_asset("USDC");
  t->set_amount(250000000);
  t->set_memo("invoice 42");
  v1::TxBody edges;  // an empty repeated entry, a 10-byte varint, a set but empty oneof member
  edges.set_chain_id("c");
  edges.add_signers("");
  edges.set_nonce(UINT64_MAX);
  edges.mutable_transfer();
  v1::Attribute number0;  // a oneof member equal to its default is written
  number0.set_key("gpu_count");
  number0.set_number(0);
  v1::Attribute text_empty;
  text_empty.set_key("region");
  text_empty.set_text("");
  v1::Vote vote;  // uint32 maximum, an enum value the .proto does not name
  vote.set_chain_id("c");
  vote.set_round(UINT32_MAX);
  vote.set_type(static_cast<v1::VoteType>(7));
  v1::Attestation revoked;  // bool true; false and 0 omitted
  revoked.set_revoked(true);
  revoked.set_created_at_ms(1);
  v1::Transfer utf8;
  utf8.set_memo("\xc3\xbc\xf0\x9f\x9a\x80");  // U+00FC U+1F680
  const Case cases[] = {
      {"the example TxBody of docs/protocol.md §3.2", &example,
       "0a106b6f6e746f722d6578616d706c652d311220f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f920e8"
       "07280a8201390a20dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb81204555344431880e59a7722"
       "0a696e766f696365203432"},
      {"a TxBody with an empty signer, nonce 2^64-1 and an empty transfer", &edges, "0a0163120018ffffffffffffffffff01820100"},
      {"an Attribute with number 0", &number0, "0a096770755f636f756e741800"},
      {"an Attribute with text \"\"", &text_empty, "0a06726567696f6e1200"},
      {"a Vote with round 2^32-1 and type 7", &vote, "0a016318ffffffff0f2007"},
      {"a revoked Attestation", &revoked, "28013001"},
      {"a Transfer with a UTF-8 memo", &utf8, "2206c3bcf09f9a80"},
  };
  for (const Case& c : cases) {
    Bytes bytes = CanonicalBytes(*c.message);
    if (HexEncode(bytes) != c.hex)
      return {Code::kEnvironment, std::string("the linked protobuf library does not write canonical bytes (docs/protocol.md §3): ") +
                                  c.what + " came out as " + HexEncode(bytes) + ", expected " + c.hex};
    KONTOR_RETURN_IF_ERROR(CheckCanonical(bytes, c.message->GetDescriptor(), c.what));
  }
  return Result::Ok();
}

}  // namespace kontor
