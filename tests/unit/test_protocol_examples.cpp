// docs/protocol.md agrees with the code: every worked example of the protocol document (the tag
// digests of §2, the hand-encoded TxBody of §3.2, the address of §4.1, the genesis of §6.5, the
// state proofs of §7.5, the commit of §9.5 and the whole example chain of Appendix A) is rebuilt
// here with the ledger library and compared byte for byte with the hex printed in the document.
// The document's values were computed by an independent Python implementation, so a failure
// here means the document and the code disagree: find out which one is wrong, do not just copy
// the code's value into the expectation.
//
// Hex expectations are copied verbatim from docs/protocol.md; `Hx` removes the spaces and line
// breaks the document uses to lay them out (they are not part of the data).
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "contracts/app.h"
#include "kontor/v1/block.pb.h"
#include "kontor/v1/state.pb.h"
#include "kontor/v1/tx.pb.h"
#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "ledger/block.h"
#include "ledger/bytes.h"
#include "ledger/chain.h"
#include "ledger/codec.h"
#include "ledger/executor.h"
#include "ledger/genesis.h"
#include "ledger/hash.h"
#include "ledger/keys.h"
#include "ledger/merkle.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/tx.h"

using namespace kontor;

namespace {

// The document's hex with its layout whitespace removed.
std::string Hx(std::string_view doc_hex) {
  std::string out;
  for (char c : doc_hex)
    if (c != ' ' && c != '\n' && c != '\t') out.push_back(c);
  return out;
}

Bytes Unhex(std::string_view doc_hex) {
  auto bytes = HexDecode(Hx(doc_hex));
  REQUIRE(bytes.has_value());
  return *bytes;
}

Hash256 H(std::string_view doc_hex) {
  auto h = Hash256::FromHex(Hx(doc_hex));
  REQUIRE(h.has_value());
  return *h;
}

// aux_rand of every signature in the document: 32 zero bytes (§4 "auxiliary randomness").
class ZeroRandom final : public RandomSource {
 public:
  void Fill(uint8_t* out, size_t n) override { std::memset(out, 0, n); }
};

constexpr std::array<uint8_t, 32> kZeroAux{};

PrivateKey KeyFromHex(std::string_view secret_hex) {
  auto key = PrivateKey::FromBytes(Unhex(secret_hex));
  REQUIRE(key.has_value());
  return *key;
}

// The BIP-340 test vectors' secret keys (tests/data/bip340-test-vectors.csv), Appendix A.
PrivateKey AliceKey() { return KeyFromHex("0000000000000000000000000000000000000000000000000000000000000003"); }
PrivateKey ValidatorKey() { return KeyFromHex("b7e151628aed2a6abf7158809cf4f3c762e7160f38b4da56a784d9045190cfef"); }
PrivateKey BobKey() { return KeyFromHex("c90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74020bbea63b14e5c9"); }
PrivateKey Secret5Key() { return KeyFromHex("0000000000000000000000000000000000000000000000000000000000000005"); }

// The exact 880 bytes of the §6.5 genesis file.
std::string GenesisFileBytes() {
  std::ifstream in(KONTOR_TEST_DATA "/protocol/genesis-example.json", std::ios::binary);
  REQUIRE(in.good());
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

Genesis ExampleGenesis() {
  Genesis g;
  Result r = ParseGenesis(GenesisFileBytes(), &g);
  INFO(r.ToString());
  REQUIRE(r.ok());
  return g;
}

// §3.2: the body of the example transfer, built field by field.
v1::TxBody ExampleBody() {
  v1::TxBody body;
  body.set_chain_id("kontor-example-1");
  body.add_signers(AliceKey().public_key().bytes());
  body.set_nonce(0);
  body.set_fee(1000);
  body.set_expiry_height(10);
  auto* t = body.mutable_transfer();
  t->set_to(BobKey().public_key().bytes());
  t->set_asset("USDC");
  t->set_amount(250'000'000);
  t->set_memo("invoice 42");
  return body;
}

// Appendix A.1: the signed envelope (Alice signs with aux_rand = 32 zero bytes).
std::string ExampleEnvelope() {
  v1::Tx tx;
  tx.set_body(EncodeTxBody(ExampleBody()));
  ZeroRandom zero;
  Result r = SignTx(&tx, AliceKey(), zero);
  INFO(r.ToString());
  REQUIRE(r.ok());
  return EncodeTx(tx);
}

// The example chain of Appendix A, produced by the proposer path (Chain::ProduceBlock), with
// zero aux_rand for the commit signatures.
struct ExampleChain {
  Genesis genesis;
  contracts::KontorApp app;
  PrivateKey validator = ValidatorKey();
  std::unique_ptr<Chain> chain;
  std::string envelope;
  ExecutedBlock block1, block2;

  ExampleChain() {
    genesis = ExampleGenesis();
    ChainOptions options;
    options.store.in_memory = true;
    options.store.sync = false;
    options.threads = 1;
    Result r = Chain::Open(options, genesis, &app, &chain);
    INFO(r.ToString());
    REQUIRE(r.ok());
    envelope = ExampleEnvelope();
    ZeroRandom zero;
    std::vector<RejectedTx> rejected;
    r = chain->ProduceBlock({envelope}, 1700000001000, validator, zero, &block1, &rejected);
    INFO(r.ToString());
    REQUIRE(r.ok());
    for (const auto& rej : rejected) FAIL_CHECK("block 1 rejected tx " << rej.index << ": " << rej.result.ToString());
    REQUIRE(block1.block.block.txs_size() == 1);
    r = chain->ProduceBlock({}, 1700000002000, validator, zero, &block2, &rejected);
    INFO(r.ToString());
    REQUIRE(r.ok());
    REQUIRE(chain->height() == 2);
  }
};

std::string StateValueHex(const StateView& state, const Hash256& key) {
  auto v = state.Get(key);
  return v ? HexEncode(*v) : std::string("<absent>");
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// §2 Hashes and tags
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol §2.2: SHA256 of every tag, and TH follows §2.1", "[protocol]") {
  struct Row {
    std::string_view doc_tag;
    std::string_view code_tag;
    const char* sha256_hex;
  };
  const Row rows[] = {
      {"kontor/tx", tags::kTx, "6b9f5bcfeec091c52a924272871f00bdfe4d17b0e04c8edf822c37878f880685"},
      {"kontor/block", tags::kBlock, "65bfe1a5b85d9e0f0a5c3e5287ee7af2bb7ddb44a3d7b5d9dc41f4bbb5f7636b"},
      {"kontor/vote", tags::kVote, "848b08f0f7c04fc486b7c5ca57dea80247c418676f04d397e4b76d3217f9d16e"},
      {"kontor/commit", tags::kCommit, "20be8ee0c588fa6355cec2e766f732f336295f651f5d4488f7120880d2ca2e23"},
      {"kontor/proposal", tags::kProposal, "9f5f5f7215ec97c4590c9fe5d1d418057f5dd2d3e18ae69967c3229317d21b7b"},
      {"kontor/genesis", tags::kGenesis, "355d11ef15091f88a267b1497c8623c5d32b8443b1a333f12bd8538fbfaf1c6e"},
      {"kontor/validators", tags::kValidators, "040df0d352e0db5efe6174e4e472e38b6fc5bc670782db01c70b48f3f8e3efe7"},
      {"kontor/state/key", tags::kStateKey, "17942511e0cc0bcaaffcbf8e3d69da738dbdaffa3967581602659f4a325aebed"},
      {"kontor/state/value", tags::kStateValue, "050fe988a09fdf3d928fed9541ea9e17332f0c853ce8e03d6f4947b77d45003c"},
      {"kontor/state/leaf", tags::kStateLeaf, "e8c3dc786c0e1c95c4fbba943e47b283bf40ce3500d2fa529c216c849309acee"},
      {"kontor/state/node", tags::kStateNode, "e4a59030c4931fc975861b68f35baa74ef5544d64250fd6b05b848fb6fea07fc"},
  };
  for (const auto& row : rows) {
    INFO("tag " << row.doc_tag);
    CHECK(row.code_tag == row.doc_tag);
    CHECK(Sha256(row.doc_tag).hex() == row.sha256_hex);
    // TH(tag, m) = SHA256(SHA256(tag) ‖ SHA256(tag) ‖ m), with the table's digest as prefix.
    const std::string m = "kontor protocol example";
    CHECK(TaggedHash(row.code_tag, m) == Sha256(Unhex(row.sha256_hex) + Unhex(row.sha256_hex) + m));
    CHECK(TaggedHash(row.code_tag, "") == Sha256(Unhex(row.sha256_hex) + Unhex(row.sha256_hex)));
  }
}

TEST_CASE("protocol §2.3: tag prefix, TH of the empty string, empty tree roots", "[protocol]") {
  // SHA256("kontor/tx") ‖ SHA256("kontor/tx"), the 64-byte prefix of every txid.
  const std::string prefix_hex = Hx(R"(
6b9f5bcfeec091c52a924272871f00bdfe4d17b0e04c8edf822c37878f880685
6b9f5bcfeec091c52a924272871f00bdfe4d17b0e04c8edf822c37878f880685)");
  Hash256 tag_digest = Sha256("kontor/tx");
  CHECK(HexEncode(tag_digest.bytes() + tag_digest.bytes()) == prefix_hex);

  // TH("kontor/tx", "")
  CHECK(TaggedHash(tags::kTx, "").hex() == "7276bc197ab7100c5664cb9b20354f51df00b84beb22f6f33caa3aca4df4b403");
  CHECK(ComputeTxid("").hex() == "7276bc197ab7100c5664cb9b20354f51df00b84beb22f6f33caa3aca4df4b403");
  CHECK(Sha256(*HexDecode(prefix_hex)).hex() == "7276bc197ab7100c5664cb9b20354f51df00b84beb22f6f33caa3aca4df4b403");

  // SHA256("") = RFC 9162 root of the empty tree.
  CHECK(Sha256("").hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(MerkleRoot({}).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  // Empty sparse Merkle root.
  CHECK(SparseMerkleTree().root_hash().hex() == "0000000000000000000000000000000000000000000000000000000000000000");
  CHECK(State().root().hex() == "0000000000000000000000000000000000000000000000000000000000000000");
}

// ---------------------------------------------------------------------------------------------
// §3.2 Canonical encoding: the TxBody by hand
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol §3.2: the example TxBody encodes to the hand-encoded bytes", "[protocol]") {
  CHECK(AliceKey().public_key().hex() == "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
  CHECK(BobKey().public_key().hex() == "dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8");

  v1::TxBody body = ExampleBody();
  Bytes encoded = EncodeTxBody(body);
  CHECK(encoded == CanonicalBytes(body));

  // The annotated listing, field by field.
  const std::string annotated = Hx(R"(
0a 10 6b6f6e746f722d6578616d706c652d31
12 20 f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9
20 e8 07
28 0a
82 01 39
   0a 20 dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8
   12 04 55534443
   18 80 e5 9a 77
   22 0a 696e766f696365203432)");
  CHECK(HexEncode(encoded) == annotated);

  // The transfer sub-message alone: 57 (0x39) bytes.
  Bytes transfer = CanonicalBytes(body.transfer());
  CHECK(transfer.size() == 0x39);
  CHECK(HexEncode(transfer) == Hx(R"(
   0a 20 dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8
   12 04 55534443
   18 80 e5 9a 77
   22 0a 696e766f696365203432)"));

  // "117 bytes in all".
  CHECK(encoded.size() == 117);
  CHECK(HexEncode(encoded) == Hx(R"(
0a106b6f6e746f722d6578616d706c652d311220f9308a019258c31049344f85
f89d5229b531c845836f99b08601f113bce036f920e807280a8201390a20dd30
8afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb81204
555344431880e59a77220a696e766f696365203432)"));

  // And it is canonical: the decoder accepts exactly these bytes.
  v1::TxBody decoded;
  CHECK(DecodeCanonical(encoded, 65536, "tx body", &decoded).ok());
}

// ---------------------------------------------------------------------------------------------
// §4.1 Addresses, Appendix A keys
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol §4.1: bech32m address of BIP-340 vector 0", "[protocol]") {
  PublicKey key = H("f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9");
  CHECK(AliceKey().public_key() == key);

  std::vector<uint8_t> bytes8(key.data.begin(), key.data.end());
  std::vector<uint8_t> groups5;
  REQUIRE(ConvertBits(bytes8, 8, 5, true, &groups5));
  const std::vector<uint8_t> doc_groups = {31, 4,  24, 8,  20, 0,  12, 18, 11, 3,  1,  17, 0,  18, 9,  20, 9,  30,
                                           2,  31, 17, 7,  10, 18, 5,  6,  26, 19, 3,  18, 2,  5,  16, 13, 23, 25,
                                           19, 12, 4,  6,  0,  7,  24, 17, 7,  15, 7,  0,  6,  27, 28, 16};
  CHECK(doc_groups.size() == 52);
  CHECK(groups5 == doc_groups);

  const std::string address = "kx1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmusr0yvxj";
  CHECK(EncodeAddress(key) == address);
  CHECK(Bech32mEncode("kx", doc_groups) == address);
  CHECK(address.size() == 61);
  PublicKey decoded;
  CHECK(DecodeAddress(address, &decoded).ok());
  CHECK(decoded == key);
}

TEST_CASE("protocol Appendix A: keys and addresses of Alice, the validator and Bob", "[protocol]") {
  struct Party {
    const char* name;
    PrivateKey key;
    const char* secret_prefix;
    const char* secret_suffix;
    const char* key_hex;
    const char* address;
  };
  const Party parties[] = {
      {"Alice", AliceKey(), "00", "03", "f9308a019258c31049344f85f89d5229b531c845836f99b08601f113bce036f9",
       "kx1lycg5qvjtrp3qjf5f7zl382j9x6nrjz9sdhenvyxq8c3808qxmusr0yvxj"},
      {"validator", ValidatorKey(), "b7e15162", "5190cfef", "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659",
       "kx1mlcawle2vuw97dscxundkg6phev0atsa5t0vakzrys8hk5pt5evsfu6mn4"},
      {"Bob", BobKey(), "c90fdaa2", "3b14e5c9", "dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8",
       "kx1m5cg4lk9walpxysl5u4eesdhesqnju2npxcgdjtqux8aj6thf6uq3crzfw"},
  };
  for (const auto& p : parties) {
    INFO(p.name);
    std::string secret = HexEncode(p.key.secret());
    CHECK(secret.substr(0, std::strlen(p.secret_prefix)) == p.secret_prefix);
    CHECK(secret.substr(secret.size() - std::strlen(p.secret_suffix)) == p.secret_suffix);
    CHECK(p.key.public_key().hex() == p.key_hex);
    CHECK(EncodeAddress(p.key.public_key()) == p.address);
    PublicKey decoded;
    CHECK(DecodeAddress(p.address, &decoded).ok());
    CHECK(decoded.hex() == p.key_hex);
  }
}

// ---------------------------------------------------------------------------------------------
// §6.5 Genesis, Appendix A initial state
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol §6.5: genesis file, genesis hash and validators hash", "[protocol]") {
  std::string file = GenesisFileBytes();
  CHECK(file.size() == 880);
  REQUIRE(!file.empty());
  CHECK(file.back() == '\n');
  CHECK(file[file.size() - 2] == '}');

  Genesis g = ExampleGenesis();
  CHECK(g.hash.hex() == "b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8");
  CHECK(TaggedHash(tags::kGenesis, file).hex() == "b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8");
  CHECK(g.raw == file);

  CHECK(g.chain_id == "kontor-example-1");
  CHECK(g.genesis_time_ms == 1700000000000ull);
  CHECK(g.params.fee_asset == "KTR");
  CHECK(g.params.min_fee == 1000);
  REQUIRE(g.validators.size() == 1);
  CHECK(g.validators[0].key == ValidatorKey().public_key());
  CHECK(g.validators[0].power == 10);

  // validators data = key ‖ BE8(power)
  Bytes data(g.validators[0].key.view());
  PutBigEndian64(&data, g.validators[0].power);
  CHECK(HexEncode(data) == Hx(R"(dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659
                 000000000000000a)"));
  CHECK(TaggedHash(tags::kValidators, data).hex() == "20862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5fe0bbf6");
  CHECK(ValidatorsHash(g.validators).hex() == "20862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5fe0bbf6");
}

TEST_CASE("protocol Appendix A: initial state records and genesis state root", "[protocol]") {
  Genesis g = ExampleGenesis();
  contracts::KontorApp app;
  State state;
  Result r = GenesisState(g, app, &state);
  INFO(r.ToString());
  REQUIRE(r.ok());

  const Hash256 usdc = AssetKey("USDC");
  const Hash256 ktr = AssetKey("KTR");
  const Hash256 alice = AccountKey(AliceKey().public_key());
  CHECK(usdc.hex() == "7b438ec8d6173ed18bf6b65415ae820dec36ffd8ca2929d13ea6d68c1b2d436c");
  CHECK(ktr.hex() == "84c2adefb5b51871a0c01eed6e859a609d248b14022cab9bdbf6474241889bbf");
  CHECK(alice.hex() == "8a1cde4db03136120b743808b79991238e08294a93c5cd5c3ff82399678ec52b");
  // state_key(kind, id) = TH("kontor/state/key", kind ‖ id), §7.2.
  CHECK(StateKey(2, "USDC") == usdc);
  CHECK(TaggedHash(tags::kStateKey, std::string("\x02", 1) + "USDC") == usdc);
  CHECK(TaggedHash(tags::kStateKey, std::string("\x01", 1) + AliceKey().public_key().bytes()) == alice);

  CHECK(StateValueHex(state, usdc) ==
        "0a045553444310061a20dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba6592080cab5ee01");
  CHECK(StateValueHex(state, ktr) == "0a034b54521006208094ebdc03");
  CHECK(StateValueHex(state, alice) == "120b0a034b5452108094ebdc03120c0a04555344431080cab5ee01");
  CHECK(state.size() == 3);

  CHECK(state.root().hex() == "377a833280fcd97ec81d88a8f0f7e40726bc5fe0bca40eb439f51e0ea22b14e6");
}

// ---------------------------------------------------------------------------------------------
// Appendix A.1: the signed transfer
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol Appendix A.1: txid, signature, envelope, tx leaf and tx root", "[protocol]") {
  Bytes body = EncodeTxBody(ExampleBody());
  Hash256 txid = ComputeTxid(body);
  CHECK(txid.hex() == "2c1122b4f286af3ef0427e887d8d3c05f273505bcdf3ac346ce8bf54bad0e8e9");
  CHECK(TaggedHash(tags::kTx, body) == txid);

  const std::string signature_hex = Hx(R"(
88fcdd0bbe0fba26b65f96d64694f10f66f67fddff7d48402111b0f2166d6ffa
d17a0d0e560cc438a2db90c13d64058ae5f3cdfcacd9a2ae420e66c35786b6d5)");
  Signature64 sig = AliceKey().Sign(txid, kZeroAux);
  std::string sig_bytes(reinterpret_cast<const char*>(sig.data()), sig.size());
  CHECK(HexEncode(sig_bytes) == signature_hex);
  CHECK(VerifySignature(AliceKey().public_key(), txid, Unhex(signature_hex)));

  std::string envelope = ExampleEnvelope();
  CHECK(envelope.size() == 221);
  CHECK(HexEncode(envelope) == Hx(R"(
0a750a106b6f6e746f722d6578616d706c652d311220f9308a019258c3104934
4f85f89d5229b531c845836f99b08601f113bce036f920e807280a8201390a20
dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8
1204555344431880e59a77220a696e766f69636520343212640a20f9308a0192
58c31049344f85f89d5229b531c845836f99b08601f113bce036f9124088fcdd
0bbe0fba26b65f96d64694f10f66f67fddff7d48402111b0f2166d6ffad17a0d
0e560cc438a2db90c13d64058ae5f3cdfcacd9a2ae420e66c35786b6d5)"));
  // 0a 75 ‖ body ‖ 12 64 ‖ 0a 20 ‖ alice ‖ 12 40 ‖ signature
  CHECK(envelope == Unhex("0a75") + body + Unhex("1264") + Unhex("0a20") + AliceKey().public_key().bytes() +
                        Unhex("1240") + Unhex(signature_hex));

  DecodedTx decoded;
  Result r = DecodeTx(envelope, "kontor-example-1", &decoded);
  INFO(r.ToString());
  REQUIRE(r.ok());
  CHECK(decoded.txid.hex() == "2c1122b4f286af3ef0427e887d8d3c05f273505bcdf3ac346ce8bf54bad0e8e9");
  CHECK(VerifyTxSignatures(decoded).ok());

  Hash256 leaf = MerkleLeafHash(envelope);
  CHECK(leaf.hex() == "2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9");
  CHECK(Sha256(std::string(1, '\0') + envelope).hex() == "2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9");
  CHECK(MerkleRoot({leaf}).hex() == "2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9");
}

// ---------------------------------------------------------------------------------------------
// §9.5: the vote and commit of block 1, built from the document's block hash
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol §9.5: vote message, precommit signature, commit and commit hash of block 1", "[protocol]") {
  const Hash256 block_hash = H("448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221ec419f4a1");

  v1::Vote vote;
  vote.set_chain_id("kontor-example-1");
  vote.set_height(1);
  vote.set_round(0);
  vote.set_type(v1::VOTE_TYPE_PRECOMMIT);
  vote.set_block_hash(block_hash.bytes());
  vote.set_timestamp_ms(1700000001000ull);
  Bytes vote_bytes = CanonicalBytes(vote);
  CHECK(HexEncode(vote_bytes) == Hx(R"(
0a10 6b6f6e746f722d6578616d706c652d31
1001
2002
2a20 448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221ec419f4a1
30e8d795ffbc31)"));

  Hash256 message = VoteMessage("kontor-example-1", 1, 0, v1::VOTE_TYPE_PRECOMMIT, block_hash, 1700000001000ull);
  CHECK(message.hex() == "6fae3eafe4b3691d30a481e63348f6931bb84dd37465a290c5593e5d9f686b0b");
  CHECK(TaggedHash(tags::kVote, vote_bytes) == message);

  const std::string signature_hex = Hx(R"(
c8ca383770ed7763528569c7949239352c25858d82ab520bceeaef4afa0a8124
063dcde00093b9270a50cb86e8b82c0283ebb1d0f716d9c25c79d8880bca6c33)");
  PrivateKey validator = ValidatorKey();
  Signature64 sig = validator.Sign(message, kZeroAux);
  CHECK(HexEncode(std::string_view(reinterpret_cast<const char*>(sig.data()), sig.size())) == signature_hex);
  CHECK(VerifySignature(validator.public_key(), message, Unhex(signature_hex)));

  ZeroRandom zero;
  v1::Commit commit = MakeCommit("kontor-example-1", 1, 0, block_hash, {&validator}, 1700000001000ull, zero);
  CHECK(HexEncode(CanonicalBytes(commit)) == Hx(R"(
08011a20448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221e
c419f4a1226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba6591240c8ca383770ed7763528569c7949239352c25858d82ab
520bceeaef4afa0a8124063dcde00093b9270a50cb86e8b82c0283ebb1d0f716
d9c25c79d8880bca6c3318e8d795ffbc31)"));
  CHECK(CommitHash(commit).hex() == "aee5263bad1ffdc0364973f42a174bc75f1054611c34f1206966f9064d2f01ba");

  Genesis g = ExampleGenesis();
  Result r = VerifyCommit(commit, g, 1, block_hash);
  INFO(r.ToString());
  CHECK(r.ok());
}

// ---------------------------------------------------------------------------------------------
// Appendix A: the example chain, produced by the proposer path
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol Appendix A.1: block 1 produced by Chain::ProduceBlock", "[protocol]") {
  ExampleChain ex;
  const v1::Block& block = ex.block1.block.block;

  REQUIRE(block.txs_size() == 1);
  CHECK(HexEncode(block.txs(0)) == HexEncode(ex.envelope));
  CHECK(!block.has_last_commit());

  // Header: 233 bytes, the concatenation of the document's lines.
  const std::string header_hex = Hx(R"(
0a10 6b6f6e746f722d6578616d706c652d31
1001
1880d095ffbc31
2220 b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8
2a20 2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9
3220 330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d
3a20 20862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5fe0bbf6
4220 dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659
4a20 0000000000000000000000000000000000000000000000000000000000000000
5001)");
  CHECK(header_hex.size() == 2 * 233);
  CHECK(block.header().size() == 233);
  CHECK(HexEncode(block.header()) == header_hex);

  const v1::BlockHeader& h = ex.block1.block.header;
  CHECK(h.chain_id() == "kontor-example-1");
  CHECK(h.height() == 1);
  CHECK(h.time_ms() == 1700000000000ull);  // block 1: the genesis time
  CHECK(HexEncode(h.prev_hash()) == "b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8");
  CHECK(HexEncode(h.tx_root()) == "2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9");
  CHECK(HexEncode(h.state_root()) == "330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d");
  CHECK(HexEncode(h.validators_hash()) == "20862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5fe0bbf6");
  CHECK(HexEncode(h.proposer()) == "dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659");
  CHECK(HexEncode(h.last_commit_hash()) == "0000000000000000000000000000000000000000000000000000000000000000");
  CHECK(h.tx_count() == 1);

  CHECK(ex.block1.block.hash.hex() == "448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221ec419f4a1");
  CHECK(BlockHash(block.header()).hex() == "448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221ec419f4a1");

  // The commit the proposer made is the commit of §9.5.
  CHECK(HexEncode(CanonicalBytes(ex.block1.commit)) == Hx(R"(
08011a20448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221e
c419f4a1226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba6591240c8ca383770ed7763528569c7949239352c25858d82ab
520bceeaef4afa0a8124063dcde00093b9270a50cb86e8b82c0283ebb1d0f716
d9c25c79d8880bca6c3318e8d795ffbc31)"));
  CHECK(CommitHash(ex.block1.commit).hex() == "aee5263bad1ffdc0364973f42a174bc75f1054611c34f1206966f9064d2f01ba");

  // The header rebuilt by hand from the document's field values encodes to the same bytes.
  v1::BlockHeader manual;
  manual.set_chain_id("kontor-example-1");
  manual.set_height(1);
  manual.set_time_ms(1700000000000ull);
  manual.set_prev_hash(Unhex("b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8"));
  manual.set_tx_root(Unhex("2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9"));
  manual.set_state_root(Unhex("330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d"));
  manual.set_validators_hash(Unhex("20862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5fe0bbf6"));
  manual.set_proposer(Unhex("dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659"));
  manual.set_last_commit_hash(Unhex("0000000000000000000000000000000000000000000000000000000000000000"));
  manual.set_tx_count(1);
  CHECK(HexEncode(CanonicalBytes(manual)) == header_hex);
}

TEST_CASE("protocol Appendix A.1: state after block 1", "[protocol]") {
  ExampleChain ex;
  StateProof unused_proof;
  Hash256 root1;
  REQUIRE(ex.chain->state().Prove(Hash256{}, 1, &unused_proof, &root1).ok());
  CHECK(root1.hex() == "330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d");

  // Block 2 writes nothing, so the current state is the state after block 1.
  const State& state = ex.chain->state();
  CHECK(state.root().hex() == "330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d");
  CHECK(state.size() == 5);

  const Hash256 usdc = AssetKey("USDC");
  const Hash256 ktr = AssetKey("KTR");
  const Hash256 alice = AccountKey(AliceKey().public_key());
  const Hash256 bob = AccountKey(BobKey().public_key());
  const Hash256 validator = AccountKey(ValidatorKey().public_key());
  CHECK(usdc.hex() == "7b438ec8d6173ed18bf6b65415ae820dec36ffd8ca2929d13ea6d68c1b2d436c");
  CHECK(ktr.hex() == "84c2adefb5b51871a0c01eed6e859a609d248b14022cab9bdbf6474241889bbf");
  CHECK(alice.hex() == "8a1cde4db03136120b743808b79991238e08294a93c5cd5c3ff82399678ec52b");
  CHECK(bob.hex() == "8b76ab33cdc36b03a7e1b5c65cac0cb33b8afa3cbfb4bce0b80f2d81964800e2");
  CHECK(validator.hex() == "b153ac1c5e2668799b30a3825e182403c800f11e8e92875fffca68bc8a0bb2a9");

  CHECK(StateValueHex(state, usdc) ==
        "0a045553444310061a20dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba6592080cab5ee01");
  CHECK(StateValueHex(state, ktr) == "0a034b54521006208094ebdc03");
  CHECK(StateValueHex(state, alice) == "0801120b0a034b545210988cebdc03120b0a04555344431080e59a77");
  CHECK(StateValueHex(state, bob) == "120b0a04555344431080e59a77");
  CHECK(StateValueHex(state, validator) == "12080a034b545210e807");
}

TEST_CASE("protocol Appendix A.2: block 2 (empty) and its commit", "[protocol]") {
  ExampleChain ex;
  const v1::Block& block = ex.block2.block.block;
  CHECK(block.txs_size() == 0);

  CHECK(HexEncode(block.header()) == Hx(R"(
0a106b6f6e746f722d6578616d706c652d31100218d0df95ffbc312220448bda
2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221ec419f4a12a20e3
b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85532
20330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab3
5d3a2020862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5f
e0bbf64220dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f
7b502ba6594a20c18cc2c79c6d5aafa32e7f725612dafd782d22b3ac2beed4d3
246b34ab31077b)"));
  const v1::BlockHeader& h = ex.block2.block.header;
  CHECK(h.time_ms() == 1700000002000ull);
  CHECK(HexEncode(h.tx_root()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HexEncode(h.state_root()) == "330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d");
  CHECK(HexEncode(h.last_commit_hash()) == "c18cc2c79c6d5aafa32e7f725612dafd782d22b3ac2beed4d3246b34ab31077b");
  CHECK(h.tx_count() == 0);

  CHECK(ex.block2.block.hash.hex() == "b9447f14e66b41e630a741e754fc12a4fd9370ca65254c478c4546fe8bff7910");

  // Block 2 carries a commit certificate for block 1 (§8.1 last_commit), whose hash is in the
  // header: single-validator production re-signs the precommit for block 1 at 1700000002000
  // (§10.8), another valid certificate than the one stored with block 1 (§9.3). Its timestamp
  // is block 2's BFT time.
  REQUIRE(block.has_last_commit());
  CHECK(HexEncode(CanonicalBytes(block.last_commit())) == Hx(R"(
08011a20448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221e
c419f4a1226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba6591240f5b5a3100dba604b9556b2a9f0fab186449d6b9e153e
ca5635137fb0ac3f7e8015277acc4398d92474f1ff87a466c9661f2328687195
a60d20ae6b5d18e3c64518d0df95ffbc31)"));
  CHECK(block.last_commit().signatures(0).timestamp_ms() == 1700000002000ull);
  CHECK(CommitHash(block.last_commit()).hex() == "c18cc2c79c6d5aafa32e7f725612dafd782d22b3ac2beed4d3246b34ab31077b");

  CHECK(HexEncode(CanonicalBytes(ex.block2.commit)) == Hx(R"(
08021a20b9447f14e66b41e630a741e754fc12a4fd9370ca65254c478c4546fe
8bff7910226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba659124088597b9d25cf5ea16756c2ac1b7f76fc8ae9f1efcc0f
8364653d296caf06692eb5f11c1e9155bdc57ab9cf06a9730a4a0595f8fe440d
50d8cba0e9a872ebc32d18d1df95ffbc31)"));
  CHECK(CommitHash(ex.block2.commit).hex() == "7cf219ed326e1fad35383fabbe9c71f20d19cecf808f3c54d47c42f11d0eed4f");
  CHECK(ex.chain->tip().hash.hex() == "b9447f14e66b41e630a741e754fc12a4fd9370ca65254c478c4546fe8bff7910");
}

TEST_CASE("protocol Appendix A: a follower chain verifies and accepts the example blocks", "[protocol]") {
  ExampleChain ex;
  contracts::KontorApp app;
  ChainOptions options;
  options.store.in_memory = true;
  options.store.sync = false;
  options.threads = 1;
  std::unique_ptr<Chain> follower;
  REQUIRE(Chain::Open(options, ex.genesis, &app, &follower).ok());
  CHECK(follower->tip().hash.hex() == "b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8");
  CHECK(follower->state().root().hex() == "377a833280fcd97ec81d88a8f0f7e40726bc5fe0bca40eb439f51e0ea22b14e6");

  // The blocks rebuilt from the document's bytes alone: header, envelope and commit hex.
  v1::Block block1;
  block1.set_header(Unhex(R"(
0a10 6b6f6e746f722d6578616d706c652d31
1001
1880d095ffbc31
2220 b619ce83e07b72bd59f3556036738b0be970a1b82753742f8cecfb56f945a6c8
2a20 2bae93daed0668dcc30678fd523fa8af62aefd1f9807e7c1ed5aeaea369df4e9
3220 330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d
3a20 20862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5fe0bbf6
4220 dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f7b502ba659
4a20 0000000000000000000000000000000000000000000000000000000000000000
5001)"));
  block1.add_txs(Unhex(R"(
0a750a106b6f6e746f722d6578616d706c652d311220f9308a019258c3104934
4f85f89d5229b531c845836f99b08601f113bce036f920e807280a8201390a20
dd308afec5777e13121fa72b9cc1b7cc0139715309b086c960e18fd969774eb8
1204555344431880e59a77220a696e766f69636520343212640a20f9308a0192
58c31049344f85f89d5229b531c845836f99b08601f113bce036f9124088fcdd
0bbe0fba26b65f96d64694f10f66f67fddff7d48402111b0f2166d6ffad17a0d
0e560cc438a2db90c13d64058ae5f3cdfcacd9a2ae420e66c35786b6d5)"));
  v1::Commit commit1;
  REQUIRE(commit1.ParseFromString(Unhex(R"(
08011a20448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221e
c419f4a1226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba6591240c8ca383770ed7763528569c7949239352c25858d82ab
520bceeaef4afa0a8124063dcde00093b9270a50cb86e8b82c0283ebb1d0f716
d9c25c79d8880bca6c3318e8d795ffbc31)")));
  Result r = follower->CommitBlock(block1, commit1);
  INFO(r.ToString());
  CHECK(r.ok());

  v1::Block block2;
  block2.set_header(Unhex(R"(
0a106b6f6e746f722d6578616d706c652d31100218d0df95ffbc312220448bda
2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221ec419f4a12a20e3
b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85532
20330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab3
5d3a2020862699be86839c7bd72e7d6b6858137af85d57b1b01daf51836b6a5f
e0bbf64220dff1d77f2a671c5f36183726db2341be58feae1da2deced843240f
7b502ba6594a20c18cc2c79c6d5aafa32e7f725612dafd782d22b3ac2beed4d3
246b34ab31077b)"));
  // Block 2 carries another certificate for block 1: the precommit re-signed at block 2's time.
  REQUIRE(block2.mutable_last_commit()->ParseFromString(Unhex(R"(
08011a20448bda2711fe5d4a44475c900514db49c4a0d92dc49c21cba919221e
c419f4a1226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba6591240f5b5a3100dba604b9556b2a9f0fab186449d6b9e153e
ca5635137fb0ac3f7e8015277acc4398d92474f1ff87a466c9661f2328687195
a60d20ae6b5d18e3c64518d0df95ffbc31)")));
  v1::Commit commit2;
  REQUIRE(commit2.ParseFromString(Unhex(R"(
08021a20b9447f14e66b41e630a741e754fc12a4fd9370ca65254c478c4546fe
8bff7910226b0a20dff1d77f2a671c5f36183726db2341be58feae1da2deced8
43240f7b502ba659124088597b9d25cf5ea16756c2ac1b7f76fc8ae9f1efcc0f
8364653d296caf06692eb5f11c1e9155bdc57ab9cf06a9730a4a0595f8fe440d
50d8cba0e9a872ebc32d18d1df95ffbc31)")));
  r = follower->CommitBlock(block2, commit2);
  INFO(r.ToString());
  CHECK(r.ok());

  CHECK(follower->height() == 2);
  CHECK(follower->tip().hash.hex() == "b9447f14e66b41e630a741e754fc12a4fd9370ca65254c478c4546fe8bff7910");
  CHECK(follower->state().root().hex() == "330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d");
}

// ---------------------------------------------------------------------------------------------
// §7.5 State proofs against the state after block 1
// ---------------------------------------------------------------------------------------------

TEST_CASE("protocol §7.5: state proofs against the state after block 1", "[protocol]") {
  ExampleChain ex;
  const State& state = ex.chain->state();
  const Hash256 root = H("330d85613bbaaaf13af59b05b588ea24befb989a683ecc4d1faaa667babab35d");

  auto leaf_of = [&](const Hash256& key) {
    auto v = state.Get(key);
    REQUIRE(v.has_value());
    return StateLeafHash(key, StateValueHash(*v));
  };

  SECTION("membership of Bob's account") {
    const Hash256 key = AccountKey(BobKey().public_key());
    CHECK(key.hex() == "8b76ab33cdc36b03a7e1b5c65cac0cb33b8afa3cbfb4bce0b80f2d81964800e2");
    const std::string value = Unhex("120b0a04555344431080e59a77");
    v1::Account account;
    REQUIRE(account.ParseFromString(value));
    CHECK(account.nonce() == 0);
    REQUIRE(account.balances_size() == 1);
    CHECK(account.balances(0).asset() == "USDC");
    CHECK(account.balances(0).amount() == 250000000);

    StateProof proof;
    Hash256 proof_root;
    REQUIRE(state.Prove(key, 1, &proof, &proof_root).ok());
    CHECK(proof_root == root);
    const std::vector<std::string> siblings = {
        "65c43e222d2a820641566528fc32f1574cd79f1b0e31fdf7077c50143a171625",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "5d767b3d199c7b5d1b31d42a7f512bec4f1b794697669448c155934807fb37c1",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "020c11ecfc4e6d79738428e73320213b81e67f0a96540df7a0434a4257cfb852",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "db6e0f312ed0fb2097cb8b96af043f88bc3fbc3e2659351fbd240d72880f931c",
    };
    REQUIRE(proof.siblings.size() == siblings.size());
    for (size_t i = 0; i < siblings.size(); ++i) {
      INFO("siblings[" << i << "]");
      CHECK(proof.siblings[i].hex() == siblings[i]);
    }
    // The document's annotations of the non-zero siblings.
    CHECK(leaf_of(AssetKey("USDC")).hex() == "65c43e222d2a820641566528fc32f1574cd79f1b0e31fdf7077c50143a171625");
    CHECK(leaf_of(AccountKey(ValidatorKey().public_key())).hex() ==
          "5d767b3d199c7b5d1b31d42a7f512bec4f1b794697669448c155934807fb37c1");
    CHECK(leaf_of(AssetKey("KTR")).hex() == "020c11ecfc4e6d79738428e73320213b81e67f0a96540df7a0434a4257cfb852");
    CHECK(leaf_of(AccountKey(AliceKey().public_key())).hex() ==
          "db6e0f312ed0fb2097cb8b96af043f88bc3fbc3e2659351fbd240d72880f931c");

    CHECK(proof.terminal_is_leaf);
    CHECK(proof.leaf_key.hex() == "8b76ab33cdc36b03a7e1b5c65cac0cb33b8afa3cbfb4bce0b80f2d81964800e2");
    CHECK(proof.leaf_value_hash.hex() == "80c2bd9c38d15cc6edfd94d1224eceb5002b8037211e9b9934c608c09d14f95e");
    CHECK(StateValueHash(value).hex() == "80c2bd9c38d15cc6edfd94d1224eceb5002b8037211e9b9934c608c09d14f95e");

    // The document's proof, as printed, verifies under the document's root.
    StateProof doc_proof;
    for (const auto& s : siblings) doc_proof.siblings.push_back(H(s));
    doc_proof.terminal_is_leaf = true;
    doc_proof.leaf_key = H("8b76ab33cdc36b03a7e1b5c65cac0cb33b8afa3cbfb4bce0b80f2d81964800e2");
    doc_proof.leaf_value_hash = H("80c2bd9c38d15cc6edfd94d1224eceb5002b8037211e9b9934c608c09d14f95e");
    Result r = VerifyStateProof(root, key, std::optional<std::string_view>(value), doc_proof);
    INFO(r.ToString());
    CHECK(r.ok());
  }

  SECTION("non-membership of the account of secret key 5") {
    PublicKey pub = Secret5Key().public_key();
    CHECK(pub.hex() == "2f8bde4d1a07209355b4a7250a5c5128e88b84bddc619ab7cba8d569b240efe4");
    const Hash256 key = AccountKey(pub);
    CHECK(key.hex() == "2c10736c96c3e23fc9b6c2c8d1d448e6c4e6fe7e132ad6d511429f9d20466a1e");
    CHECK(key.Bit(0) == false);
    CHECK(!state.Get(key).has_value());

    StateProof proof;
    Hash256 proof_root;
    REQUIRE(state.Prove(key, 1, &proof, &proof_root).ok());
    CHECK(proof_root == root);
    REQUIRE(proof.siblings.size() == 1);
    CHECK(proof.siblings[0].hex() == "150ef5391921fda5969a26f19d619081307b5bfb6e4729c6d29cfbaa0f1dc500");
    CHECK(proof.terminal_is_leaf);
    CHECK(proof.leaf_key.hex() == "7b438ec8d6173ed18bf6b65415ae820dec36ffd8ca2929d13ea6d68c1b2d436c");
    CHECK(proof.leaf_value_hash.hex() == "743de6cd41238095325703facdebbb80e9c66d18b81218f3813bc48c9bfa99bc");
    CHECK(StateValueHash(*state.Get(AssetKey("USDC"))).hex() ==
          "743de6cd41238095325703facdebbb80e9c66d18b81218f3813bc48c9bfa99bc");

    StateProof doc_proof;
    doc_proof.siblings = {H("150ef5391921fda5969a26f19d619081307b5bfb6e4729c6d29cfbaa0f1dc500")};
    doc_proof.terminal_is_leaf = true;
    doc_proof.leaf_key = H("7b438ec8d6173ed18bf6b65415ae820dec36ffd8ca2929d13ea6d68c1b2d436c");
    doc_proof.leaf_value_hash = H("743de6cd41238095325703facdebbb80e9c66d18b81218f3813bc48c9bfa99bc");
    Result r = VerifyStateProof(root, key, std::nullopt, doc_proof);
    INFO(r.ToString());
    CHECK(r.ok());
  }

  SECTION("non-membership of asset SOL") {
    const Hash256 key = AssetKey("SOL");
    CHECK(key.hex() == "e64ab43444ac434cbf53b95f28134fb6847d8c58c6dd54777d8895dc5fed197f");
    CHECK(key.Bit(0) == true);
    CHECK(key.Bit(1) == true);

    StateProof proof;
    Hash256 proof_root;
    REQUIRE(state.Prove(key, 1, &proof, &proof_root).ok());
    CHECK(proof_root == root);
    REQUIRE(proof.siblings.size() == 2);
    CHECK(proof.siblings[0].hex() == "65c43e222d2a820641566528fc32f1574cd79f1b0e31fdf7077c50143a171625");
    CHECK(proof.siblings[1].hex() == "e8e595a5cbe83b05295124bc34001b34d652df8b9babb1403bb3495699310c34");
    CHECK(!proof.terminal_is_leaf);

    StateProof doc_proof;
    doc_proof.siblings = {H("65c43e222d2a820641566528fc32f1574cd79f1b0e31fdf7077c50143a171625"),
                          H("e8e595a5cbe83b05295124bc34001b34d652df8b9babb1403bb3495699310c34")};
    doc_proof.terminal_is_leaf = false;
    Result r = VerifyStateProof(root, key, std::nullopt, doc_proof);
    INFO(r.ToString());
    CHECK(r.ok());
  }
}

TEST_CASE("protocol §13: a genesis declares at most 64 assets, what one account can hold", "[protocol]") {
  // The §6.5 file with its asset list extended to n entries (symbols A0, A1, ...).
  auto with_assets = [](size_t n) {
    std::string file = GenesisFileBytes();
    std::string extra;
    for (size_t i = 2; i < n; ++i) extra += ",\n    {\n      \"decimals\": 0,\n      \"symbol\": \"A" + std::to_string(i) + "\"\n    }";
    std::string anchor = "\"symbol\": \"USDC\"\n    }";
    size_t at = file.find(anchor);
    REQUIRE(at != std::string::npos);
    file.insert(at + anchor.size(), extra);
    return file;
  };
  Genesis g;
  Result ok = ParseGenesis(with_assets(64), &g);
  INFO(ok.ToString());
  CHECK(ok.ok());
  CHECK(g.assets.size() == 64);
  Result too_many = ParseGenesis(with_assets(65), &g);
  CHECK(too_many.code() == Code::kTooLarge);
  CHECK(too_many.message().find("64") != std::string::npos);
}
