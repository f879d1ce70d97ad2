// kontor-bench: measures, in one run on one machine and one thread count,
//   (a) the ceiling: raw BIP-340 verifications per second (libsecp256k1) over the very
//       signatures the other pipelines check;
//   (b) validate + apply + commit of blocks of signed transfers into a synced LevelDB store;
//   (c) replay of that store from genesis (the auditor's check);
// and prints each as tx/s and as a ratio to (a), plus peak RSS and bytes on disk per tx.
// Ratios, not absolute numbers, are what we track (docs/performance.md).
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "contracts/app.h"
#include "ledger/chain.h"
#include "ledger/genesis.h"
#include "ledger/keys.h"
#include "ledger/replay.h"
#include "ledger/tx.h"
#include "tools/bench_e2e.h"

namespace fs = std::filesystem;
using namespace kontor;

namespace {

using Clock = std::chrono::steady_clock;
double Seconds(Clock::time_point since) { return std::chrono::duration<double>(Clock::now() - since).count(); }

// CPU seconds used by the whole process (all threads, user + system). Time stolen by other
// tenants of a virtual machine is not counted, so CPU-per-tx ratios are steadier than wall time.
double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long PeakRssKiB() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

uint64_t DirBytes(const fs::path& dir) {
  uint64_t total = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir))
    if (entry.is_regular_file()) total += entry.file_size();
  return total;
}

[[noreturn]] void Die(const std::string& what, const Result& r) {
  std::fprintf(stderr, "kontor-bench: %s: %s\n", what.c_str(), r.ToString().c_str());
  std::exit(1);
}

struct Job {
  std::vector<std::pair<v1::Block, v1::Commit>> blocks;
  std::vector<std::array<std::string, 3>> signatures;  // key, message, signature
  uint64_t txs = 0;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App cli{"kontor-bench: signature ceiling vs. block pipeline vs. replay, measured in one run"};
  size_t blocks = 20, txs_per_block = 1000, accounts = 4000, threads = 0, rounds = 5;
  std::string dir;
  bool keep = false;
  double min_ratio = 0;
  cli.add_option("--blocks", blocks, "blocks to validate, apply and commit")->capture_default_str();
  cli.add_option("--txs-per-block", txs_per_block, "signed transfers per block")->capture_default_str();
  cli.add_option("--accounts", accounts, "funded sender accounts")->capture_default_str();
  cli.add_option("--threads", threads, "signature-check threads (0 = one per core)")->capture_default_str();
  cli.add_option("--rounds", rounds, "interleaved measurement rounds; each figure is its best round")->capture_default_str();
  cli.add_option("--dir", dir, "where to put the store (default: a fresh temp dir, removed after)");
  cli.add_flag("--keep", keep, "keep the store directory");
  cli.add_option("--min-ratio", min_ratio, "exit 2 if (b) or (c) is below this ratio of (a)");
  bool e2e = false;
  bench::EndToEndOptions e2e_options;
  auto* e2e_flag = cli.add_flag("--e2e", e2e, "end-to-end mode: submit signed transfers over gRPC to a running dev kontord");
  cli.add_option("--home", e2e_options.home, "e2e: the node's dev home (its test key 'alice' funds the senders)")->needs(e2e_flag);
  cli.add_option("--node", e2e_options.node, "e2e: node gRPC address (default: from <home>/kontord.json)")->needs(e2e_flag);
  cli.add_option("--txs", e2e_options.txs, "e2e: transfers in the saturation phase")->capture_default_str();
  cli.add_option("--senders", e2e_options.senders, "e2e: sending accounts")->capture_default_str();
  cli.add_option("--latency-txs", e2e_options.latency_txs, "e2e: transfers in the paced latency phase")->capture_default_str();
  cli.add_option("--latency-rate", e2e_options.latency_rate, "e2e: tx/s of the latency phase (0 = a quarter of the measured throughput)");
  cli.add_option("--batch", e2e_options.batch, "e2e: transfers per SubmitTxBatch call")->capture_default_str();
  cli.add_option("--streams", e2e_options.streams, "e2e: concurrent submitting clients in the saturation phase (senders split among them)")
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  if (e2e) {
    if (e2e_options.home.empty()) {
      std::fprintf(stderr, "kontor-bench: --e2e needs --home (the dev node's home)\n");
      return 1;
    }
    e2e_options.threads = threads;
    return bench::RunEndToEnd(e2e_options);
  }
  if (blocks == 0 || txs_per_block == 0 || accounts == 0 || rounds == 0) {
    std::fprintf(stderr, "kontor-bench: --blocks, --txs-per-block, --accounts and --rounds must be positive\n");
    return 1;
  }

