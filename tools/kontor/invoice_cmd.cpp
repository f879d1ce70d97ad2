// kontor invoice | payment: invoices of invoiced contracts and their payments.
//
// `invoice issue` computes every line with the ledger's own rules (contracts/escrow.h) from the
// contract as the node holds it, for the period from the end of the last invoice to now; the
// ledger recomputes and rejects any difference.
#include <algorithm>
#include <chrono>

#include "contracts/escrow.h"
#include "contracts/records.h"
#include "tools/kontor/commands.h"
#include "tools/kontor/market_common.h"
#include "tools/kontor/tx_common.h"

namespace kontor::cli {

namespace {

const char* MethodText(v1::PaymentMethod m) {
  switch (m) {
    case v1::PAYMENT_METHOD_ESCROW: return "escrow";
    case v1::PAYMENT_METHOD_TRANSFER: return "transfer";
    case v1::PAYMENT_METHOD_EXTERNAL: return "external";
    default: return "unspecified";
  }
}

v1::DisputeReason ParseReason(const std::string& text) {
  static const std::pair<const char*, v1::DisputeReason> reasons[] = {
      {"unavailable", v1::DISPUTE_REASON_SERVICE_UNAVAILABLE}, {"degraded", v1::DISPUTE_REASON_SERVICE_DEGRADED},
      {"usage", v1::DISPUTE_REASON_USAGE_INCORRECT},           {"price", v1::DISPUTE_REASON_PRICE_INCORRECT},
      {"other", v1::DISPUTE_REASON_OTHER}};
  for (const auto& [name, reason] : reasons)
    if (text == name) return reason;
  throw CliError("reason '" + text + "' must be one of unavailable, degraded, usage, price, other");
}

struct Loaded {
  v1::Invoice invoice;
  v1::Contract contract;
};

Loaded LoadInvoice(Context& ctx, const std::string& hex) {
  Loaded l;
  auto inv = QueryRecord<v1::Invoice>(ctx, kInvoice, IdBytes(hex, "invoice id"));
  if (!inv) throw CliError("no invoice " + hex);
  auto c = QueryRecord<v1::Contract>(ctx, kContract, inv->contract_id());
  if (!c) throw CliError("invoice " + hex + " names a contract the node does not have");
  l.invoice = std::move(*inv);
  l.contract = std::move(*c);
  return l;
}

uint64_t Payable(const v1::Invoice& inv) { return inv.amount_due() - inv.paid() - inv.disputed(); }

json InvoiceJson(const v1::Invoice& inv) {
  json j = ToJson(inv);
  j["id"] = HexEncode(inv.id());
  j["contract_id"] = HexEncode(inv.contract_id());
  j["state_text"] = contracts::InvoiceStateText(inv.state());
  j["payable"] = std::to_string(Payable(inv));
  return j;
}

void PrintInvoice(const v1::Invoice& inv, const v1::Contract& c, const AssetTable& assets) {
  const auto& t = c.terms();
  uint32_t d = assets.Decimals(t.asset());
  auto amt = [&](uint64_t v) { return FormatAmount(v, d, t.asset()); };
  const auto& l = inv.lines();
  std::vector<std::pair<std::string, std::string>> f = {
      {"invoice", HexEncode(inv.id())},
      {"contract", HexEncode(inv.contract_id())},
      {"state", contracts::InvoiceStateText(inv.state())},
      {"provider", Addr(t.provider())},
      {"renter", Addr(t.renter())},
      {"period", TimeText(l.period_start_ms()) + " .. " + TimeText(l.period_end_ms()) + " (" +
                     DurationText(l.period_end_ms() - l.period_start_ms()) + ")"},
      {"time charge", amt(l.time_charge()) + " (" + std::to_string(t.units()) + " units x " + amt(t.price_per_unit_hour()) + " per unit-hour)"}};
  for (const auto& m : l.metered())
    f.push_back({"  " + m.name(), std::to_string(m.quantity()) + " x " + amt(m.unit_price()) + " = " + amt(m.amount())});
  if (l.credit()) f.push_back({"credit", "-" + amt(l.credit())});
  f.push_back({"total", amt(l.total())});
  if (!t.broker().empty()) f.push_back({"broker fee", amt(l.broker_fee()) + " of the total to " + Addr(t.broker())});
  f.push_back({"payment", l.source() == v1::PAYMENT_SOURCE_ESCROW ? "from escrow (on acceptance, or at the due time)"
                                                                   : "direct (ledger transfer or external payment)"});
  f.push_back({"due", TimeText(l.due_at_ms()) + " (disputes until then)"});
  f.push_back({"amount due", amt(inv.amount_due())});
  f.push_back({"paid", amt(inv.paid())});
  f.push_back({"payable now", amt(Payable(inv))});
  if (inv.disputed() || inv.dispute_reason() != v1::DISPUTE_REASON_UNSPECIFIED)
    f.push_back({"dispute", v1::DisputeReason_Name(inv.dispute_reason()) + ", " +
                                (inv.resolved() ? "resolved: " + amt(inv.resolved_provider_amount()) + " of the disputed amount to the provider"
                                 : inv.state() == v1::INVOICE_STATE_DISPUTED
                                     ? amt(inv.disputed()) + " disputed, " + amt(inv.locked()) + " of it locked in escrow"
                                     : "ended by a void")});
  for (const auto& p : inv.payments()) {
    std::string from = p.method() == v1::PAYMENT_METHOD_TRANSFER   ? " from " + Addr(p.payer())
                       : p.method() == v1::PAYMENT_METHOD_EXTERNAL ? " on " + p.network() + " tx " + p.external_txid() + " from " + p.external_payer()
                                                                   : "";
    f.push_back({"  payment", amt(p.amount()) + " by " + MethodText(p.method()) + from + " at " + TimeText(p.at_ms()) +
                                  (p.broker_share() ? " (broker " + amt(p.broker_share()) + ")" : "")});
  }
  if (!l.replaces().empty()) f.push_back({"reissues", HexEncode(l.replaces())});
  if (!inv.reissued_by().empty()) f.push_back({"reissued as", HexEncode(inv.reissued_by())});
  PrintFields(f);
}

}  // namespace

void AddInvoiceCommands(CLI::App& app, Context& ctx) {
  auto* invoice = app.add_subcommand("invoice", "invoices of invoiced contracts: issue, accept, dispute, pay, resolve, void")
                      ->require_subcommand(1);
  static TxOptions tx;
  static std::string id, due = "24h", credit, replaces, accept_amount, reason = "other", amount, provider_amount;
  static bool direct = false, until_head = false;

  auto* issue = invoice->add_subcommand(
      "issue", "provider: invoice a contract from the end of its last invoice until now (lines computed like the ledger)");
  AddTxOptions(issue, tx);
  issue->add_option("contract_id", id, "contract id (hex)")->required();
  issue->add_option("--due", due, "due this long from now; the renter may dispute until then (at least the contract's dispute window)")
      ->capture_default_str();
  issue->add_flag("--direct", direct, "to be paid by the renter directly (transfer or external payment) instead of from escrow");
  issue->add_option("--credit", credit, "a discount, in the contract's asset");
  issue->add_option("--replaces", replaces, "reissue this voided invoice (same period)");
  issue->add_flag("--until-head", until_head, "end the period at the head block's time instead of this machine's clock");
  issue->callback([&ctx] {
    std::string cid = IdBytes(id, "contract id");
    auto c = QueryRecord<v1::Contract>(ctx, kContract, cid);
    if (!c) throw CliError("no contract " + id);
    if (!c->terms().invoiced()) throw CliError("contract " + id + " is paid from escrow as charges accrue; it takes no invoices");
    v1::GetStatusResponse head = FetchStatus(ctx);
    // Now: this machine's clock, never before the head block.
    const uint64_t now = std::max(head.time_ms(), static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch()).count()));
    RunTx(ctx, tx, [&](v1::TxBody& body, const AssetTable& assets) {
      const auto& t = c->terms();
      auto* i = body.mutable_invoice_issue();
      i->set_contract_id(cid);
      std::vector<v1::InvoiceLine> lines;
      uint64_t metered = 0;
      if (!replaces.empty()) {
        auto old = QueryRecord<v1::Invoice>(ctx, kInvoice, IdBytes(replaces, "replaced invoice id"));
        if (!old) throw CliError("no invoice " + replaces);
        i->set_replaces(old->id());
        i->set_period_start_ms(old->lines().period_start_ms());
        i->set_period_end_ms(old->lines().period_end_ms());
        for (const auto& l : old->lines().metered()) lines.push_back(l);
      } else {
        i->set_period_start_ms(c->invoiced_until_ms());
        // Until now by this machine's clock (the including block is at least as late, if the
        // clocks agree), or the head block's time with --until-head.
        uint64_t end = until_head ? head.time_ms() : now;
        if (uint64_t stop = contracts::AccrualEndMs(*c); stop != 0) end = std::min(end, stop);
        if (end <= c->invoiced_until_ms()) throw CliError("nothing to invoice yet: the contract is invoiced until " + TimeText(c->invoiced_until_ms()));
        i->set_period_end_ms(end);
        Check(contracts::UninvoicedMetered(*c, &lines, &metered), "metered usage");
      }
      metered = 0;
      for (const auto& l : lines) {
        *i->add_metered() = l;
        metered += l.amount();
      }
      uint64_t a = 0, b = 0;
      Check(contracts::Accrued(*c, i->period_start_ms(), &a), "time charge");
      Check(contracts::Accrued(*c, i->period_end_ms(), &b), "time charge");
      i->set_time_charge(b - a);
      uint64_t cr = credit.empty() ? 0 : ParseAmount(credit, assets.Decimals(t.asset()), t.asset());
      if (cr > i->time_charge() + metered) throw CliError("the credit exceeds the invoice's charges");
      i->set_credit(cr);
      uint64_t collected = 0;  // a reissue does not bill again what the voided invoice collected
      if (!replaces.empty())
        if (auto old = QueryRecord<v1::Invoice>(ctx, kInvoice, i->replaces()))
          collected = old->paid() > UINT64_MAX - old->collected_before() ? UINT64_MAX : old->paid() + old->collected_before();
      if (collected > i->time_charge() + metered - cr) throw CliError("the voided invoice already collected more than this reissue would bill");
      i->set_total(i->time_charge() + metered - cr - collected);
      i->set_broker_fee(t.broker().empty() ? 0 : static_cast<uint64_t>(static_cast<unsigned __int128>(i->total()) * t.broker_fee_bps() / 10000));
      // At least the agreed dispute window after the including block (a minute of slack for it).
      uint64_t due_in = ParseDuration(due);
      if (t.dispute_window_ms() != 0) due_in = std::max(due_in, t.dispute_window_ms() + 60'000);
      i->set_due_at_ms(now + due_in);
      i->set_source(direct ? v1::PAYMENT_SOURCE_DIRECT : v1::PAYMENT_SOURCE_ESCROW);
    });
  });

