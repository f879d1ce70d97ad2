// Scenario tests for the compute-rental application (contracts/): bridged assets, providers and
// attestations, offers, contracts formed by accepting an offer or by a co-signed proposal, time
// charges, escrow and closing, and the supply they must conserve.
//
// Every scenario runs through the in-process TestEnv, so every block it closes has also passed
// the ledger's invariants (supply incl. escrow, legal transitions): Close() throws otherwise.
// Expected amounts are worked out by hand from the rule in contracts/escrow.h:
//     accrued(t) = floor(units * price_per_unit_hour * (min(t, end) - start) / 3_600_000)
//     broker     = floor(pay * bps / 10_000) of each payment, the provider the rest.
#include <algorithm>
#include <catch2/catch.hpp>
#include <limits>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;  // ApplyAfter, ExpectOk, ExpectRejected, Terms, Propose, ...
using kontor::contracts::Kind;
using kontor::test::CloseResult;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

namespace {

// ---- Records ----

v1::Offer OfferOf(TestEnv& env, const std::string& id) {
  auto o = contracts::Load<v1::Offer>(env.chain().state(), Kind::kOffer, id);
  REQUIRE(o.has_value());
  return *o;
}
v1::Asset AssetOf(TestEnv& env, const std::string& symbol) {
  auto a = LoadAsset(env.chain().state(), symbol);
  REQUIRE(a.has_value());
  return *a;
}

// ---- Payloads ----

v1::Attribute Text(const std::string& key, const std::string& value) {
  v1::Attribute a;
  a.set_key(key);
  a.set_text(value);
  return a;
}
v1::Attribute Number(const std::string& key, uint64_t value) {
  v1::Attribute a;
  a.set_key(key);
  a.set_number(value);
  return a;
}
std::vector<v1::Attribute> GpuProfile(const std::string& model = "H100") {
  return {Number("gpu_count", 8), Text("gpu_model", model), Text("region", "eu-west")};
}

std::string Withdraw(TestEnv& env, const std::string& signer, const std::string& asset, uint64_t amount) {
  return env.Build({signer}, [&](v1::TxBody& b) {
    auto* w = b.mutable_asset_withdraw();
    w->set_asset(asset);
    w->set_amount(amount);
    w->set_network("ethereum");
    w->set_destination("0x00000000000000000000000000000000000000b0");
  });
}
std::string Register(TestEnv& env, const std::string& provider, const std::vector<v1::Attribute>& attributes,
                     const std::string& endpoint = "https://gpu.example") {
  return env.Build({provider}, [&](v1::TxBody& b) {
    auto* p = b.mutable_provider_register();
    for (const auto& a : attributes) *p->add_attributes() = a;
    p->set_endpoint(endpoint);
  });
}
std::string Attest(TestEnv& env, const std::string& auditor, const std::string& provider,
                   const std::vector<std::string>& keys, uint64_t expires_at_ms) {
  return env.Build({auditor}, [&](v1::TxBody& b) {
    auto* a = b.mutable_attestation_create();
    a->set_provider(env.Pub(provider).bytes());
    for (const auto& k : keys) a->add_attribute_keys(k);
    a->set_expires_at_ms(expires_at_ms);
  });
}
std::string Revoke(TestEnv& env, const std::string& auditor, const std::string& provider) {
  return env.Build({auditor}, [&](v1::TxBody& b) { b.mutable_attestation_revoke()->set_provider(env.Pub(provider).bytes()); });
}

// 1 unit = one GPU; price 3_600_000 per unit-hour is 1 per unit per ms.
v1::OfferTerms Offer(uint64_t capacity = 4, uint64_t price = 3'600'000) {
  v1::OfferTerms t;
  *t.add_resources() = Number("gpu_count", 1);
  t.set_capacity_units(capacity);
  t.set_price_per_unit_hour(price);
  t.set_asset("USDC");
  t.set_billing_period_ms(60'000);
  t.set_notice_period_ms(5'000);
  return t;
}
std::string PostOffer(TestEnv& env, const std::string& provider, const v1::OfferTerms& terms) {
  return env.Build({provider}, [&](v1::TxBody& b) { *b.mutable_offer_post()->mutable_terms() = terms; });
}
std::string UpdateOffer(TestEnv& env, const std::string& signer, const std::string& offer_id, const v1::OfferTerms& terms) {
  return env.Build({signer}, [&](v1::TxBody& b) {
    b.mutable_offer_update()->set_offer_id(offer_id);
    *b.mutable_offer_update()->mutable_terms() = terms;
  });
}
std::string WithdrawOffer(TestEnv& env, const std::string& signer, const std::string& offer_id) {
  return env.Build({signer}, [&](v1::TxBody& b) { b.mutable_offer_withdraw()->set_offer_id(offer_id); });
}
std::string Accept(TestEnv& env, const std::string& renter, const std::string& offer_id, uint64_t units, uint64_t deposit,
                   uint64_t duration_ms = 0, uint64_t start_ms = 0) {
  return env.Build({renter}, [&](v1::TxBody& b) {
    auto* a = b.mutable_contract_accept();
    a->set_offer_id(offer_id);
    a->set_units(units);
    a->set_deposit(deposit);
    a->set_duration_ms(duration_ms);
    a->set_start_ms(start_ms);
  });
}

// dave registers with the GPU profile and posts `terms`; returns the offer id.
std::string DaveOffers(TestEnv& env, const v1::OfferTerms& terms) {
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  std::string post = PostOffer(env, "dave", terms);
  std::string id = IdOf(post);
  ExpectOk(env, std::move(post));
  return id;
}

}  // namespace

// ============================================================================================
// 1. Assets
// ============================================================================================

TEST_CASE("assets: the gateway deposits, holders withdraw, each external tx once", "[contracts]") {
  TestEnv env;
  FundGateway(env);
  CHECK(AssetOf(env, "USDC").deposited() == 0);
  CHECK(AssetOf(env, "USDC").withdrawn() == 0);
  CHECK(AssetOf(env, "USDC").genesis_supply() == 4 * kFunding);

  ExpectOk(env, Deposit(env, "gateway", "USDC", 5'000'000, "bob", "ethereum", "0xaaa"));
  CHECK(env.Balance("bob", "USDC") == kFunding + 5'000'000);
  CHECK(AssetOf(env, "USDC").deposited() == 5'000'000);
  auto marker = contracts::Load<v1::ExternalTx>(env.chain().state(), Kind::kExternalTx,
                                                contracts::ExternalTxId("ethereum", "0xaaa"));
  REQUIRE(marker.has_value());
  CHECK(marker->height() == env.chain().height());

  SECTION("the same (network, external tx) again is a duplicate, whatever the amount or beneficiary") {
    ExpectRejected(env, Deposit(env, "gateway", "USDC", 5'000'000, "bob", "ethereum", "0xaaa"), Code::kDuplicate);
    ExpectRejected(env, Deposit(env, "gateway", "USDC", 1, "carol", "ethereum", "0xaaa"), Code::kDuplicate);
    CHECK(env.Balance("bob", "USDC") == kFunding + 5'000'000);
    CHECK(env.Balance("carol", "USDC") == kFunding);
    // The same external id on another network is another tx.
    ExpectOk(env, Deposit(env, "gateway", "USDC", 1'000'000, "carol", "base", "0xaaa"));
    CHECK(env.Balance("carol", "USDC") == kFunding + 1'000'000);
    CHECK(AssetOf(env, "USDC").deposited() == 6'000'000);
  }
  SECTION("only the gateway records deposits, of bridged assets, of a positive amount") {
    ExpectRejected(env, Deposit(env, "alice", "USDC", 1'000, "alice", "ethereum", "0xbbb"), Code::kNotAuthorized);
    ExpectRejected(env, Deposit(env, "bob", "USDC", 1'000, "bob", "ethereum", "0xbbb"), Code::kNotAuthorized);
    ExpectRejected(env, Deposit(env, "gateway", "KTR", 1'000, "bob", "ethereum", "0xbbb"), Code::kWrongState);
    ExpectRejected(env, Deposit(env, "gateway", "USDC", 0, "bob", "ethereum", "0xbbb"), Code::kBadAmount);
    ExpectRejected(env, Deposit(env, "gateway", "EUR", 1'000, "bob", "ethereum", "0xbbb"), Code::kUnknownAsset);
    ExpectRejected(env, Deposit(env, "gateway", "USDC", 1'000, "bob", "", "0xbbb"), Code::kBadField);
    CHECK(env.Balance("alice", "USDC") == kFunding);
    CHECK(env.Balance("bob", "USDC") == kFunding + 5'000'000);
    CHECK(AssetOf(env, "USDC").deposited() == 5'000'000);
    // None of them used up the external id.
    ExpectOk(env, Deposit(env, "gateway", "USDC", 1'000, "bob", "ethereum", "0xbbb"));
    CHECK(env.Balance("bob", "USDC") == kFunding + 5'001'000);
  }
  SECTION("withdrawals burn the holder's balance and count as withdrawn") {
    ExpectOk(env, Withdraw(env, "bob", "USDC", 2'000'000));
    CHECK(env.Balance("bob", "USDC") == kFunding + 3'000'000);
    CHECK(AssetOf(env, "USDC").withdrawn() == 2'000'000);
    CHECK(AssetOf(env, "USDC").deposited() == 5'000'000);
    ExpectRejected(env, Withdraw(env, "bob", "USDC", kFunding + 3'000'001), Code::kInsufficientFunds);
    ExpectRejected(env, Withdraw(env, "bob", "USDC", 0), Code::kBadAmount);
    ExpectRejected(env, Withdraw(env, "bob", "KTR", 1'000), Code::kWrongState);
    // The whole balance may go.
    ExpectOk(env, Withdraw(env, "bob", "USDC", kFunding + 3'000'000));
    CHECK(env.Balance("bob", "USDC") == 0);
    CHECK(AssetOf(env, "USDC").withdrawn() == kFunding + 5'000'000);
  }
  SECTION("a deposit that would take the asset's supply (so any balance) past 2^64-1 overflows") {
    const uint64_t bob_has = kFunding + 5'000'000;
    v1::Asset usdc = AssetOf(env, "USDC");
    const uint64_t supply = usdc.genesis_supply() + usdc.deposited() - usdc.withdrawn();
    ExpectRejected(env, Deposit(env, "gateway", "USDC", kMax - supply + 1, "bob", "ethereum", "0xccc"), Code::kOverflow);
    CHECK(env.Balance("bob", "USDC") == bob_has);
    ExpectOk(env, Deposit(env, "gateway", "USDC", kMax - supply, "bob", "ethereum", "0xccc"));
    CHECK(env.Balance("bob", "USDC") == bob_has + (kMax - supply));
    CHECK(AssetOf(env, "USDC").deposited() == usdc.deposited() + (kMax - supply));
    // The supply is full: not one more unit, to anyone.
    ExpectRejected(env, Deposit(env, "gateway", "USDC", 1, "carol", "ethereum", "0xddd"), Code::kOverflow);
    CHECK(env.Balance("carol", "USDC") == kFunding);
  }
}

TEST_CASE("assets: an 18-decimal asset keeps its bridge open long after 2^64 units have moved through it",
          "[contracts]") {
  using U128 = unsigned __int128;
  test::TestEnvOptions options;
  options.extra_bridged_assets = {{"WETH", 18}};
  TestEnv env(options);
  FundGateway(env);
  const uint64_t token = 1'000'000'000'000'000'000;  // 10^18: one WETH
  REQUIRE(AssetOf(env, "WETH").decimals() == 18);
  REQUIRE(AssetOf(env, "WETH").genesis_supply() == 0);
  // 2^64-1 units are 18.45 WETH: before, the bridge closed once that much had ever come in.
  // 40 rounds of 10 WETH in and 9.9 WETH out (400 WETH deposited, 396 withdrawn), 2 rounds a
  // block; what is outstanding stays below 14.1 WETH.
  const uint64_t out = 9 * token + 9 * token / 10;
  U128 deposited = 0, withdrawn = 0;
  uint64_t bob_has = 0;
  for (int round = 0; round < 40; ++round) {
    env.Submit(Deposit(env, "gateway", "WETH", 10 * token, "bob", "ethereum", "0xw" + std::to_string(round)));
    env.Submit(Withdraw(env, "bob", "WETH", out));
    if (round % 2 == 1) REQUIRE(env.Close().rejected.empty());  // 2 rounds a block
    deposited += 10 * U128(token);
    withdrawn += out;
    bob_has += token / 10;
  }
  CHECK(env.Balance("bob", "WETH") == bob_has);
  CHECK(bob_has == 4 * token);
  v1::Asset weth = AssetOf(env, "WETH");
  CHECK(DepositedTotal(weth) == deposited);
  CHECK(WithdrawnTotal(weth) == withdrawn);
  CHECK(weth.deposited_hi() == static_cast<uint64_t>(deposited >> 64));
  CHECK(weth.deposited_hi() == 21);  // 400 * 10^18 / 2^64 = 21.68
  CHECK(weth.withdrawn_hi() == 21);  // 396 * 10^18 / 2^64 = 21.47
  CHECK(weth.deposited() == static_cast<uint64_t>(deposited));
  CHECK(OutstandingSupply(weth) == std::optional<uint64_t>(4 * token));

  // What is outstanding is still bounded by 2^64-1: up to it, and not one unit more.
  const uint64_t room = kMax - 4 * token;
  ExpectRejected(env, Deposit(env, "gateway", "WETH", room + 1, "carol", "ethereum", "0xfull"), Code::kOverflow);
  ExpectOk(env, Deposit(env, "gateway", "WETH", room, "carol", "ethereum", "0xfull"));
  ExpectRejected(env, Deposit(env, "gateway", "WETH", 1, "carol", "ethereum", "0xmore"), Code::kOverflow);
  // A withdrawal makes room again.
  ExpectOk(env, Withdraw(env, "carol", "WETH", token));
  ExpectOk(env, Deposit(env, "gateway", "WETH", token, "alice", "ethereum", "0xmore"));
  CHECK(env.Balance("alice", "WETH") == token);
  CHECK(env.Balance("carol", "WETH") == room - token);
  weth = AssetOf(env, "WETH");
  CHECK(OutstandingSupply(weth) == std::optional<uint64_t>(kMax));
  CHECK(DepositedTotal(weth) == deposited + room + token);
  CHECK(WithdrawnTotal(weth) == withdrawn + token);
}

// ============================================================================================
// 2. Providers and attestations
// ============================================================================================

TEST_CASE("providers: typed, sorted profiles, re-registering keeps registered_at", "[contracts]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile(), "grpc://dave:9000"));
  const uint64_t t1 = env.now_ms();
  auto p = contracts::Load<v1::Provider>(env.chain().state(), Kind::kProvider, env.Pub("dave").bytes());
  REQUIRE(p.has_value());
  CHECK(p->key() == env.Pub("dave").bytes());
  REQUIRE(p->attributes_size() == 3);
  CHECK(p->attributes(0).key() == "gpu_count");
  CHECK(p->attributes(0).number() == 8);
  CHECK(p->attributes(1).key() == "gpu_model");
  CHECK(p->attributes(1).text() == "H100");
  CHECK(p->attributes(2).key() == "region");
  CHECK(p->attributes(2).text() == "eu-west");
  CHECK(p->endpoint() == "grpc://dave:9000");
  CHECK(p->registered_at_ms() == t1);
  CHECK(p->updated_at_ms() == t1);

  // Unsorted, repeated, badly named or valueless attributes.
  ExpectRejected(env, Register(env, "bob", {Text("gpu_model", "H100"), Number("gpu_count", 8)}), Code::kBadField);
  ExpectRejected(env, Register(env, "bob", {Number("gpu_count", 8), Number("gpu_count", 4)}), Code::kBadField);
  ExpectRejected(env, Register(env, "bob", {Number("GPU_count", 8)}), Code::kBadField);
  v1::Attribute no_value;
  no_value.set_key("gpu_count");
  ExpectRejected(env, Register(env, "bob", {no_value}), Code::kBadField);
  CHECK_FALSE(contracts::Load<v1::Provider>(env.chain().state(), Kind::kProvider, env.Pub("bob").bytes()).has_value());

  // An update replaces the profile, keeps registered_at.
  ExpectOk(env, Register(env, "dave", {Number("gpu_count", 4), Text("gpu_model", "A100")}, "grpc://dave:9001"), 5'000);
  const uint64_t t2 = env.now_ms();
  REQUIRE(t2 > t1);
  p = contracts::Load<v1::Provider>(env.chain().state(), Kind::kProvider, env.Pub("dave").bytes());
  REQUIRE(p.has_value());
  REQUIRE(p->attributes_size() == 2);
  CHECK(p->attributes(0).number() == 4);
  CHECK(p->attributes(1).text() == "A100");
  CHECK(p->endpoint() == "grpc://dave:9001");
  CHECK(p->registered_at_ms() == t1);
  CHECK(p->updated_at_ms() == t2);
}

TEST_CASE("attestations: of present keys, unexpired at creation, revocable once", "[contracts]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  const uint64_t expiry = env.now_ms() + 3'600'000;
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_count", "gpu_model"}, expiry));
  const uint64_t created = env.now_ms();
  const std::string id = contracts::AttestationId(env.Pub("carol").bytes(), env.Pub("dave").bytes());
  auto att = contracts::Load<v1::Attestation>(env.chain().state(), Kind::kAttestation, id);
  REQUIRE(att.has_value());
  CHECK(att->auditor() == env.Pub("carol").bytes());
  CHECK(att->provider() == env.Pub("dave").bytes());
  REQUIRE(att->attested_size() == 2);
  CHECK(att->attested(0).key() == "gpu_count");
  CHECK(att->attested(0).number() == 8);
  CHECK(att->attested(1).key() == "gpu_model");
  CHECK(att->attested(1).text() == "H100");
  CHECK(att->expires_at_ms() == expiry);
  CHECK(att->created_at_ms() == created);
  CHECK_FALSE(att->revoked());

  // A key the profile lacks; an unregistered provider; unsorted keys; no keys; no expiry.
  ExpectRejected(env, Attest(env, "carol", "dave", {"gpu_count", "vram_gb"}, expiry), Code::kNotFound);
  ExpectRejected(env, Attest(env, "carol", "bob", {"gpu_count"}, expiry), Code::kNotFound);
  ExpectRejected(env, Attest(env, "carol", "dave", {"gpu_model", "gpu_count"}, expiry), Code::kBadField);
  ExpectRejected(env, Attest(env, "carol", "dave", {}, expiry), Code::kBadField);
  ExpectRejected(env, Attest(env, "carol", "dave", {"gpu_count"}, 0), Code::kBadField);
  // Expired when created: an expiry at (or before) the block's time.
  ExpectRejected(env, Attest(env, "bob", "dave", {"gpu_count"}, env.now_ms() + 1000), Code::kTooLate);
  ExpectRejected(env, Attest(env, "bob", "dave", {"gpu_count"}, env.now_ms() - 1), Code::kTooLate);
  ExpectOk(env, Attest(env, "bob", "dave", {"gpu_count"}, env.now_ms() + 1001));

  // Revoke: once by its auditor; a second time is the wrong state; no attestation: not found.
  ExpectOk(env, Revoke(env, "carol", "dave"));
  att = contracts::Load<v1::Attestation>(env.chain().state(), Kind::kAttestation, id);
  REQUIRE(att.has_value());
  CHECK(att->revoked());
  CHECK(att->attested_size() == 2);
  ExpectRejected(env, Revoke(env, "carol", "dave"), Code::kWrongState);
  ExpectRejected(env, Revoke(env, "alice", "dave"), Code::kNotFound);
}

// ============================================================================================
// 3. Offers
// ============================================================================================

TEST_CASE("offers: post, update, withdraw", "[contracts]") {
  TestEnv env;
  ExpectRejected(env, PostOffer(env, "dave", Offer()), Code::kNotFound);  // not registered yet
  ExpectOk(env, Register(env, "dave", GpuProfile()));

  ExpectRejected(env, PostOffer(env, "dave", Offer(0, 3'600'000)), Code::kBadAmount);
  ExpectRejected(env, PostOffer(env, "dave", Offer(4, 0)), Code::kBadAmount);
  v1::OfferTerms bad = Offer();
  bad.set_min_duration_ms(60'000);
  bad.set_max_duration_ms(59'999);
  ExpectRejected(env, PostOffer(env, "dave", bad), Code::kBadField);
  bad = Offer();
  bad.set_asset("EUR");
  ExpectRejected(env, PostOffer(env, "dave", bad), Code::kUnknownAsset);
  bad = Offer();
  bad.set_billing_period_ms(0);
  ExpectRejected(env, PostOffer(env, "dave", bad), Code::kBadField);
  ExpectRejected(env, PostOffer(env, "dave", Offer(2, kMax / 2 + 1)), Code::kOverflow);  // capacity x price

  std::string post = PostOffer(env, "dave", Offer());
  const std::string offer_id = IdOf(post);
  ExpectOk(env, post);
  v1::Offer o = OfferOf(env, offer_id);
  CHECK(o.id() == offer_id);
  CHECK(o.provider() == env.Pub("dave").bytes());
  CHECK(o.state() == v1::OFFER_STATE_OPEN);
  CHECK(o.terms().capacity_units() == 4);
  CHECK(o.terms().price_per_unit_hour() == 3'600'000);
  CHECK(o.reserved_units() == 0);
  CHECK(o.posted_at_ms() == env.now_ms());

  ExpectRejected(env, UpdateOffer(env, "alice", offer_id, Offer(8)), Code::kNotAuthorized);
  ExpectRejected(env, UpdateOffer(env, "dave", std::string(32, '\x01'), Offer(8)), Code::kNotFound);

  // alice takes 3 units; capacity may then not drop below 3.
  std::string accept = Accept(env, "alice", offer_id, 3, 100'000);
  const std::string contract_id = IdOf(accept);
  ExpectOk(env, accept);
  CHECK(OfferOf(env, offer_id).reserved_units() == 3);
  ExpectRejected(env, UpdateOffer(env, "dave", offer_id, Offer(2, 3'600'000)), Code::kInsufficientCapacity);
  ExpectOk(env, UpdateOffer(env, "dave", offer_id, Offer(3, 7'200'000)));
  o = OfferOf(env, offer_id);
  CHECK(o.terms().capacity_units() == 3);
  CHECK(o.terms().price_per_unit_hour() == 7'200'000);
  CHECK(o.reserved_units() == 3);
  // The contract keeps the price it was formed at.
  CHECK(ContractOf(env, contract_id).terms().price_per_unit_hour() == 3'600'000);

  ExpectRejected(env, WithdrawOffer(env, "alice", offer_id), Code::kNotAuthorized);
  ExpectOk(env, WithdrawOffer(env, "dave", offer_id));
  o = OfferOf(env, offer_id);
  CHECK(o.state() == v1::OFFER_STATE_WITHDRAWN);
  CHECK(o.reserved_units() == 3);
  ExpectRejected(env, Accept(env, "bob", offer_id, 1, 100'000), Code::kWrongState);
  ExpectRejected(env, UpdateOffer(env, "dave", offer_id, Offer(5)), Code::kWrongState);
  ExpectRejected(env, WithdrawOffer(env, "dave", offer_id), Code::kWrongState);
  // The contract formed from it goes on, and releases its units on the withdrawn offer when it closes.
  CHECK(ContractOf(env, contract_id).state() == v1::CONTRACT_STATE_ACTIVE);
  ExpectOk(env, CloseContract(env, "alice", contract_id));
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK(OfferOf(env, offer_id).state() == v1::OFFER_STATE_WITHDRAWN);
}

// ============================================================================================
// 4. Contracts formed by accepting an offer
// ============================================================================================

TEST_CASE("accept: reserves units, moves the deposit into escrow, checks capacity and duration", "[contracts]") {
  TestEnv env;
  v1::OfferTerms terms = Offer(4, 3'600'000);
  terms.set_min_duration_ms(60'000);
  terms.set_max_duration_ms(3'600'000);
  const std::string offer_id = DaveOffers(env, terms);

  std::string accept = Accept(env, "alice", offer_id, 3, 1'000'000, 600'000);
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  const uint64_t tf = env.now_ms();
  CHECK(OfferOf(env, offer_id).reserved_units() == 3);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.id() == id);
  CHECK(c.offer_id() == offer_id);
  CHECK(c.state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(c.terms().renter() == env.Pub("alice").bytes());
  CHECK(c.terms().provider() == env.Pub("dave").bytes());
  CHECK(c.terms().units() == 3);
  CHECK(c.terms().price_per_unit_hour() == 3'600'000);
  CHECK(c.terms().asset() == "USDC");
  CHECK(c.terms().deposit() == 1'000'000);
  CHECK(c.terms().notice_period_ms() == 5'000);
  CHECK(c.terms().start_ms() == tf);
  CHECK(c.formed_at_ms() == tf);
  CHECK(c.end_ms() == tf + 600'000);
  CHECK(c.charged() == 0);
  REQUIRE(c.escrow_size() == 1);
  CHECK(c.escrow(0).depositor() == env.Pub("alice").bytes());
  CHECK(c.escrow(0).amount() == 1'000'000);

  // 1 unit is free.
  ExpectRejected(env, Accept(env, "bob", offer_id, 2, 1'000'000, 600'000), Code::kInsufficientCapacity);
  // Durations outside 60 s .. 1 h, and open-ended on an offer with a maximum.
  ExpectRejected(env, Accept(env, "bob", offer_id, 1, 1'000'000, 59'999), Code::kBadField);
  ExpectRejected(env, Accept(env, "bob", offer_id, 1, 1'000'000, 3'600'001), Code::kBadField);
  ExpectRejected(env, Accept(env, "bob", offer_id, 1, 1'000'000, 0), Code::kBadField);
  // Zero units or deposit; the provider renting from itself; a deposit bob does not have; no such offer.
  ExpectRejected(env, Accept(env, "bob", offer_id, 0, 1'000'000, 60'000), Code::kBadAmount);
  ExpectRejected(env, Accept(env, "bob", offer_id, 1, 0, 60'000), Code::kBadAmount);
  ExpectRejected(env, Accept(env, "dave", offer_id, 1, 1'000'000, 60'000), Code::kBadField);
  ExpectRejected(env, Accept(env, "bob", offer_id, 1, kFunding + 1, 60'000), Code::kInsufficientFunds);
  ExpectRejected(env, Accept(env, "bob", std::string(32, '\x02'), 1, 1'000, 60'000), Code::kNotFound);
  CHECK(env.Balance("bob", "USDC") == kFunding);
  CHECK(OfferOf(env, offer_id).reserved_units() == 3);

  // The boundaries of the range are inside it; the last unit can be taken.
  ExpectOk(env, Accept(env, "bob", offer_id, 1, 500'000, 60'000));
  CHECK(OfferOf(env, offer_id).reserved_units() == 4);
  CHECK(env.Balance("bob", "USDC") == kFunding - 500'000);
  ExpectRejected(env, Accept(env, "carol", offer_id, 1, 1'000, 3'600'000), Code::kInsufficientCapacity);
}

TEST_CASE("accept: an attestation requirement is met only by the named auditor, on unchanged values", "[contracts]") {
  TestEnv env;
  v1::OfferTerms terms = Offer();
  terms.mutable_requirement()->add_auditors(env.Pub("carol").bytes());
  terms.mutable_requirement()->set_any_of(false);
  terms.mutable_requirement()->add_attribute_keys("gpu_count");
  terms.mutable_requirement()->add_attribute_keys("gpu_model");
  const std::string offer_id = DaveOffers(env, terms);
  const uint64_t far = env.now_ms() + 24 * 3'600'000ULL;

  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);  // no attestation
  // bob is an auditor too, but not the one the offer names.
  ExpectOk(env, Attest(env, "bob", "dave", {"gpu_count", "gpu_model"}, far));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);
  // carol, but not covering gpu_model.
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_count"}, far));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);

  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_count", "gpu_model"}, far));
  std::string accept = Accept(env, "alice", offer_id, 1, 10'000'000);
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  v1::Contract c = ContractOf(env, id);
  REQUIRE(c.terms().requirement().auditors_size() == 1);
  CHECK(c.terms().requirement().auditors(0) == env.Pub("carol").bytes());
  CHECK(c.terms().requirement().attribute_keys_size() == 2);
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
  CHECK(env.Balance("alice", "USDC") == kFunding - 10'000'000);

  // dave swaps his GPUs: carol's attestation no longer speaks for the profile.
  ExpectOk(env, Register(env, "dave", GpuProfile("A100")));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);
  // Changing an attribute the requirement does not name is fine; the attested values are back.
  ExpectOk(env, Register(env, "dave", {Number("gpu_count", 8), Text("gpu_model", "H100"), Text("region", "us-east")}));
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000'000));
  CHECK(OfferOf(env, offer_id).reserved_units() == 2);
  // A revoked attestation no longer counts.
  ExpectOk(env, Revoke(env, "carol", "dave"));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);
  CHECK(OfferOf(env, offer_id).reserved_units() == 2);
}

TEST_CASE("accept: attestations expire, any_of is met by one of the auditors", "[contracts]") {
  TestEnv env;
  std::vector<std::string> auditors = {env.Pub("bob").bytes(), env.Pub("carol").bytes()};
  std::sort(auditors.begin(), auditors.end());
  v1::OfferTerms terms = Offer();
  for (const auto& a : auditors) terms.mutable_requirement()->add_auditors(a);
  terms.mutable_requirement()->set_any_of(true);
  terms.mutable_requirement()->add_attribute_keys("gpu_model");
  const std::string offer_id = DaveOffers(env, terms);

  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);
  // carol attests until 3 s from now: valid for the next two blocks, expired at the third.
  const uint64_t expiry = env.now_ms() + 3'000;
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_model"}, expiry));  // block at now + 1 s
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000'000));          // now + 2 s
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
  REQUIRE(env.now_ms() + 1000 == expiry);
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000'000), Code::kNotAuthorized);  // at the expiry
  // bob alone is enough under any_of.
  ExpectOk(env, Attest(env, "bob", "dave", {"gpu_model"}, env.now_ms() + 60'000));
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000'000));
  CHECK(OfferOf(env, offer_id).reserved_units() == 2);
  CHECK(env.Balance("alice", "USDC") == kFunding - 20'000'000);
}

// ============================================================================================
// 5. Negotiated contracts
// ============================================================================================

TEST_CASE("propose: co-signed by renter, provider and broker, in that order", "[contracts]") {
  TestEnv env;
  const v1::ContractTerms with_broker = Terms(env, 2, 3'600'000, 100'000, 500, true);
  const v1::ContractTerms without_broker = Terms(env, 2, 3'600'000, 100'000);

  // Signers.
  ExpectRejected(env, Propose(env, {"alice"}, without_broker), Code::kMissingSignature);
  ExpectRejected(env, Propose(env, {"alice", "carol"}, without_broker), Code::kNotAuthorized);
  ExpectRejected(env, Propose(env, {"dave", "alice"}, without_broker), Code::kNotAuthorized);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, with_broker), Code::kMissingSignature);
  ExpectRejected(env, Propose(env, {"alice", "dave", "carol"}, with_broker), Code::kNotAuthorized);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, without_broker), Code::kUnexpectedSignature);
  CHECK(env.Balance("alice", "USDC") == kFunding);

  // Terms.
  v1::ContractTerms t = with_broker;
  t.set_units(0);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kBadAmount);
  t = with_broker;
  t.set_deposit(0);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kBadAmount);
  t = with_broker;
  t.set_price_per_unit_hour(0);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kBadAmount);
  t = with_broker;
  t.set_broker_fee_bps(10'001);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kBadField);
  t = without_broker;
  t.set_broker_fee_bps(100);  // a fee with no broker
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = with_broker;
  t.set_start_ms(env.now_ms());  // the next block is 1 s later
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kTooLate);
  t = with_broker;
  t.set_units(1ULL << 32);
  t.set_price_per_unit_hour(1ULL << 32);  // 2^64
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kOverflow);
  t = with_broker;
  t.set_units(1ULL << 31);
  t.set_price_per_unit_hour(1ULL << 32);  // 2^63 per hour fits; over two hours it does not
  t.set_duration_ms(2 * 3'600'000);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kOverflow);
  t = with_broker;
  t.set_asset("EUR");
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kUnknownAsset);
  t = with_broker;
  t.set_deposit(kFunding + 1);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kInsufficientFunds);
  // Expired: the last height it may be included at is the current one.
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, with_broker, {.expiry_height = env.chain().height()}),
                 Code::kExpired);
  CHECK(env.Balance("alice", "USDC") == kFunding);

  // The next height is still allowed.
  std::string ok = Propose(env, {"alice", "dave", "bob"}, with_broker, {.expiry_height = env.chain().height() + 1});
  const std::string id = IdOf(ok);
  ExpectOk(env, ok);
  const uint64_t tf = env.now_ms();
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(c.offer_id().empty());
  CHECK(c.terms().broker() == env.Pub("bob").bytes());
  CHECK(c.terms().broker_fee_bps() == 500);
  CHECK(c.terms().start_ms() == tf);
  CHECK(c.end_ms() == 0);
  REQUIRE(c.escrow_size() == 1);
  CHECK(c.escrow(0).depositor() == env.Pub("alice").bytes());
  CHECK(c.escrow(0).amount() == 100'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 100'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  CHECK(env.Balance("bob", "USDC") == kFunding);

  // Without a broker, renter + provider suffice.
  std::string two = Propose(env, {"alice", "dave"}, without_broker);
  ExpectOk(env, two);
  CHECK(ContractOf(env, IdOf(two)).terms().broker().empty());
  CHECK(env.Balance("alice", "USDC") == kFunding - 200'000);
}

TEST_CASE("propose: a start in the future accrues nothing until it", "[contracts]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, 3'600'000, 100'000);
  t.set_start_ms(env.now_ms() + 10'000);
  std::string tx = Propose(env, {"alice", "dave"}, t);
  const std::string id = IdOf(tx);
  ExpectOk(env, tx);
  const uint64_t start = env.now_ms() + 9'000;
  CHECK(ContractOf(env, id).terms().start_ms() == start);
  ExpectOk(env, Settle(env, "dave", id), 5'000);  // 4 s before the start
  CHECK(ContractOf(env, id).charged() == 0);
  ExpectOk(env, Settle(env, "dave", id), 7'000);  // 3 s after it: 1 unit x 1 per ms
  CHECK(ContractOf(env, id).charged() == 3'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 3'000);
}

// ============================================================================================
// 6. Time charges and settlement
// ============================================================================================

TEST_CASE("settle: units x price x elapsed / 1 h, the broker's share split off", "[contracts]") {
  TestEnv env;
  // 2 units x 3_600_000 per unit-hour = 2 per ms; broker 2.5 %.
  std::string tx = Propose(env, {"alice", "dave", "bob"}, Terms(env, 2, 3'600'000, 1'000'000, 250, true));
  const std::string id = IdOf(tx);
  ExpectOk(env, tx);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);

  ExpectOk(env, Settle(env, "carol", id), 10'000);  // anyone may settle; 10 s elapsed
  v1::Contract c = ContractOf(env, id);
  CHECK(c.charged() == 20'000);
  CHECK(c.paid_broker() == 500);       // floor(20000 * 250 / 10000)
  CHECK(c.paid_provider() == 19'500);
  CHECK(EscrowSum(c) == 980'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 19'500);
  CHECK(env.Balance("bob", "USDC") == kFunding + 500);
  CHECK(env.Balance("carol", "USDC") == kFunding);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000'000);

  // Settling again in the next block: BFT time puts it at least 1 ms later, so 2 more are
  // charged; the broker's cumulative share floor(20002 * 0.025) = 500 is unchanged.
  ExpectOk(env, Settle(env, "dave", id), 0);
  c = ContractOf(env, id);
  CHECK(c.charged() == 20'002);
  CHECK(c.paid_broker() == 500);
  CHECK(env.Balance("dave", "USDC") == kFunding + 19'502);

  // 1.234 s more: 11.235 s in all, 2 x 11235 = 22470; broker floor(22470 * 0.025) = 561.
  ExpectOk(env, Settle(env, "dave", id), 1'234);
  c = ContractOf(env, id);
  CHECK(c.charged() == 22'470);
  CHECK(c.paid_broker() == 561);
  CHECK(c.paid_provider() == 21'909);
  CHECK(EscrowSum(c) == 1'000'000 - 22'470);
  CHECK(env.Balance("dave", "USDC") == kFunding + 21'909);
  CHECK(env.Balance("bob", "USDC") == kFunding + 561);
}

TEST_CASE("settle: the charge is floored over the whole elapsed time", "[contracts]") {
  TestEnv env;
  // 1 unit at 7 per unit-hour: 1 s is worth 0.0019, 1_028_571 ms 1.99999, 1_028_572 ms 2.0000011.
  std::string tx = Propose(env, {"alice", "dave"}, Terms(env, 1, 7, 1'000));
  const std::string id = IdOf(tx);
  ExpectOk(env, tx);
  ExpectOk(env, Settle(env, "dave", id), 1'000);
  CHECK(ContractOf(env, id).charged() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  ExpectOk(env, Settle(env, "dave", id), 1'027'571);  // 1_028_571 ms elapsed
  CHECK(ContractOf(env, id).charged() == 1);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1);
  ExpectOk(env, Settle(env, "dave", id), 1);  // 1_028_572 ms
  CHECK(ContractOf(env, id).charged() == 2);
  CHECK(env.Balance("dave", "USDC") == kFunding + 2);
  CHECK(EscrowSum(ContractOf(env, id)) == 998);
  CHECK(env.Balance("alice", "USDC") == kFunding - 1'000);
}

TEST_CASE("settle: settling every second or once pays the same total", "[contracts]") {
  TestEnv env;
  // 3 units x 1_000_003 = 3_000_009 per hour: after 1, 2, 3 s the accrued charge is
  // floor(833.34) = 833, floor(1666.67) = 1666, floor(2500.0075) = 2500. Settled each second:
  // 833 + 833 + 834. Per-interval flooring would have paid 833 x 3 = 2499.
  const v1::ContractTerms terms = Terms(env, 3, 1'000'003, 1'000'000, 2'500, true);
  std::string often_tx = Propose(env, {"alice", "dave", "bob"}, terms);
  std::string once_tx = Propose(env, {"alice", "dave", "bob"}, terms);
  const std::string often = IdOf(often_tx), once = IdOf(once_tx);
  REQUIRE(often != once);
  env.Submit(often_tx);
  env.Submit(once_tx);
  REQUIRE(env.Close().rejected.empty());

  const uint64_t expected_total[] = {833, 1'666, 2'500};
  for (int i = 0; i < 3; ++i) {
    env.Submit(Settle(env, "dave", often));
    if (i == 2) env.Submit(Settle(env, "dave", once));
    REQUIRE(env.Close(1'000).rejected.empty());
    CHECK(ContractOf(env, often).charged() == expected_total[i]);
  }
  v1::Contract a = ContractOf(env, often), b = ContractOf(env, once);
  CHECK(a.charged() == 2'500);
  CHECK(b.charged() == 2'500);
  CHECK(EscrowSum(a) == EscrowSum(b));
  CHECK(EscrowSum(a) == 1'000'000 - 2'500);
  // The broker's 25 % is taken of everything paid so far (escrow.h), so the split does not
  // depend on how often the contract was settled: 208, then 416 - 208, then 625 - 416.
  CHECK(a.paid_broker() == 625);
  CHECK(a.paid_provider() == 1'875);
  CHECK(b.paid_broker() == 625);
  CHECK(b.paid_provider() == 1'875);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1'875 + 1'875);
  CHECK(env.Balance("bob", "USDC") == kFunding + 625 + 625);
  CHECK(env.Balance("alice", "USDC") == kFunding - 2'000'000);
}

// ============================================================================================
// 7. Closing
// ============================================================================================

TEST_CASE("close by the renter: charges settled, escrow refunded first-in first-out, capacity released",
          "[contracts]") {
  TestEnv env;
  const std::string offer_id = DaveOffers(env, Offer(4, 3'600'000));
  std::string accept = Accept(env, "alice", offer_id, 2, 30'000);  // 2 per ms
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  const uint64_t tf = env.now_ms();
  CHECK(OfferOf(env, offer_id).reserved_units() == 2);

  // carol tops up 1 s later: the top-up settles 2000 from alice's deposit first.
  ExpectOk(env, Topup(env, "carol", id, 50'000));
  v1::Contract c = ContractOf(env, id);
  CHECK(c.charged() == 2'000);
  REQUIRE(c.escrow_size() == 2);
  CHECK(c.escrow(0).depositor() == env.Pub("alice").bytes());
  CHECK(c.escrow(0).amount() == 28'000);
  CHECK(c.escrow(1).depositor() == env.Pub("carol").bytes());
  CHECK(c.escrow(1).amount() == 50'000);
  CHECK(env.Balance("carol", "USDC") == kFunding - 50'000);
  ExpectRejected(env, Topup(env, "carol", id, 0), Code::kBadAmount);
  ExpectRejected(env, Topup(env, "nobody", id, 1), Code::kInsufficientFunds);
  ExpectRejected(env, CloseContract(env, "carol", id), Code::kNotAuthorized);  // a depositor is not the renter

  // alice closes at tf + 21 s: 42000 accrued; 40000 due takes alice's 28000, then 12000 of carol's.
  ExpectOk(env, CloseContract(env, "alice", id), 21'000 - (env.now_ms() - tf));
  REQUIRE(env.now_ms() == tf + 21'000);
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(c.closed_at_ms() == tf + 21'000);
  CHECK(c.charged() == 42'000);
  CHECK(c.paid_provider() == 42'000);
  CHECK(c.paid_broker() == 0);
  CHECK(c.refunded() == 38'000);
  CHECK(c.escrow_size() == 0);
  CHECK(env.Balance("alice", "USDC") == kFunding - 30'000);
  CHECK(env.Balance("carol", "USDC") == kFunding - 12'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 42'000);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK_FALSE(OnAgenda(env, id));

  // Nothing more happens to a closed contract.
  ExpectRejected(env, Topup(env, "carol", id, 1'000), Code::kWrongState);
  ExpectRejected(env, Notice(env, "dave", id), Code::kWrongState);
  ExpectRejected(env, CloseContract(env, "alice", id), Code::kWrongState);
  ExpectRejected(env, Settle(env, "dave", id), Code::kWrongState);
  CHECK(env.Balance("dave", "USDC") == kFunding + 42'000);
  CHECK(env.Balance("carol", "USDC") == kFunding - 12'000);

  // The whole capacity is free again.
  ExpectOk(env, Accept(env, "bob", offer_id, 4, 10'000'000));
  CHECK(OfferOf(env, offer_id).reserved_units() == 4);
}

TEST_CASE("close by the renter: unused deposits go back to each depositor whole", "[contracts]") {
  TestEnv env;
  const std::string offer_id = DaveOffers(env, Offer(4, 3'600'000));
  std::string accept = Accept(env, "alice", offer_id, 1, 100'000);  // 1 per ms
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  const uint64_t tf = env.now_ms();
  ExpectOk(env, Topup(env, "carol", id, 50'000));
  ExpectOk(env, Topup(env, "alice", id, 20'000));  // joins alice's first deposit: one entry per depositor
  REQUIRE(ContractOf(env, id).escrow_size() == 2);
  CHECK(ContractOf(env, id).escrow(0).amount() == 120'000 - 2'000);
  ExpectOk(env, CloseContract(env, "alice", id), 7'000);  // tf + 9 s
  REQUIRE(env.now_ms() == tf + 9'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(c.charged() == 9'000);
  CHECK(c.refunded() == 170'000 - 9'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 9'000);
  CHECK(env.Balance("carol", "USDC") == kFunding);
  CHECK(env.Balance("dave", "USDC") == kFunding + 9'000);
}

TEST_CASE("escrow griefing: two keys alternating 1-unit top-ups cannot keep the renter out", "[contracts]") {
  TestEnv env;
  // 1 per ms, 10000 deposited: the renter's deposit lasts 10 s unless it tops up.
  std::string tx = Propose(env, {"alice", "dave"}, Terms(env, 1, 3'600'000, 10'000));
  const std::string id = IdOf(tx);
  ExpectOk(env, tx);
  const uint64_t tf = env.now_ms();

  // bob and carol are no parties: their first top-up must bring 1/64 of the escrow (157 of 10000).
  ExpectRejected(env, Topup(env, "bob", id, 1), Code::kBadAmount);    // tf + 1 s
  ExpectRejected(env, Topup(env, "carol", id, 1), Code::kBadAmount);  // tf + 2 s
  ExpectRejected(env, Topup(env, "bob", id, 156), Code::kBadAmount);  // tf + 3 s
  // tf + 4 s: each pays its way in once, then they alternate 1-unit top-ups, 100 of them.
  env.Submit(Topup(env, "bob", id, 157));
  env.Submit(Topup(env, "carol", id, 157));
  for (int i = 0; i < 100; ++i) env.Submit(Topup(env, i % 2 == 0 ? "bob" : "carol", id, 1));
  CloseResult closed = env.Close();
  REQUIRE(closed.rejected.empty());
  REQUIRE(env.now_ms() == tf + 4'000);
  v1::Contract c = ContractOf(env, id);
  REQUIRE(c.escrow_size() == 3);  // one entry each, however often they top up
  CHECK(c.escrow(0).depositor() == env.Pub("alice").bytes());
  CHECK(c.escrow(0).amount() == 10'000 - 4'000);
  CHECK(c.escrow(1).depositor() == env.Pub("bob").bytes());
  CHECK(c.escrow(1).amount() == 207);
  CHECK(c.escrow(2).depositor() == env.Pub("carol").bytes());
  CHECK(c.escrow(2).amount() == 207);

  // tf + 5 s: the renter's own top-up is accepted, into its entry at the front.
  ExpectOk(env, Topup(env, "alice", id, 20'000));
  c = ContractOf(env, id);
  REQUIRE(c.escrow_size() == 3);
  CHECK(c.escrow(0).amount() == 30'000 - 5'000);
  CHECK(c.charged() == 5'000);

  // tf + 12 s: past the 10 s the first deposit lasted, the contract still runs on the renter's money.
  env.Close(7'000);
  REQUIRE(env.now_ms() == tf + 12'000);
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  // tf + 20 s: alice closes; 20000 charged, all from her entry. Each depositor gets its own back.
  ExpectOk(env, CloseContract(env, "alice", id), 8'000);
  REQUIRE(env.now_ms() == tf + 20'000);
  c = ContractOf(env, id);
  CHECK(c.close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);
  CHECK(c.charged() == 20'000);
  CHECK(c.refunded() == 10'000 + 207 + 207);
  CHECK(c.escrow_size() == 0);
  CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
  CHECK(env.Balance("bob", "USDC") == kFunding);
  CHECK(env.Balance("carol", "USDC") == kFunding);
  CHECK(env.Balance("dave", "USDC") == kFunding + 20'000);
  auto reputation = contracts::Load<v1::Reputation>(env.chain().state(), Kind::kReputation, env.Pub("alice").bytes());
  REQUIRE(reputation.has_value());
  CHECK(reputation->renter_insufficient_funds() == 0);
}

TEST_CASE("notice: the provider cannot close at once, the contract ends by itself at termination",
          "[contracts]") {
  TestEnv env;
  const std::string offer_id = DaveOffers(env, Offer(4, 3'600'000));  // notice period 5 s
  std::string accept = Accept(env, "alice", offer_id, 2, 1'000'000);   // 2 per ms
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  const uint64_t tf = env.now_ms();

  ExpectRejected(env, CloseContract(env, "dave", id), Code::kNotAuthorized);  // tf + 1 s
  ExpectRejected(env, Notice(env, "alice", id), Code::kNotAuthorized);        // tf + 2 s
  ExpectRejected(env, Notice(env, "carol", id), Code::kNotAuthorized);        // tf + 3 s
  ExpectOk(env, Notice(env, "dave", id));                                     // tf + 4 s
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(c.termination_at_ms() == tf + 9'000);
  CHECK(c.charged() == 8'000);  // notice settles what is due
  CHECK(env.Balance("dave", "USDC") == kFunding + 8'000);
  ExpectRejected(env, Notice(env, "dave", id), Code::kWrongState);            // tf + 5 s
  ExpectRejected(env, CloseContract(env, "dave", id), Code::kNotAuthorized);  // tf + 6 s

  env.Close(2'000);  // tf + 8 s: not yet
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(OnAgenda(env, id));
  env.Close(10'000);  // tf + 18 s: closed as of tf + 9 s
  c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_PROVIDER_TERMINATED);
  CHECK(c.closed_at_ms() == tf + 9'000);
  CHECK(c.charged() == 18'000);
  CHECK(c.refunded() == 1'000'000 - 18'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 18'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 18'000);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK_FALSE(OnAgenda(env, id));
  ExpectRejected(env, Settle(env, "dave", id), Code::kWrongState);
}

TEST_CASE("notice: a tx in the first block after the termination charges only until it", "[contracts]") {
  TestEnv env;
  const std::string offer_id = DaveOffers(env, Offer(4, 3'600'000));  // notice period 5 s
  std::string a1 = Accept(env, "alice", offer_id, 1, 1'000'000);       // 1 per ms each
  std::string a2 = Accept(env, "alice", offer_id, 1, 1'000'000);
  const std::string settled = IdOf(a1), closed = IdOf(a2);
  env.Submit(a1);
  env.Submit(a2);
  REQUIRE(env.Close().rejected.empty());
  const uint64_t tf = env.now_ms();
  env.Submit(Notice(env, "dave", settled));
  env.Submit(Notice(env, "dave", closed));
  REQUIRE(env.Close().rejected.empty());  // tf + 1 s: both end at tf + 6 s
  CHECK(ContractOf(env, settled).termination_at_ms() == tf + 6'000);
  CHECK(ContractOf(env, closed).termination_at_ms() == tf + 6'000);

  // The next block is at tf + 16 s; in it, before the ledger closes the two at tf + 6 s, dave
  // settles one and alice closes the other. Neither may charge past the termination.
  env.Submit(Settle(env, "dave", settled));
  env.Submit(CloseContract(env, "alice", closed));
  REQUIRE(env.Close(15'000).rejected.empty());
  v1::Contract s = ContractOf(env, settled), c = ContractOf(env, closed);
  CHECK(s.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(s.charged() == 6'000);
  CHECK(c.charged() == 6'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 12'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 12'000);
}

TEST_CASE("a fixed-duration contract ends at end_ms and is charged exactly until it", "[contracts]") {
  TestEnv env;
  v1::OfferTerms terms = Offer(4, 3'600'000);
  terms.set_min_duration_ms(1'000);
  terms.set_max_duration_ms(60'000);
  const std::string offer_id = DaveOffers(env, terms);
  std::string accept = Accept(env, "alice", offer_id, 2, 1'000'000, 10'000);  // 2 per ms for 10 s
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  const uint64_t tf = env.now_ms();
  CHECK(ContractOf(env, id).end_ms() == tf + 10'000);

  env.Close(9'999);  // tf + 9.999 s: still running
  CHECK(ContractOf(env, id).state() == v1::CONTRACT_STATE_ACTIVE);
  // The next block is 13 s past the end, and dave settles in it before the ledger closes it.
  ExpectOk(env, Settle(env, "dave", id), 13'001);
  REQUIRE(env.now_ms() == tf + 23'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_ENDED);
  CHECK(c.closed_at_ms() == tf + 10'000);
  CHECK(c.charged() == 20'000);
  CHECK(c.refunded() == 980'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 20'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK_FALSE(OnAgenda(env, id));
}

TEST_CASE("escrow running dry closes the contract, a top-up moves that later", "[contracts]") {
  TestEnv env;
  const std::string offer_id = DaveOffers(env, Offer(4, 3'600'000));
  // Two contracts of 2 units (2 per ms) with 10000 each: both would run dry at tf + 5001 ms,
  // the first ms at which the accrued charge exceeds what escrow holds.
  std::string a1 = Accept(env, "alice", offer_id, 2, 10'000);
  std::string a2 = Accept(env, "alice", offer_id, 2, 10'000);
  const std::string dry = IdOf(a1), rescued = IdOf(a2);
  env.Submit(a1);
  env.Submit(a2);
  REQUIRE(env.Close().rejected.empty());
  const uint64_t tf = env.now_ms();
  CHECK(OfferOf(env, offer_id).reserved_units() == 4);

  // tf + 3 s: carol tops up the second one (6000 is settled from alice's deposit first).
  ExpectOk(env, Topup(env, "carol", rescued, 10'000), 3'000);
  v1::Contract r = ContractOf(env, rescued);
  CHECK(r.charged() == 6'000);
  CHECK(EscrowSum(r) == 14'000);

  env.Close(2'000);  // tf + 5 s: 10000 accrued, exactly what escrow holds
  CHECK(ContractOf(env, dry).state() == v1::CONTRACT_STATE_ACTIVE);
  env.Close(1);  // tf + 5.001 s: dry
  v1::Contract d = ContractOf(env, dry);
  CHECK(d.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(d.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(d.closed_at_ms() == tf + 5'001);
  CHECK(d.charged() == 10'000);  // the provider gets the whole escrow
  CHECK(d.paid_provider() == 10'000);
  CHECK(d.refunded() == 0);
  CHECK(EscrowSum(d) == 0);
  CHECK(OfferOf(env, offer_id).reserved_units() == 2);
  CHECK(ContractOf(env, rescued).state() == v1::CONTRACT_STATE_ACTIVE);

  // The rescued one holds 6000 charged + 14000 = 20000: dry at tf + 10.001 s.
  env.Close(4'999);  // tf + 10 s
  CHECK(ContractOf(env, rescued).state() == v1::CONTRACT_STATE_ACTIVE);
  env.Close(1);  // tf + 10.001 s
  r = ContractOf(env, rescued);
  CHECK(r.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(r.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(r.closed_at_ms() == tf + 10'001);
  CHECK(r.charged() == 20'000);
  CHECK(r.refunded() == 0);
  CHECK(env.Balance("dave", "USDC") == kFunding + 30'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
  CHECK(env.Balance("carol", "USDC") == kFunding - 10'000);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK_FALSE(OnAgenda(env, dry));
  CHECK_FALSE(OnAgenda(env, rescued));
  ExpectRejected(env, Topup(env, "carol", dry, 1'000), Code::kWrongState);
}

TEST_CASE("a renter's close that cannot be covered closes as insufficient_funds", "[contracts]") {
  TestEnv env;
  // 1 per ms, 5000 deposited; alice closes 8 s later (the ledger would have closed it at 5.001 s,
  // but no block came in between).
  std::string tx = Propose(env, {"alice", "dave"}, Terms(env, 1, 3'600'000, 5'000));
  const std::string id = IdOf(tx);
  ExpectOk(env, tx);
  const uint64_t tf = env.now_ms();
  ExpectOk(env, CloseContract(env, "alice", id), 8'000);
  v1::Contract c = ContractOf(env, id);
  CHECK(c.state() == v1::CONTRACT_STATE_CLOSED);
  CHECK(c.close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(c.closed_at_ms() == tf + 8'000);
  CHECK(c.charged() == 5'000);
  CHECK(env.Balance("dave", "USDC") == kFunding + 5'000);
  CHECK(env.Balance("alice", "USDC") == kFunding - 5'000);
}

// ============================================================================================
// 8. Supply
// ============================================================================================

TEST_CASE("supply: balances + open escrow = genesis + deposited - withdrawn", "[contracts]") {
  TestEnv env;
  FundGateway(env);
  ExpectOk(env, Deposit(env, "gateway", "USDC", 7'000'000, "alice", "ethereum", "0x01"));
  ExpectOk(env, Deposit(env, "gateway", "USDC", 3'000'000, "nobody", "ethereum", "0x02"));
  ExpectOk(env, Withdraw(env, "bob", "USDC", 1'500'000));
  const std::string offer_id = DaveOffers(env, Offer(8, 3'600'000));

  std::vector<std::string> ids;
  auto form = [&](std::string tx) {
    ids.push_back(IdOf(tx));
    ExpectOk(env, std::move(tx));
    return ids.back();
  };
  const std::string open1 = form(Accept(env, "alice", offer_id, 2, 500'000));
  const std::string drying = form(Accept(env, "carol", offer_id, 3, 6'000));  // dry after 2.001 s
  const std::string brokered = form(Propose(env, {"alice", "dave", "bob"}, Terms(env, 2, 7'200'001, 900'000, 333, true)));
  const std::string closing = form(Accept(env, "alice", offer_id, 1, 50'000));
  ExpectOk(env, Topup(env, "carol", open1, 20'000));
  ExpectOk(env, env.Transfer("bob", "nobody", "KTR", 1'000));  // for its fees
  ExpectOk(env, Topup(env, "nobody", brokered, 1'000'000), 777);
  ExpectOk(env, Settle(env, "dave", brokered), 3'333);
  ExpectOk(env, CloseContract(env, "alice", closing), 1'500);
  ExpectOk(env, Notice(env, "dave", open1));
  env.Close(10'000);  // open1 terminated, drying closed
  ExpectOk(env, Withdraw(env, "dave", "USDC", 12'345));

  uint64_t escrow = 0;
  size_t open = 0;
  for (const auto& id : ids) {
    v1::Contract c = ContractOf(env, id);
    if (c.state() == v1::CONTRACT_STATE_CLOSED) {
      CHECK(EscrowSum(c) == 0);
    } else {
      ++open;
      escrow += EscrowSum(c);
    }
  }
  CHECK(open == 1);  // only the brokered one
  CHECK(ContractOf(env, drying).close_reason() == v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  CHECK(ContractOf(env, open1).close_reason() == v1::CLOSE_REASON_PROVIDER_TERMINATED);
  CHECK(ContractOf(env, closing).close_reason() == v1::CLOSE_REASON_RENTER_CLOSED);

  const v1::Asset usdc = AssetOf(env, "USDC");
  CHECK(usdc.genesis_supply() == 4 * kFunding);
  CHECK(usdc.deposited() == 10'000'000);
  CHECK(usdc.withdrawn() == 1'500'000 + 12'345);
  unsigned __int128 balances = 0;
  for (const char* name : {"alice", "bob", "carol", "dave", "gateway", "nobody"}) balances += env.Balance(name, "USDC");
  balances += BalanceOf(LoadAccount(env.chain().state(), env.validator().public_key()), "USDC");
  CHECK(static_cast<uint64_t>(balances + escrow) == 4 * kFunding + 10'000'000 - 1'500'000 - 12'345);
  CHECK(escrow > 0);

  // KTR is not bridged: fees only move it to the validator.
  unsigned __int128 ktr = 0;
  for (const char* name : {"alice", "bob", "carol", "dave", "gateway", "nobody"}) ktr += env.Balance(name, "KTR");
  ktr += BalanceOf(LoadAccount(env.chain().state(), env.validator().public_key()), "KTR");
  CHECK(static_cast<uint64_t>(ktr) == 4 * kFunding);
  CHECK(AssetOf(env, "KTR").genesis_supply() == 4 * kFunding);
}

TEST_CASE("accept: an invoiced offer forms invoiced contracts, time is billed by invoice, not streamed", "[contracts]") {
  TestEnv env;
  v1::OfferTerms terms = Offer(4, 3'600'000);  // 1 per unit per ms
  terms.set_invoiced(true);
  const std::string offer_id = DaveOffers(env, terms);
  std::string accept = Accept(env, "alice", offer_id, 2, 1'000'000);
  const std::string id = IdOf(accept);
  ExpectOk(env, accept);
  const uint64_t t0 = env.now_ms();
  v1::Contract c = ContractOf(env, id);
  CHECK(c.terms().invoiced());
  CHECK(c.invoiced_until_ms() == t0);
  // Settling pays nothing on an invoiced contract: 10 s later escrow is whole.
  ExpectOk(env, Settle(env, "dave", id), 10'000);
  CHECK(EscrowSum(ContractOf(env, id)) == 1'000'000);
  CHECK(env.Balance("dave", "USDC") == kFunding);
  // dave invoices [t0, t0 + 10 s]: 2 units x 10_000 ms = 20_000, from escrow; alice accepts.
  std::string issue = env.Build({"dave"}, [&](v1::TxBody& b) {
    auto* i = b.mutable_invoice_issue();
    i->set_contract_id(id);
    i->set_period_start_ms(t0);
    i->set_period_end_ms(t0 + 10'000);
    i->set_time_charge(20'000);
    i->set_total(20'000);
    i->set_due_at_ms(t0 + 3'600'000);
  });
  const std::string invoice = IdOf(issue);
  ExpectOk(env, issue);
  ExpectOk(env, env.Build({"alice"}, [&](v1::TxBody& b) { b.mutable_invoice_accept()->set_invoice_id(invoice); }));
  CHECK(env.Balance("dave", "USDC") == kFunding + 20'000);
  CHECK(EscrowSum(ContractOf(env, id)) == 1'000'000 - 20'000);
}

TEST_CASE("assets: deposits keep the whole supply within 64 bits", "[contracts]") {
  TestEnv env;
  FundGateway(env);
  const uint64_t genesis = AssetOf(env, "USDC").genesis_supply();
  ExpectRejected(env, Deposit(env, "gateway", "USDC", kMax - genesis + 1, "carol", "ethereum", "0xbig1"), Code::kOverflow);
  ExpectOk(env, Deposit(env, "gateway", "USDC", kMax - genesis - kFunding, "carol", "ethereum", "0xbig2"));
  CHECK(env.Balance("carol", "USDC") == kMax - genesis);
  // Withdrawn supply makes room again.
  ExpectRejected(env, Deposit(env, "gateway", "USDC", kFunding + 1, "bob", "ethereum", "0xbig3"), Code::kOverflow);
  ExpectOk(env, Withdraw(env, "carol", "USDC", 5));
  ExpectOk(env, Deposit(env, "gateway", "USDC", kFunding + 5, "bob", "ethereum", "0xbig4"));
}
