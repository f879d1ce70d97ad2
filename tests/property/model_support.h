// What the model-based property tests (test_contracts_model.cpp, test_invoices_model.cpp) share:
// the names and amounts of a TestEnv run, the part of a model contract and of the model's books
// both keep, the rules both follow word for word (a deposit into escrow, escrow paid out oldest
// deposit first, the broker's share of everything paid, the renter's close), the txs both send,
// the comparison of a contract's state, amounts and escrow, of balances and supply with the
// ledger, and the block driver that queues txs, closes blocks and checks each tx's code and then
// the state against the model.
//
// Each model stays in its own file; only code that was the same in both lives here.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/bytes.h"
#include "tests/support/test_env.h"

namespace kontor::test::model {

using U128 = unsigned __int128;
using I128 = __int128;

inline constexpr uint64_t kMsPerHour = 3'600'000;
inline constexpr uint64_t kFunding = 1'000'000'000;  // TestEnv's default, of USDC and KTR, to each name
inline constexpr uint64_t kFee = 10;                 // TestEnv's default fee, in KTR
inline constexpr size_t kDepositsMax = 64;           // separate escrow deposits a contract tracks

// Every key that may hold a balance: the four funded names, the gateway, the never-funded
// "nobody" and the validator (which collects the fees).
inline const std::vector<std::string> kHolders = {"alice", "bob", "carol", "dave", "gateway", "nobody", "validator"};
inline const std::vector<std::string> kFunded = {"alice", "bob", "carol", "dave"};

inline std::string ReasonName(v1::CloseReason r) { return v1::CloseReason_Name(r); }
inline std::string StateName(v1::ContractState s) { return v1::ContractState_Name(s); }

inline std::string I128Str(I128 v) { return DecimalString(v); }

// ---- What both models keep ----

// The balances and nonces of every holder, and the time of the block being built.
struct Books {
  uint64_t now = 0;  // the time of the block being built
  std::map<std::string, uint64_t> usdc, ktr, nonce;
};

// Each holder as TestEnv funds it: kFunding of USDC and KTR to the funded names, nonces at 0.
inline void Fund(Books& m) {
  for (const auto& h : kHolders) {
    bool funded = std::count(kFunded.begin(), kFunded.end(), h) > 0;
    m.usdc[h] = funded ? kFunding : 0;
    m.ktr[h] = funded ? kFunding : 0;
    m.nonce[h] = 0;
  }
}

struct MDeposit {
  std::string who;
  uint64_t amount = 0;
};

// A contract as both models keep it (renter alice, provider dave, broker bob if any).
struct ContractCore {
  std::string id;
  // Terms.
  uint64_t units = 0, price = 0, start = 0, end = 0 /* 0 = open-ended */, notice_period = 0;
  bool has_broker = false;
  uint32_t bps = 0;
  std::map<std::string, uint64_t> metered;  // name -> price per unit
  // What happened.
  v1::ContractState state = v1::CONTRACT_STATE_ACTIVE;
  v1::CloseReason reason = v1::CLOSE_REASON_UNSPECIFIED;
  uint64_t closed_at = 0;
  uint64_t termination = 0;
  uint64_t charged = 0, metered_charged = 0, paid_provider = 0, paid_broker = 0, refunded = 0;
  std::vector<MDeposit> escrow;
  std::map<std::string, uint64_t> usage;
  std::string last_report;