  auto* accept = invoice->add_subcommand("accept", "renter: accept an invoice (an escrow-sourced one is paid at once)");
  AddTxOptions(accept, tx);
  accept->add_option("invoice_id", id, "invoice id (hex)")->required();
  accept->callback([&ctx] {
    RunTx(ctx, tx, [&](v1::TxBody& body, const AssetTable&) { body.mutable_invoice_accept()->set_invoice_id(IdBytes(id, "invoice id")); });
  });

  auto* dispute = invoice->add_subcommand("dispute", "renter: dispute part of an invoice before its due time; the rest settles");
  AddTxOptions(dispute, tx);
  dispute->add_option("invoice_id", id, "invoice id (hex)")->required();
  dispute->add_option("--accept", accept_amount, "the amount you accept (0 disputes all that is unpaid)")->required();
  dispute->add_option("--reason", reason, "unavailable, degraded, usage, price or other")->capture_default_str();
  dispute->callback([&ctx] {
    Loaded l = LoadInvoice(ctx, id);
    RunTx(ctx, tx, [&](v1::TxBody& body, const AssetTable& assets) {
      const std::string& asset = l.contract.terms().asset();
      auto* d = body.mutable_invoice_dispute();
      d->set_invoice_id(l.invoice.id());
      d->set_accepted_amount(ParseAmount(accept_amount, assets.Decimals(asset), asset));
      d->set_reason(ParseReason(reason));
    });
  });

