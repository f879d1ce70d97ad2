// kontor provider | attest | offer | contract | asset: the compute market's transactions and views.
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <ctime>

#include "contracts/escrow.h"
#include "kontor/v1/state.pb.h"
#include "ledger/bech32m.h"
#include "tools/kontor/commands.h"
#include "tools/kontor/market_common.h"
#include "tools/kontor/tx_common.h"

namespace kontor::cli {

// Shared with invoice_cmd.cpp (market_common.h).
std::string Addr(const std::string& key) { return key.empty() ? "-" : DisplayAddress(key); }

std::string IdBytes(const std::string& hex, const std::string& what) {
  auto bytes = HexDecode(hex);
  if (!bytes || bytes->size() != 32) throw CliError(what + " must be 64 hex characters");
  return *bytes;
}

// "30d", "12h", "90m", "45s", "500ms" or plain milliseconds.
uint64_t ParseDuration(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) throw CliError("duration '" + text + "' must start with a number (e.g. 30d, 12h, 90m, 45s, 500ms)");
  uint64_t n = ParseUint(text.substr(0, digits), "duration");
  std::string unit = text.substr(digits);
  uint64_t scale = unit.empty() || unit == "ms" ? 1 : unit == "s" ? 1000 : unit == "m" ? 60'000 : unit == "h" ? 3'600'000
                 : unit == "d" ? 86'400'000 : 0;
  if (scale == 0) throw CliError("duration '" + text + "': unit must be ms, s, m, h or d");
  if (n > UINT64_MAX / scale) throw CliError("duration '" + text + "' is too long");
  return n * scale;
}

