#include "ledger/genesis.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <set>

#include "ledger/accounts.h"
#include "ledger/bech32m.h"
#include "ledger/hash.h"
#include "ledger/limits.h"

namespace kontor {
namespace {

using nlohmann::json;

Result Bad(const std::string& what) { return {Code::kMalformed, "genesis: " + what}; }

Result ParseAmount(const json& v, const std::string& where, uint64_t* out) {
  if (v.is_number_unsigned()) {
    *out = v.get<uint64_t>();
    return Result::Ok();
  }
  if (!v.is_string()) return Bad(where + " must be a decimal string");
  const std::string& s = v.get_ref<const std::string&>();
  if (s.empty() || s.size() > 20) return Bad(where + " '" + s + "' is not a decimal amount");
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  if (ec == std::errc::result_out_of_range) return {Code::kOverflow, "genesis: " + where + " '" + s + "' exceeds 2^64-1"};
  if (ec != std::errc() || ptr != s.data() + s.size()) return Bad(where + " '" + s + "' is not a decimal amount");
  return Result::Ok();
}

Result ParseKey(const json& v, const std::string& where, PublicKey* key) {
  if (!v.is_string()) return Bad(where + " must be a kx1... address");
  Result r = DecodeAddress(v.get<std::string>(), key);
  if (!r.ok()) return {r.code(), "genesis: " + where + ": " + r.message()};
  return Result::Ok();
}

bool ValidSymbol(const std::string& s) {
  if (s.empty() || s.size() > limits::kAssetSymbolBytesMax) return false;
  for (char c : s)
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  return true;
}

}  // namespace

const GenesisAsset* Genesis::FindAsset(std::string_view symbol) const {
  for (const auto& a : assets)
    if (a.symbol == symbol) return &a;
  return nullptr;
}

const Validator* Genesis::FindValidator(const PublicKey& key) const {
  for (const auto& v : validators)
    if (v.key == key) return &v;
  return nullptr;
}

uint64_t Genesis::TotalPower() const {
  uint64_t total = 0;
  for (const auto& v : validators) total += v.power;
  return total;
}

static Result ParseGenesisChecked(std::string_view text, Genesis* out);

Result ParseGenesis(std::string_view text, Genesis* out) {
  try {
    return ParseGenesisChecked(text, out);
  } catch (const nlohmann::json::exception& e) {
    // A field of the wrong JSON type (e.g. a number where a string belongs).
    return Bad(std::string("a field has the wrong type: ") + e.what());
  }
}

static Result ParseGenesisChecked(std::string_view text, Genesis* out) {
  if (text.size() > limits::kGenesisBytesMax) return {Code::kTooLarge, "genesis file is larger than 16 MiB"};
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) return Bad("not a JSON object");
  Genesis g;
  if (!doc.contains("chain_id") || !doc["chain_id"].is_string()) return Bad("missing string 'chain_id'");
  g.chain_id = doc["chain_id"].get<std::string>();
  if (g.chain_id.empty() || g.chain_id.size() > limits::kChainIdBytesMax) return Bad("chain_id must be 1..64 bytes");
  if (!doc.contains("genesis_time_ms") || !doc["genesis_time_ms"].is_number_unsigned())
    return Bad("missing integer 'genesis_time_ms'");
  g.genesis_time_ms = doc["genesis_time_ms"].get<uint64_t>();

  if (!doc.contains("assets") || !doc["assets"].is_array() || doc["assets"].empty()) return Bad("'assets' must be a non-empty array");
  if (doc["assets"].size() > limits::kGenesisAssetsMax) return {Code::kTooLarge, "genesis: more than 64 assets (the most one account can hold)"};
  for (size_t i = 0; i < doc["assets"].size(); ++i) {
    const json& a = doc["assets"][i];
    std::string where = "assets[" + std::to_string(i) + "]";
    if (!a.is_object() || !a.contains("symbol") || !a["symbol"].is_string()) return Bad(where + ".symbol missing");
    GenesisAsset asset;
    asset.symbol = a["symbol"].get<std::string>();
    if (!ValidSymbol(asset.symbol)) return Bad(where + ".symbol '" + asset.symbol + "' must be 1..16 of A-Z 0-9 . -");
    if (g.FindAsset(asset.symbol)) return Bad(where + ".symbol '" + asset.symbol + "' is declared twice");
    if (!a.contains("decimals") || !a["decimals"].is_number_unsigned() || a["decimals"].get<uint64_t>() > 18)
      return Bad(where + ".decimals must be an integer 0..18");
    asset.decimals = a["decimals"].get<uint32_t>();
    if (a.contains("gateway") && !a["gateway"].is_null()) {
      PublicKey k;
      KONTOR_RETURN_IF_ERROR(ParseKey(a["gateway"], where + ".gateway", &k));
      asset.gateway = k;
    }
    g.assets.push_back(std::move(asset));
  }

  if (doc.contains("balances")) {
    if (!doc["balances"].is_array()) return Bad("'balances' must be an array");
    for (size_t i = 0; i < doc["balances"].size(); ++i) {
      const json& b = doc["balances"][i];
      std::string where = "balances[" + std::to_string(i) + "]";
      if (!b.is_object()) return Bad(where + " must be an object");
      GenesisBalance bal;
      KONTOR_RETURN_IF_ERROR(ParseKey(b.value("address", json()), where + ".address", &bal.owner));
      bal.asset = b.value("asset", "");
      if (!g.FindAsset(bal.asset)) return {Code::kUnknownAsset, "genesis: " + where + ".asset '" + bal.asset + "' is not declared in 'assets'"};
      KONTOR_RETURN_IF_ERROR(ParseAmount(b.value("amount", json()), where + ".amount", &bal.amount));
      if (bal.amount == 0) return {Code::kBadAmount, "genesis: " + where + ".amount must be greater than zero"};
      g.balances.push_back(std::move(bal));
    }
  }