  ThreadPool pool(threads);
  std::printf("kontor-bench: %zu blocks x %zu transfers, %zu accounts, %zu threads\n", blocks, txs_per_block, accounts,
              pool.threads());

  // Keys and genesis.
  SeededRandom random(42);
  PrivateKey validator = GeneratePrivateKey(random);
  std::vector<PrivateKey> keys;
  keys.reserve(accounts);
  for (size_t i = 0; i < accounts; ++i) keys.push_back(GeneratePrivateKey(random));
  Genesis genesis;
  {
    Genesis g;
    g.chain_id = "kontor-bench";
    g.genesis_time_ms = 1'767'225'600'000;
    g.assets.push_back({"KTR", 6, std::nullopt});
    for (const auto& k : keys) g.balances.push_back({k.public_key(), "KTR", 1'000'000'000'000});
    g.validators.push_back({validator.public_key(), 1, "bench"});
    g.params.fee_asset = "KTR";
    g.params.min_fee = 1;
    g.params.block_txs_max = std::max<uint64_t>(txs_per_block, 1);
    g.params.block_bytes_max = 16 * 1024 * 1024;
    Result r = ParseGenesis(WriteGenesisJson(g), &genesis);
    if (!r.ok()) Die("genesis", r);
  }

  // Generate the blocks on an in-memory proposer chain (not timed).
  std::printf("generating %zu signed transfers...\n", blocks * txs_per_block);
  std::fflush(stdout);
  Job job;
  {
    contracts::KontorApp app;
    ChainOptions options;
    options.store.in_memory = true;
    options.store.sync = false;
    std::unique_ptr<Chain> proposer;
    Result r = Chain::Open(options, genesis, &app, &proposer);
    if (!r.ok()) Die("proposer chain", r);
    std::vector<uint64_t> nonces(accounts, 0);
    size_t sender = 0;
    std::vector<std::string> envelopes(txs_per_block);
    for (size_t b = 0; b < blocks; ++b) {
      // Sign in parallel: generation is not what we measure.
      std::vector<std::pair<size_t, uint64_t>> plan(txs_per_block);
      for (size_t i = 0; i < txs_per_block; ++i) {
        plan[i] = {sender, nonces[sender]++};
        sender = (sender + 1) % accounts;
      }
      pool.ParallelFor(txs_per_block, [&](size_t i) {
        SeededRandom local(b * 1'000'003 + i);
        const PrivateKey& from = keys[plan[i].first];
        const PrivateKey& to = keys[(plan[i].first * 7 + 13 + b) % accounts];
        v1::TxBody body;
        body.set_chain_id(genesis.chain_id);
        body.add_signers(from.public_key().bytes());
        body.set_nonce(plan[i].second);
        body.set_fee(1);
        auto* t = body.mutable_transfer();
        t->set_to(to.public_key().bytes());
        t->set_asset("KTR");
        t->set_amount(1000 + i);
        v1::Tx tx;
        tx.set_body(EncodeTxBody(body));
        (void)SignTx(&tx, from, local);
        envelopes[i] = EncodeTx(tx);
      });
      std::vector<std::string_view> candidates(envelopes.begin(), envelopes.end());
      ExecutedBlock produced;
      std::vector<RejectedTx> rejected;
      r = proposer->ProduceBlock(candidates, genesis.genesis_time_ms + (b + 1) * 1000, validator, random, &produced,
                                 &rejected);
      if (!r.ok()) Die("produce block", r);
      if (!rejected.empty()) Die("produce block", rejected.front().result);
      for (const auto& tx : produced.block.txs)
        job.signatures.push_back({tx.signers[0].bytes(), tx.txid.bytes(), tx.tx.signatures(0).signature()});
      job.txs += produced.block.txs.size();
      job.blocks.emplace_back(produced.block.block, produced.commit);
    }
  }

