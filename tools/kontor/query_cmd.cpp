// kontor query account | tx | block | head | assets | state
#include <google/protobuf/util/json_util.h>

#include <ctime>

#include "kontor/v1/state.pb.h"
#include "ledger/bech32m.h"
#include "ledger/bytes.h"
#include "ledger/smt.h"
#include "ledger/state.h"
#include "ledger/tx.h"
#include "tools/kontor/commands.h"

namespace kontor::cli {

namespace {

std::string TimeText(uint64_t time_ms) {
  std::time_t seconds = static_cast<std::time_t>(time_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03uZ", buf, static_cast<unsigned>(time_ms % 1000));
  return out;
}

Hash256 ParseHash(const std::string& hex, const std::string& what) {
  auto h = Hash256::FromHex(hex);
  if (!h) throw CliError(what + " must be 64 hex characters, got '" + hex + "'");
  return *h;
}

json ErrorJson(const v1::ErrorDetail& e) {
  return {{"code", e.code()}, {"name", e.name()}, {"category", e.category()}, {"message", e.message()}};
}

}  // namespace

void AddQueryCommands(CLI::App& app, Context& ctx) {
  auto* query = app.add_subcommand("query", "read the ledger through the node")->require_subcommand(1);
  static std::string who, id;

  auto* account = query->add_subcommand("account", "balances and nonce of an account");
  account->add_option("who", who, "kx1... address or key name")->required();
  account->callback([&ctx] {
    v1::GetAccountRequest req;
    PublicKey key = ctx.ResolveKey(who);
    req.set_key(key.bytes());
    v1::GetAccountResponse r = Call(ctx, &v1::Node::Stub::GetAccount, req);
    if (ctx.json_output()) {
      json balances = json::array();
      for (const auto& b : r.balances())
        balances.push_back({{"asset", b.asset()}, {"amount", std::to_string(b.amount())}, {"decimals", b.decimals()},
                            {"display", FormatAmount(b.amount(), b.decimals(), b.asset())}});
      return PrintJson({{"address", r.address()}, {"exists", r.exists()}, {"nonce", r.nonce()},
                        {"next_nonce", r.next_nonce()}, {"height", r.height()}, {"balances", balances}});
    }
    std::vector<std::pair<std::string, std::string>> fields = {
        {"address", r.address()}, {"nonce", std::to_string(r.nonce())}, {"at height", std::to_string(r.height())}};
    if (r.next_nonce() != r.nonce()) fields.push_back({"next nonce", std::to_string(r.next_nonce()) + " (txs pending)"});
    PrintFields(fields);
    if (r.balances().empty()) {
      std::printf("balances  none%s\n", r.exists() ? "" : " (the ledger has never seen this account)");
      return;
    }
    std::printf("balances\n");
    size_t width = 0;
    std::vector<std::string> numbers;
    for (const auto& b : r.balances()) {
      std::string n = FormatAmount(b.amount(), b.decimals(), "");
      n.pop_back();  // FormatAmount appends " " + symbol
      numbers.push_back(n);
      width = std::max(width, n.size());
    }
    for (int i = 0; i < r.balances_size(); ++i)
      std::printf("  %*s %s\n", static_cast<int>(width), numbers[i].c_str(), r.balances(i).asset().c_str());
  });

  auto* tx = query->add_subcommand("tx", "status of a transaction: pending, committed (where) or rejected (why)");
  tx->add_option("txid", id, "txid (64 hex characters)")->required();
  tx->callback([&ctx] {
    v1::GetTxRequest req;
    req.set_txid(ParseHash(id, "txid").bytes());
    v1::GetTxResponse r = Call(ctx, &v1::Node::Stub::GetTx, req);
    static const char* names[] = {"unspecified", "pending", "committed", "rejected", "unknown"};
    std::string status = names[r.status()];
    if (ctx.json_output()) {
      json doc = {{"txid", id}, {"status", status}};
      if (r.status() == v1::TX_STATUS_COMMITTED) {
        doc["height"] = r.height();
        doc["index"] = r.index();
        doc["block_hash"] = HexEncode(r.block_hash());
      }
      if (r.status() == v1::TX_STATUS_REJECTED) doc["error"] = ErrorJson(r.error());
      return PrintJson(doc);
    }
    std::vector<std::pair<std::string, std::string>> fields = {{"txid", id}, {"status", status}};
    if (r.status() == v1::TX_STATUS_COMMITTED) {
      fields.push_back({"height", std::to_string(r.height())});
      fields.push_back({"index", std::to_string(r.index())});
      fields.push_back({"block", HexEncode(r.block_hash())});
    }
    if (r.status() == v1::TX_STATUS_REJECTED)
      fields.push_back({"error", r.error().name() + " (" + std::to_string(r.error().code()) + "): " + r.error().message()});
    if (r.status() == v1::TX_STATUS_UNKNOWN) fields.push_back({"note", "the node has not seen this tx (or forgot its rejection)"});
    PrintFields(fields);
  });

  static std::string selector;
  auto* block = query->add_subcommand("block", "a block by height or hash (default: the latest)");
  block->add_option("height_or_hash", selector, "height, or block hash in hex");
  block->callback([&ctx] {
    v1::GetBlockRequest req;
    if (selector.size() == 64) req.set_hash(ParseHash(selector, "block hash").bytes());
    else if (!selector.empty()) {
      try {
        req.set_height(ParseUint(selector, "block height"));
      } catch (...) {
        throw CliError("give a block height or a 64-hex-character block hash, not '" + selector + "'");
      }
    }
    v1::GetBlockResponse r = Call(ctx, &v1::Node::Stub::GetBlock, req);
    const v1::BlockHeader& h = r.header();
    json txids = json::array();
    for (const auto& envelope : r.block().txs()) {
      v1::Tx t;
      if (t.ParseFromString(envelope)) txids.push_back(ComputeTxid(t.body()).hex());
    }
    if (ctx.json_output()) {
      json sigs = json::array();
      for (const auto& s : r.commit().signatures())
        sigs.push_back({{"validator", DisplayAddress(s.validator())}, {"signature", HexEncode(s.signature())}});
      return PrintJson({{"height", h.height()}, {"hash", HexEncode(r.hash())}, {"chain_id", h.chain_id()},
                        {"time_ms", h.time_ms()}, {"time", TimeText(h.time_ms())}, {"prev_hash", HexEncode(h.prev_hash())},
                        {"tx_root", HexEncode(h.tx_root())}, {"state_root", HexEncode(h.state_root())},
                        {"validators_hash", HexEncode(h.validators_hash())},
                        {"proposer", DisplayAddress(h.proposer())},
                        {"last_commit_hash", HexEncode(h.last_commit_hash())}, {"tx_count", h.tx_count()},
                        {"txids", txids}, {"commit", {{"round", r.commit().round()}, {"signatures", sigs}}}});
    }
    PrintFields({{"height", std::to_string(h.height())}, {"hash", HexEncode(r.hash())}, {"time", TimeText(h.time_ms())},
                 {"prev hash", HexEncode(h.prev_hash())}, {"tx root", HexEncode(h.tx_root())},
                 {"state root", HexEncode(h.state_root())}, {"proposer", DisplayAddress(h.proposer())},
                 {"txs", std::to_string(h.tx_count())},
                 {"commit", std::to_string(r.commit().signatures_size()) + " validator signature(s), round " +
                                std::to_string(r.commit().round())}});
    for (const auto& t : txids) std::printf("  %s\n", t.get<std::string>().c_str());
  });

  auto* head = query->add_subcommand("head", "the node's status: chain, height, latest block, mempool");
  head->callback([&ctx] {
    v1::GetStatusResponse s = FetchStatus(ctx);
    if (ctx.json_output())
      return PrintJson({{"chain_id", s.chain_id()}, {"height", s.height()}, {"hash", HexEncode(s.hash())},
                        {"time_ms", s.time_ms()}, {"time", TimeText(s.time_ms())}, {"syncing", s.syncing()},
                        {"peers", s.peers()}, {"version", s.version()}, {"genesis_hash", HexEncode(s.genesis_hash())},
                        {"state_root", HexEncode(s.state_root())}, {"mempool_txs", s.mempool_txs()},
                        {"mempool_bytes", s.mempool_bytes()}, {"validator", DisplayAddress(s.validator())},
                        {"node", ctx.NodeAddress()}});
    PrintFields({{"node", ctx.NodeAddress() + " (kontord " + s.version() + ")"}, {"chain", s.chain_id()},
                 {"height", std::to_string(s.height())}, {"hash", HexEncode(s.hash())}, {"time", TimeText(s.time_ms())},
                 {"state root", HexEncode(s.state_root())}, {"syncing", s.syncing() ? "yes" : "no"},
                 {"peers", std::to_string(s.peers())},
                 {"mempool", std::to_string(s.mempool_txs()) + " txs, " + std::to_string(s.mempool_bytes()) + " bytes"},
                 {"validator", DisplayAddress(s.validator())}});
  });

  auto* assets = query->add_subcommand("assets", "the chain's assets and their supply");
  assets->callback([&ctx] {
    AssetTable table = FetchAssets(ctx);
    if (ctx.json_output()) {
      json out = json::array();
      for (const auto& [symbol, a] : table.by_symbol)
        out.push_back({{"symbol", symbol}, {"decimals", a.decimals()},
                       {"gateway", a.gateway().empty() ? json() : json(DisplayAddress(a.gateway()))},
                       {"genesis_supply", std::to_string(a.genesis_supply())},
                       {"deposited", DecimalStringU128(static_cast<unsigned __int128>(a.deposited_hi()) << 64 | a.deposited())},
                       {"withdrawn", DecimalStringU128(static_cast<unsigned __int128>(a.withdrawn_hi()) << 64 | a.withdrawn())},
                       {"outstanding", std::to_string(a.outstanding())}});
      return PrintJson(out);
    }
    for (const auto& [symbol, a] : table.by_symbol)
      std::printf("%-8s decimals %-2u supply %s%s\n", symbol.c_str(), a.decimals(),
                  FormatAmount(a.outstanding(), a.decimals(), symbol).c_str(),
                  a.gateway().empty() ? "" : "  (bridged)");
  });

  static uint32_t kind = 0;
  static std::string id_hex, id_text;
  static uint64_t height = 0;
  static bool prove = false;
  auto* state = query->add_subcommand("state", "any record by kind and id, with a proof against a block's state root");
  state->add_option("--kind", kind, "record kind: 1 account, 2 asset (see docs/protocol.md)")->required();
  auto* hex_opt = state->add_option("--id", id_hex, "record id in hex (an account: its 32-byte key)");
  state->add_option("--id-text", id_text, "record id as text (an asset: its symbol)")->excludes(hex_opt);
  state->add_option("--height", height, "state at this height (default: latest; older ones only with --prove)")->check(UintText());
  state->add_flag("--prove", prove, "also fetch a Merkle proof and check it here");
  state->callback([&ctx] {
    v1::QueryStateRequest req;
    req.set_kind(kind);
    if (!id_hex.empty()) {
      auto bytes = HexDecode(id_hex);
      if (!bytes) throw CliError("--id must be hex");
      req.set_id(*bytes);
    } else if (!id_text.empty()) {
      req.set_id(id_text);
    } else if (kind == 1) {
      throw CliError("give --id (hex) or --id-text");
    }
    req.set_height(height);
    req.set_prove(prove);
    v1::QueryStateResponse r = Call(ctx, &v1::Node::Stub::QueryState, req);
    std::string verified = "not requested";
    if (prove) {
      // The node is not trusted: a reply of the wrong shape is an error, never a crash.
      StateProof p;
      std::vector<std::string_view> siblings(r.proof().siblings().begin(), r.proof().siblings().end());
      Result shape = StateProofFromWire(siblings, r.proof().terminal_is_leaf(), r.proof().leaf_key(),
                                        r.proof().leaf_value_hash(), &p);
      if (!shape.ok()) throw CliError("the node's proof is malformed: " + shape.message());
      if (r.key().size() != 32 || r.state_root().size() != 32)
        throw CliError("the node's reply is malformed: key and state_root must be 32 bytes");
      Hash256 key = Hash256::FromBytes(r.key());
      if (key != StateKey(static_cast<uint8_t>(kind), req.id())) throw CliError("node returned a proof for another key");
      std::optional<std::string_view> value;
      if (r.found() && !r.value().empty()) value = r.value();
      Result check = r.found() && r.value().empty() ? Result::Ok() : VerifyStateProof(Hash256::FromBytes(r.state_root()), key, value, p);
      if (!check.ok()) throw CliError("the node's proof does NOT verify: " + check.message());
      verified = r.found() && r.value().empty() ? "present at that height (value not served)"
                                                : std::string(r.found() ? "membership" : "absence") + " proof verifies against the state root";
    }
    std::string decoded;
    if (r.found() && !r.value().empty()) {
      google::protobuf::util::JsonPrintOptions options;
      options.preserve_proto_field_names = true;
      if (kind == 1) {
        v1::Account a;
        if (a.ParseFromString(r.value())) (void)google::protobuf::util::MessageToJsonString(a, &decoded, options);
      } else if (kind == 2) {
        v1::Asset a;
        if (a.ParseFromString(r.value())) (void)google::protobuf::util::MessageToJsonString(a, &decoded, options);
      }
    }
    if (ctx.json_output()) {
      json doc = {{"found", r.found()}, {"key", HexEncode(r.key())}, {"height", r.height()},
                  {"state_root", HexEncode(r.state_root())}, {"value", HexEncode(r.value())}, {"proof", verified}};
      if (!decoded.empty()) doc["decoded"] = json::parse(decoded, nullptr, false);
      return PrintJson(doc);
    }
    PrintFields({{"found", r.found() ? "yes" : "no"}, {"state key", HexEncode(r.key())}, {"height", std::to_string(r.height())},
                 {"state root", HexEncode(r.state_root())}, {"value", r.value().empty() ? "-" : HexEncode(r.value())},
                 {"decoded", decoded.empty() ? "-" : decoded}, {"proof", verified}});
  });
}

}  // namespace kontor::cli
