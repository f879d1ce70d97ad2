// Rule tests for the market (contracts/providers.cpp, contracts/offers.cpp, contract forming in
// contracts/contracts.cpp, the shape checks of contracts/records.cpp): every rejection path with
// its own code, the wrong signer for each tx kind, and each size, count and time limit at the
// limit, one below and one above. Complements the scenarios of tests/unit/test_contracts.cpp.
#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "tests/support/rules.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;
using namespace kontor::test::rules;
using kontor::test::TestEnv;

namespace {

// `n` distinct 32-byte auditor keys in ascending order (they need not be real keys: a requirement
// only names them).
std::vector<std::string> FakeAuditors(size_t n) {
  std::vector<std::string> out;
  for (size_t i = 0; i < n; ++i) out.push_back(std::string(32, static_cast<char>(0x10 + i)));
  return out;
}

v1::OfferTerms WithRequirement(v1::OfferTerms t, const std::vector<std::string>& auditors, const std::vector<std::string>& keys,
                               bool any_of = false) {
  for (const auto& a : auditors) t.mutable_requirement()->add_auditors(a);
  for (const auto& k : keys) t.mutable_requirement()->add_attribute_keys(k);
  t.mutable_requirement()->set_any_of(any_of);
  return t;
}

}  // namespace

// ============================================================================================
// ProviderRegister
// ============================================================================================

TEST_CASE("rules provider register: at most 32 attributes", "[rules][providers]") {
  TestEnv env;
  ExpectRejected(env, Register(env, "bob", ManyAttributes(33)), Code::kTooLarge);
  CHECK_FALSE(ProviderOf(env, "bob").has_value());
  ExpectOk(env, Register(env, "bob", ManyAttributes(32)));
  CHECK(ProviderOf(env, "bob")->attributes_size() == 32);
  ExpectOk(env, Register(env, "bob", ManyAttributes(31)));
  CHECK(ProviderOf(env, "bob")->attributes_size() == 31);
}

TEST_CASE("rules provider register: attribute keys are 1 to 32 of a-z 0-9 _", "[rules][providers]") {
  TestEnv env;
  ExpectRejected(env, Register(env, "bob", {Number(std::string(33, 'k'), 1)}), Code::kBadField);
  ExpectRejected(env, Register(env, "bob", {Number("", 1)}), Code::kBadField);
  ExpectRejected(env, Register(env, "bob", {Number("gpu-count", 1)}), Code::kBadField);
  ExpectRejected(env, Register(env, "bob", {Number("gpu count", 1)}), Code::kBadField);
  ExpectRejected(env, Register(env, "bob", {Number("gpu.count", 1)}), Code::kBadField);
  CHECK_FALSE(ProviderOf(env, "bob").has_value());
  ExpectOk(env, Register(env, "bob", {Number(std::string(31, 'k'), 1), Number(std::string(32, 'k'), 2), Number("z_9", 3)}));
  REQUIRE(ProviderOf(env, "bob")->attributes_size() == 3);
  CHECK(ProviderOf(env, "bob")->attributes(1).key() == std::string(32, 'k'));
}

TEST_CASE("rules provider register: a text value is at most 128 bytes", "[rules][providers]") {
  TestEnv env;
  ExpectRejected(env, Register(env, "bob", {Text("gpu_model", std::string(129, 'h'))}), Code::kTooLarge);
  CHECK_FALSE(ProviderOf(env, "bob").has_value());
  ExpectOk(env, Register(env, "bob", {Text("gpu_model", std::string(128, 'h'))}));
  CHECK(ProviderOf(env, "bob")->attributes(0).text().size() == 128);
  ExpectOk(env, Register(env, "bob", {Text("gpu_model", std::string(127, 'h'))}));
  CHECK(ProviderOf(env, "bob")->attributes(0).text().size() == 127);
  // An empty text is a value (only an unset one is not).
  ExpectOk(env, Register(env, "bob", {Text("gpu_model", "")}));
  CHECK(ProviderOf(env, "bob")->attributes(0).has_text());
}