  bool closed() const { return state == v1::CONTRACT_STATE_CLOSED; }
};

inline uint64_t EscrowOf(const ContractCore& c) {
  uint64_t sum = 0;
  for (const auto& d : c.escrow) sum += d.amount;
  return sum;
}

// Puts `amount` of who's USDC in escrow: into who's deposit wherever it is, else as a new one at
// the end. A key that is not a party (renter alice, provider dave, broker bob if any) gets a new
// deposit only while fewer than 61 exist (kTooLarge) and with at least 1/64 of the escrow
// (kBadAmount); a party always finds a place. Changes nothing when refused.
inline Code Deposit(Books& m, ContractCore& c, const std::string& who, uint64_t amount) {
  auto own = std::find_if(c.escrow.begin(), c.escrow.end(), [&](const MDeposit& d) { return d.who == who; });
  if (own == c.escrow.end()) {
    bool party = who == "alice" || who == "dave" || (c.has_broker && who == "bob");
    if (!party && c.escrow.size() >= kDepositsMax - 3) return Code::kTooLarge;
    uint64_t total = 0;
    for (const auto& d : c.escrow) total += d.amount;
    if (!party && U128(amount) * 64 < total) return Code::kBadAmount;
  }
  m.usdc[who] -= amount;
  if (own != c.escrow.end()) own->amount += amount;
  else c.escrow.push_back({who, amount});
  return Code::kOk;
}

// Takes `amount` out of escrow, oldest deposit first.
inline void TakeFromEscrow(ContractCore& c, uint64_t amount) {
  uint64_t left = amount;
  for (auto& d : c.escrow) {
    uint64_t take = std::min(left, d.amount);
    d.amount -= take;
    left -= take;
  }
  c.escrow.erase(std::remove_if(c.escrow.begin(), c.escrow.end(), [](const MDeposit& d) { return d.amount == 0; }),
                 c.escrow.end());
}

// The broker's part of a payment of `amount`: its total is floor(all paid * bps / 10_000).
inline uint64_t BrokerPart(const ContractCore& c, uint64_t amount) {
  if (!c.has_broker) return 0;
  uint64_t total = c.paid_provider + c.paid_broker + amount;
  return static_cast<uint64_t>(U128(total) * c.bps / 10'000) - c.paid_broker;
}

// Credits `amount` to provider and broker; returns the broker's part.
inline uint64_t PayParties(Books& m, ContractCore& c, uint64_t amount) {
  uint64_t broker = BrokerPart(c, amount);
  m.usdc["bob"] += broker;
  m.usdc["dave"] += amount - broker;
  c.paid_broker += broker;
  c.paid_provider += amount - broker;
  return broker;
}

// The renter's close: now or, after the contract's notice or term ran out (the model's
// `ran_out`), at that moment for that reason; `close_at` is the model's close.
template <typename Model, typename Contract, typename RanOut, typename CloseAt>
Code RenterClose(Model& m, Contract& c, const std::string& who, RanOut ran_out, CloseAt close_at) {
  if (c.closed()) return Code::kWrongState;
  if (who != "alice") return Code::kNotAuthorized;
  if (auto out = ran_out(c, m.now)) close_at(m, c, out->first, out->second);
  else close_at(m, c, m.now, v1::CLOSE_REASON_RENTER_CLOSED);
  return Code::kOk;
}

// ---- Comparing the ledger with the model ----

inline PublicKey KeyOf(TestEnv& env, const std::string& name) {
  return name == "validator" ? env.validator().public_key() : env.Pub(name);
}

// Every difference between ledger and model, one a line.
struct Diff {
  std::ostringstream out;

  template <typename Ledger, typename Model>
  void Expect(const std::string& what, const Ledger& ledger, const Model& model) {
    if (!(ledger == model)) out << "  " << what << ": ledger " << ledger << ", model " << model << "\n";
  }
};

// The ledger's contract `mc.id`, its state, close, termination and amounts compared with the
// model's (`n` names it, ending in a space); nullopt, noted as missing, if it is not there.
inline std::optional<v1::Contract> CompareContract(Diff& diff, const State& state, const std::string& n,
                                                   const ContractCore& mc, uint64_t t0) {
  auto loaded = contracts::Load<v1::Contract>(state, contracts::Kind::kContract, mc.id);
  if (!loaded) {
    diff.out << "  " << n << "is missing\n";
    return std::nullopt;
  }
  const v1::Contract& c = *loaded;
  diff.Expect(n + "state", StateName(c.state()), StateName(mc.state));
  diff.Expect(n + "close_reason", ReasonName(c.close_reason()), ReasonName(mc.reason));
  if (mc.closed()) diff.Expect(n + "closed_at (ms since genesis)", c.closed_at_ms() - t0, mc.closed_at - t0);
  if (mc.state == v1::CONTRACT_STATE_NOTICE)
    diff.Expect(n + "termination_at (ms since genesis)", c.termination_at_ms() - t0, mc.termination - t0);
  diff.Expect(n + "charged", c.charged(), mc.charged);
  diff.Expect(n + "metered_charged", c.metered_charged(), mc.metered_charged);
  diff.Expect(n + "paid_provider", c.paid_provider(), mc.paid_provider);
  diff.Expect(n + "paid_broker", c.paid_broker(), mc.paid_broker);
  diff.Expect(n + "refunded", c.refunded(), mc.refunded);
  return loaded;
}

// A contract's escrow, its total and each deposit with its depositor; returns the ledger's total.
inline uint64_t CompareEscrow(Diff& diff, TestEnv& env, const std::string& n, const v1::Contract& c,
                              const ContractCore& mc) {
  uint64_t escrow = 0;
  std::ostringstream ledger_deposits, model_deposits;
  for (const auto& d : c.escrow()) {
    escrow += d.amount();
    std::string who = "?";
    for (const auto& h : kHolders)
      if (KeyOf(env, h).view() == d.depositor()) who = h;
    ledger_deposits << who << ":" << d.amount() << " ";
  }
  for (const auto& d : mc.escrow) model_deposits << d.who << ":" << d.amount << " ";
  diff.Expect(n + "escrow total", escrow, EscrowOf(mc));
  diff.Expect(n + "escrow deposits", ledger_deposits.str(), model_deposits.str());
  return escrow;
}

// Balances, and the supply identity of each asset over all keys: the balances plus `usdc_escrow`
// (the USDC in escrow, `escrow_words` in the message) against genesis + deposited - withdrawn and,
// with `against_funding`, against what TestEnv funded.
inline void CompareBalances(Diff& diff, TestEnv& env, const Books& m, I128 usdc_escrow, const std::string& escrow_words,
                            bool against_funding) {
  const State& state = env.chain().state();
  for (const std::string asset : {"USDC", "KTR"}) {
    const auto& model = asset == "USDC" ? m.usdc : m.ktr;
    I128 sum = asset == "USDC" ? usdc_escrow : 0;
    for (const auto& h : kHolders) {
      uint64_t balance = BalanceOf(LoadAccount(state, KeyOf(env, h)), asset);
      sum += balance;
      diff.Expect(h + " " + asset, balance, model.at(h));
    }
    auto a = LoadAsset(state, asset);
    if (!a) {
      diff.out << "  asset " << asset << " is missing\n";
      continue;
    }
    std::optional<uint64_t> outstanding = OutstandingSupply(*a);
    diff.Expect("outstanding supply of " + asset + " is within 64 bits", outstanding.has_value(), true);
    I128 supply = outstanding ? I128(*outstanding) : -1;
    diff.Expect("supply of " + asset + " (balances + " + escrow_words + " vs genesis + deposited - withdrawn)",
                I128Str(sum), I128Str(supply));
    if (against_funding)
      diff.Expect("supply of " + asset + " (balances + " + escrow_words + " vs what was funded)", I128Str(sum),
                  I128Str(I128(kFunding) * kFunded.size()));
  }
}

// ---- Txs ----

// A tx signed by `signers`, the first paying the fee with `nonce`.
inline std::string SignedTx(TestEnv& env, const std::vector<std::string>& signers, uint64_t nonce,
                            const std::function<void(v1::TxBody&)>& fill) {
  TxOptions options;
  options.nonce = nonce;
  return env.Build(signers, fill, options);
}

// The contract's proposal, signed by alice, dave and bob if broker; `more` sets the terms the
// test adds (start, arbiter, invoiced).
inline std::string ProposeTx(TestEnv& env, const ContractCore& c, uint64_t deposit, uint64_t duration, uint64_t nonce,
                             const std::function<void(v1::ContractTerms&)>& more) {
  std::vector<std::string> signers = {"alice", "dave"};
  if (c.has_broker) signers.push_back("bob");
  return SignedTx(env, signers, nonce, [&](v1::TxBody& b) {
    v1::ContractTerms* t = b.mutable_contract_propose()->mutable_terms();
    t->set_renter(env.Pub("alice").bytes());
    t->set_provider(env.Pub("dave").bytes());
    if (c.has_broker) {
      t->set_broker(env.Pub("bob").bytes());
      t->set_broker_fee_bps(c.bps);
    }
    t->set_units(c.units);
    t->set_price_per_unit_hour(c.price);
    t->set_asset("USDC");
    t->set_duration_ms(duration);
    t->set_billing_period_ms(60'000);
    t->set_notice_period_ms(c.notice_period);
    t->set_deposit(deposit);
    for (const auto& [name, price] : c.metered) {
      v1::MeteredPrice* p = t->add_metered();
      p->set_name(name);
      p->set_price_per_unit(price);
    }
    more(*t);
  });
}

inline std::string TopupTx(TestEnv& env, const std::string& who, uint64_t nonce, const std::string& id,
                           uint64_t amount) {
  return SignedTx(env, {who}, nonce, [&](v1::TxBody& b) {
    b.mutable_contract_topup()->set_contract_id(id);
    b.mutable_contract_topup()->set_amount(amount);
  });
}

inline std::string NoticeTx(TestEnv& env, uint64_t nonce, const std::string& id) {
  return SignedTx(env, {"dave"}, nonce, [&](v1::TxBody& b) { b.mutable_contract_notice()->set_contract_id(id); });
}

inline std::string CloseTx(TestEnv& env, const std::string& who, uint64_t nonce, const std::string& id) {
  return SignedTx(env, {who}, nonce, [&](v1::TxBody& b) { b.mutable_contract_close()->set_contract_id(id); });
}

// dave's usage report of the cumulative quantities, naming `previous` as the report before it.
inline std::string UsageTx(TestEnv& env, uint64_t nonce, const std::string& id,
                           const std::map<std::string, uint64_t>& cumulative, const std::string& previous) {
  return SignedTx(env, {"dave"}, nonce, [&](v1::TxBody& b) {
    auto* u = b.mutable_usage_report();
    u->set_contract_id(id);
    for (const auto& [name, q] : cumulative) {
      v1::UsageAmount* a = u->add_cumulative();
      a->set_name(name);
      a->set_quantity(q);
    }
    u->set_previous_report(previous);
  });
}

// How a usage report is logged.
inline std::string UsageWhat(const std::string& n, const std::map<std::string, uint64_t>& cumulative, bool stale) {
  std::ostringstream what;
  what << "usage " << n << " by dave:";
  for (const auto& [name, q] : cumulative) what << " " << name << "=" << q;
  if (stale) what << " (wrong previous report)";
  return what.str();
}

// ---- Plans ----

// A number in [low, high), or now and then one of a few round values.
inline rc::Gen<uint64_t> Amount(uint64_t low, uint64_t high, std::initializer_list<uint64_t> round) {
  return rc::gen::oneOf(rc::gen::inRange<uint64_t>(low, high), rc::gen::elementOf(std::vector<uint64_t>(round)));
}

// A run plan (first_advance_ms, contracts, steps) as rapidcheck shows it; showValue of its
// contract and step plans is found next to them.
template <typename RunPlan>
void ShowRunPlan(const RunPlan& p, std::ostream& os) {
  os << "first advance " << p.first_advance_ms << "\ncontracts:\n";
  for (const auto& c : p.contracts) showValue(c, os << "  "), os << "\n";
  os << "steps:\n";
  for (const auto& s : p.steps) showValue(s, os << "  "), os << "\n";
}

// ---- Running blocks ----

// Builds blocks against the ledger and the model: Submit queues a tx, which the model has already
// applied (it knows the block's time) and predicted the code of, and charges its fee and bumps its
// nonce in the model if it is to be included; Close closes the block at the model's time, runs the
// model's end of block, then RC_FAILs at the first tx whose code differs from the prediction, or
// if `differences` finds any.
template <typename Model>
class Blocks {
 public:
  using EndBlock = void (*)(Model&);
  using Differences = std::string (*)(TestEnv&, const Model&, uint64_t);

  Blocks(TestEnv& env, Model& m, uint64_t t0, EndBlock end_block, Differences differences)
      : env_(env), m_(m), t0_(t0), end_block_(end_block), differences_(differences) {}

  void Submit(std::string envelope, const std::string& payer, const std::string& what, Code expected) {
    if (expected == Code::kOk) {
      m_.nonce[payer] += 1;
      m_.ktr[payer] -= kFee;
      m_.ktr["validator"] += kFee;
    }
    RC_LOG() << "  tx " << pending_.size() << ": " << what << " -> expect " << CodeName(expected) << "\n";
    pending_envelopes_.push_back(std::move(envelope));
    pending_.push_back({what, expected});
  }

  // The next block's time, by BFT time as TestEnv::Close makes it: block 1 at the genesis time
  // (whatever the advance), every later block at least 1 ms after its parent.
  void Begin(uint64_t advance_ms) {
    m_.now = blocks_ == 0 ? env_.genesis().genesis_time_ms : m_.now + std::max<uint64_t>(advance_ms, 1);
    RC_LOG() << "block " << blocks_ + 1 << " at +" << (m_.now - t0_) << " ms\n";
  }

  // Closes the block at the model's time, checks each tx's result, then the state.
  void Close() {
    for (auto& e : pending_envelopes_) env_.Submit(std::move(e));
    CloseResult closed = env_.Close(m_.now - env_.now_ms());
    ++blocks_;
    end_block_(m_);
    for (size_t i = 0; i < pending_.size(); ++i) {
      Result r = Result::Ok();
      for (const auto& rej : closed.rejected)
        if (rej.index == i) r = rej.result;
      if (r.code() != pending_[i].expected)
        RC_FAIL("block " + std::to_string(blocks_) + " tx " + std::to_string(i) + " (" + pending_[i].what +
                "): ledger " + r.ToString() + ", model expected " + std::string(CodeName(pending_[i].expected)));
    }
    pending_envelopes_.clear();
    pending_.clear();
    std::string diff = differences_(env_, m_, t0_);
    if (!diff.empty())
      RC_FAIL("after block " + std::to_string(blocks_) + " (+" + std::to_string(m_.now - t0_) + " ms):\n" + diff);
  }

 private:
  struct Submitted {
    std::string what;
    Code expected;
  };

  TestEnv& env_;
  Model& m_;
  const uint64_t t0_;
  EndBlock end_block_;
  Differences differences_;
  std::vector<std::string> pending_envelopes_;
  std::vector<Submitted> pending_;
  int blocks_ = 0;
};

}  // namespace kontor::test::model