std::string DurationText(uint64_t ms) {
  if (ms == 0) return "0";
  if (ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

std::string TimeText(uint64_t ms) {
  if (ms == 0) return "-";
  std::time_t s = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&s, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

json ToJson(const google::protobuf::Message& m) {
  std::string text;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(m, &text, options);
  return json::parse(text, nullptr, false);
}

namespace {


// --attr key=value (value all digits -> number, else text), sorted by key.
void ParseAttributes(const std::vector<std::string>& specs, google::protobuf::RepeatedPtrField<v1::Attribute>* out) {
  std::vector<v1::Attribute> attrs;
  for (const auto& spec : specs) {
    auto eq = spec.find('=');
    if (eq == std::string::npos || eq == 0) throw CliError("attribute '" + spec + "' must be key=value");
    v1::Attribute a;
    a.set_key(spec.substr(0, eq));
    std::string value = spec.substr(eq + 1);
    bool number = !value.empty() && value.size() < 20 && std::all_of(value.begin(), value.end(), ::isdigit);
    if (number) a.set_number(ParseUint(value, "attribute " + a.key()));
    else a.set_text(value);
    attrs.push_back(std::move(a));
  }
  std::sort(attrs.begin(), attrs.end(), [](const auto& a, const auto& b) { return a.key() < b.key(); });
  for (auto& a : attrs) *out->Add() = std::move(a);
}

std::string AttributesText(const google::protobuf::RepeatedPtrField<v1::Attribute>& attrs) {
  std::string out;
  for (const auto& a : attrs)
    out += (out.empty() ? "" : ", ") + a.key() + "=" + (a.value_case() == v1::Attribute::kText ? a.text() : std::to_string(a.number()));
  return out.empty() ? "-" : out;
}

const v1::Attribute* Find(const google::protobuf::RepeatedPtrField<v1::Attribute>& attrs, const std::string& key) {
  for (const auto& a : attrs)
    if (a.key() == key) return &a;
  return nullptr;
}

void ParseRequirement(const std::vector<std::string>& auditors, bool any_of, const std::vector<std::string>& keys,
                      Context& ctx, v1::AttestationRequirement* out) {
  std::vector<std::string> sorted;
  for (const auto& a : auditors) sorted.push_back(ctx.ResolveKey(a).bytes());
  std::sort(sorted.begin(), sorted.end());
  for (const auto& a : sorted) out->add_auditors(a);
  out->set_any_of(any_of);
  std::vector<std::string> k = keys;
  std::sort(k.begin(), k.end());
  for (const auto& key : k) out->add_attribute_keys(key);
}

}  // namespace

void AddMarketCommands(CLI::App& app, Context& ctx) {
  // ---------------- provider ----------------
  auto* provider = app.add_subcommand("provider", "provider profiles (typed attributes and an endpoint)")->require_subcommand(1);
  static TxOptions provider_tx;
  static std::vector<std::string> attrs;
  static std::string endpoint, who;
  for (const char* verb : {"register", "update"}) {
    auto* cmd = provider->add_subcommand(verb, std::string(verb) + " the signer's provider profile (replaces all attributes)");
    AddTxOptions(cmd, provider_tx);
    cmd->add_option("--attr", attrs, "attribute key=value, e.g. gpu_model=H100 gpu_count=8 region=eu-west (repeat)");
    cmd->add_option("--endpoint", endpoint, "how renters reach you (opaque text)");
    cmd->callback([&ctx] {
      RunTx(ctx, provider_tx, [&](v1::TxBody& body, const AssetTable&) {
        auto* p = body.mutable_provider_register();
        ParseAttributes(attrs, p->mutable_attributes());
        p->set_endpoint(endpoint);
      });
    });
  }
  auto* pshow = provider->add_subcommand("show", "a provider's profile");
  pshow->add_option("who", who, "provider address or key name")->required();
  pshow->callback([&ctx] {
    auto p = QueryRecord<v1::Provider>(ctx, kProvider, ctx.ResolveKey(who).bytes());
    if (!p) throw CliError(who + " is not a registered provider");
    if (ctx.json_output()) return PrintJson(ToJson(*p));
    PrintFields({{"provider", Addr(p->key())}, {"attributes", AttributesText(p->attributes())}, {"endpoint", p->endpoint()},
                 {"registered", TimeText(p->registered_at_ms())}, {"updated", TimeText(p->updated_at_ms())}});
  });

  // ---------------- attest ----------------
  auto* attest = app.add_subcommand("attest", "auditor attestations of provider attributes")->require_subcommand(1);
  static TxOptions attest_tx;
  static std::vector<std::string> attest_keys;
  static std::string valid_for = "30d";
  auto* acreate = attest->add_subcommand("create", "attest the provider's current values of some attributes");
  AddTxOptions(acreate, attest_tx);
  acreate->add_option("--provider", who, "provider address or key name")->required();
  acreate->add_option("--key", attest_keys, "attribute key to attest (repeat)")->required();
  acreate->add_option("--valid-for", valid_for, "how long the attestation holds, e.g. 30d")->capture_default_str();
  acreate->callback([&ctx] {
    v1::GetStatusResponse head = FetchStatus(ctx);
    RunTx(ctx, attest_tx, [&](v1::TxBody& body, const AssetTable&) {
      auto* a = body.mutable_attestation_create();
      a->set_provider(ctx.ResolveKey(who).bytes());
      std::vector<std::string> keys = attest_keys;
      std::sort(keys.begin(), keys.end());
      for (const auto& k : keys) a->add_attribute_keys(k);
      a->set_expires_at_ms(head.time_ms() + ParseDuration(valid_for));
    });
  });
  auto* arevoke = attest->add_subcommand("revoke", "revoke your attestation of a provider");
  AddTxOptions(arevoke, attest_tx);
  arevoke->add_option("--provider", who, "provider address or key name")->required();
  arevoke->callback([&ctx] {
    RunTx(ctx, attest_tx, [&](v1::TxBody& body, const AssetTable&) {
      body.mutable_attestation_revoke()->set_provider(ctx.ResolveKey(who).bytes());
    });
  });

  // ---------------- offer ----------------
  auto* offer = app.add_subcommand("offer", "standing offers of compute capacity")->require_subcommand(1);
  static TxOptions offer_tx;
  static std::string capacity, price, asset = "USDC", min_duration = "1h", max_duration = "0", billing = "1h", notice = "1h", offer_id;
  static std::vector<std::string> req_auditors, req_keys;
  static bool req_any = false, offer_invoiced = false;
  auto add_terms = [](CLI::App* cmd) {
    cmd->add_option("--resource", attrs, "what one unit is: key=value (repeat), e.g. gpu_model=H100 gpu_memory_gb=80");
    cmd->add_option("--capacity", capacity, "units offered")->required();
    cmd->add_option("--price", price, "price per unit-hour, in the asset's units, e.g. 2.5")->required();
    cmd->add_option("--asset", asset, "payment asset")->capture_default_str();
    cmd->add_option("--min-duration", min_duration, "shortest contract, e.g. 1h")->capture_default_str();
    cmd->add_option("--max-duration", max_duration, "longest contract (0 = open-ended allowed)")->capture_default_str();
    cmd->add_option("--billing-period", billing, "billing period")->capture_default_str();
    cmd->add_option("--notice-period", notice, "notice the provider gives before terminating")->capture_default_str();
    cmd->add_option("--require-auditor", req_auditors, "contracts need an attestation by this auditor (repeat)");
    cmd->add_flag("--require-any", req_any, "any one of the auditors suffices (default: all of them)");
    cmd->add_option("--require-key", req_keys, "attribute keys the attestations must cover (repeat)");
    cmd->add_flag("--invoiced", offer_invoiced, "contracts bill by the provider's invoices (default: charges stream from escrow)");
  };
  auto fill_terms = [&ctx](v1::OfferTerms* t, const AssetTable& assets) {
    ParseAttributes(attrs, t->mutable_resources());
    t->set_capacity_units(ParseUint(capacity, "--capacity"));
    t->set_price_per_unit_hour(ParseAmount(price, assets.Decimals(asset), asset));
    t->set_asset(asset);
    t->set_min_duration_ms(ParseDuration(min_duration));
    t->set_max_duration_ms(ParseDuration(max_duration));
    t->set_billing_period_ms(ParseDuration(billing));
    t->set_notice_period_ms(ParseDuration(notice));
    ParseRequirement(req_auditors, req_any, req_keys, ctx, t->mutable_requirement());
    t->set_invoiced(offer_invoiced);
  };
  auto* opost = offer->add_subcommand("post", "post a standing offer (its id is the txid)");
  AddTxOptions(opost, offer_tx);
  add_terms(opost);
  opost->callback([&ctx, fill_terms] {
    RunTx(ctx, offer_tx, [&](v1::TxBody& body, const AssetTable& assets) { fill_terms(body.mutable_offer_post()->mutable_terms(), assets); });
  });
  auto* oupdate = offer->add_subcommand("update", "replace an offer's terms");
  AddTxOptions(oupdate, offer_tx);
  oupdate->add_option("offer_id", offer_id, "offer id (hex)")->required();
  add_terms(oupdate);
  oupdate->callback([&ctx, fill_terms] {
    RunTx(ctx, offer_tx, [&](v1::TxBody& body, const AssetTable& assets) {
      body.mutable_offer_update()->set_offer_id(IdBytes(offer_id, "offer id"));
      fill_terms(body.mutable_offer_update()->mutable_terms(), assets);
    });
  });
  auto* owithdraw = offer->add_subcommand("withdraw", "withdraw an offer (contracts formed from it go on)");
  AddTxOptions(owithdraw, offer_tx);
  owithdraw->add_option("offer_id", offer_id, "offer id (hex)")->required();
  owithdraw->callback([&ctx] {
    RunTx(ctx, offer_tx, [&](v1::TxBody& body, const AssetTable&) { body.mutable_offer_withdraw()->set_offer_id(IdBytes(offer_id, "offer id")); });
  });
  static std::string f_gpu, f_region, f_max_price, f_attested_by;
  auto* olist = offer->add_subcommand("list", "open offers, filtered");
  olist->add_option("--gpu-model", f_gpu, "only offers whose resources have this gpu_model");
  olist->add_option("--region", f_region, "only providers in this region (provider attribute 'region')");
  olist->add_option("--max-price", f_max_price, "only offers at or below this price per unit-hour (in the offer's asset)");
  olist->add_option("--attested-by", f_attested_by, "only providers with a valid attestation by this auditor");
  olist->callback([&ctx] {
    AssetTable assets = FetchAssets(ctx);
    v1::GetStatusResponse head = FetchStatus(ctx);
    auto index = QueryRecord<v1::IdList>(ctx, kOfferIndex, "open").value_or(v1::IdList());
    json out = json::array();
    std::vector<std::vector<std::string>> rows;
    for (const auto& id : index.ids()) {
      auto o = QueryRecord<v1::Offer>(ctx, kOffer, id);
      if (!o || o->state() != v1::OFFER_STATE_OPEN) continue;
      const auto& t = o->terms();
      const v1::Attribute* gpu = Find(t.resources(), "gpu_model");
      if (!f_gpu.empty() && (!gpu || gpu->text() != f_gpu)) continue;
      auto p = QueryRecord<v1::Provider>(ctx, kProvider, o->provider());
      if (!f_region.empty()) {
        const v1::Attribute* region = p ? Find(p->attributes(), "region") : nullptr;
        if (!region || region->text() != f_region) continue;
      }
      uint32_t decimals = assets.Decimals(t.asset());
      if (!f_max_price.empty() && t.price_per_unit_hour() > ParseAmount(f_max_price, decimals, t.asset())) continue;
      if (!f_attested_by.empty()) {
        auto att = QueryRecord<v1::Attestation>(ctx, kAttestation, ctx.ResolveKey(f_attested_by).bytes() + o->provider());
        if (!att || att->revoked() || att->expires_at_ms() <= head.time_ms()) continue;
      }
      json j = ToJson(*o);
      j["id"] = HexEncode(o->id());
      j["provider_address"] = Addr(o->provider());
      j["free_units"] = t.capacity_units() - o->reserved_units();
      out.push_back(j);
      rows.push_back({HexEncode(o->id()).substr(0, 16), Addr(o->provider()).substr(0, 14) + "…",
                      std::to_string(t.capacity_units() - o->reserved_units()) + "/" + std::to_string(t.capacity_units()),
                      FormatAmount(t.price_per_unit_hour(), decimals, t.asset()), AttributesText(t.resources())});
    }
    if (ctx.json_output()) return PrintJson(out);
    if (rows.empty()) return (void)std::printf("no open offers match\n");
    std::printf("%-16s  %-15s  %-9s  %-20s  %s\n", "OFFER", "PROVIDER", "FREE", "PRICE/UNIT-HOUR", "RESOURCES");
    for (const auto& r : rows) std::printf("%-16s  %-15s  %-9s  %-20s  %s\n", r[0].c_str(), r[1].c_str(), r[2].c_str(), r[3].c_str(), r[4].c_str());
  });
  auto* oshow = offer->add_subcommand("show", "one offer");
  oshow->add_option("offer_id", offer_id, "offer id (hex)")->required();
  oshow->callback([&ctx] {
    auto o = QueryRecord<v1::Offer>(ctx, kOffer, IdBytes(offer_id, "offer id"));
    if (!o) throw CliError("no offer " + offer_id);
    json j = ToJson(*o);
    j["id"] = offer_id;
    PrintJson(j);
  });

  // ---------------- contract ----------------
  auto* contract = app.add_subcommand("contract", "compute contracts: form, fund, close, inspect")->require_subcommand(1);
  static TxOptions contract_tx;
  static std::string units = "1", duration = "0", deposit, start_in = "0", contract_id, provider_who, broker_who, arbiter_who,
                     broker_fee_bps = "0", amount;
  auto* accept = contract->add_subcommand("accept", "rent units of an offer on its terms (renter signs alone)");
  AddTxOptions(accept, contract_tx);
  accept->add_option("offer_id", offer_id, "offer id (hex)")->required();
  accept->add_option("--units", units, "units to rent")->capture_default_str();
  accept->add_option("--duration", duration, "e.g. 7d; 0 = open-ended (if the offer allows)")->capture_default_str();
  accept->add_option("--deposit", deposit, "escrow deposit, in the offer's asset")->required();
  accept->callback([&ctx] {
    auto o = QueryRecord<v1::Offer>(ctx, kOffer, IdBytes(offer_id, "offer id"));
    if (!o) throw CliError("no offer " + offer_id);
    RunTx(ctx, contract_tx, [&](v1::TxBody& body, const AssetTable& assets) {
      auto* a = body.mutable_contract_accept();
      a->set_offer_id(o->id());
      a->set_units(ParseUint(units, "--units"));
      a->set_duration_ms(ParseDuration(duration));
      a->set_deposit(ParseAmount(deposit, assets.Decimals(o->terms().asset()), o->terms().asset()));
    });
  });
  auto* propose = contract->add_subcommand(
      "propose", "a negotiated contract co-signed by renter, provider (and broker): use --generate-only, then `kontor tx sign`");
  AddTxOptions(propose, contract_tx);
  propose->add_option("--provider", provider_who, "provider address or key name")->required();
  propose->add_option("--broker", broker_who, "broker address or key name (co-signs)");
  propose->add_option("--broker-fee-bps", broker_fee_bps, "broker's share of each settlement, basis points")->capture_default_str();
  propose->add_option("--arbiter", arbiter_who, "arbiter address or key name");
  propose->add_option("--units", units, "units")->capture_default_str();
  propose->add_option("--price", price, "price per unit-hour")->required();
  propose->add_option("--asset", asset, "payment asset")->capture_default_str();
  propose->add_option("--duration", duration, "e.g. 30d; 0 = open-ended")->capture_default_str();
  propose->add_option("--billing-period", billing, "billing period")->capture_default_str();
  propose->add_option("--notice-period", notice, "provider's notice period")->capture_default_str();
  propose->add_option("--deposit", deposit, "renter's escrow deposit")->required();
  propose->add_option("--start-in", start_in, "start this long after the head block (0 = when included)")->capture_default_str();
  propose->add_option("--resource", attrs, "what one unit is: key=value (repeat)");
  static std::vector<std::string> metered;
  propose->add_option("--require-auditor", req_auditors, "the provider needs a valid attestation by this auditor when the contract forms (repeat)");
  propose->add_flag("--require-any", req_any, "any one of the auditors suffices (default: all of them)");
  propose->add_option("--require-key", req_keys, "attribute keys the attestations must cover (repeat)");
  static bool invoiced = false;
  static std::string dispute_window = "0";
  propose->add_option("--dispute-window", dispute_window,
                      "invoiced: each invoice's due time is at least this long after its issue, e.g. 3d (the renter's time to dispute)")
      ->capture_default_str();
  propose->add_flag("--invoiced", invoiced,
                    "bill by the provider's invoices, escrow as guarantee (default: charges stream from escrow as they accrue)");
  propose->add_option("--metered", metered, "metered price name=price_per_unit, e.g. egress_gb=0.05 (repeat)");
  propose->callback([&ctx] {
    contract_tx.cosigners = {provider_who};
    if (!broker_who.empty()) contract_tx.cosigners.push_back(broker_who);
    v1::GetStatusResponse head = FetchStatus(ctx);
    RunTx(ctx, contract_tx, [&](v1::TxBody& body, const AssetTable& assets) {
      auto* t = body.mutable_contract_propose()->mutable_terms();
      t->set_renter(ctx.ResolveKey(contract_tx.from).bytes());
      t->set_provider(ctx.ResolveKey(provider_who).bytes());
      if (!broker_who.empty()) t->set_broker(ctx.ResolveKey(broker_who).bytes());
      t->set_broker_fee_bps(static_cast<uint32_t>(ParseUint(broker_fee_bps, "--broker-fee-bps", UINT32_MAX)));
      if (!arbiter_who.empty()) t->set_arbiter(ctx.ResolveKey(arbiter_who).bytes());
      t->set_units(ParseUint(units, "--units"));
      t->set_price_per_unit_hour(ParseAmount(price, assets.Decimals(asset), asset));
      t->set_asset(asset);
      uint64_t start = ParseDuration(start_in);
      if (start != 0) t->set_start_ms(head.time_ms() + start);
      t->set_duration_ms(ParseDuration(duration));
      t->set_billing_period_ms(ParseDuration(billing));
      t->set_notice_period_ms(ParseDuration(notice));
      t->set_deposit(ParseAmount(deposit, assets.Decimals(asset), asset));
      ParseAttributes(attrs, t->mutable_resources());
      t->set_invoiced(invoiced);
      t->set_dispute_window_ms(ParseDuration(dispute_window));
      ParseRequirement(req_auditors, req_any, req_keys, ctx, t->mutable_requirement());
      std::vector<std::string> sorted = metered;
      std::sort(sorted.begin(), sorted.end());
      for (const auto& m : sorted) {
        auto eq = m.find('=');
        if (eq == std::string::npos) throw CliError("--metered '" + m + "' must be name=price");
        auto* mp = t->add_metered();
        mp->set_name(m.substr(0, eq));
        mp->set_price_per_unit(ParseAmount(m.substr(eq + 1), assets.Decimals(asset), asset));
      }
    });
  });
  struct Action {
    const char* name;
    const char* help;
    void (*fill)(v1::TxBody&, const std::string&, const std::string&, const AssetTable&);
  };
  static const Action actions[] = {
      {"topup", "add to a contract's escrow (anyone)",
       [](v1::TxBody& b, const std::string& id, const std::string& amt, const AssetTable&) {
         b.mutable_contract_topup()->set_contract_id(id);
         b.mutable_contract_topup()->set_amount(ParseUint(amt, "amount"));
       }},
      {"close", "renter: end the contract now; charges due are settled, the rest refunded",
       [](v1::TxBody& b, const std::string& id, const std::string&, const AssetTable&) { b.mutable_contract_close()->set_contract_id(id); }},
      {"notice", "provider: announce termination; the contract ends after the notice period",
       [](v1::TxBody& b, const std::string& id, const std::string&, const AssetTable&) { b.mutable_contract_notice()->set_contract_id(id); }},
      {"settle", "settle the time charge due until now (providers: get paid)",
       [](v1::TxBody& b, const std::string& id, const std::string&, const AssetTable&) { b.mutable_contract_settle()->set_contract_id(id); }},
  };
  for (const Action& action : actions) {
    auto* cmd = contract->add_subcommand(action.name, action.help);
    AddTxOptions(cmd, contract_tx);
    cmd->add_option("contract_id", contract_id, "contract id (hex)")->required();
    if (std::string(action.name) == "topup") cmd->add_option("--amount", amount, "amount in the contract's asset")->required();
    cmd->callback([&ctx, &action] {
      std::string id = IdBytes(contract_id, "contract id");
      auto c = QueryRecord<v1::Contract>(ctx, kContract, id);
      if (!c) throw CliError("no contract " + contract_id);
      RunTx(ctx, contract_tx, [&](v1::TxBody& body, const AssetTable& assets) {
        std::string raw = amount.empty() ? "" : std::to_string(ParseAmount(amount, assets.Decimals(c->terms().asset()), c->terms().asset()));
        action.fill(body, id, raw, assets);
      });
    });
  }
  auto* cshow = contract->add_subcommand("show", "a contract: parties, terms, escrow left, time left, state");
  cshow->add_option("contract_id", contract_id, "contract id (hex)")->required();
  cshow->callback([&ctx] {
    auto c = QueryRecord<v1::Contract>(ctx, kContract, IdBytes(contract_id, "contract id"));
    if (!c) throw CliError("no contract " + contract_id);
    AssetTable assets = FetchAssets(ctx);
    v1::GetStatusResponse head = FetchStatus(ctx);
    const auto& t = c->terms();
    uint32_t d = assets.Decimals(t.asset());
    uint64_t escrow = 0;
    for (const auto& e : c->escrow()) escrow += e.amount();
    // Escrow left after the charge accrued up to the head block (the ledger's own formula, with
    // its end and notice caps), and time left at the current rate.
    unsigned __int128 rate = static_cast<unsigned __int128>(t.units()) * t.price_per_unit_hour();
    uint64_t until = c->state() == v1::CONTRACT_STATE_CLOSED ? c->closed_at_ms() : head.time_ms();
    uint64_t accrued = UINT64_MAX;
    (void)contracts::Accrued(*c, until, &accrued);  // overflow: everything is due
    uint64_t due = accrued > c->charged() ? accrued - c->charged() : 0;
    uint64_t reserved = c->owed() + c->locked();
    uint64_t free = escrow > reserved ? escrow - reserved : 0;
    uint64_t left = free > due ? free - due : 0;
    uint64_t time_left = rate ? static_cast<uint64_t>(static_cast<unsigned __int128>(left) * 3'600'000 / rate) : 0;
    static const char* states[] = {"unspecified", "active", "notice", "closed"};
    std::string reason = v1::CloseReason_Name(c->close_reason());
    if (ctx.json_output()) {
      json j = ToJson(*c);
      j["id"] = contract_id;
      j["escrow_total"] = std::to_string(escrow);
      j["charge_due"] = std::to_string(due);
      j["escrow_left"] = std::to_string(left);
      j["billing"] = t.invoiced() ? "invoiced" : "escrow";
      j["time_left_ms"] = time_left;
      return PrintJson(j);
    }
    PrintFields({{"contract", contract_id},
                 {"state", std::string(states[c->state()]) + (c->state() == v1::CONTRACT_STATE_CLOSED ? " (" + reason + ")" : "")},
                 {"renter", Addr(t.renter())},
                 {"provider", Addr(t.provider())},
                 {"broker", t.broker().empty() ? "-" : Addr(t.broker()) + " (" + std::to_string(t.broker_fee_bps()) + " bps)"},
                 {"arbiter", Addr(t.arbiter())},
                 {"units", std::to_string(t.units()) + (t.resources_size() ? " x " + AttributesText(t.resources()) : "")},
                 {"price", FormatAmount(t.price_per_unit_hour(), d, t.asset()) + " per unit-hour"},
                 {"start", TimeText(t.start_ms())},
                 {"end", c->end_ms() ? TimeText(c->end_ms()) : "open-ended"},
                 {"notice period", DurationText(t.notice_period_ms())},
                 {"escrow", FormatAmount(escrow, d, t.asset()) + " (" + std::to_string(c->escrow_size()) + " deposit(s))"},
                 {"billing", t.invoiced() ? "by invoice (invoiced until " + TimeText(c->invoiced_until_ms()) + ", " +
                                                std::to_string(c->open_invoices_size()) + " open)" : "streamed from escrow"},
                 {t.invoiced() ? "not invoiced" : "charge due", FormatAmount(due, d, t.asset())},
                 {"escrow reserved", FormatAmount(c->owed(), d, t.asset()) + " owed to invoices, " + FormatAmount(c->locked(), d, t.asset()) + " locked by disputes"},
                 {"escrow left", FormatAmount(left, d, t.asset())},
                 {"time left", c->state() == v1::CONTRACT_STATE_CLOSED ? "-" : DurationText(time_left / 1000 * 1000) + " at the current rate"},
                 {"paid provider", FormatAmount(c->paid_provider(), d, t.asset())},
                 {"paid broker", FormatAmount(c->paid_broker(), d, t.asset())},
                 {"refunded", FormatAmount(c->refunded(), d, t.asset())},
                 {"ends at", c->state() == v1::CONTRACT_STATE_NOTICE ? TimeText(c->termination_at_ms()) : "-"},
                 {"closed at", TimeText(c->closed_at_ms())}});
  });
  auto* clist = contract->add_subcommand("list", "contracts where a key is renter, provider or broker");
  clist->add_option("who", who, "address or key name")->required();
  clist->callback([&ctx] {
    auto index = QueryRecord<v1::IdList>(ctx, kPartyIndex, ctx.ResolveKey(who).bytes()).value_or(v1::IdList());
    json out = json::array();
    static const char* states[] = {"unspecified", "active", "notice", "closed"};
    for (const auto& id : index.ids()) {
      auto c = QueryRecord<v1::Contract>(ctx, kContract, id);
      if (!c) continue;
      std::string role = c->terms().renter() == ctx.ResolveKey(who).view() ? "renter"
                         : c->terms().provider() == ctx.ResolveKey(who).view() ? "provider" : "broker";
      out.push_back({{"id", HexEncode(id)}, {"role", role}, {"state", states[c->state()]},
                     {"close_reason", v1::CloseReason_Name(c->close_reason())}});
      if (!ctx.json_output()) std::printf("%s  %-8s  %s\n", HexEncode(id).c_str(), role.c_str(), states[c->state()]);
    }
    if (ctx.json_output()) PrintJson(out);
  });

  // ---------------- usage ----------------
  auto* usage = app.add_subcommand("usage", "metered usage reports (provider)")->require_subcommand(1);
  static TxOptions usage_tx;
  static std::vector<std::string> quantities;
  auto* ureport = usage->add_subcommand("report", "report cumulative metered usage; the increase is charged from escrow");
  AddTxOptions(ureport, usage_tx);
  ureport->add_option("contract_id", contract_id, "contract id (hex)")->required();
  ureport->add_option("--cumulative", quantities, "name=quantity since the start, e.g. egress_gb=120 (repeat)")->required();
  ureport->callback([&ctx] {
    std::string id = IdBytes(contract_id, "contract id");
    auto c = QueryRecord<v1::Contract>(ctx, kContract, id);
    if (!c) throw CliError("no contract " + contract_id);
    RunTx(ctx, usage_tx, [&](v1::TxBody& body, const AssetTable&) {
      auto* u = body.mutable_usage_report();
      u->set_contract_id(id);
      u->set_previous_report(c->last_usage_report());
      std::vector<std::string> sorted = quantities;
      std::sort(sorted.begin(), sorted.end());
      for (const auto& q : sorted) {
        auto eq = q.find('=');
        if (eq == std::string::npos) throw CliError("--cumulative '" + q + "' must be name=quantity");
        auto* a = u->add_cumulative();
        a->set_name(q.substr(0, eq));
        a->set_quantity(ParseUint(q.substr(eq + 1), "usage quantity"));
      }
    });
  });

  // ---------------- reputation ----------------
  auto* reputation = app.add_subcommand("reputation", "facts the ledger counted for a key as provider and as renter");
  reputation->add_option("who", who, "address or key name")->required();
  reputation->callback([&ctx] {
    auto r = QueryRecord<v1::Reputation>(ctx, kReputation, ctx.ResolveKey(who).bytes()).value_or(v1::Reputation());
    if (ctx.json_output()) {
      json j = {{"address", Addr(ctx.ResolveKey(who).bytes())},
                {"provider_completed", r.provider_completed()}, {"provider_terminated_early", r.provider_terminated_early()},
                {"provider_insufficient_funds", r.provider_insufficient_funds()}, {"renter_completed", r.renter_completed()},
                {"renter_closed_early", r.renter_closed_early()}, {"renter_insufficient_funds", r.renter_insufficient_funds()},
                {"renter_invoices_disputed", r.renter_invoices_disputed()}, {"renter_invoices_paid_late", r.renter_invoices_paid_late()},
                {"provider_invoices_disputed", r.provider_invoices_disputed()},
                {"provider_invoices_paid_late", r.provider_invoices_paid_late()}, {"provider_invoices_voided", r.provider_invoices_voided()}};
      return PrintJson(j);
    }
    PrintFields({{"address", Addr(ctx.ResolveKey(who).bytes())},
                 {"as provider", std::to_string(r.provider_completed()) + " completed, " + std::to_string(r.provider_terminated_early()) +
                                     " terminated early, " + std::to_string(r.provider_insufficient_funds()) + " ended by renters' escrow running dry"},
                 {"as renter", std::to_string(r.renter_completed()) + " completed, " + std::to_string(r.renter_closed_early()) +
                                   " closed early, " + std::to_string(r.renter_insufficient_funds()) + " ran out of escrow"},
                 {"invoices as provider", std::to_string(r.provider_invoices_disputed()) + " disputed, " +
                                              std::to_string(r.provider_invoices_voided()) + " voided, " +
                                              std::to_string(r.provider_invoices_paid_late()) + " paid late"},
                 {"invoices as renter", std::to_string(r.renter_invoices_disputed()) + " disputed, " +
                                            std::to_string(r.renter_invoices_paid_late()) + " paid late"}});
  });

  // ---------------- asset ----------------
  auto* assetcmd = app.add_subcommand("asset", "bridged assets: deposits recorded by the gateway, withdrawals")->require_subcommand(1);
  static TxOptions asset_tx;
  static std::string network, external_txid, beneficiary, destination;
  auto* adeposit = assetcmd->add_subcommand("deposit", "gateway: record a deposit that arrived on the external chain");
  AddTxOptions(adeposit, asset_tx);
  adeposit->add_option("--asset", asset, "asset")->required();
  adeposit->add_option("--amount", amount, "amount")->required();
  adeposit->add_option("--to", beneficiary, "beneficiary address or key name")->required();
  adeposit->add_option("--network", network, "external chain, e.g. ethereum")->required();
  adeposit->add_option("--external-txid", external_txid, "the deposit's tx id on that chain")->required();
  adeposit->callback([&ctx] {
    RunTx(ctx, asset_tx, [&](v1::TxBody& body, const AssetTable& assets) {
      auto* d = body.mutable_asset_deposit();
      d->set_asset(asset);
      d->set_amount(ParseAmount(amount, assets.Decimals(asset), asset));
      d->set_beneficiary(ctx.ResolveKey(beneficiary).bytes());
      d->set_network(network);
      d->set_external_txid(external_txid);
    });
  });
  auto* awithdraw = assetcmd->add_subcommand("withdraw", "burn an amount here to be paid out on the external chain");
  AddTxOptions(awithdraw, asset_tx);
  awithdraw->add_option("--asset", asset, "asset")->required();
  awithdraw->add_option("--amount", amount, "amount")->required();
  awithdraw->add_option("--network", network, "external chain")->required();
  awithdraw->add_option("--destination", destination, "address on the external chain")->required();
  awithdraw->callback([&ctx] {
    RunTx(ctx, asset_tx, [&](v1::TxBody& body, const AssetTable& assets) {
      auto* w = body.mutable_asset_withdraw();
      w->set_asset(asset);
      w->set_amount(ParseAmount(amount, assets.Decimals(asset), asset));
      w->set_network(network);
      w->set_destination(destination);
    });
  });
}

}  // namespace kontor::cli
