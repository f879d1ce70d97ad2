#include "tests/support/test_env.h"

#include <stdexcept>

#include "ledger/accounts.h"
#include "ledger/check.h"

namespace kontor::test {

Result CloseResult::ResultOf(const Hash256& txid) const {
  for (const auto& r : rejected)
    if (r.txid == txid) return r.result;
  return Result::Ok();
}

std::string MakeGenesisJson(const std::string& chain_id, const PublicKey& validator, const std::vector<PublicKey>& accounts,
                            uint64_t funding, uint64_t min_fee, const PublicKey& gateway, uint64_t time_ms,
                            const std::vector<std::pair<std::string, uint32_t>>& extra_bridged_assets) {
  Genesis g;
  g.chain_id = chain_id;
  g.genesis_time_ms = time_ms;
  g.assets.push_back({"KTR", 6, std::nullopt});
  g.assets.push_back({"USDC", 6, gateway});
  for (const auto& [symbol, decimals] : extra_bridged_assets) g.assets.push_back({symbol, decimals, gateway});
  for (const auto& a : accounts) {
    g.balances.push_back({a, "KTR", funding});
    g.balances.push_back({a, "USDC", funding});
  }
  g.validators.push_back({validator, 1, "validator-0"});
  g.params.fee_asset = "KTR";
  g.params.min_fee = min_fee;
  g.params.block_txs_max = 10'000;
  g.params.block_bytes_max = 16 * 1024 * 1024;
  return WriteGenesisJson(g);
}

TestEnv::TestEnv(TestEnvOptions options) : options_(std::move(options)), random_(options_.seed) {
  validator_ = GeneratePrivateKey(random_);
  std::vector<PublicKey> funded;
  for (const auto& name : options_.accounts) {
    keys_.emplace(name, GeneratePrivateKey(random_));
    funded.push_back(keys_.at(name).public_key());
  }
  keys_.emplace("gateway", GeneratePrivateKey(random_));
  keys_.emplace("nobody", GeneratePrivateKey(random_));  // never funded
  std::string json = MakeGenesisJson("kontor-test", validator_->public_key(), funded, options_.funding,
                                     options_.min_fee, keys_.at("gateway").public_key(), now_ms_ + kFirstBlockAfterMs,
                                     options_.extra_bridged_assets);
  Result r = ParseGenesis(json, &genesis_);
  if (!r.ok()) throw std::runtime_error("test genesis: " + r.ToString());
  ChainOptions chain_options;
  chain_options.store.in_memory = options_.data_dir.empty();
  chain_options.store.path = options_.data_dir;
  chain_options.store.sync = options_.sync;
  chain_options.threads = 2;
  r = Chain::Open(chain_options, genesis_, &app_, &chain_);
  if (!r.ok()) throw std::runtime_error("test chain: " + r.ToString());
}

const PrivateKey& TestEnv::Key(const std::string& name) const {
  auto it = keys_.find(name);
  if (it == keys_.end()) throw std::runtime_error("no test key named " + name);
  return it->second;
}

std::string TestEnv::Build(const std::vector<std::string>& signers, const std::function<void(v1::TxBody&)>& fill,
                           TxOptions options) {
  KONTOR_CHECK(!signers.empty());
  v1::TxBody body;
  body.set_chain_id(options.chain_id.empty() ? genesis_.chain_id : options.chain_id);
  for (const auto& s : signers) body.add_signers(Pub(s).bytes());
  if (!next_nonce_.count(signers.front())) next_nonce_[signers.front()] = Nonce(signers.front());
  uint64_t& next = next_nonce_[signers.front()];
  body.set_nonce(options.nonce.value_or(next));
  if (!options.nonce) ++next;
  body.set_fee(options.fee);
  body.set_expiry_height(options.expiry_height);
  fill(body);
  v1::Tx tx;
  tx.set_body(EncodeTxBody(body));
  for (const auto& s : signers) KONTOR_CHECK(SignTx(&tx, Key(s), random_).ok());
  return EncodeTx(tx);
}

std::string TestEnv::Transfer(const std::string& from, const std::string& to, const std::string& asset, uint64_t amount,
                              TxOptions options) {
  return Build({from}, [&](v1::TxBody& body) {
    auto* t = body.mutable_transfer();
    t->set_to(Pub(to).bytes());
    t->set_asset(asset);
    t->set_amount(amount);
  }, options);
}

Hash256 TestEnv::Txid(const std::string& envelope) {
  v1::Tx tx;
  if (!tx.ParseFromString(envelope)) return Hash256{};
  return ComputeTxid(tx.body());
}

CloseResult TestEnv::Close(uint64_t advance_ms) {
  now_ms_ += advance_ms;
  CloseResult out;
  std::vector<std::string_view> candidates(pending_.begin(), pending_.end());
  Result r = chain_->ProduceBlock(candidates, now_ms_, *validator_, random_, &out.block, &out.rejected);
  if (!r.ok()) throw std::runtime_error("close: " + r.ToString());
  // BFT time: block 1 is at the genesis time, and a block is at least 1 ms after its parent.
  now_ms_ = out.block.block.header.time_ms();
  pending_.clear();
  out.height = chain_->height();
  out.included = out.block.block.txs.size();
  // A rejected tx did not use its nonce: the next built tx takes the account's real one.
  for (auto& [name, next] : next_nonce_) next = Nonce(name);
  return out;
}

Result TestEnv::Apply(std::string envelope) {
  KONTOR_CHECK(pending_.empty());
  Submit(std::move(envelope));
  CloseResult closed = Close();
  for (const auto& r : closed.rejected)
    if (r.index == 0) return r.result;
  return Result::Ok();
}

uint64_t TestEnv::Balance(const std::string& name, const std::string& asset) const {
  return BalanceOf(LoadAccount(chain_->state(), Pub(name)), asset);
}

uint64_t TestEnv::Nonce(const std::string& name) const { return LoadAccount(chain_->state(), Pub(name)).nonce(); }

}  // namespace kontor::test