  auto* pay = invoice->add_subcommand("pay", "pay an invoice from your balance (ledger transfer)");
  AddTxOptions(pay, tx);
  pay->add_option("invoice_id", id, "invoice id (hex)")->required();
  pay->add_option("--amount", amount, "amount (default: all that is payable now)");
  pay->callback([&ctx] {
    Loaded l = LoadInvoice(ctx, id);
    RunTx(ctx, tx, [&](v1::TxBody& body, const AssetTable& assets) {
      const std::string& asset = l.contract.terms().asset();
      auto* p = body.mutable_invoice_pay();
      p->set_invoice_id(l.invoice.id());
      p->set_amount(amount.empty() ? Payable(l.invoice) : ParseAmount(amount, assets.Decimals(asset), asset));
    });
  });

  auto* resolve = invoice->add_subcommand(
      "resolve",
      "end a dispute: --provider-amount of the disputed part goes to the provider. The arbiter alone decides any split; renter and "
      "provider co-sign a settlement (--cosigner, or --generate-only and `kontor tx sign`); the provider alone can concede (0), "
      "the renter alone can withdraw the dispute (all)");
  AddTxOptions(resolve, tx, true);
  resolve->add_option("invoice_id", id, "invoice id (hex)")->required();
  resolve->add_option("--provider-amount", provider_amount, "how much of the disputed amount the provider gets")->required();
  resolve->callback([&ctx] {
    Loaded l = LoadInvoice(ctx, id);
    RunTx(ctx, tx, [&](v1::TxBody& body, const AssetTable& assets) {
      const std::string& asset = l.contract.terms().asset();
      auto* r = body.mutable_invoice_resolve();
      r->set_invoice_id(l.invoice.id());
      r->set_provider_amount(ParseAmount(provider_amount, assets.Decimals(asset), asset));
    });
  });

