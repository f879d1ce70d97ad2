// Every check of a genesis file (ledger/genesis.cpp), each with its code, at its limits: exactly
// the limit passes, one past it fails.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <functional>
#include <string>

#include "ledger/bech32m.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/limits.h"

using namespace kontor;
using nlohmann::json;

namespace {

std::string Address(uint64_t seed) {
  SeededRandom random(seed);
  return EncodeAddress(GeneratePrivateKey(random).public_key());
}

json Base() {
  return json{{"chain_id", "kontor-genesis-test"},
              {"genesis_time_ms", 1'767'225'600'000ull},
              {"assets", json::array({json{{"symbol", "KTR"}, {"decimals", 6}},
                                      json{{"symbol", "USDC"}, {"decimals", 6}, {"gateway", Address(9)}}})},
              {"balances", json::array({json{{"address", Address(1)}, {"asset", "KTR"}, {"amount", "1000"}}})},
              {"validators", json::array({json{{"address", Address(2)}, {"power", 1}}})},
              {"params", json{{"fee_asset", "KTR"}, {"min_fee", 10}}}};
}

Result Parse(const json& doc, Genesis* out = nullptr) {
  Genesis g;
  return ParseGenesis(doc.dump(), out ? out : &g);
}

// Parses Base() changed by `edit`; returns the result.
Result With(const std::function<void(json&)>& edit) {
  json doc = Base();
  edit(doc);
  return Parse(doc);
}

void ExpectCode(const Result& r, Code code, const std::string& fragment) {
  INFO(r.ToString());
  CHECK(std::string(CodeName(r.code())) == std::string(CodeName(code)));
  CHECK_THAT(r.message(), Catch::Contains(fragment));
}

}  // namespace

TEST_CASE("genesis: the base file parses", "[genesis]") {
  Genesis g;
  REQUIRE(Parse(Base(), &g).ok());
  CHECK(g.assets.size() == 2);
  CHECK(g.validators.size() == 1);
  CHECK(g.params.min_fee == 10);
}

TEST_CASE("genesis: chain id of 1 to 64 bytes", "[genesis]") {
  CHECK(With([](json& d) { d["chain_id"] = std::string(limits::kChainIdBytesMax, 'c'); }).ok());
  CHECK(With([](json& d) { d["chain_id"] = "c"; }).ok());
  ExpectCode(With([](json& d) { d["chain_id"] = std::string(limits::kChainIdBytesMax + 1, 'c'); }), Code::kMalformed, "chain_id");
  ExpectCode(With([](json& d) { d["chain_id"] = ""; }), Code::kMalformed, "chain_id");
  ExpectCode(With([](json& d) { d.erase("chain_id"); }), Code::kMalformed, "chain_id");
  ExpectCode(With([](json& d) { d["genesis_time_ms"] = -1; }), Code::kMalformed, "genesis_time_ms");
}

TEST_CASE("genesis: asset symbols are 1 to 16 of A-Z 0-9 . - and declared once", "[genesis]") {
  auto symbol = [](const std::string& s) { return With([&](json& d) { d["assets"][1]["symbol"] = s; }); };
  CHECK(symbol(std::string(limits::kAssetSymbolBytesMax, 'A')).ok());
  CHECK(symbol("W.ETH-2").ok());
  CHECK(symbol("A").ok());
  CHECK(symbol("Z9").ok());
  ExpectCode(symbol(std::string(limits::kAssetSymbolBytesMax + 1, 'A')), Code::kMalformed, "must be 1..16");
  ExpectCode(symbol(""), Code::kMalformed, "must be 1..16");
  for (const char* bad : {"usdc", "USDc", "A_B", "A[B", "A@", "A/", "A:", "A B"})
    ExpectCode(symbol(bad), Code::kMalformed, "must be 1..16");
  ExpectCode(symbol("KTR"), Code::kMalformed, "declared twice");
  ExpectCode(With([](json& d) { d["assets"] = json::array(); }), Code::kMalformed, "assets");
  ExpectCode(With([](json& d) { d["assets"][0].erase("symbol"); }), Code::kMalformed, "symbol missing");
}

TEST_CASE("genesis: decimals 0 to 18", "[genesis]") {
  CHECK(With([](json& d) { d["assets"][1]["decimals"] = 18; }).ok());
  CHECK(With([](json& d) { d["assets"][1]["decimals"] = 0; }).ok());
  ExpectCode(With([](json& d) { d["assets"][1]["decimals"] = 19; }), Code::kMalformed, "decimals");
  ExpectCode(With([](json& d) { d["assets"][1]["decimals"] = -1; }), Code::kMalformed, "decimals");
  ExpectCode(With([](json& d) { d["assets"][1].erase("decimals"); }), Code::kMalformed, "decimals");
}