TEST_CASE("rules provider register: the endpoint is at most 256 bytes", "[rules][providers]") {
  TestEnv env;
  ExpectRejected(env, Register(env, "bob", GpuProfile(), std::string(257, 'e')), Code::kTooLarge);
  CHECK_FALSE(ProviderOf(env, "bob").has_value());
  ExpectOk(env, Register(env, "bob", GpuProfile(), std::string(256, 'e')));
  CHECK(ProviderOf(env, "bob")->endpoint().size() == 256);
  ExpectOk(env, Register(env, "bob", GpuProfile(), std::string(255, 'e')));
  CHECK(ProviderOf(env, "bob")->endpoint().size() == 255);
}

TEST_CASE("rules provider register: one signer, whose own profile it is", "[rules][providers]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile(), "grpc://dave"));
  ExpectRejected(env, Register(env, std::vector<std::string>{"bob", "dave"}, GpuProfile("A100")), Code::kBadField);
  ExpectRejected(env, Register(env, std::vector<std::string>{"dave", "bob"}, GpuProfile("A100")), Code::kBadField);
  // bob registering never touches dave's profile.
  ExpectOk(env, Register(env, "bob", GpuProfile("A100"), "grpc://bob"));
  CHECK(ProviderOf(env, "dave")->attributes(1).text() == "H100");
  CHECK(ProviderOf(env, "dave")->endpoint() == "grpc://dave");
  CHECK(ProviderOf(env, "bob")->attributes(1).text() == "A100");
  CHECK(ProviderOf(env, "bob")->key() == env.Pub("bob").bytes());
}

// ============================================================================================
// AttestationCreate and AttestationRevoke
// ============================================================================================

TEST_CASE("rules attestation create: shapes of provider and keys", "[rules][attestations]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  const uint64_t far = env.now_ms() + kHourMs;
  const std::string dave = env.Pub("dave").bytes();
  ExpectRejected(env, AttestKey(env, "carol", dave.substr(0, 31), {"gpu_count"}, far), Code::kBadKey);
  ExpectRejected(env, AttestKey(env, "carol", dave + "x", {"gpu_count"}, far), Code::kBadKey);
  ExpectRejected(env, Attest(env, "carol", "dave", {"gpu_count", "gpu_count"}, far), Code::kBadField);  // repeated
  ExpectRejected(env, Attest(env, "carol", "dave", {"gpu-count"}, far), Code::kBadField);
  ExpectRejected(env, Attest(env, "carol", "dave", {std::string(33, 'g')}, far), Code::kBadField);
  ExpectRejected(env, Attest(env, "carol", "dave", {""}, far), Code::kBadField);
  // A well-formed key the profile lacks is for the apply to refuse.
  ExpectRejected(env, Attest(env, "carol", "dave", {std::string(32, 'g')}, far), Code::kNotFound);
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_count", "gpu_model", "region"}, far));
  CHECK(AttestationOf(env, "carol", "dave").attested_size() == 3);
}

TEST_CASE("rules attestation create: a new attestation of the same pair replaces the record and undoes a revocation",
          "[rules][attestations]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  const uint64_t first_expiry = env.now_ms() + kHourMs;
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_count", "gpu_model"}, first_expiry));
  ExpectOk(env, Revoke(env, "carol", "dave"));
  CHECK(AttestationOf(env, "carol", "dave").revoked());
  ExpectOk(env, Attest(env, "carol", "dave", {"region"}, first_expiry + 1));
  v1::Attestation a = AttestationOf(env, "carol", "dave");
  CHECK_FALSE(a.revoked());
  CHECK(a.expires_at_ms() == first_expiry + 1);
  CHECK(a.created_at_ms() == env.now_ms());
  REQUIRE(a.attested_size() == 1);
  CHECK(a.attested(0).key() == "region");
}

TEST_CASE("rules attestation revoke: an auditor revokes only its own attestation", "[rules][attestations]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  ExpectOk(env, Register(env, "bob", GpuProfile("A100")));
  const uint64_t far = env.now_ms() + kHourMs;
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_model"}, far));
  ExpectOk(env, Attest(env, "alice", "dave", {"gpu_model"}, far));

  // The provider cannot revoke what an auditor said about it; nor can a stranger.
  ExpectRejected(env, Revoke(env, "dave", "dave"), Code::kNotFound);
  ExpectRejected(env, Revoke(env, "bob", "dave"), Code::kNotFound);
  // carol attested dave, not bob.
  ExpectRejected(env, Revoke(env, "carol", "bob"), Code::kNotFound);
  // A provider field that is not a key.
  ExpectRejected(env, RevokeKey(env, "carol", env.Pub("dave").bytes().substr(0, 31)), Code::kBadKey);
  ExpectRejected(env, RevokeKey(env, "carol", ""), Code::kBadKey);
  CHECK_FALSE(AttestationOf(env, "carol", "dave").revoked());

  // alice revokes hers: carol's stands.
  ExpectOk(env, Revoke(env, "alice", "dave"));
  CHECK(AttestationOf(env, "alice", "dave").revoked());
  CHECK_FALSE(AttestationOf(env, "carol", "dave").revoked());
  ExpectRejected(env, Revoke(env, "alice", "dave"), Code::kWrongState);
  CHECK_FALSE(AttestationOf(env, "carol", "dave").revoked());
}

