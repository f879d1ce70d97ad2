// Fault injection into the application, one invariant of contracts/invariants.cpp at a time.
//
// FaultyApp is the real contracts::KontorApp, except that a transfer with memo "fault" also
// breaks one record (a stand-in for an application bug). Each test:
//   1. builds the records the fault needs with real txs (contracts in notice, closed contracts,
//      invoices, offers...), in blocks produced by a chain running FaultyApp and committed by a
//      follower running the real rules (the TestEnv's own chain), so both stay equal;
//   2. produces one block from [good, trigger, good]: the proposer must drop the trigger with
//      Code::kInvariantBroken naming the broken rule, and still build the block;
//   3. checks the follower accepts that block, the broken record is as it was, and the two
//      chains agree on the state root.
// Without the rule under test the trigger would be included, and step 2 fails.
#include <catch2/catch.hpp>

#include <functional>

#include "contracts/app.h"
#include "contracts/escrow.h"
#include "contracts/records.h"
#include "ledger/accounts.h"
#include "tests/support/delegating_app.h"
#include "tests/support/scenario.h"
#include "tests/support/test_env.h"

using namespace kontor;
using namespace kontor::test::scenario;  // Terms, Propose, Notice, CloseContract, Settle, IdOf, ...
using kontor::contracts::Kind;
using kontor::test::TestEnv;
using kontor::test::TxOptions;

namespace {

constexpr uint64_t kPrice = 3'600'000;  // per unit-hour: 1 per unit per ms
constexpr uint64_t kHour = 3'600'000;
constexpr const char* kTriggerMemo = "fault";

using Fault = std::function<void(StateDelta&)>;

class FaultyApp final : public kontor::test::DelegatingApp {
 public:
  Fault fault;  // applied after the real rules, for a transfer with memo "fault"

  Result Apply(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) override {
    KONTOR_RETURN_IF_ERROR(real_.Apply(tx, env, s));
    if (fault && tx.body.has_transfer() && tx.body.transfer().memo() == kTriggerMemo) fault(s);
    return Result::Ok();
  }
};

// Two chains on one genesis: `faulty` (proposer, FaultyApp) and env.chain() (follower, real rules).
// Setup txs come from alice (renter) and dave (provider); the trigger block uses bob and carol.
struct Rig {
  TestEnv env;
  FaultyApp app;
  std::unique_ptr<Chain> faulty;
  uint64_t now_ms;

  explicit Rig(kontor::test::TestEnvOptions env_options = {}) : env(std::move(env_options)), now_ms(env.now_ms()) {
    ChainOptions options;
    options.store.in_memory = true;
    options.store.sync = false;
    options.threads = 2;
    Result r = Chain::Open(options, env.genesis(), &app, &faulty);
    INFO(r.ToString());
    REQUIRE(r.ok());
  }

  // A block of `txs` that must all be included, committed by both chains.
  void Block(const std::vector<std::string>& txs, uint64_t advance_ms = 1000) {
    now_ms += advance_ms;
    std::vector<std::string_view> views(txs.begin(), txs.end());
    ExecutedBlock produced;
    std::vector<RejectedTx> rejected;
    Result r = faulty->ProduceBlock(views, now_ms, env.validator(), env.random(), &produced, &rejected);
    INFO(r.ToString());
    REQUIRE(r.ok());
    for (const auto& rej : rejected) FAIL_CHECK("setup tx " << rej.index << " rejected: " << rej.result.ToString());
    REQUIRE(rejected.empty());
    Commit(produced);
  }
  void Commit(const ExecutedBlock& produced) {
    Result r = env.chain().CommitBlock(produced.block.block, produced.commit);
    INFO(r.ToString());
    REQUIRE(r.ok());
    REQUIRE(env.chain().state().root() == faulty->state().root());
  }

  std::string Transfer(const std::string& from, const std::string& to, uint64_t amount, const std::string& memo) {
    return env.Build({from}, [&](v1::TxBody& b) {
      b.mutable_transfer()->set_to(env.Pub(to).bytes());
      b.mutable_transfer()->set_asset("KTR");
      b.mutable_transfer()->set_amount(amount);
      b.mutable_transfer()->set_memo(memo);
    }, TxOptions{.nonce = env.Nonce(from)});
  }