TEST_CASE("genesis: gateways and balances name real keys and declared assets", "[genesis]") {
  std::string damaged = Address(9);
  damaged.back() = damaged.back() == 'q' ? 'p' : 'q';
  ExpectCode(With([&](json& d) { d["assets"][1]["gateway"] = damaged; }), Code::kBadAddress, "assets[1].gateway");
  ExpectCode(With([](json& d) { d["balances"][0]["asset"] = "DOGE"; }), Code::kUnknownAsset, "balances[0].asset");
  ExpectCode(With([](json& d) { d["balances"][0]["amount"] = 0; }), Code::kBadAmount, "greater than zero");
  ExpectCode(With([](json& d) { d["balances"][0]["amount"] = "0"; }), Code::kBadAmount, "greater than zero");
  ExpectCode(With([](json& d) { d["balances"][0]["amount"] = "18446744073709551616"; }), Code::kOverflow, "2^64-1");
  CHECK(With([](json& d) { d["balances"][0]["amount"] = "18446744073709551615"; }).ok());
  ExpectCode(With([](json& d) { d["balances"][0]["amount"] = "12x"; }), Code::kMalformed, "not a decimal amount");
  ExpectCode(With([](json& d) { d["balances"] = json::object(); }), Code::kMalformed, "'balances' must be an array");
}

TEST_CASE("genesis: the supply of an asset must fit in 64 bits", "[genesis]") {
  auto two = [](const std::string& second) {
    return With([&](json& d) {
      d["balances"][0]["amount"] = "18446744073709551610";
      d["balances"].push_back(json{{"address", Address(3)}, {"asset", "KTR"}, {"amount", second}});
    });
  };
  CHECK(two("5").ok());  // exactly 2^64-1 in all
  ExpectCode(two("6"), Code::kOverflow, "exceeds 2^64-1");
}

TEST_CASE("genesis: validators are listed once, with power 1 to 2^40, at most 128", "[genesis]") {
  auto power = [](json value) { return With([&](json& d) { d["validators"][0]["power"] = value; }); };
  CHECK(power(1ull << 40).ok());
  CHECK(power(1).ok());
  ExpectCode(power((1ull << 40) + 1), Code::kMalformed, "power must be");
  ExpectCode(power(0), Code::kMalformed, "power must be");
  ExpectCode(power("1"), Code::kMalformed, "power must be");
  ExpectCode(With([](json& d) { d["validators"].push_back(json{{"address", Address(2)}, {"power", 5}}); }), Code::kMalformed,
             "listed twice");
  auto validators = [](size_t n) {
    return With([&](json& d) {
      d["validators"] = json::array();
      for (size_t i = 0; i < n; ++i) d["validators"].push_back(json{{"address", Address(100 + i)}, {"power", 1}});
    });
  };
  Genesis g;
  json doc = Base();
  doc["validators"] = json::array();
  for (size_t i = 0; i < limits::kValidatorsMax; ++i) doc["validators"].push_back(json{{"address", Address(100 + i)}, {"power", 1}});
  REQUIRE(Parse(doc, &g).ok());
  CHECK(g.validators.size() == limits::kValidatorsMax);
  CHECK(g.TotalPower() == limits::kValidatorsMax);
  ExpectCode(validators(limits::kValidatorsMax + 1), Code::kTooLarge, "more than 128 validators");
  ExpectCode(validators(0), Code::kMalformed, "'validators' must be a non-empty array");
}

TEST_CASE("genesis: params name the fee asset and keep block limits within the protocol's", "[genesis]") {
  auto param = [](const std::string& key, json value) { return With([&](json& d) { d["params"][key] = value; }); };
  Genesis g;
  json doc = Base();
  doc["params"]["block_txs_max"] = limits::kBlockTxsMax;
  doc["params"]["block_bytes_max"] = limits::kTxBytesMax;
  REQUIRE(Parse(doc, &g).ok());
  CHECK(g.params.block_txs_max == limits::kBlockTxsMax);
  CHECK(g.params.block_bytes_max == limits::kTxBytesMax);
  CHECK(param("block_txs_max", 1).ok());
  CHECK(param("block_bytes_max", limits::kBlockBytesMax).ok());
  ExpectCode(param("block_txs_max", 0), Code::kMalformed, "block_txs_max");
  ExpectCode(param("block_txs_max", limits::kBlockTxsMax + 1), Code::kMalformed, "block_txs_max");
  ExpectCode(param("block_bytes_max", limits::kTxBytesMax - 1), Code::kMalformed, "block_bytes_max");
  ExpectCode(param("block_bytes_max", limits::kBlockBytesMax + 1), Code::kMalformed, "block_bytes_max");
  ExpectCode(param("fee_asset", "DOGE"), Code::kUnknownAsset, "fee_asset");
  ExpectCode(param("min_fee", "18446744073709551616"), Code::kOverflow, "min_fee");
  ExpectCode(With([](json& d) { d.erase("params"); }), Code::kMalformed, "params");
}

TEST_CASE("genesis: not JSON, a field of the wrong type, and a file over 16 MiB", "[genesis]") {
  Genesis g;
  ExpectCode(ParseGenesis("{not json", &g), Code::kMalformed, "not a JSON object");
  ExpectCode(ParseGenesis("[]", &g), Code::kMalformed, "not a JSON object");
  ExpectCode(With([](json& d) { d["balances"][0]["asset"] = 5; }), Code::kMalformed, "wrong type");
  std::string big(limits::kGenesisBytesMax + 1, ' ');
  ExpectCode(ParseGenesis(big, &g), Code::kTooLarge, "16 MiB");
}

TEST_CASE("genesis: the hash is of the exact bytes, so whitespace makes another chain", "[genesis]") {
  Genesis a, b;
  REQUIRE(ParseGenesis(Base().dump(), &a).ok());
  REQUIRE(ParseGenesis(Base().dump(2), &b).ok());
  CHECK(a.hash != b.hash);
  CHECK(a.raw == Base().dump());
}
