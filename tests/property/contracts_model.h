// The contracts model of test_contracts_model.cpp (see there for the rules it follows), the
// plan of a run as plain values, and the run itself (RunAgainstModel: RC_FAIL, which throws, at
// the first difference between the ledger and the model). Shared by the rapidcheck property
// (which generates plans) and the libFuzzer target tests/fuzz/fuzz_market.cpp (which decodes
// plans from its input). Everything is in an unnamed namespace: each binary includes this once.
#pragma once

#include <rapidcheck.h>

#include <algorithm>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/bytes.h"
#include "tests/property/model_support.h"
#include "tests/support/test_env.h"

namespace kontor::test::contracts_model {
namespace {

using namespace kontor::test::model;
using kontor::test::TestEnv;


// ---- The model ----

// The contract's terms and what happened to it (model_support.h), the holders' balances and nonces.
using MContract = ContractCore;

struct Model : Books {
  std::vector<MContract> contracts;
};

// Time charge accrued from the start until t.
uint64_t AccruedAt(const MContract& c, uint64_t t) {
  uint64_t until = t;
  if (c.end != 0) until = std::min(until, c.end);
  if (c.state == v1::CONTRACT_STATE_NOTICE) until = std::min(until, c.termination);
  if (until <= c.start) return 0;
  U128 v = U128(c.units) * c.price * (until - c.start) / kMsPerHour;
  return static_cast<uint64_t>(v);  // amounts here stay far below 2^64
}

// Pays up to `amount` out of escrow, oldest deposit first, to provider and broker (the broker
// holding floor(all paid * bps / 10_000)); returns what was paid.
uint64_t PayOut(Model& m, MContract& c, uint64_t amount) {
  uint64_t pay = std::min(amount, EscrowOf(c));
  TakeFromEscrow(c, pay);
  PayParties(m, c, pay);
  return pay;
}

// Charges the time accrued until t that is not charged yet; true if escrow could not cover it.
bool SettleAt(Model& m, MContract& c, uint64_t t) {
  uint64_t accrued = AccruedAt(c, t);
  if (accrued <= c.charged) return false;
  uint64_t due = accrued - c.charged;
  uint64_t paid = PayOut(m, c, due);
  c.charged += paid;
  return paid < due;
}

void CloseAt(Model& m, MContract& c, uint64_t at, v1::CloseReason reason) {
  if (SettleAt(m, c, at)) reason = v1::CLOSE_REASON_INSUFFICIENT_FUNDS;
  for (const auto& d : c.escrow) {
    m.usdc[d.who] += d.amount;
    c.refunded += d.amount;
  }
  c.escrow.clear();
  c.state = v1::CONTRACT_STATE_CLOSED;
  c.reason = reason;
  c.closed_at = at;
}

// Settles until the block's time; if escrow ran dry the contract closes then. True if closed.
bool SettleOrCloseNow(Model& m, MContract& c) {
  if (!SettleAt(m, c, m.now)) return false;
  CloseAt(m, c, m.now, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  return true;
}

// The moment the notice or the term ran out, if by `now` (the notice wins if it is earlier).
std::optional<std::pair<uint64_t, v1::CloseReason>> RanOut(const MContract& c, uint64_t now) {
  if (c.state == v1::CONTRACT_STATE_NOTICE && c.termination <= now && (c.end == 0 || c.termination < c.end))
    return std::make_pair(c.termination, v1::CLOSE_REASON_PROVIDER_TERMINATED);
  if (c.end != 0 && c.end <= now) return std::make_pair(c.end, v1::CLOSE_REASON_ENDED);
  return std::nullopt;
}

// ---- Model of each tx: the expected result code, and its effects when it is accepted. ----

Code ModelTopup(Model& m, MContract& c, const std::string& who, uint64_t amount) {
  if (c.closed()) return Code::kWrongState;
  if (Code code = Deposit(m, c, who, amount); code != Code::kOk) return code;
  SettleOrCloseNow(m, c);
  return Code::kOk;
}

Code ModelSettle(Model& m, MContract& c) {
  if (c.closed()) return Code::kWrongState;
  SettleOrCloseNow(m, c);
  return Code::kOk;
}

Code ModelNotice(Model& m, MContract& c) {
  if (c.closed()) return Code::kWrongState;
  if (c.state == v1::CONTRACT_STATE_NOTICE) return Code::kWrongState;
  if (SettleOrCloseNow(m, c)) return Code::kOk;
  c.state = v1::CONTRACT_STATE_NOTICE;
  c.termination = m.now + c.notice_period;
  return Code::kOk;
}

Code ModelClose(Model& m, MContract& c, const std::string& who) { return RenterClose(m, c, who, RanOut, CloseAt); }

Code ModelUsage(Model& m, MContract& c, const std::map<std::string, uint64_t>& cumulative, const std::string& previous,
                const std::string& txid) {
  if (c.closed()) return Code::kWrongState;
  if (previous != c.last_report) return Code::kMismatch;
  uint64_t charge = 0;
  for (const auto& [name, quantity] : cumulative) {
    uint64_t before = c.usage.count(name) ? c.usage.at(name) : 0;
    charge += (quantity - before) * c.metered.at(name);
    c.usage[name] = quantity;
  }
  c.last_report = txid;
  // Time first, then the metered charge.
  if (SettleOrCloseNow(m, c)) return Code::kOk;
  uint64_t paid = PayOut(m, c, charge);
  c.metered_charged += paid;
  if (paid < charge) CloseAt(m, c, m.now, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  return Code::kOk;
}

// End of block: what ran out or ran dry by the block's time closes.
void ModelEndBlock(Model& m) {
  for (auto& c : m.contracts) {
    if (c.closed()) continue;
    if (auto out = RanOut(c, m.now)) {
      CloseAt(m, c, out->first, out->second);
      continue;
    }
    uint64_t accrued = AccruedAt(c, m.now);
    if (accrued > c.charged && accrued - c.charged > EscrowOf(c)) CloseAt(m, c, m.now, v1::CLOSE_REASON_INSUFFICIENT_FUNDS);
  }
}

// ---- Comparing the ledger with the model ----

// Every difference between ledger and model, one a line ("" = none).
std::string Differences(TestEnv& env, const Model& m, uint64_t t0) {
  Diff diff;
  const State& state = env.chain().state();
  diff.Expect("block time (ms since genesis)", env.now_ms() - t0, m.now - t0);
  I128 open_escrow = 0;
  for (size_t i = 0; i < m.contracts.size(); ++i) {
    const MContract& mc = m.contracts[i];
    const std::string n = "contract " + std::to_string(i) + " ";
    auto c = CompareContract(diff, state, n, mc, t0);
    if (!c) continue;
    diff.Expect(n + "start_ms", c->terms().start_ms(), mc.start);
    diff.Expect(n + "end_ms", c->end_ms(), mc.end);
    uint64_t escrow = CompareEscrow(diff, env, n, *c, mc);
    if (c->state() != v1::CONTRACT_STATE_CLOSED) open_escrow += escrow;
    std::ostringstream ledger_usage, model_usage;
    for (const auto& u : c->usage()) ledger_usage << u.name() << "=" << u.quantity() << " ";
    for (const auto& [name, q] : mc.usage) model_usage << name << "=" << q << " ";
    diff.Expect(n + "usage", ledger_usage.str(), model_usage.str());
    diff.Expect(n + "last_usage_report", HexEncode(c->last_usage_report()), HexEncode(mc.last_report));
  }
  // Balances, and the supply identity of each asset over all keys.
  CompareBalances(diff, env, m, open_escrow, "open escrow", false);
  return diff.out.str();
}

// ---- Txs ----

// The proposal (model_support.h), with the start field given (0 = at the block's time).
std::string ProposeTx(TestEnv& env, const MContract& c, uint64_t deposit, uint64_t start_field, uint64_t duration,
                      uint64_t nonce) {
  return test::model::ProposeTx(env, c, deposit, duration, nonce, [&](v1::ContractTerms& t) { t.set_start_ms(start_field); });
}

// ---- The plan of a run ----
//
// Generated whole, up front, as plain values: rapidcheck replays the values of `*gen` by position
// while shrinking, so picks whose number depends on the run would be handed values meant for
// another generator (in a release build, of another type). Here every pick is a fixed part of
// the plan, and the plan is read against the model as it runs.

enum class Op { kAdvance, kTopup, kSettle, kUsage, kNotice, kCloseRenter, kCloseProvider };

struct ContractPlan {
  uint64_t units = 1, price = 1, deposit = 1;
  bool explicit_start = false;
  uint64_t start_offset = 0;  // after the block's time, when explicit
  uint64_t duration = 0;      // 0 = open-ended
  uint64_t notice_period = 0;
  bool has_broker = false;
  uint32_t bps = 0;
  int metered = 0;  // bit 0: cpu_s, bit 1: egress_gb
  uint64_t cpu_price = 1, egress_price = 1;
};

struct StepPlan {
  Op op = Op::kAdvance;  // kAdvance closes the block being built
  size_t contract = 0;  // taken modulo the number of contracts
  int depositor = 0;    // kTopup: alice (the renter), carol (nobody's role), dave (the provider), bob (the broker, if any)
  uint64_t amount = 1;
  uint64_t advance_ms = 0;  // kAdvance: the next block's time is this much later
  int usage = 1;            // bit 0: report cpu_s, bit 1: egress_gb (if metered)
  uint64_t cpu_more = 0, egress_more = 0;
  bool stale = false;  // the report names a wrong previous report
};

struct RunPlan {
  uint64_t first_advance_ms = 0;  // block 1 (the proposals and the steps up to the first advance)
  std::vector<ContractPlan> contracts;
  std::vector<StepPlan> steps;
};

// One run: the plan against the ledger and the model; RC_FAIL at the first difference.
void RunAgainstModel(const RunPlan& plan) {
  TestEnv env;
  const uint64_t t0 = env.now_ms();
  Model m;
  m.now = t0;
  Fund(m);
  // Queues txs the model has applied at once (it knows the block's time) with their predicted
  // codes; closes blocks and checks each tx's code, then Differences.
  Blocks<Model> blocks(env, m, t0, ModelEndBlock, Differences);

  // Block 1: the negotiated contracts, and the steps up to the first advance (a contract may be
  // topped up, noticed or closed in the block that forms it).
  blocks.Begin(plan.first_advance_ms);
  for (size_t i = 0; i < plan.contracts.size(); ++i) {
    const ContractPlan& p = plan.contracts[i];
    MContract c;
    c.units = p.units;
    c.price = p.price;
    c.notice_period = p.notice_period;
    c.has_broker = p.has_broker;
    c.bps = p.has_broker ? p.bps : 0;
    if (p.metered & 1) c.metered["cpu_s"] = p.cpu_price;
    if (p.metered & 2) c.metered["egress_gb"] = p.egress_price;
    const uint64_t start_field = p.explicit_start ? m.now + p.start_offset : 0;
    std::string tx = ProposeTx(env, c, p.deposit, start_field, p.duration, m.nonce["alice"]);
    c.id = TestEnv::Txid(tx).bytes();
    c.start = start_field == 0 ? m.now : start_field;
    c.end = p.duration == 0 ? 0 : c.start + p.duration;
    c.escrow.push_back({"alice", p.deposit});
    m.usdc["alice"] -= p.deposit;
    std::ostringstream what;
    what << "propose " << i << ": units " << c.units << ", price " << c.price << ", deposit " << p.deposit << ", start +"
         << (c.start - t0) << ", duration " << p.duration << ", notice " << c.notice_period;
    if (c.has_broker) what << ", broker bps " << c.bps;
    for (const auto& [name, price] : c.metered) what << ", " << name << " @" << price;
    m.contracts.push_back(c);
    blocks.Submit(std::move(tx), "alice", what.str(), Code::kOk);
  }

  // The steps; an advance closes the block being built and starts the next.
  for (size_t s = 0; s < plan.steps.size(); ++s) {
    const StepPlan& step = plan.steps[s];
    if (step.op == Op::kAdvance) {
      blocks.Close();
      blocks.Begin(step.advance_ms);
      continue;
    }
    const size_t i = step.contract % m.contracts.size();
    MContract& c = m.contracts[i];
    const std::string id = c.id;
    const std::string n = std::to_string(i);
    switch (step.op) {
      case Op::kTopup: {
        static const char* depositors[] = {"alice", "carol", "dave", "bob"};
        const std::string who = depositors[step.depositor];
        std::string tx = TopupTx(env, who, m.nonce[who], id, step.amount);
        Code expected = ModelTopup(m, c, who, step.amount);
        blocks.Submit(std::move(tx), who, "topup " + n + " by " + who + " of " + std::to_string(step.amount), expected);
        break;
      }
      case Op::kSettle: {
        std::string tx = SignedTx(env, {"dave"}, m.nonce["dave"],
                                  [&](v1::TxBody& b) { b.mutable_contract_settle()->set_contract_id(id); });
        Code expected = ModelSettle(m, c);
        blocks.Submit(std::move(tx), "dave", "settle " + n + " by dave", expected);
        break;
      }
      case Op::kUsage: {
        if (c.metered.empty()) break;  // only contracts with a metered price get reports
        auto cumulative_of = [&](const std::string& name, uint64_t more) {
          return (c.usage.count(name) ? c.usage.at(name) : 0) + more;
        };
        std::map<std::string, uint64_t> cumulative;
        if ((step.usage & 1) && c.metered.count("cpu_s")) cumulative["cpu_s"] = cumulative_of("cpu_s", step.cpu_more);
        if ((step.usage & 2) && c.metered.count("egress_gb"))
          cumulative["egress_gb"] = cumulative_of("egress_gb", step.egress_more);
        if (cumulative.empty()) {
          const std::string& name = c.metered.begin()->first;
          cumulative[name] = cumulative_of(name, name == "cpu_s" ? step.cpu_more : step.egress_more);
        }
        const std::string previous = step.stale ? id : c.last_report;
        std::string tx = UsageTx(env, m.nonce["dave"], id, cumulative, previous);
        Code expected = ModelUsage(m, c, cumulative, previous, TestEnv::Txid(tx).bytes());
        blocks.Submit(std::move(tx), "dave", UsageWhat(n, cumulative, step.stale), expected);
        break;
      }
      case Op::kNotice: {
        std::string tx = NoticeTx(env, m.nonce["dave"], id);
        Code expected = ModelNotice(m, c);
        blocks.Submit(std::move(tx), "dave", "notice " + n + " by dave", expected);
        break;
      }
      case Op::kCloseRenter:
      case Op::kCloseProvider: {
        const std::string who = step.op == Op::kCloseRenter ? "alice" : "dave";
        std::string tx = CloseTx(env, who, m.nonce[who], id);
        Code expected = ModelClose(m, c, who);
        blocks.Submit(std::move(tx), who, "close " + n + " by " + who, expected);
        break;
      }
      case Op::kAdvance: break;
    }
  }
  blocks.Close();
}

}  // namespace
}  // namespace kontor::test::contracts_model