  // Produces [good, trigger, good] with `fault` armed: the trigger must be dropped with
  // kInvariantBroken and a message containing `fragment`; the follower must accept the block.
  void ExpectDropped(Fault fault, const std::string& fragment) {
    const Hash256 root_before = faulty->state().root();
    std::string good1 = Transfer("bob", "carol", 1, "");
    std::string trigger = Transfer("carol", "bob", 2, kTriggerMemo);
    std::string good2 = env.Build({"bob"}, [&](v1::TxBody& b) {
      b.mutable_transfer()->set_to(env.Pub("carol").bytes());
      b.mutable_transfer()->set_asset("KTR");
      b.mutable_transfer()->set_amount(4);
    }, TxOptions{.nonce = env.Nonce("bob") + 1});
    const uint64_t bob = BalanceOf(LoadAccount(faulty->state(), env.Pub("bob")), "KTR");
    const uint64_t carol = BalanceOf(LoadAccount(faulty->state(), env.Pub("carol")), "KTR");

    app.fault = std::move(fault);
    now_ms += 1000;
    std::vector<std::string_view> views = {good1, trigger, good2};
    ExecutedBlock produced;
    std::vector<RejectedTx> rejected;
    Result r = faulty->ProduceBlock(views, now_ms, env.validator(), env.random(), &produced, &rejected);
    app.fault = nullptr;
    INFO(r.ToString());
    REQUIRE(r.ok());  // the block is built; only the trigger is left out
    REQUIRE(rejected.size() == 1);
    CHECK(rejected[0].index == 1);
    CHECK(rejected[0].txid == TestEnv::Txid(trigger));
    CHECK(rejected[0].result.code() == Code::kInvariantBroken);
    CHECK_THAT(rejected[0].result.message(), Catch::Contains(fragment));
    REQUIRE(produced.block.txs.size() == 2);
    CHECK(produced.block.txs[0].txid == TestEnv::Txid(good1));
    CHECK(produced.block.txs[1].txid == TestEnv::Txid(good2));
    // The two good transfers moved 5 KTR from bob to carol (fees 10 each to the validator).
    CHECK(BalanceOf(LoadAccount(faulty->state(), env.Pub("bob")), "KTR") == bob - 5 - 20);
    CHECK(BalanceOf(LoadAccount(faulty->state(), env.Pub("carol")), "KTR") == carol + 5);
    CHECK(faulty->state().root() != root_before);
    // A validator running the real rules accepts the block and reaches the same state.
    Commit(produced);
  }

  // ---- Records, read from the follower (the real rules) ----
  v1::Contract Contract(const std::string& id) {
    auto c = contracts::Load<v1::Contract>(env.chain().state(), Kind::kContract, id);
    REQUIRE(c.has_value());
    return *c;
  }
  v1::Invoice Invoice(const std::string& id) {
    auto i = contracts::Load<v1::Invoice>(env.chain().state(), Kind::kInvoice, id);
    REQUIRE(i.has_value());
    return *i;
  }
  v1::Offer Offer(const std::string& id) {
    auto o = contracts::Load<v1::Offer>(env.chain().state(), Kind::kOffer, id);
    REQUIRE(o.has_value());
    return *o;
  }

  // ---- Setups ----

