// kontor tx transfer | sign | broadcast
#include "ledger/bech32m.h"
#include "ledger/limits.h"
#include "ledger/tx.h"
#include "tools/kontor/commands.h"
#include "tools/kontor/tx_common.h"

namespace kontor::cli {

void AddTxCommands(CLI::App& app, Context& ctx) {
  auto* tx = app.add_subcommand("tx", "build, sign and send transactions")->require_subcommand(1);

  // transfer
  static TxOptions transfer_options;
  static std::string to, asset, amount, memo;
  auto* transfer = tx->add_subcommand("transfer", "send an amount of an asset to another key");
  AddTxOptions(transfer, transfer_options);
  transfer->add_option("--to", to, "recipient: kx1... address or key name")->required();
  transfer->add_option("--asset", asset, "asset symbol, e.g. USDC")->required();
  transfer->add_option("--amount", amount, "amount in the asset's units, e.g. 12.5")->required();
  transfer->add_option("--memo", memo, "free text, at most 256 bytes");
  transfer->callback([&ctx] {
    RunTx(ctx, transfer_options, [&](v1::TxBody& body, const AssetTable& assets) {
      if (memo.size() > limits::kMemoBytesMax) throw CliError("--memo is longer than 256 bytes");
      auto* t = body.mutable_transfer();
      t->set_to(ctx.ResolveKey(to).bytes());
      t->set_asset(asset);
      t->set_amount(ParseAmount(amount, assets.Decimals(asset), asset));
      if (t->amount() == 0) throw CliError("--amount must be greater than zero");
      t->set_memo(memo);
    });
  });

  // sign
  static std::string file, signer, out;
  auto* sign = tx->add_subcommand("sign", "add your signature to a tx file (offline: no node needed)");
  sign->add_option("file", file, "tx file from --generate-only")->required()->check(CLI::ExistingFile);
  sign->add_option("--from", signer, "key to sign with (must be one of the tx's signers)")->required();
  sign->add_option("--out", out, "write the signed file here (default: update FILE in place)");
  sign->callback([&ctx] {
    v1::Tx t;
    v1::TxBody body;
    ReadTxFile(file, &t, &body);
    // Show what is signed, decoded from the bytes that are signed (never the file's own
    // "decoded_body", which ReadTxFile checked against them). stderr: stdout stays the result.
    const json decoded = DecodedBodyJson(body);
    if (!ctx.json_output()) {
      std::string signers;
      for (const auto& s : body.signers()) signers += "\n  " + DisplayAddress(s);
      std::fprintf(stderr, "signing tx %s\nsigners (the first pays the fee):%s\nbody:\n%s\n",
                   ComputeTxid(t.body()).hex().c_str(), signers.c_str(), decoded.dump(2).c_str());
    }
    PrivateKey key = ctx.UnlockKey(signer);
    OsRandom random;
    Check(SignTx(&t, key, random));
    json doc = TxFileJson(body, t.body(), t);
    Check(node::WriteFileAtomic(out.empty() ? file : out, doc.dump(2) + "\n", false));
    if (ctx.json_output()) return PrintJson({{"txid", doc["txid"]}, {"signed_by", EncodeAddress(key.public_key())},
                                      {"missing_signatures", doc["missing_signatures"]}, {"decoded_body", decoded}});
    std::string missing;
    for (const auto& m : doc["missing_signatures"]) missing += (missing.empty() ? "" : ", ") + m.get<std::string>();
    PrintFields({{"txid", doc["txid"].get<std::string>()},
                 {"signed by", EncodeAddress(key.public_key())},
                 {"still to sign", missing.empty() ? "nobody: ready for `kontor tx broadcast`" : missing}});
  });

  // broadcast
  static bool async = false;
  static int wait_seconds = 30;
  auto* broadcast = tx->add_subcommand("broadcast", "send a fully signed tx file to the node");
  broadcast->add_option("file", file, "signed tx file")->required()->check(CLI::ExistingFile);
  broadcast->add_flag("--async", async, "return once the node accepted the tx");
  broadcast->add_option("--wait", wait_seconds, "seconds to wait for the tx's block")->capture_default_str();
  broadcast->callback([&ctx] {
    v1::Tx t;
    v1::TxBody body;
    ReadTxFile(file, &t, &body);
    if (t.signatures_size() != body.signers_size()) {
      std::string missing;
      for (const auto& s : body.signers()) {
        bool found = false;
        for (const auto& sig : t.signatures()) found |= sig.signer() == s;
        if (!found) missing += (missing.empty() ? "" : ", ") + DisplayAddress(s);
      }
      throw CliError("tx is not fully signed; still to sign: " + missing);
    }
    BroadcastAndReport(ctx, EncodeTx(t), async, wait_seconds);
  });
}

}  // namespace kontor::cli