TEST_CASE("rules attestation revoke: an expired attestation may be revoked too", "[rules][attestations]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  const uint64_t expiry = env.now_ms() + 1'001;  // the next block is at now + 1000
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_model"}, expiry));
  env.Close(5'000);
  REQUIRE(env.now_ms() > expiry);
  ExpectOk(env, Revoke(env, "carol", "dave"));
  CHECK(AttestationOf(env, "carol", "dave").revoked());
}

// ============================================================================================
// Attestation requirements, evaluated when a contract is formed
// ============================================================================================

TEST_CASE("rules requirement: an attestation counts while the block time is below its expiry", "[rules][attestations]") {
  TestEnv env;
  const std::string offer_id =
      RegisterAndOffer(env, "dave", WithRequirement(Offer(), {env.Pub("carol").bytes()}, {"gpu_model"}));
  const uint64_t expiry = env.now_ms() + 10'000;
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_model"}, expiry));
  // 1 ms before the expiry: valid.
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000), Until(env, expiry - 1));
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
  // At the expiry and 1 ms after: expired.
  ExpectRejectedAfter(env, Accept(env, "alice", offer_id, 1, 10'000), 1, Code::kNotAuthorized);
  REQUIRE(env.now_ms() == expiry);
  ExpectRejectedAfter(env, Accept(env, "alice", offer_id, 1, 10'000), 1, Code::kNotAuthorized);
  REQUIRE(env.now_ms() == expiry + 1);
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
  CHECK(env.Balance("alice", "USDC") == kFunding - 10'000);
}

TEST_CASE("rules requirement: all_of needs every auditor, any_of one that is neither revoked nor expired",
          "[rules][attestations]") {
  TestEnv env;
  std::vector<std::string> auditors = {env.Pub("bob").bytes(), env.Pub("carol").bytes()};
  std::sort(auditors.begin(), auditors.end());
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  std::string all_post = PostOffer(env, "dave", WithRequirement(Offer(), auditors, {"gpu_model"}, false));
  std::string any_post = PostOffer(env, "dave", WithRequirement(Offer(), auditors, {"gpu_model"}, true));
  const std::string all_of = IdOf(all_post), any_of = IdOf(any_post);
  ExpectOk(env, all_post);
  ExpectOk(env, any_post);
  const uint64_t far = env.now_ms() + kHourMs;

  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_model"}, far));
  ExpectRejected(env, Accept(env, "alice", all_of, 1, 1'000'000), Code::kNotAuthorized);  // bob has not attested
  ExpectOk(env, Accept(env, "alice", any_of, 1, 1'000'000));
  ExpectOk(env, Attest(env, "bob", "dave", {"gpu_model"}, far));
  ExpectOk(env, Accept(env, "alice", all_of, 1, 1'000'000));
  CHECK(OfferOf(env, all_of).reserved_units() == 1);

  // Both revoked: any_of is not met either.
  ExpectOk(env, Revoke(env, "carol", "dave"));
  ExpectRejected(env, Accept(env, "alice", all_of, 1, 1'000'000), Code::kNotAuthorized);
  ExpectOk(env, Accept(env, "alice", any_of, 1, 1'000'000));  // bob's still counts
  ExpectOk(env, Revoke(env, "bob", "dave"));
  ExpectRejected(env, Accept(env, "alice", any_of, 1, 1'000'000), Code::kNotAuthorized);
  CHECK(OfferOf(env, any_of).reserved_units() == 2);
  CHECK(env.Balance("alice", "USDC") == kFunding - 3'000'000);
}

TEST_CASE("rules requirement: without attribute keys any valid attestation by the auditor counts", "[rules][attestations]") {
  TestEnv env;
  const std::string offer_id = RegisterAndOffer(env, "dave", WithRequirement(Offer(), {env.Pub("carol").bytes()}, {}));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000), Code::kNotAuthorized);
  ExpectOk(env, Attest(env, "carol", "dave", {"region"}, env.now_ms() + kHourMs));
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000));
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
}