  // alice rents 1 unit (1 per ms) from dave, streamed, 100_000 deposited; returns its id.
  std::string ActiveContract(bool invoiced = false, uint64_t deposit = 100'000) {
    v1::ContractTerms terms = Terms(env, 1, kPrice, deposit);
    terms.set_invoiced(invoiced);
    std::string tx = Propose(env, {"alice", "dave"}, terms);
    Block({tx});
    REQUIRE(Contract(IdOf(tx)).state() == v1::CONTRACT_STATE_ACTIVE);
    return IdOf(tx);
  }
  // A streamed contract with a metered price egress_gb = 10, after a report of 5: 50 charged and paid.
  std::string MeteredContract() {
    v1::ContractTerms terms = Terms(env, 1, kPrice, 100'000);
    auto* m = terms.add_metered();
    m->set_name("egress_gb");
    m->set_price_per_unit(10);
    std::string tx = Propose(env, {"alice", "dave"}, terms);
    Block({tx});
    std::string report = env.Build({"dave"}, [&](v1::TxBody& b) {
      auto* u = b.mutable_usage_report();
      u->set_contract_id(IdOf(tx));
      auto* q = u->add_cumulative();
      q->set_name("egress_gb");
      q->set_quantity(5);
    });
    Block({report});
    return IdOf(tx);
  }
  std::string NoticeContract() {
    std::string id = ActiveContract();
    Block({Notice(env, "dave", id)});
    REQUIRE(Contract(id).state() == v1::CONTRACT_STATE_NOTICE);
    REQUIRE(Contract(id).termination_at_ms() > now_ms + 2000);  // still in notice at the trigger block
    return id;
  }
  std::string ClosedContract() {
    std::string id = ActiveContract();
    Block({CloseContract(env, "alice", id)});
    v1::Contract c = Contract(id);
    REQUIRE(c.state() == v1::CONTRACT_STATE_CLOSED);
    REQUIRE(EscrowSum(c) == 0);
    return id;
  }
  // An invoiced contract with one escrow-sourced invoice over its first second; returns the invoice id.
  std::string IssuedInvoice(std::string* contract_id = nullptr) {
    std::string id = ActiveContract(true, 1'000'000);
    const uint64_t t0 = Contract(id).terms().start_ms();
    v1::InvoiceIssue lines;
    lines.set_contract_id(id);
    lines.set_period_start_ms(t0);
    lines.set_period_end_ms(t0 + 1000);
    lines.set_time_charge(1000);
    lines.set_total(1000);
    lines.set_due_at_ms(t0 + kHour);
    std::string tx = env.Build({"dave"}, [&](v1::TxBody& b) { *b.mutable_invoice_issue() = lines; });
    Block({tx}, 2000);
    v1::Invoice inv = Invoice(IdOf(tx));
    REQUIRE(inv.state() == v1::INVOICE_STATE_ISSUED);
    REQUIRE(inv.amount_due() == 1000);
    if (contract_id) *contract_id = id;
    return IdOf(tx);
  }
  std::string PaidInvoice() {
    std::string id = IssuedInvoice();
    Block({env.Build({"alice"}, [&](v1::TxBody& b) { b.mutable_invoice_accept()->set_invoice_id(id); })});
    REQUIRE(Invoice(id).state() == v1::INVOICE_STATE_PAID);
    return id;
  }
  std::string OpenOffer() {
    std::string reg = env.Build({"dave"}, [&](v1::TxBody& b) {
      auto* a = b.mutable_provider_register()->add_attributes();
      a->set_key("gpu_count");
      a->set_number(8);
    });
    v1::OfferTerms t;
    auto* r = t.add_resources();
    r->set_key("gpu_count");
    r->set_number(1);
    t.set_capacity_units(4);
    t.set_price_per_unit_hour(kPrice);
    t.set_asset("USDC");
    t.set_billing_period_ms(60'000);
    t.set_notice_period_ms(5'000);
    std::string post = env.Build({"dave"}, [&](v1::TxBody& b) { *b.mutable_offer_post()->mutable_terms() = t; });
    Block({reg});
    Block({post});
    REQUIRE(Offer(IdOf(post)).state() == v1::OFFER_STATE_OPEN);
    return IdOf(post);
  }
  std::string WithdrawnOffer() {
    std::string id = OpenOffer();
    Block({env.Build({"dave"}, [&](v1::TxBody& b) { b.mutable_offer_withdraw()->set_offer_id(id); })});
    REQUIRE(Offer(id).state() == v1::OFFER_STATE_WITHDRAWN);
    return id;
  }
};

// Read-modify-write helpers for the faults.
template <typename Message>
Fault Edit(Kind kind, const std::string& id, std::function<void(Message&)> edit) {
  return [kind, id, edit](StateDelta& s) {
    auto m = contracts::Load<Message>(s, kind, id);
    REQUIRE(m.has_value());
    edit(*m);
    contracts::Store(s, kind, id, *m);
  };
}
Fault EditContract(const std::string& id, std::function<void(v1::Contract&)> edit) {
  return Edit<v1::Contract>(Kind::kContract, id, std::move(edit));
}
Fault EditInvoice(const std::string& id, std::function<void(v1::Invoice&)> edit) {
  return Edit<v1::Invoice>(Kind::kInvoice, id, std::move(edit));
}
Fault EditOffer(const std::string& id, std::function<void(v1::Offer&)> edit) {
  return Edit<v1::Offer>(Kind::kOffer, id, std::move(edit));
}
Fault Erase(Kind kind, const std::string& id) {
  return [kind, id](StateDelta& s) { s.EraseRecord(static_cast<uint8_t>(kind), id); };
}
Fault EditAccount(const PublicKey& key, std::function<void(v1::Account&)> edit) {
  return [key, edit](StateDelta& s) {
    v1::Account a = LoadAccount(s, key);
    edit(a);
    StoreAccount(s, key, a);
  };
}

}  // namespace

// ============================================================================================
// Supply and accounts
// ============================================================================================

TEST_CASE("invariant faults: value created out of nothing breaks the supply", "[invariants]") {
  Rig rig;
  rig.ExpectDropped(EditAccount(rig.env.Pub("carol"), [](v1::Account& a) { REQUIRE(Credit(&a, "USDC", 1).ok()); }),
                    "supply of USDC: balances changed by 1");
  CHECK(rig.env.Balance("carol", "USDC") == kFunding);
}

TEST_CASE("invariant faults: value destroyed breaks the supply", "[invariants]") {
  Rig rig;
  rig.ExpectDropped(EditAccount(rig.env.Pub("carol"),
                                [&](v1::Account& a) { REQUIRE(Debit(&a, "USDC", 3, rig.env.Pub("carol")).ok()); }),
                    "supply of USDC: balances changed by -3");
  CHECK(rig.env.Balance("carol", "USDC") == kFunding);
}

TEST_CASE("invariant faults: balances out of asset order", "[invariants]") {
  Rig rig;
  rig.ExpectDropped(EditAccount(rig.env.Pub("carol"),
                                [](v1::Account& a) {
                                  REQUIRE(a.balances_size() == 2);  // KTR, USDC
                                  a.mutable_balances()->SwapElements(0, 1);
                                }),
                    "has unsorted or zero balances");
}

TEST_CASE("invariant faults: a zero balance entry", "[invariants]") {
  Rig rig;
  rig.ExpectDropped(EditAccount(rig.env.Pub("carol"),
                                [](v1::Account& a) {
                                  v1::Balance* b = a.add_balances();
                                  b->set_asset("ZZZ");  // sorts last
                                  b->set_amount(0);
                                }),
                    "has unsorted or zero balances");
}

TEST_CASE("invariant faults: the genesis supply of an asset changed", "[invariants]") {
  Rig rig;
  rig.ExpectDropped(
      [](StateDelta& s) {
        auto asset = LoadAsset(s, "USDC");
        REQUIRE(asset.has_value());
        asset->set_genesis_supply(asset->genesis_supply() + 1);
        StoreAsset(s, *asset);
      },
      "genesis supply of USDC changed");
  auto asset = LoadAsset(rig.env.chain().state(), "USDC");
  REQUIRE(asset.has_value());
  CHECK(asset->genesis_supply() == 4 * kFunding);
}

TEST_CASE("invariant faults: a deposit recorded on an asset with no balance credited", "[invariants]") {
  // WETH is held by nobody: its supply grows while no account holding it changes at all.
  kontor::test::TestEnvOptions options;
  options.extra_bridged_assets = {{"WETH", 18}};
  Rig rig(options);
  rig.ExpectDropped(
      [](StateDelta& s) {
        auto asset = LoadAsset(s, "WETH");
        REQUIRE(asset.has_value());
        asset->set_deposited(asset->deposited() + 1);
        StoreAsset(s, *asset);
      },
      "supply of WETH changed by 1 with no balance change");
  CHECK(LoadAsset(rig.env.chain().state(), "WETH")->deposited() == 0);
}

TEST_CASE("invariant faults: lifetime deposit and withdrawal totals go down together", "[invariants]") {
  // 100 USDC deposited and 50 withdrawn for real; the fault lowers both totals by one, which keeps
  // the net supply: only the rule that lifetime totals never go down catches it.
  Rig rig;
  rig.Block({rig.env.Transfer("alice", "gateway", "KTR", 1'000'000)});
  rig.Block({Deposit(rig.env, "gateway", "USDC", 100, "alice", "ethereum", "0x01")});
  rig.Block({rig.env.Build({"alice"}, [](v1::TxBody& b) {
    auto* w = b.mutable_asset_withdraw();
    w->set_asset("USDC");
    w->set_amount(50);
    w->set_network("ethereum");
    w->set_destination("0x00000000000000000000000000000000000000b0");
  })});
  rig.ExpectDropped(
      [](StateDelta& s) {
        auto asset = LoadAsset(s, "USDC");
        REQUIRE(asset.has_value());
        REQUIRE(asset->deposited() == 100);
        REQUIRE(asset->withdrawn() == 50);
        asset->set_deposited(99);
        asset->set_withdrawn(49);
        StoreAsset(s, *asset);
      },
      "the deposited or withdrawn total of USDC went down");
  CHECK(LoadAsset(rig.env.chain().state(), "USDC")->deposited() == 100);
}

TEST_CASE("invariant faults: an outstanding supply past 2^64-1", "[invariants]") {
  Rig rig;
  rig.ExpectDropped(
      [](StateDelta& s) {
        auto asset = LoadAsset(s, "USDC");
        REQUIRE(asset.has_value());
        asset->set_deposited(UINT64_MAX);
        StoreAsset(s, *asset);
      },
      "is outside 0..2^64-1");
}

// ============================================================================================
// Contracts: states
// ============================================================================================

TEST_CASE("invariant faults: a contract in notice goes back to active", "[invariants]") {
  Rig rig;
  std::string id = rig.NoticeContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_ACTIVE); }),
                    "moved from state 2 to 1");
  CHECK(rig.Contract(id).state() == v1::CONTRACT_STATE_NOTICE);
}

