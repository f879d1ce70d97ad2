#include "tools/kontor/tx_common.h"

#include <google/protobuf/util/json_util.h>

#include <chrono>
#include <thread>

#include "ledger/bech32m.h"
#include "ledger/codec.h"
#include "ledger/limits.h"
#include "ledger/tx.h"

namespace kontor::cli {

void AddTxOptions(CLI::App* cmd, TxOptions& o, bool allow_cosigners) {
  cmd->add_option("--from", o.from, "key that signs and pays the fee (its name in the keyring, or its address with --generate-only)")
      ->required();
  if (allow_cosigners)
    cmd->add_option("--cosigner", o.cosigners, "a further party that must sign (key name or address); repeat for each");
  cmd->add_option("--nonce", o.nonce, "nonce (default: the account's next, counting its pending txs)")->check(UintText());
  cmd->add_option("--fee", o.fee, "fee in the chain's fee asset, e.g. 0.001 (default: the chain minimum)");
  cmd->add_option("--expiry-height", o.expiry_height, "last block height that may include the tx")->check(UintText());
  cmd->add_option("--expires-in", o.expires_in, "blocks from now until the tx expires, if no --expiry-height")
      ->check(UintText())->capture_default_str();
  cmd->add_flag("--generate-only", o.generate_only, "write the unsigned tx as JSON instead of signing and sending it");
  cmd->add_option("--out", o.out, "with --generate-only: write to this file instead of stdout");
  cmd->add_flag("--async", o.async, "return once the node accepted the tx, without waiting for its block");
  cmd->add_option("--wait", o.wait_seconds, "seconds to wait for the tx's block")->capture_default_str();
}

json DecodedBodyJson(const v1::TxBody& body) {
  std::string readable;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = false;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(body, &readable, options);
  return json::parse(readable, nullptr, false);
}

json TxFileJson(const v1::TxBody& body, const std::string& body_bytes, const v1::Tx& tx) {
  json signers = json::array();
  for (const auto& s : body.signers()) signers.push_back(DisplayAddress(s));
  json signatures = json::object();
  for (const auto& s : tx.signatures()) signatures[DisplayAddress(s.signer())] = HexEncode(s.signature());
  json missing = json::array();
  for (const auto& s : signers)
    if (!signatures.contains(s.get<std::string>())) missing.push_back(s);
  return {{"format", "kontor-tx/1"},
          {"chain_id", body.chain_id()},
          {"txid", ComputeTxid(body_bytes).hex()},
          {"body", HexEncode(body_bytes)},
          {"signers", signers},
          {"signatures", signatures},
          {"missing_signatures", missing},
          {"decoded_body", DecodedBodyJson(body)}};
}

namespace {

// The first place where `shown` differs from `expected`, as a JSON pointer ("/transfer/amount").
std::string FirstDifference(const json& expected, const json& shown) {
  json patch = json::diff(expected, shown);
  if (patch.empty() || !patch[0].contains("path")) return "";
  return patch[0]["path"].get<std::string>();
}

[[noreturn]] void RefuseEdited(const std::string& path, const std::string& field, const std::string& detail) {
  Check({Code::kMismatch, path + ": \"" + field + "\" does not match \"body\"" + detail +
                              "; what the file shows is not what would be signed (was it edited?): refusing it"});
  std::abort();  // Check threw
}

// The fields a person reads (decoded_body, and the chain id and signers beside it) are derived
// from "body", which is what is signed. A file whose readable fields say something else would
// show a co-signer other terms than the ones they sign, so it is refused. Each is optional: a
// file without them shows nothing that could mislead.
void CheckShownFields(const std::string& path, const json& doc, const v1::TxBody& body) {
  if (doc.contains("decoded_body")) {
    json expected = DecodedBodyJson(body);
    if (doc["decoded_body"] != expected) {
      std::string where = FirstDifference(expected, doc["decoded_body"]);
      RefuseEdited(path, "decoded_body", where.empty() ? "" : " (first difference at " + where + ")");
    }
  }
  if (doc.contains("chain_id") && doc["chain_id"] != body.chain_id()) RefuseEdited(path, "chain_id", "");
  if (doc.contains("signers")) {
    json signers = json::array();
    for (const auto& s : body.signers()) signers.push_back(DisplayAddress(s));
    if (doc["signers"] != signers) RefuseEdited(path, "signers", "");
  }
}

}  // namespace

void ReadTxFile(const std::string& path, v1::Tx* tx, v1::TxBody* body) {
  std::string text;
  Check(node::ReadWholeFile(path, 4 * limits::kTxBytesMax, &text), "tx file");
  json doc = json::parse(text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || doc.value("format", "") != "kontor-tx/1" || !doc.contains("body") ||
      !doc["body"].is_string())
    throw CliError(path + " is not a kontor tx file (made by --generate-only)");
  auto bytes = HexDecode(doc["body"].get<std::string>());
  if (!bytes) throw CliError(path + ": \"body\" is not hex");
  Check(DecodeCanonical(*bytes, limits::kTxBytesMax, "tx body", body), path);
  if (doc.contains("txid") && doc["txid"] != ComputeTxid(*bytes).hex())
    throw CliError(path + ": \"txid\" does not match the body (the file was edited?)");
  CheckShownFields(path, doc, *body);
  tx->Clear();
  tx->set_body(*bytes);
  json sigs = doc.value("signatures", json::object());
  if (!sigs.is_object()) throw CliError(path + ": \"signatures\" must be an object of address -> hex");
  for (const auto& signer : body->signers()) {
    std::string address = DisplayAddress(signer);
    if (signer.size() != 32) throw CliError(path + ": signer " + address + " is not a 32-byte key");
    if (!sigs.contains(address)) continue;
    auto sig = sigs[address].is_string() ? HexDecode(sigs[address].get<std::string>()) : std::nullopt;
    if (!sig || sig->size() != 64) throw CliError(path + ": signature of " + address + " is not 64 bytes of hex");
    if (!VerifySignature(Hash256::FromBytes(signer), ComputeTxid(*bytes), *sig))
      throw CliError(path + ": the signature of " + address + " does not verify for this body");
    auto* s = tx->add_signatures();
    s->set_signer(signer);
    s->set_signature(*sig);
  }
}

void BroadcastAndReport(Context& ctx, const std::string& envelope, bool async, int wait_seconds) {
  v1::SubmitTxRequest req;
  req.set_tx(envelope);
  v1::Tx parsed;
  parsed.ParseFromString(envelope);
  std::string txid = ComputeTxid(parsed.body()).hex();
  try {
    Call(ctx, &v1::Node::Stub::SubmitTx, req);
  } catch (CliError& e) {
    throw CliError("tx " + txid + " rejected: " + e.what(), e.detail.value_or(v1::ErrorDetail()));
  }
  if (async) {
    if (ctx.json_output()) return PrintJson({{"txid", txid}, {"status", "pending"}});
    PrintFields({{"txid", txid}, {"status", "pending (accepted into the mempool)"}});
    return;
  }
  v1::GetTxRequest get;
  get.set_txid(HexDecode(txid).value());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    v1::GetTxResponse r = Call(ctx, &v1::Node::Stub::GetTx, get);
    if (r.status() == v1::TX_STATUS_COMMITTED) {
      if (ctx.json_output())
        return PrintJson({{"txid", txid}, {"status", "committed"}, {"height", r.height()}, {"index", r.index()},
                          {"block_hash", HexEncode(r.block_hash())}});
      PrintFields({{"txid", txid}, {"status", "committed"}, {"height", std::to_string(r.height())},
                   {"index", std::to_string(r.index())}, {"block", HexEncode(r.block_hash())}});
      return;
    }
    if (r.status() == v1::TX_STATUS_REJECTED)
      throw CliError("tx " + txid + " was dropped before its block: " + r.error().name() + " (" +
                         std::to_string(r.error().code()) + "): " + r.error().message(),
                     r.error());
    if (std::chrono::steady_clock::now() > deadline)
      throw CliError("tx " + txid + " is still pending after " + std::to_string(wait_seconds) +
                     " s; check later with `kontor query tx " + txid + "`");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void RunTx(Context& ctx, const TxOptions& o, const std::function<void(v1::TxBody&, const AssetTable&)>& fill) {
  v1::GetStatusResponse status = FetchStatus(ctx);
  AssetTable assets = FetchAssets(ctx);
  PublicKey from = ctx.ResolveKey(o.from);
  v1::TxBody body;
  body.set_chain_id(status.chain_id());
  body.add_signers(from.bytes());
  for (const auto& c : o.cosigners) body.add_signers(ctx.ResolveKey(c).bytes());
  if (o.nonce) {
    body.set_nonce(*o.nonce);
  } else {
    v1::GetAccountRequest req;
    req.set_key(from.bytes());
    body.set_nonce(Call(ctx, &v1::Node::Stub::GetAccount, req).next_nonce());
  }
  body.set_fee(o.fee.empty() ? status.min_fee()
                             : ParseAmount(o.fee, assets.Decimals(status.fee_asset()), status.fee_asset()));
  body.set_expiry_height(o.expiry_height ? *o.expiry_height : status.height() + o.expires_in);
  fill(body, assets);
  std::string body_bytes = EncodeTxBody(body);
  v1::Tx tx;
  tx.set_body(body_bytes);
  if (o.generate_only) {
    std::string text = TxFileJson(body, body_bytes, tx).dump(2) + "\n";
    if (o.out.empty()) {
      std::printf("%s", text.c_str());
    } else {
      Check(node::WriteFileAtomic(o.out, text, false));
      std::fprintf(stderr, "wrote unsigned tx %s to %s; each signer runs `kontor tx sign %s --from KEY`\n",
                   ComputeTxid(body_bytes).hex().c_str(), o.out.c_str(), o.out.c_str());
    }
    return;
  }
  if (!o.cosigners.empty())
    throw CliError("this tx needs the signatures of other parties: use --generate-only, then `kontor tx sign` on each "
                   "party's machine, then `kontor tx broadcast`");
  PrivateKey key = ctx.UnlockKey(o.from);
  OsRandom random;
  Check(SignTx(&tx, key, random));
  BroadcastAndReport(ctx, EncodeTx(tx), o.async, o.wait_seconds);
}

}  // namespace kontor::cli