TEST_CASE("rules requirement: a proposed contract's requirement is checked too", "[rules][attestations][propose]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  t.mutable_requirement()->add_auditors(env.Pub("carol").bytes());
  t.mutable_requirement()->add_attribute_keys("gpu_count");
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kNotAuthorized);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  ExpectOk(env, Attest(env, "carol", "dave", {"gpu_count"}, env.now_ms() + kHourMs));
  ExpectOk(env, Propose(env, {"alice", "dave"}, t));
  CHECK(env.Balance("alice", "USDC") == kFunding - 10'000);
}

// ============================================================================================
// Offer terms (OfferPost, OfferUpdate)
// ============================================================================================

TEST_CASE("rules offer terms: capacity x price fits 64 bits exactly", "[rules][offers]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  REQUIRE(kMax % 3 == 0);
  ExpectRejected(env, PostOffer(env, "dave", Offer(3, kMax / 3 + 1)), Code::kOverflow);
  std::string at_limit = PostOffer(env, "dave", Offer(3, kMax / 3));
  ExpectOk(env, at_limit);
  CHECK(OfferOf(env, IdOf(at_limit)).terms().price_per_unit_hour() == kMax / 3);
  ExpectOk(env, PostOffer(env, "dave", Offer(1, kMax)));
  ExpectOk(env, PostOffer(env, "dave", Offer(3, kMax / 3 - 1)));
  // The same rule on update.
  ExpectRejected(env, UpdateOffer(env, "dave", IdOf(at_limit), Offer(3, kMax / 3 + 1)), Code::kOverflow);
  ExpectRejected(env, UpdateOffer(env, "dave", IdOf(at_limit), Offer(0, 1)), Code::kBadAmount);
  ExpectRejected(env, UpdateOffer(env, "dave", IdOf(at_limit), Offer(1, 0)), Code::kBadAmount);
  CHECK(OfferOf(env, IdOf(at_limit)).terms().capacity_units() == 3);
}

TEST_CASE("rules offer terms: durations: minimum up to the maximum, no maximum when 0", "[rules][offers]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  v1::OfferTerms t = Offer();
  t.set_min_duration_ms(60'000);
  t.set_max_duration_ms(59'999);
  ExpectRejected(env, PostOffer(env, "dave", t), Code::kBadField);
  t.set_max_duration_ms(60'000);
  ExpectOk(env, PostOffer(env, "dave", t));  // equal
  t.set_max_duration_ms(60'001);
  ExpectOk(env, PostOffer(env, "dave", t));
  t.set_max_duration_ms(0);
  t.set_min_duration_ms(kMax);  // no maximum: any minimum
  std::string open_max = PostOffer(env, "dave", t);
  ExpectOk(env, open_max);
  CHECK(OfferOf(env, IdOf(open_max)).terms().min_duration_ms() == kMax);
  // Billing period on update too.
  v1::OfferTerms bad = Offer();
  bad.set_billing_period_ms(0);
  ExpectRejected(env, UpdateOffer(env, "dave", IdOf(open_max), bad), Code::kBadField);
  bad = Offer();
  bad.set_min_duration_ms(2);
  bad.set_max_duration_ms(1);
  ExpectRejected(env, UpdateOffer(env, "dave", IdOf(open_max), bad), Code::kBadField);
}

TEST_CASE("rules offer terms: resources follow the attribute rules", "[rules][offers]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  v1::OfferTerms t = Offer();
  t.clear_resources();
  for (const auto& a : ManyAttributes(33)) *t.add_resources() = a;
  ExpectRejected(env, PostOffer(env, "dave", t), Code::kTooLarge);
  t.mutable_resources()->RemoveLast();
  ExpectOk(env, PostOffer(env, "dave", t));  // 32
  t = Offer();
  *t.add_resources() = Number("cpu_count", 1);  // after gpu_count: unsorted
  ExpectRejected(env, PostOffer(env, "dave", t), Code::kBadField);
  t = Offer();
  *t.add_resources() = Text("region", std::string(129, 'r'));
  ExpectRejected(env, PostOffer(env, "dave", t), Code::kTooLarge);
  t = Offer();
  v1::Attribute no_value;
  no_value.set_key("ram_gb");
  *t.add_resources() = no_value;
  ExpectRejected(env, PostOffer(env, "dave", t), Code::kBadField);
}

TEST_CASE("rules offer terms: a requirement names at most 16 sorted auditors and sorted valid keys", "[rules][offers]") {
  TestEnv env;
  ExpectOk(env, Register(env, "dave", GpuProfile()));
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), FakeAuditors(17), {})), Code::kTooLarge);
  std::string sixteen = PostOffer(env, "dave", WithRequirement(Offer(), FakeAuditors(16), {}));
  ExpectOk(env, sixteen);
  CHECK(OfferOf(env, IdOf(sixteen)).terms().requirement().auditors_size() == 16);
  ExpectOk(env, PostOffer(env, "dave", WithRequirement(Offer(), FakeAuditors(15), {})));

  std::vector<std::string> two = FakeAuditors(2);
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), {two[1], two[0]}, {})), Code::kBadField);
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), {two[0], two[0]}, {})), Code::kBadField);
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), {two[0].substr(0, 31)}, {})), Code::kBadKey);
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), two, {"gpu-model"})), Code::kBadField);
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), two, {"gpu_model", "gpu_count"})), Code::kBadField);
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), two, {"gpu_count", "gpu_count"})), Code::kBadField);
  // Keys without auditors would be a requirement nobody can check.
  ExpectRejected(env, PostOffer(env, "dave", WithRequirement(Offer(), {}, {"gpu_model"})), Code::kBadField);
  ExpectOk(env, PostOffer(env, "dave", WithRequirement(Offer(), two, {"gpu_count", "gpu_model"})));
}