TEST_CASE("invariant faults: a closed contract goes back to active", "[invariants]") {
  Rig rig;
  std::string id = rig.ClosedContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_ACTIVE); }),
                    "moved from state 3 to 1");
  CHECK(rig.Contract(id).state() == v1::CONTRACT_STATE_CLOSED);
}

TEST_CASE("invariant faults: a closed contract goes back to notice", "[invariants]") {
  Rig rig;
  std::string id = rig.ClosedContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_NOTICE); }),
                    "moved from state 3 to 2");
}

TEST_CASE("invariant faults: an active contract goes back to unspecified", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_UNSPECIFIED); }),
                    "moved from state 1 to 0");
  CHECK(rig.Contract(id).state() == v1::CONTRACT_STATE_ACTIVE);
}

TEST_CASE("invariant faults: a contract in notice goes back to unspecified", "[invariants]") {
  Rig rig;
  std::string id = rig.NoticeContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_UNSPECIFIED); }),
                    "moved from state 2 to 0");
}

TEST_CASE("invariant faults: a contract is erased", "[invariants]") {
  Rig rig;
  // A closed contract holds no escrow: erasing it changes no supply, only the record rule sees it.
  std::string id = rig.ClosedContract();
  rig.ExpectDropped(Erase(Kind::kContract, id), "was erased");
  CHECK(rig.Contract(id).state() == v1::CONTRACT_STATE_CLOSED);
}