  // The three measurements are interleaved over `rounds` rounds and each keeps its best, so a
  // moment of interference on a shared machine does not decide a ratio.
  contracts::KontorApp app;
  fs::path store_dir = dir.empty() ? fs::temp_directory_path() / ("kontor-bench-" + std::to_string(getpid())) : fs::path(dir);
  double ceiling_seconds = 1e30, commit_seconds = 1e30, replay_seconds = 1e30;
  double ceiling_cpu = 1e30, commit_cpu = 1e30, replay_cpu = 1e30;
  uint64_t disk_bytes = 0;
  for (size_t round = 0; round < rounds; ++round) {
    std::printf("round %zu of %zu...\n", round + 1, rounds);
    std::fflush(stdout);
    // (a) Ceiling: verify exactly these signatures, raw, on the same pool.
    {
      std::atomic<size_t> failures{0};
      double cpu_start = ProcessCpuSeconds();
      auto start = Clock::now();
      pool.ParallelFor(job.signatures.size(), [&](size_t i) {
        const auto& s = job.signatures[i];
        if (!VerifySignature(Hash256::FromBytes(s[0]), Hash256::FromBytes(s[1]), s[2])) ++failures;
      });
      ceiling_seconds = std::min(ceiling_seconds, Seconds(start));
      ceiling_cpu = std::min(ceiling_cpu, ProcessCpuSeconds() - cpu_start);
      if (failures) {
        std::fprintf(stderr, "kontor-bench: %zu signatures failed to verify\n", failures.load());
        return 1;
      }
    }
    // (b) Validate + apply + commit into a synced store on disk, from an empty store.
    fs::remove_all(store_dir);
    Hash256 final_root;
    {
      ChainOptions options;
      options.store.path = store_dir.string();
      options.store.sync = true;
      options.threads = pool.threads();
      std::unique_ptr<Chain> chain;
      Result r = Chain::Open(options, genesis, &app, &chain);
      if (!r.ok()) Die("validator chain", r);
      double cpu_start = ProcessCpuSeconds();
      auto start = Clock::now();
      r = chain->CommitBlocks(job.blocks);
      if (!r.ok()) Die("commit blocks", r);
      commit_seconds = std::min(commit_seconds, Seconds(start));
      commit_cpu = std::min(commit_cpu, ProcessCpuSeconds() - cpu_start);
      final_root = chain->state().root();
    }
    disk_bytes = DirBytes(store_dir);
    // (c) Replay the store from genesis.
    {
      StoreOptions options;
      options.path = store_dir.string();
      options.create_if_missing = false;
      std::unique_ptr<Store> store;
      Result r = Store::Open(options, &store);
      if (!r.ok()) Die("open store for replay", r);
      ReplayReport report;
      double cpu_start = ProcessCpuSeconds();
      auto start = Clock::now();
      r = Replay(*store, genesis, app, pool, &report);
      replay_seconds = std::min(replay_seconds, Seconds(start));
      replay_cpu = std::min(replay_cpu, ProcessCpuSeconds() - cpu_start);
      if (!r.ok()) Die("replay", r);
      if (report.state_root != final_root) {
        std::fprintf(stderr, "kontor-bench: replay state root differs from the committed one\n");
        return 1;
      }
    }
  }
  double ceiling = job.signatures.size() / ceiling_seconds;
  double commit_rate = job.txs / commit_seconds;
  double replay_rate = job.txs / replay_seconds;
  if (!keep && dir.empty()) fs::remove_all(store_dir);

  // CPU ratio: CPU time of the ceiling per signature over CPU time of the pipeline per tx.
  double ceiling_cpu_per = ceiling_cpu / job.signatures.size();
  double commit_cpu_ratio = ceiling_cpu_per / (commit_cpu / job.txs);
  double replay_cpu_ratio = ceiling_cpu_per / (replay_cpu / job.txs);
  std::printf("\n%-44s %10s %7s %11s %9s\n", "pipeline", "tx/s", "ratio", "cpu us/tx", "cpu ratio");
  std::printf("%-44s %10.0f %7.2f %11.1f %9.2f\n", "(a) ceiling: BIP-340 verify (libsecp256k1)", ceiling, 1.0,
              ceiling_cpu_per * 1e6, 1.0);
  std::printf("%-44s %10.0f %7.2f %11.1f %9.2f\n", "(b) validate + apply + commit (synced)", commit_rate,
              commit_rate / ceiling, commit_cpu / job.txs * 1e6, commit_cpu_ratio);
  std::printf("%-44s %10.0f %7.2f %11.1f %9.2f\n", "(c) replay from genesis", replay_rate, replay_rate / ceiling,
              replay_cpu / job.txs * 1e6, replay_cpu_ratio);
  std::printf("\ntxs: %llu in %zu blocks, best of %zu rounds; peak RSS: %.1f MiB; store: %.1f MiB, %.0f bytes/tx\n",
              static_cast<unsigned long long>(job.txs), job.blocks.size(), rounds, PeakRssKiB() / 1024.0,
              disk_bytes / 1048576.0, static_cast<double>(disk_bytes) / job.txs);
  if (min_ratio > 0 && (commit_rate / ceiling < min_ratio || replay_rate / ceiling < min_ratio)) {
    std::printf("below the required ratio %.2f\n", min_ratio);
    return 2;
  }
  return 0;
}