// ============================================================================================
// OfferUpdate and OfferWithdraw: ids and the offer's own provider
// ============================================================================================

TEST_CASE("rules offer update and withdraw: only the offer's provider, by a 32-byte id", "[rules][offers]") {
  TestEnv env;
  const std::string offer_id = RegisterAndOffer(env, "dave", Offer(4));
  // bob is a registered provider with an offer of his own: still not dave's offer.
  const std::string bobs = RegisterAndOffer(env, "bob", Offer(2));

  ExpectRejected(env, UpdateOffer(env, "bob", offer_id, Offer(8)), Code::kNotAuthorized);
  ExpectRejected(env, UpdateOffer(env, "dave", bobs, Offer(8)), Code::kNotAuthorized);
  ExpectRejected(env, WithdrawOffer(env, "bob", offer_id), Code::kNotAuthorized);
  ExpectRejected(env, WithdrawOffer(env, "carol", offer_id), Code::kNotAuthorized);
  ExpectRejected(env, WithdrawOffer(env, "dave", bobs), Code::kNotAuthorized);
  CHECK(OfferOf(env, offer_id).terms().capacity_units() == 4);
  CHECK(OfferOf(env, offer_id).state() == v1::OFFER_STATE_OPEN);
  CHECK(OfferOf(env, bobs).state() == v1::OFFER_STATE_OPEN);

  ExpectRejected(env, UpdateOffer(env, "dave", ShortId(), Offer(8)), Code::kBadField);
  ExpectRejected(env, UpdateOffer(env, "dave", LongId(), Offer(8)), Code::kBadField);
  ExpectRejected(env, UpdateOffer(env, "dave", "", Offer(8)), Code::kBadField);
  ExpectRejected(env, WithdrawOffer(env, "dave", ShortId()), Code::kBadField);
  ExpectRejected(env, WithdrawOffer(env, "dave", LongId()), Code::kBadField);
  ExpectRejected(env, WithdrawOffer(env, "dave", NoSuchId()), Code::kNotFound);
  // An update to an asset the chain does not have.
  v1::OfferTerms eur = Offer(8);
  eur.set_asset("EUR");
  ExpectRejected(env, UpdateOffer(env, "dave", offer_id, eur), Code::kUnknownAsset);

  ExpectOk(env, UpdateOffer(env, "dave", offer_id, Offer(8)));
  CHECK(OfferOf(env, offer_id).terms().capacity_units() == 8);
  ExpectOk(env, WithdrawOffer(env, "bob", bobs));
  CHECK(OfferOf(env, bobs).state() == v1::OFFER_STATE_WITHDRAWN);
  CHECK(OfferOf(env, offer_id).state() == v1::OFFER_STATE_OPEN);
}