// ============================================================================================
// Contracts: charges, payments and escrow
// ============================================================================================

TEST_CASE("invariant faults: a streamed contract charged more than was paid", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_charged(c.charged() + 1); }),
                    "charges differ from provider + broker payments");
}

TEST_CASE("invariant faults: a streamed contract paid more than was charged", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract();
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_paid_broker(c.paid_broker() + 1); }),
                    "charges differ from provider + broker payments");
}

TEST_CASE("invariant faults: an invoiced contract paid more than was charged", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract(true);
  rig.ExpectDropped(EditContract(id,
                                 [](v1::Contract& c) {
                                   REQUIRE(c.terms().invoiced());
                                   c.set_paid_provider(c.charged() + c.metered_charged() + 1);
                                 }),
                    "provider + broker were paid more than was charged");
}

TEST_CASE("invariant faults: escrow owed and locked exceeds the escrow", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract(true);
  rig.ExpectDropped(EditContract(id,
                                 [](v1::Contract& c) {
                                   c.set_owed(contracts::EscrowTotal(c) - 5);
                                   c.set_locked(6);
                                 }),
                    "owed to invoices and locked by disputes exceeds the escrow");
}

TEST_CASE("invariant faults: a closed contract holding escrow", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract();
  // Closing without refunding: active -> closed is legal, the escrow left behind is not.
  rig.ExpectDropped(EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_CLOSED); }),
                    "is closed but holds escrow no invoice reserves");
  CHECK(rig.Contract(id).state() == v1::CONTRACT_STATE_ACTIVE);
  CHECK(EscrowSum(rig.Contract(id)) == 100'000);
}