  auto* voidcmd = invoice->add_subcommand("void", "provider: void an invoice; what is unpaid is no longer owed (reissue with issue --replaces)");
  AddTxOptions(voidcmd, tx);
  voidcmd->add_option("invoice_id", id, "invoice id (hex)")->required();
  voidcmd->callback([&ctx] {
    RunTx(ctx, tx, [&](v1::TxBody& body, const AssetTable&) { body.mutable_invoice_void()->set_invoice_id(IdBytes(id, "invoice id")); });
  });

  auto* show = invoice->add_subcommand("show", "an invoice: lines, state, dispute, payments");
  show->add_option("invoice_id", id, "invoice id (hex)")->required();
  show->callback([&ctx] {
    Loaded l = LoadInvoice(ctx, id);
    if (ctx.json_output()) return PrintJson(InvoiceJson(l.invoice));
    PrintInvoice(l.invoice, l.contract, FetchAssets(ctx));
  });

  auto* list = invoice->add_subcommand("list", "a contract's invoices, in issue order");
  list->add_option("contract_id", id, "contract id (hex)")->required();
  list->callback([&ctx] {
    std::string cid = IdBytes(id, "contract id");
    auto c = QueryRecord<v1::Contract>(ctx, kContract, cid);
    if (!c) throw CliError("no contract " + id);
    auto index = QueryRecord<v1::IdList>(ctx, kContractInvoices, cid).value_or(v1::IdList());
    AssetTable assets = FetchAssets(ctx);
    uint32_t d = assets.Decimals(c->terms().asset());
    json out = json::array();
    for (const auto& iid : index.ids()) {
      auto inv = QueryRecord<v1::Invoice>(ctx, kInvoice, iid);
      if (!inv) continue;
      out.push_back(InvoiceJson(*inv));
      if (!ctx.json_output())
        std::printf("%s  %-14s  total %s  paid %s  due %s\n", HexEncode(iid).c_str(), contracts::InvoiceStateText(inv->state()),
                    FormatAmount(inv->lines().total(), d, c->terms().asset()).c_str(),
                    FormatAmount(inv->paid(), d, c->terms().asset()).c_str(), TimeText(inv->lines().due_at_ms()).c_str());
    }
    if (ctx.json_output()) return PrintJson(out);
    if (index.ids().empty()) std::printf("no invoices\n");
  });

  // ---------------- payment ----------------
  auto* payment = app.add_subcommand("payment", "payments made outside the ledger")->require_subcommand(1);
  static TxOptions payment_tx;
  static std::string network, external_txid, payer;
  auto* external = payment->add_subcommand(
      "record-external",
      "provider (payee): confirm an invoice payment received on an external chain; each external tx id counts once, and the "
      "broker's share moves from your balance to the broker");
  AddTxOptions(external, payment_tx);
  external->add_option("--invoice", id, "invoice id (hex)")->required();
  external->add_option("--network", network, "external chain, e.g. tron, ethereum")->required();
  external->add_option("--external-txid", external_txid, "the payment's tx id there")->required();
  external->add_option("--amount", amount, "amount received, in the invoice's asset")->required();
  external->add_option("--payer", payer, "the payer's address on that chain")->required();
  external->callback([&ctx] {
    Loaded l = LoadInvoice(ctx, id);
    RunTx(ctx, payment_tx, [&](v1::TxBody& body, const AssetTable& assets) {
      const std::string& asset = l.contract.terms().asset();
      auto* p = body.mutable_payment_record_external();
      p->set_invoice_id(l.invoice.id());
      p->set_network(network);
      p->set_external_txid(external_txid);
      p->set_amount(ParseAmount(amount, assets.Decimals(asset), asset));
      p->set_payer(payer);
    });
  });
}

}  // namespace kontor::cli