  if (!doc.contains("validators") || !doc["validators"].is_array() || doc["validators"].empty())
    return Bad("'validators' must be a non-empty array");
  if (doc["validators"].size() > limits::kValidatorsMax) return {Code::kTooLarge, "genesis: more than 128 validators"};
  uint64_t total_power = 0;
  for (size_t i = 0; i < doc["validators"].size(); ++i) {
    const json& v = doc["validators"][i];
    std::string where = "validators[" + std::to_string(i) + "]";
    if (!v.is_object()) return Bad(where + " must be an object");
    Validator val;
    KONTOR_RETURN_IF_ERROR(ParseKey(v.value("address", json()), where + ".address", &val.key));
    if (g.FindValidator(val.key)) return Bad(where + " is listed twice");
    if (!v.contains("power") || !v["power"].is_number_unsigned() || v["power"].get<uint64_t>() == 0 ||
        v["power"].get<uint64_t>() > (1ull << 40))
      return Bad(where + ".power must be an integer 1..2^40");
    val.power = v["power"].get<uint64_t>();
    total_power += val.power;
    val.name = v.value("name", "");
    g.validators.push_back(std::move(val));
  }
  (void)total_power;

  if (!doc.contains("params") || !doc["params"].is_object()) return Bad("missing object 'params'");
  const json& p = doc["params"];
  g.params.fee_asset = p.value("fee_asset", "");
  if (!g.FindAsset(g.params.fee_asset)) return {Code::kUnknownAsset, "genesis: params.fee_asset '" + g.params.fee_asset + "' is not declared"};
  if (p.contains("min_fee")) KONTOR_RETURN_IF_ERROR(ParseAmount(p["min_fee"], "params.min_fee", &g.params.min_fee));
  if (p.contains("block_txs_max")) {
    if (!p["block_txs_max"].is_number_unsigned() || p["block_txs_max"].get<uint64_t>() == 0 ||
        p["block_txs_max"].get<uint64_t>() > limits::kBlockTxsMax)
      return Bad("params.block_txs_max must be 1..10000");
    g.params.block_txs_max = p["block_txs_max"].get<uint64_t>();
  }
  if (p.contains("block_bytes_max")) {
    if (!p["block_bytes_max"].is_number_unsigned() || p["block_bytes_max"].get<uint64_t>() < limits::kTxBytesMax ||
        p["block_bytes_max"].get<uint64_t>() > limits::kBlockBytesMax)
      return Bad("params.block_bytes_max must be 65536..16777216");
    g.params.block_bytes_max = p["block_bytes_max"].get<uint64_t>();
  }

  // Supply per asset must fit in 64 bits.
  for (const auto& asset : g.assets) {
    uint64_t supply = 0;
    for (const auto& b : g.balances)
      if (b.asset == asset.symbol) {
        if (supply > UINT64_MAX - b.amount) return {Code::kOverflow, "genesis: total " + asset.symbol + " exceeds 2^64-1"};
        supply += b.amount;
      }
  }
  g.raw.assign(text);
  g.hash = TaggedHash(tags::kGenesis, text);
  *out = std::move(g);
  return Result::Ok();
}

std::string WriteGenesisJson(const Genesis& g) {
  json doc;
  doc["chain_id"] = g.chain_id;
  doc["genesis_time_ms"] = g.genesis_time_ms;
  doc["assets"] = json::array();
  for (const auto& a : g.assets) {
    json j = {{"symbol", a.symbol}, {"decimals", a.decimals}};
    if (a.gateway) j["gateway"] = EncodeAddress(*a.gateway);
    doc["assets"].push_back(j);
  }
  doc["balances"] = json::array();
  for (const auto& b : g.balances)
    doc["balances"].push_back({{"address", EncodeAddress(b.owner)}, {"asset", b.asset}, {"amount", std::to_string(b.amount)}});
  doc["validators"] = json::array();
  for (const auto& v : g.validators) {
    json j = {{"address", EncodeAddress(v.key)}, {"power", v.power}};
    if (!v.name.empty()) j["name"] = v.name;
    doc["validators"].push_back(j);
  }
  doc["params"] = {{"fee_asset", g.params.fee_asset},
                   {"min_fee", std::to_string(g.params.min_fee)},
                   {"block_txs_max", g.params.block_txs_max},
                   {"block_bytes_max", g.params.block_bytes_max}};
  return doc.dump(2) + "\n";
}

Hash256 ValidatorsHash(const std::vector<Validator>& validators) {
  Bytes data;
  for (const auto& v : validators) {
    data.append(v.key.view());
    PutBigEndian64(&data, v.power);
  }
  return TaggedHash(tags::kValidators, data);
}

Result InitLedgerGenesis(const Genesis& genesis, StateDelta& delta) {
  for (const auto& a : genesis.assets) {
    v1::Asset asset;
    asset.set_symbol(a.symbol);
    asset.set_decimals(a.decimals);
    if (a.gateway) asset.set_gateway(a.gateway->bytes());
    uint64_t supply = 0;
    for (const auto& b : genesis.balances)
      if (b.asset == a.symbol) supply += b.amount;
    asset.set_genesis_supply(supply);
    StoreAsset(delta, asset);
  }
  for (const auto& b : genesis.balances) {
    v1::Account account = LoadAccount(delta, b.owner);
    KONTOR_RETURN_IF_ERROR(Credit(&account, b.asset, b.amount));
    StoreAccount(delta, b.owner, account);
  }
  return Result::Ok();
}

}  // namespace kontor