TEST_CASE("invariant faults: a contract's time charges go down", "[invariants]") {
  Rig rig;
  std::string id = rig.ActiveContract();
  rig.Block({Settle(rig.env, "dave", id)}, 3000);
  v1::Contract settled = rig.Contract(id);
  REQUIRE(settled.charged() == 3000);
  REQUIRE(settled.paid_provider() == 3000);
  // Charges and payments both lowered by one: they still match, only the monotonicity rule sees it.
  rig.ExpectDropped(EditContract(id,
                                 [](v1::Contract& c) {
                                   c.set_charged(c.charged() - 1);
                                   c.set_paid_provider(c.paid_provider() - 1);
                                 }),
                    "charges went down");
  CHECK(rig.Contract(id).charged() == 3000);
}

TEST_CASE("invariant faults: a contract's metered charges go down", "[invariants]") {
  Rig rig;
  std::string id = rig.MeteredContract();
  v1::Contract c0 = rig.Contract(id);
  REQUIRE(c0.metered_charged() == 50);
  REQUIRE(c0.charged() + c0.metered_charged() == c0.paid_provider());
  // Moved from metered to time: the total and the payments match, only the monotonicity rule sees it.
  rig.ExpectDropped(EditContract(id,
                                 [](v1::Contract& c) {
                                   c.set_metered_charged(c.metered_charged() - 1);
                                   c.set_charged(c.charged() + 1);
                                 }),
                    "charges went down");
  CHECK(rig.Contract(id).metered_charged() == 50);
}

// ============================================================================================
// Invoices
// ============================================================================================

TEST_CASE("invariant faults: an invoice is erased", "[invariants]") {
  Rig rig;
  std::string id = rig.IssuedInvoice();
  rig.ExpectDropped(Erase(Kind::kInvoice, id), "was erased");
  CHECK(rig.Invoice(id).state() == v1::INVOICE_STATE_ISSUED);
}

TEST_CASE("invariant faults: an invoice paid more than is due", "[invariants]") {
  Rig rig;
  std::string id = rig.IssuedInvoice();
  rig.ExpectDropped(EditInvoice(id, [](v1::Invoice& i) { i.set_paid(i.amount_due() + 1); }), "paid 1001 <= due 1000");
  CHECK(rig.Invoice(id).paid() == 0);
}

TEST_CASE("invariant faults: an invoice due more than its total", "[invariants]") {
  Rig rig;
  std::string id = rig.IssuedInvoice();
  rig.ExpectDropped(EditInvoice(id, [](v1::Invoice& i) { i.set_amount_due(i.lines().total() + 1); }),
                    "due 1001 <= total 1000 fails");
  CHECK(rig.Invoice(id).amount_due() == 1000);
}

