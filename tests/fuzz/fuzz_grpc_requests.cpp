// Every unary gRPC method of the node on raw request bytes, through the real request codec
// (proto/grpc_codec.h) and handlers (node/grpc_service.cpp: CallUnary) of an in-process node.
// The first input byte picks the method. Properties: no crash; a bad request is the client's
// error (never INTERNAL or UNKNOWN); an OK reply parses as the method's response type.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "kontor/v1/node.pb.h"
#include "node/grpc_service.h"
#include "node/home.h"
#include "node/node.h"
#include "ledger/check.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/support/test_env.h"

using namespace kontor;

namespace {
const char* const kMethods[] = {"SubmitTx", "GetTx", "GetBlock", "GetAccount", "GetStatus", "ListAssets", "QueryState"};
constexpr size_t kMethodCount = sizeof(kMethods) / sizeof(kMethods[0]);

struct Fixture {
  test::TestEnv env;
  std::filesystem::path home;
  std::unique_ptr<node::Node> node;
  Fixture() {
    home = std::filesystem::temp_directory_path() /
           ("kontor-fuzz-grpc-" + std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
    std::filesystem::create_directories(home);
    node::Config config;
    config.home = home;
    config.block_interval_ms = 3'600'000;  // no blocks while fuzzing: runs stay comparable
    config.sync_writes = false;
    KONTOR_CHECK(node::CreateChainStore(config, env.genesis()).ok());
    node = std::make_unique<node::Node>(config, env.genesis(), env.validator());
    KONTOR_CHECK(node->Start().ok());
  }
};

Fixture& F() {
  static Fixture* f = [] {
    auto* f = new Fixture;
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(F().home, ec);
    });
    return f;
  }();
  return *f;
}

bool ParsesAsResponse(const std::string& method, const std::string& bytes) {
  std::unique_ptr<google::protobuf::Message> m;
  if (method == "SubmitTx") m = std::make_unique<v1::SubmitTxResponse>();
  if (method == "GetTx") m = std::make_unique<v1::GetTxResponse>();
  if (method == "GetBlock") m = std::make_unique<v1::GetBlockResponse>();
  if (method == "GetAccount") m = std::make_unique<v1::GetAccountResponse>();
  if (method == "GetStatus") m = std::make_unique<v1::GetStatusResponse>();
  if (method == "ListAssets") m = std::make_unique<v1::ListAssetsResponse>();
  if (method == "QueryState") m = std::make_unique<v1::QueryStateResponse>();
  return m && m->ParseFromString(bytes);
}

void WriteSeeds(const char* dir) {
  auto& env = F().env;
  auto write = [&](int method, const google::protobuf::Message& req, const std::string& name) {
    std::ofstream(std::filesystem::path(dir) / name) << static_cast<char>(method) << req.SerializeAsString();
  };
  v1::SubmitTxRequest submit;
  submit.set_tx(env.Transfer("alice", "bob", "USDC", 5));
  write(0, submit, "submit-transfer");
  v1::GetTxRequest get_tx;
  get_tx.set_txid(test::TestEnv::Txid(submit.tx()).bytes());
  write(1, get_tx, "get-tx");
  v1::GetBlockRequest get_block;
  get_block.set_height(0);
  write(2, get_block, "get-block-0");
  v1::GetAccountRequest get_account;
  get_account.set_key(env.Pub("alice").bytes());
  write(3, get_account, "get-account");
  write(4, v1::GetStatusRequest(), "get-status");
  write(5, v1::ListAssetsRequest(), "list-assets");
  v1::QueryStateRequest query;
  query.set_kind(1);
  query.set_id(env.Pub("alice").bytes());
  query.set_prove(true);
  write(6, query, "query-state-account");
  std::exit(0);
}
}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS")) WriteSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string method = kMethods[data[0] % kMethodCount];
  std::string_view request(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string response;
  grpc::Status status = node::CallUnary(*F().node, method, request, &response);
  FUZZ_CHECK(status.error_code() != grpc::StatusCode::INTERNAL && status.error_code() != grpc::StatusCode::UNKNOWN,
             method + ": " + status.error_message());
  if (status.ok()) FUZZ_CHECK(ParsesAsResponse(method, response), method + ": reply parses");
  return 0;
}
