// Errors a sender provokes stay short and say what is wrong (issue 8, finding 11): input is
// echoed truncated and escaped, an empty envelope is malformed, not a wrong chain.
#include <catch2/catch.hpp>

#include "ledger/result.h"
#include "ledger/tx.h"
#include "node/grpc_service.h"
#include "tests/support/test_env.h"

using namespace kontor;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

TEST_CASE("errors: echoed input is quoted, escaped and cut at its limit", "[errors]") {
  CHECK(EchoInput("usdc") == "'usdc'");
  CHECK(EchoInput("") == "''");
  CHECK(EchoInput(std::string("a\nb\x01'\\", 6)) == "'a\\x0ab\\x01\\x27\\x5c'");
  CHECK(EchoInput(std::string(64, 'x')) == "'" + std::string(64, 'x') + "'");
  CHECK(EchoInput(std::string(65, 'x')) == "'" + std::string(64, 'x') + "'...(65 bytes)");
  CHECK(EchoInput("\xff\xfe", 1) == "'\\xff'...(2 bytes)");
}

TEST_CASE("errors: an empty envelope or body is malformed, and a long chain id is not echoed whole", "[errors]") {
  TestEnv env;
  DecodedTx tx;
  Result empty = DecodeTx("", env.genesis().chain_id, &tx);
  CHECK(empty.code() == Code::kMalformed);
  CHECK_THAT(empty.message(), Catch::Contains("empty"));
  v1::Tx no_body;
  no_body.add_signatures()->set_signer(std::string(32, 'k'));
  Result bodiless = DecodeTx(EncodeTx(no_body), env.genesis().chain_id, &tx);
  CHECK(bodiless.code() == Code::kMalformed);
  CHECK_THAT(bodiless.message(), Catch::Contains("no body"));

  std::string long_chain(10'000, 'c');
  Result wrong = DecodeTx(env.Transfer("alice", "bob", "USDC", 1, TxOptions{.chain_id = long_chain}), env.genesis().chain_id, &tx);
  CHECK(wrong.code() == Code::kWrongChain);
  CHECK(wrong.message().size() < 200);
  CHECK_THAT(wrong.message(), Catch::Contains("(10000 bytes)"));
  // A body that names no chain says so, rather than quoting an empty name.
  Result unnamed = DecodeTx(env.Build({"alice"}, [](v1::TxBody& b) {
    b.set_chain_id("");
    b.mutable_transfer()->set_amount(1);
  }), env.genesis().chain_id, &tx);
  CHECK(unnamed.code() == Code::kWrongChain);
  CHECK_THAT(unnamed.message(), Catch::Contains("names no chain"));
}

TEST_CASE("errors: a gRPC status carries at most 512 bytes of message, cut on a character boundary", "[errors][grpc]") {
  std::string text = std::string(600, 'y') + "\xc3\xa9";
  grpc::Status status = node::ToStatus({Code::kBadField, text});
  CHECK(status.error_message().size() <= 512 + 20);
  CHECK_THAT(status.error_message(), Catch::EndsWith("bytes)"));
  v1::ErrorDetail detail;
  REQUIRE(node::DetailOf(status, &detail));
  CHECK(detail.message().size() <= 512 + 20);
  CHECK_THAT(detail.message(), Catch::StartsWith("yyyy"));
  // A message at exactly the limit is sent whole; UTF-8 is never cut inside a character.
  CHECK(node::ToStatus({Code::kBadField, std::string(512 - 18, 'z')}).error_message() ==
        "bad_field (108): " + std::string(512 - 18, 'z'));
  std::string accents;
  for (int i = 0; i < 300; ++i) accents += "\xc3\xa9";
  REQUIRE(node::DetailOf(node::ToStatus({Code::kBadField, accents}), &detail));
  std::string kept = detail.message().substr(0, detail.message().find("..."));
  CHECK(kept.size() % 2 == 0);
}

TEST_CASE("errors: a request that does not parse is malformed (100), with the same code and name as the ledger's", "[errors][grpc]") {
  CHECK(wire::kMalformedCode == static_cast<unsigned>(Code::kMalformed));
  CHECK(wire::kMalformedName == CodeName(Code::kMalformed));
  grpc::Status s = wire::RequestParseError("kontor.v1.GetStatusRequest");
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(s.error_message() ==
        "malformed (100): request is not a valid kontor.v1.GetStatusRequest (protobuf cannot parse it)");
  v1::ErrorDetail detail;
  REQUIRE(node::DetailOf(s, &detail));
  CHECK(detail.code() == 100);
  CHECK(detail.name() == "malformed");

  // The codec itself: garbage bytes (a truncated length-delimited field) through gRPC's
  // SerializationTraits of a streaming request type, and the stream flag for SubmitTxRequest.
  std::string garbage("\x0a\x05\x01", 3);
  grpc::Slice slice(garbage);
  grpc::ByteBuffer buffer(&slice, 1);
  v1::StreamBlocksRequest stream_req;
  s = grpc::SerializationTraits<v1::StreamBlocksRequest>::Deserialize(&buffer, &stream_req);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK_FALSE(wire::TakeStreamParseFailure());
  grpc::Slice slice2(garbage);
  grpc::ByteBuffer buffer2(&slice2, 1);
  v1::SubmitTxRequest submit_req;
  s = grpc::SerializationTraits<v1::SubmitTxRequest>::Deserialize(&buffer2, &submit_req);
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  CHECK(wire::TakeStreamParseFailure());
  CHECK_FALSE(wire::TakeStreamParseFailure());
}