TEST_CASE("invariant faults: an invoice disputed plus paid exceeds what is due", "[invariants]") {
  Rig rig;
  std::string id = rig.IssuedInvoice();
  rig.ExpectDropped(EditInvoice(id,
                                [](v1::Invoice& i) {
                                  i.set_paid(400);      // paid <= due still holds
                                  i.set_disputed(601);  // but 400 + 601 > 1000
                                }),
                    "disputed or locked amounts exceed what is unpaid");
}

TEST_CASE("invariant faults: an invoice locks more than is disputed", "[invariants]") {
  Rig rig;
  std::string id = rig.IssuedInvoice();
  rig.ExpectDropped(EditInvoice(id,
                                [](v1::Invoice& i) {
                                  i.set_disputed(300);
                                  i.set_locked(301);
                                }),
                    "disputed or locked amounts exceed what is unpaid");
}

TEST_CASE("invariant faults: a paid invoice goes back to issued", "[invariants]") {
  Rig rig;
  std::string id = rig.PaidInvoice();
  rig.ExpectDropped(EditInvoice(id, [](v1::Invoice& i) { i.set_state(v1::INVOICE_STATE_ISSUED); }),
                    "moved from state 5 to 1");
  CHECK(rig.Invoice(id).state() == v1::INVOICE_STATE_PAID);
}

TEST_CASE("invariant faults: a paid invoice becomes voided", "[invariants]") {
  Rig rig;
  std::string id = rig.PaidInvoice();
  rig.ExpectDropped(EditInvoice(id, [](v1::Invoice& i) { i.set_state(v1::INVOICE_STATE_VOIDED); }),
                    "moved from state 5 to 6");
}

TEST_CASE("invariant faults: an issued invoice goes back to unspecified", "[invariants]") {
  Rig rig;
  std::string id = rig.IssuedInvoice();
  rig.ExpectDropped(EditInvoice(id, [](v1::Invoice& i) { i.set_state(v1::INVOICE_STATE_UNSPECIFIED); }),
                    "moved from state 1 to 0");
}

// ============================================================================================
// Offers
// ============================================================================================

TEST_CASE("invariant faults: an offer is erased", "[invariants]") {
  Rig rig;
  std::string id = rig.OpenOffer();
  rig.ExpectDropped(Erase(Kind::kOffer, id), "was erased");
  CHECK(rig.Offer(id).state() == v1::OFFER_STATE_OPEN);
}

TEST_CASE("invariant faults: an offer reserves more units than its capacity", "[invariants]") {
  Rig rig;
  std::string id = rig.OpenOffer();
  rig.ExpectDropped(EditOffer(id, [](v1::Offer& o) { o.set_reserved_units(o.terms().capacity_units() + 1); }),
                    "reserves more units than its capacity");
  CHECK(rig.Offer(id).reserved_units() == 0);
}

TEST_CASE("invariant faults: a withdrawn offer comes back", "[invariants]") {
  Rig rig;
  std::string id = rig.WithdrawnOffer();
  rig.ExpectDropped(EditOffer(id, [](v1::Offer& o) { o.set_state(v1::OFFER_STATE_OPEN); }),
                    "came back after being withdrawn");
  CHECK(rig.Offer(id).state() == v1::OFFER_STATE_WITHDRAWN);
}

// ============================================================================================
// The rigs themselves: without the trigger, the faulty app is the real one
// ============================================================================================

TEST_CASE("invariant faults: an armed fault does nothing without its trigger", "[invariants]") {
  Rig rig;
  std::string id = rig.NoticeContract();
  rig.app.fault = EditContract(id, [](v1::Contract& c) { c.set_state(v1::CONTRACT_STATE_ACTIVE); });
  rig.Block({rig.Transfer("carol", "bob", 2, "not the trigger")});
  rig.app.fault = nullptr;
  CHECK(rig.Contract(id).state() == v1::CONTRACT_STATE_NOTICE);
  CHECK(rig.env.Balance("bob", "KTR") == kFunding + 2);
}