// ============================================================================================
// ContractAccept
// ============================================================================================

TEST_CASE("rules accept: the renter signs alone, by a 32-byte offer id", "[rules][accept]") {
  TestEnv env;
  const std::string offer_id = RegisterAndOffer(env, "dave", Offer(4));
  ExpectRejected(env, Accept(env, std::vector<std::string>{"alice", "dave"}, offer_id, 1, 10'000), Code::kBadField);
  ExpectRejected(env, Accept(env, std::vector<std::string>{"alice", "bob"}, offer_id, 1, 10'000), Code::kBadField);
  ExpectRejected(env, Accept(env, "alice", ShortId(), 1, 10'000), Code::kBadField);
  ExpectRejected(env, Accept(env, "alice", LongId(), 1, 10'000), Code::kBadField);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  // The signer is the renter and pays the deposit.
  std::string ok = Accept(env, "carol", offer_id, 1, 10'000);
  ExpectOk(env, ok);
  CHECK(ContractOf(env, IdOf(ok)).terms().renter() == env.Pub("carol").bytes());
  CHECK(env.Balance("carol", "USDC") == kFunding - 10'000);
  CHECK(env.Balance("alice", "USDC") == kFunding);
}

TEST_CASE("rules accept: the duration may equal the offer's maximum and minimum", "[rules][accept]") {
  TestEnv env;
  v1::OfferTerms terms = Offer(8);
  terms.set_min_duration_ms(60'000);
  terms.set_max_duration_ms(3'600'000);
  const std::string offer_id = RegisterAndOffer(env, "dave", terms);
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000, 3'600'001), Code::kBadField);
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000, 59'999), Code::kBadField);
  std::string at_max = Accept(env, "alice", offer_id, 1, 10'000, 3'600'000);
  ExpectOk(env, at_max);
  CHECK(ContractOf(env, IdOf(at_max)).end_ms() == env.now_ms() + 3'600'000);
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000, 3'599'999));
  std::string at_min = Accept(env, "alice", offer_id, 1, 10'000, 60'000);
  ExpectOk(env, at_min);
  CHECK(ContractOf(env, IdOf(at_min)).end_ms() == env.now_ms() + 60'000);
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000, 60'001));
  CHECK(OfferOf(env, offer_id).reserved_units() == 4);
}

TEST_CASE("rules accept: with a minimum but no maximum an open-ended contract is allowed", "[rules][accept]") {
  TestEnv env;
  v1::OfferTerms terms = Offer(4);
  terms.set_min_duration_ms(60'000);
  const std::string offer_id = RegisterAndOffer(env, "dave", terms);
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000, 59'999), Code::kBadField);
  std::string open = Accept(env, "alice", offer_id, 1, 10'000, 0);
  ExpectOk(env, open);
  CHECK(ContractOf(env, IdOf(open)).end_ms() == 0);
  ExpectOk(env, Accept(env, "alice", offer_id, 1, 10'000, kHourMs * 24 * 365));
  CHECK(OfferOf(env, offer_id).reserved_units() == 2);
}

TEST_CASE("rules accept: the start may be the block's time but not 1 ms before", "[rules][accept]") {
  TestEnv env;
  const std::string offer_id = RegisterAndOffer(env, "dave", Offer(4));
  // ExpectRejected and ExpectOk close the next block 1000 ms from now.
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000, 0, env.now_ms() + 999), Code::kTooLate);
  std::string exact = Accept(env, "alice", offer_id, 1, 10'000, 0, env.now_ms() + 1'000);
  ExpectOk(env, exact);
  CHECK(ContractOf(env, IdOf(exact)).terms().start_ms() == env.now_ms());
  std::string later = Accept(env, "alice", offer_id, 1, 10'000, 0, env.now_ms() + 1'001);
  ExpectOk(env, later);
  CHECK(ContractOf(env, IdOf(later)).terms().start_ms() == env.now_ms() + 1);
}

TEST_CASE("rules accept: the offer's price over the asked duration fits 64 bits exactly", "[rules][accept]") {
  TestEnv env;
  // 1 unit at 2^64-1 per hour: one hour is worth exactly 2^64-1.
  const std::string offer_id = RegisterAndOffer(env, "dave", Offer(1, kMax));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000, kHourMs + 1), Code::kOverflow);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  std::string at_limit = Accept(env, "alice", offer_id, 1, 10'000, kHourMs);
  ExpectOk(env, at_limit);
  CHECK(ContractOf(env, IdOf(at_limit)).end_ms() == env.now_ms() + kHourMs);
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
}

TEST_CASE("rules accept: start + duration fits 64 bits exactly", "[rules][accept]") {
  TestEnv env;
  const std::string offer_id = RegisterAndOffer(env, "dave", Offer(4));
  ExpectRejected(env, Accept(env, "alice", offer_id, 1, 10'000, 1'000, kMax - 999), Code::kOverflow);
  CHECK(OfferOf(env, offer_id).reserved_units() == 0);
  std::string at_limit = Accept(env, "alice", offer_id, 1, 10'000, 1'000, kMax - 1'000);
  ExpectOk(env, at_limit);
  CHECK(ContractOf(env, IdOf(at_limit)).end_ms() == kMax);
  CHECK(OfferOf(env, offer_id).reserved_units() == 1);
}

// ============================================================================================
// ContractPropose: the shape of the terms
// ============================================================================================

TEST_CASE("rules propose: renter provider broker and arbiter are 32-byte keys", "[rules][propose]") {
  TestEnv env;
  const std::string short_key = env.Pub("carol").bytes().substr(0, 31);
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  t.set_renter(short_key);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadKey);
  t = Terms(env, 1, kPerMs, 10'000);
  t.set_provider(short_key);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadKey);
  t = Terms(env, 1, kPerMs, 10'000, 100, true);
  t.set_broker(short_key);
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, t), Code::kBadKey);
  t = Terms(env, 1, kPerMs, 10'000);
  t.set_arbiter(short_key);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadKey);
  t = Terms(env, 1, kPerMs, 10'000);
  t.set_renter("");
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadKey);
  CHECK(env.Balance("alice", "USDC") == kFunding);
}

TEST_CASE("rules propose: renter and provider differ, billing period positive", "[rules][propose]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  t.set_provider(env.Pub("alice").bytes());
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = Terms(env, 1, kPerMs, 10'000);
  t.set_billing_period_ms(0);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t.set_billing_period_ms(1);
  ExpectOk(env, Propose(env, {"alice", "dave"}, t));
  CHECK(env.Balance("alice", "USDC") == kFunding - 10'000);
}

TEST_CASE("rules propose: the broker fee may be all 10000 basis points", "[rules][propose]") {
  TestEnv env;
  ExpectRejected(env, Propose(env, {"alice", "dave", "bob"}, Terms(env, 1, kPerMs, 100'000, 10'001, true)), Code::kBadField);
  std::string all = Propose(env, {"alice", "dave", "bob"}, Terms(env, 1, kPerMs, 100'000, 10'000, true));
  std::string most = Propose(env, {"alice", "dave", "bob"}, Terms(env, 1, kPerMs, 100'000, 9'999, true));
  env.Submit(all);
  env.Submit(most);
  REQUIRE(env.Close().rejected.empty());
  env.Submit(Settle(env, "carol", IdOf(all)));
  env.Submit(Settle(env, "carol", IdOf(most)));
  REQUIRE(env.Close(1'000).rejected.empty());  // 1_000 accrued on each
  v1::Contract a = ContractOf(env, IdOf(all)), m = ContractOf(env, IdOf(most));
  CHECK(a.paid_broker() == 1'000);
  CHECK(a.paid_provider() == 0);
  CHECK(m.paid_broker() == 999);  // floor(1_000 x 0.9999)
  CHECK(m.paid_provider() == 1);
  CHECK(env.Balance("bob", "USDC") == kFunding + 1'999);
  CHECK(env.Balance("dave", "USDC") == kFunding + 1);
}

TEST_CASE("rules propose: at most 8 metered prices with sorted valid names and positive prices", "[rules][propose]") {
  TestEnv env;
  auto with_metered = [&](size_t n) {
    v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
    for (size_t i = 0; i < n; ++i) AddMetered(&t, "m" + std::to_string(i), 1 + i);
    return t;
  };
  ExpectRejected(env, Propose(env, {"alice", "dave"}, with_metered(9)), Code::kTooLarge);
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  AddMetered(&t, "egress-gb", 1);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = Terms(env, 1, kPerMs, 10'000);
  AddMetered(&t, std::string(33, 'e'), 1);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = Terms(env, 1, kPerMs, 10'000);
  AddMetered(&t, "storage_gb", 1);
  AddMetered(&t, "egress_gb", 1);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = Terms(env, 1, kPerMs, 10'000);
  AddMetered(&t, "egress_gb", 1);
  AddMetered(&t, "egress_gb", 2);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = Terms(env, 1, kPerMs, 10'000);
  AddMetered(&t, "egress_gb", 0);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadAmount);
  CHECK(env.Balance("alice", "USDC") == kFunding);

  std::string eight = Propose(env, {"alice", "dave"}, with_metered(8));
  ExpectOk(env, eight);
  CHECK(ContractOf(env, IdOf(eight)).terms().metered_size() == 8);
  ExpectOk(env, Propose(env, {"alice", "dave"}, with_metered(7)));
  CHECK(env.Balance("alice", "USDC") == kFunding - 20'000);
}

TEST_CASE("rules propose: resources and requirement follow the shape rules", "[rules][propose]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  for (const auto& a : ManyAttributes(33)) *t.add_resources() = a;
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kTooLarge);
  t = Terms(env, 1, kPerMs, 10'000);
  t.mutable_requirement()->add_attribute_keys("gpu_model");  // keys without auditors
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kBadField);
  t = Terms(env, 1, kPerMs, 10'000);
  for (const auto& a : FakeAuditors(17)) t.mutable_requirement()->add_auditors(a);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kTooLarge);
  CHECK(env.Balance("alice", "USDC") == kFunding);
}

TEST_CASE("rules propose: units x price fits 64 bits exactly", "[rules][propose]") {
  TestEnv env;
  ExpectRejected(env, Propose(env, {"alice", "dave"}, Terms(env, 3, kMax / 3 + 1, 10'000)), Code::kOverflow);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  // At the limit it forms (its escrow lasts a millisecond; the test ends before that block).
  std::string at_limit = Propose(env, {"alice", "dave"}, Terms(env, 3, kMax / 3, 10'000));
  ExpectOk(env, at_limit);
  CHECK(ContractOf(env, IdOf(at_limit)).state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(env.Balance("alice", "USDC") == kFunding - 10'000);
}

TEST_CASE("rules propose: the total charge over the duration fits 64 bits exactly", "[rules][propose]") {
  TestEnv env;
  // 1 unit at 2^64-1 per hour: exactly one hour is worth 2^64-1.
  v1::ContractTerms t = Terms(env, 1, kMax, 10'000);
  t.set_duration_ms(kHourMs + 1);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kOverflow);
  t.set_duration_ms(kHourMs);
  std::string at_limit = Propose(env, {"alice", "dave"}, t);
  ExpectOk(env, at_limit);
  CHECK(ContractOf(env, IdOf(at_limit)).end_ms() == env.now_ms() + kHourMs);
}

TEST_CASE("rules propose: start + duration fits 64 bits exactly", "[rules][propose]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  t.set_duration_ms(1'000);
  t.set_start_ms(kMax - 999);
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kOverflow);
  CHECK(env.Balance("alice", "USDC") == kFunding);
  t.set_start_ms(kMax - 1'000);
  std::string at_limit = Propose(env, {"alice", "dave"}, t);
  ExpectOk(env, at_limit);
  v1::Contract c = ContractOf(env, IdOf(at_limit));
  CHECK(c.end_ms() == kMax);
  CHECK(c.terms().start_ms() == kMax - 1'000);
}

TEST_CASE("rules propose: the start may be the block's time but not 1 ms before", "[rules][propose]") {
  TestEnv env;
  v1::ContractTerms t = Terms(env, 1, kPerMs, 10'000);
  t.set_start_ms(env.now_ms() + 999);  // the block is at now + 1000
  ExpectRejected(env, Propose(env, {"alice", "dave"}, t), Code::kTooLate);
  t.set_start_ms(env.now_ms() + 1'000);
  std::string exact = Propose(env, {"alice", "dave"}, t);
  ExpectOk(env, exact);
  v1::Contract c = ContractOf(env, IdOf(exact));
  CHECK(c.terms().start_ms() == env.now_ms());
  CHECK(c.formed_at_ms() == env.now_ms());
}
