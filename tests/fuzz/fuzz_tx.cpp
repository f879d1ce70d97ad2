// Tx envelopes as a node receives them: decoding, the stateless checks and the signatures.
// Properties: no crash; an accepted envelope is canonical (it re-encodes to itself, and so does
// its body) and its txid is the hash of its body.
#include <memory>

#include "ledger/codec.h"
#include "ledger/tx.h"
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include "tests/fuzz/fuzz_support.h"
#include "tests/support/test_env.h"

using namespace kontor;

// Seeds: envelopes of each shape the rules tests use (one signer, a fee, an expiry).
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* dir = std::getenv("KONTOR_FUZZ_WRITE_SEEDS");
  if (!dir) return 0;
  test::TestEnv env;
  const std::string seeds[] = {env.Transfer("alice", "bob", "USDC", 5), env.Transfer("bob", "alice", "KTR", 1, {.fee = 1000}),
                               env.Transfer("carol", "dave", "USDC", UINT64_MAX, {.expiry_height = 9})};
  int n = 0;
  for (const auto& s : seeds) std::ofstream(std::filesystem::path(dir) / ("tx-" + std::to_string(n++))) << s;
  std::exit(0);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* env = new test::TestEnv();
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  DecodedTx tx;
  Result r = DecodeTx(bytes, env->genesis().chain_id, &tx);
  if (!r.ok()) return 0;
  FUZZ_CHECK(EncodeTx(tx.tx) == bytes, "a decoded envelope re-encodes to itself");
  FUZZ_CHECK(EncodeTxBody(tx.body) == tx.tx.body(), "a decoded body re-encodes to itself");
  FUZZ_CHECK(tx.txid == ComputeTxid(tx.tx.body()), "txid is the hash of the body");
  (void)env->chain().executor().CheckStateless(tx);
  (void)VerifyTxSignatures(tx);
  return 0;
}
