// Sparse Merkle state tree and State/StateDelta against a std::map model.
#include <rapidcheck/catch.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ledger/hash.h"
#include "ledger/smt.h"
#include "ledger/state.h"

namespace kontor {

// For rapidcheck's counterexample output.
inline void showValue(const Hash256& h, std::ostream& os) { os << h.hex(); }

namespace {

using Model = std::map<Hash256, std::string>;
using Changes = std::map<Hash256, std::optional<std::string>>;
StateChanges V(const Changes& c) { return {c.begin(), c.end()}; }

// ---- Reference hashing, straight from the definitions in smt.h / hash.h, with plain SHA-256. ----

Hash256 RefTagged(std::string_view tag, const std::string& m) {
  std::string t = Sha256(tag).bytes();
  return Sha256(t + t + m);
}
Hash256 RefValueHash(const std::string& v) { return RefTagged("kontor/state/value", v); }
Hash256 RefLeaf(const Hash256& k, const std::string& v) {
  return RefTagged("kontor/state/leaf", k.bytes() + RefValueHash(v).bytes());
}
Hash256 RefNode(const Hash256& l, const Hash256& r) { return RefTagged("kontor/state/node", l.bytes() + r.bytes()); }

// The depth-256 tree's root: an empty subtree is zero, one leaf is its leaf hash at any depth.
Hash256 RefRoot(std::vector<std::pair<Hash256, std::string>>::const_iterator begin,
                std::vector<std::pair<Hash256, std::string>>::const_iterator end, int depth) {
  if (begin == end) return Hash256{};
  if (end - begin == 1) return RefLeaf(begin->first, begin->second);
  auto mid = std::partition_point(begin, end, [depth](const auto& e) { return !e.first.Bit(depth); });
  return RefNode(RefRoot(begin, mid, depth + 1), RefRoot(mid, end, depth + 1));
}

Hash256 RefRoot(const Model& model) {
  std::vector<std::pair<Hash256, std::string>> entries(model.begin(), model.end());
  return RefRoot(entries.begin(), entries.end(), 0);
}

// ---- Keys: random ones, and ones near a few base keys so that paths share long prefixes. ----

Hash256 BaseKey(int i) { return Sha256("base key " + std::to_string(i)); }

Hash256 FlipBit(Hash256 h, int bit) {
  h.data[bit >> 3] ^= static_cast<uint8_t>(0x80 >> (bit & 7));
  return h;
}

rc::Gen<Hash256> GenRandomKey() {
  return rc::gen::map(rc::gen::container<std::vector<uint8_t>>(32, rc::gen::arbitrary<uint8_t>()),
                      [](const std::vector<uint8_t>& b) {
                        Hash256 h;
                        std::copy(b.begin(), b.end(), h.data.begin());
                        return h;
                      });
}

rc::Gen<Hash256> GenNearKey() {
  // A base key with up to two bits flipped, mostly deep ones: the paths part at depth ~255.
  return rc::gen::map(rc::gen::tuple(rc::gen::inRange(0, 3), rc::gen::element(-1, 255, 254, 253, 250, 200, 128, 9, 0),
                                     rc::gen::element(-1, 255, 254, 252, 64)),
                      [](const std::tuple<int, int, int>& t) {
                        Hash256 h = BaseKey(std::get<0>(t));
                        if (std::get<1>(t) >= 0) h = FlipBit(h, std::get<1>(t));
                        if (std::get<2>(t) >= 0 && std::get<2>(t) != std::get<1>(t)) h = FlipBit(h, std::get<2>(t));
                        return h;
                      });
}

rc::Gen<Hash256> GenKey() { return rc::gen::weightedOneOf<Hash256>({{1, GenRandomKey()}, {2, GenNearKey()}}); }

rc::Gen<std::string> GenValue() {
  // Small alphabet and length: values repeat, and the empty value (which is present) occurs.
  return rc::gen::resize(4, rc::gen::container<std::string>(rc::gen::inRange('a', 'd')));
}

struct Op {
  Hash256 key;
  bool erase = false;
  std::string value;
};

rc::Gen<Op> GenOp() {
  return rc::gen::map(rc::gen::tuple(GenKey(), rc::gen::inRange(0, 4), GenValue()),
                      [](const std::tuple<Hash256, int, std::string>& t) {
                        return Op{std::get<0>(t), std::get<1>(t) == 0, std::get<2>(t)};
                      });
}

// One batch: last write of a key wins, as in a block's delta.
Changes ToChanges(const std::vector<Op>& ops) {
  Changes c;
  for (const Op& op : ops) {
    if (op.erase) c[op.key] = std::nullopt;
    else c[op.key] = op.value;
  }
  return c;
}

std::vector<SparseMerkleTree::Change> ToTreeChanges(const Changes& changes) {
  std::vector<SparseMerkleTree::Change> out;
  for (const auto& [k, v] : changes) out.emplace_back(k, v ? std::optional<Hash256>(StateValueHash(*v)) : std::nullopt);
  return out;
}

void ApplyToModel(const Changes& changes, Model* model) {
  for (const auto& [k, v] : changes) {
    if (v) (*model)[k] = *v;
    else model->erase(k);
  }
}

// Every membership and non-membership claim about the tree, checked against the model.
void CheckProofs(const SparseMerkleTree& tree, const Model& model, const std::vector<Hash256>& absent_candidates) {
  const Hash256 root = tree.root_hash();
  const Hash256 other_root = FlipBit(root, 100);
  for (const auto& [k, v] : model) {
    StateProof proof = tree.Prove(k);
    RC_ASSERT(proof.siblings.size() <= 256u);
    RC_ASSERT(proof.terminal_is_leaf);
    RC_ASSERT(proof.leaf_key == k);
    RC_ASSERT(VerifyStateProof(root, k, std::string_view(v), proof).ok());
    RC_ASSERT(VerifyStateProof(root, k, std::string_view(v + "x"), proof).code() == Code::kMismatch);
    RC_ASSERT(VerifyStateProof(root, k, std::nullopt, proof).code() == Code::kMismatch);
    RC_ASSERT(VerifyStateProof(other_root, k, std::string_view(v), proof).code() == Code::kMismatch);
    if (!proof.siblings.empty()) {
      StateProof bad = proof;
      bad.siblings.back() = FlipBit(bad.siblings.back(), 3);
      RC_ASSERT(VerifyStateProof(root, k, std::string_view(v), bad).code() == Code::kMismatch);
      // A shortened proof places the leaf elsewhere.
      StateProof shorter = proof;
      shorter.siblings.pop_back();
      RC_ASSERT(VerifyStateProof(root, k, std::string_view(v), shorter).code() == Code::kMismatch);
    }
    // The proof of one key does not prove another key (its near neighbour) has that value.
    Hash256 neighbour = FlipBit(k, 255);
    if (!model.count(neighbour))
      RC_ASSERT(VerifyStateProof(root, neighbour, std::string_view(v), proof).code() == Code::kMismatch);
  }
  for (const Hash256& k : absent_candidates) {
    if (model.count(k)) continue;
    StateProof proof = tree.Prove(k);
    RC_ASSERT(proof.siblings.size() <= 256u);
    if (proof.terminal_is_leaf) RC_ASSERT(proof.leaf_key != k);
    RC_ASSERT(VerifyStateProof(root, k, std::nullopt, proof).ok());
    RC_ASSERT(!VerifyStateProof(root, k, std::string_view(""), proof).ok());
    RC_ASSERT(!VerifyStateProof(root, k, std::string_view("a"), proof).ok());
    RC_ASSERT(!VerifyStateProof(other_root, k, std::nullopt, proof).ok());
    if (model.empty()) {
      RC_ASSERT(proof.siblings.empty());
      RC_ASSERT(!proof.terminal_is_leaf);
    }
  }
}

}  // namespace

TEST_CASE("SMT: hard-coded roots (computed with Python hashlib)", "[smt]") {
  const Hash256 k0{};
  const Hash256 k1 = FlipBit(k0, 0);    // parts from k0 at the root
  const Hash256 k2 = FlipBit(k0, 255);  // parts from k0 at the last bit
  auto tree_of = [](std::vector<std::pair<Hash256, std::string>> entries) {
    std::sort(entries.begin(), entries.end());
    std::vector<SparseMerkleTree::Change> changes;
    for (const auto& [k, v] : entries) changes.emplace_back(k, StateValueHash(v));
    return SparseMerkleTree().Apply(changes);
  };
  CHECK(SparseMerkleTree().root_hash() == Hash256{});
  CHECK(SparseMerkleTree().size() == 0);
  CHECK(tree_of({{k0, "a"}}).root_hash().hex() == "8a21ea05d6520896efafad7700320a5480bc24575fd166550756126244ebb7ba");
  CHECK(tree_of({{k0, "a"}, {k1, "b"}}).root_hash().hex() ==
        "a5bc0e10e476cdc53b6b3018438a117e5c19c139218c39492abb1d621984b727");
  SparseMerkleTree deep = tree_of({{k0, "a"}, {k2, "b"}});
  CHECK(deep.root_hash().hex() == "3a248df3e8d86884b03c3300686fb23b5811b6dc66cf491f81883017afa7e052");
  SparseMerkleTree three = tree_of({{k0, "a"}, {k2, "b"}, {k1, "c"}});
  CHECK(three.root_hash().hex() == "4e5757f2b0791df5e204802379bdaf16fa91a939eada1d23c3d9772c4f7be6ce");
  CHECK(three.size() == 3);
  // Removing k1 from the three-key tree gives the two-key tree again.
  CHECK(three.Apply({{k1, std::nullopt}}).root_hash() == deep.root_hash());

  // Keys differing in the last bit: the proof goes all the way down.
  StateProof p = deep.Prove(k2);
  REQUIRE(p.siblings.size() == 256);
  for (size_t i = 0; i < 255; ++i) CHECK(p.siblings[i].IsZero());
  CHECK(p.siblings[255] == StateLeafHash(k0, StateValueHash("a")));
  CHECK(VerifyStateProof(deep.root_hash(), k2, std::string_view("b"), p).ok());
  CHECK(VerifyStateProof(deep.root_hash(), k2, std::string_view("a"), p).code() == Code::kMismatch);
  // An absent key on a different branch: empty terminal after one step.
  const Hash256 k3 = FlipBit(k0, 1);
  StateProof absent = three.Prove(k3);
  CHECK(VerifyStateProof(three.root_hash(), k3, std::nullopt, absent).ok());
  StateProof absent_deep = deep.Prove(FlipBit(k0, 254));
  CHECK(absent_deep.siblings.size() == 255);
  CHECK_FALSE(absent_deep.terminal_is_leaf);
  CHECK(VerifyStateProof(deep.root_hash(), FlipBit(k0, 254), std::nullopt, absent_deep).ok());
  // A non-membership proof whose terminal leaf is off the key's path is refused.
  StateProof single_proof = tree_of({{k1, "b"}}).Prove(k0);
  REQUIRE(single_proof.terminal_is_leaf);
  CHECK(VerifyStateProof(tree_of({{k1, "b"}}).root_hash(), k0, std::nullopt, single_proof).ok());
  StateProof moved = single_proof;
  moved.siblings.push_back(Hash256{});
  CHECK(VerifyStateProof(tree_of({{k1, "b"}}).root_hash(), k0, std::nullopt, moved).code() == Code::kMismatch);
  // Proofs deeper than 256 are refused before hashing.
  StateProof too_deep = p;
  too_deep.siblings.push_back(Hash256{});
  CHECK(VerifyStateProof(deep.root_hash(), k2, std::string_view("b"), too_deep).code() == Code::kMismatch);
}

TEST_CASE("SMT: random batches against a map model", "[smt][property]") {
  rc::prop("root, size and proofs follow the model; the root does not depend on order", [] {
    const int batches = *rc::gen::inRange(1, 6);
    SparseMerkleTree tree;
    State state(/*history_heights=*/4);
    Model model;
    std::vector<Hash256> ever_seen;
    RC_ASSERT(tree.root_hash().IsZero());
    RC_ASSERT(state.root().IsZero());
    for (int b = 0; b < batches; ++b) {
      const std::vector<Op> ops = *rc::gen::resize(40, rc::gen::container<std::vector<Op>>(GenOp()));
      const Changes changes = ToChanges(ops);
      for (const auto& [k, v] : changes) ever_seen.push_back(k);

      // The tree through SparseMerkleTree::Apply, and through State::Preview/Commit.
      const SparseMerkleTree before = tree;
      const Hash256 root_before = tree.root_hash();
      tree = tree.Apply(ToTreeChanges(changes));
      RC_ASSERT(before.root_hash() == root_before);  // Apply leaves the old tree intact
      SparseMerkleTree preview = state.Preview(V(changes));
      RC_ASSERT(state.root() == root_before);  // Preview changes nothing
      RC_ASSERT(preview.root_hash() == tree.root_hash());
      state.Commit(V(changes), preview, static_cast<uint64_t>(b + 1));
      ApplyToModel(changes, &model);

      RC_ASSERT(tree.size() == model.size());
      RC_ASSERT(state.size() == model.size());
      RC_ASSERT(state.height() == static_cast<uint64_t>(b + 1));
      RC_ASSERT(state.root() == tree.root_hash());
      RC_ASSERT(tree.root_hash() == RefRoot(model));
      if (model.empty()) RC_ASSERT(tree.root_hash().IsZero());
      else RC_ASSERT(!tree.root_hash().IsZero());
      for (const auto& [k, v] : model) RC_ASSERT(state.Get(k) == std::optional<std::string>(v));
      for (const Hash256& k : ever_seen)
        if (!model.count(k)) RC_ASSERT(!state.Get(k).has_value());
    }

    // Order independence: the model's content inserted one key at a time in a shuffled order,
    // and in shuffled chunks, gives the same root.
    std::vector<std::pair<Hash256, std::string>> entries(model.begin(), model.end());
    std::mt19937_64 rng(*rc::gen::arbitrary<uint64_t>());
    std::shuffle(entries.begin(), entries.end(), rng);
    SparseMerkleTree one_by_one;
    for (const auto& [k, v] : entries) one_by_one = one_by_one.Apply({{k, StateValueHash(v)}});
    RC_ASSERT(one_by_one.root_hash() == tree.root_hash());
    RC_ASSERT(one_by_one.size() == model.size());
    SparseMerkleTree chunked;
    for (size_t i = 0; i < entries.size();) {
      size_t n = 1 + rng() % 7;
      std::vector<std::pair<Hash256, std::string>> chunk(entries.begin() + i,
                                                         entries.begin() + std::min(entries.size(), i + n));
      std::sort(chunk.begin(), chunk.end());
      std::vector<SparseMerkleTree::Change> changes;
      for (const auto& [k, v] : chunk) changes.emplace_back(k, StateValueHash(v));
      chunked = chunked.Apply(changes);
      i += n;
    }
    RC_ASSERT(chunked.root_hash() == tree.root_hash());
    // One sorted batch into an empty tree, and State::Load + Rebuild in shuffled order.
    Changes all;
    for (const auto& [k, v] : model) all[k] = v;
    RC_ASSERT(SparseMerkleTree().Apply(ToTreeChanges(all)).root_hash() == tree.root_hash());
    State rebuilt;
    for (const auto& [k, v] : entries) rebuilt.Load(k, v);
    rebuilt.Rebuild(7);
    RC_ASSERT(rebuilt.root() == tree.root_hash());
    RC_ASSERT(rebuilt.size() == model.size());
    // Deleting everything gives the empty root again.
    Changes erase_all;
    for (const auto& [k, v] : model) erase_all[k] = std::nullopt;
    SparseMerkleTree emptied = tree.Apply(ToTreeChanges(erase_all));
    RC_ASSERT(emptied.root_hash().IsZero());
    RC_ASSERT(emptied.size() == 0u);

    // Proofs: every present key, every key ever touched but now absent, fresh random keys and
    // near neighbours of present keys.
    std::vector<Hash256> absent = ever_seen;
    const auto fresh = *rc::gen::resize(10, rc::gen::container<std::vector<Hash256>>(GenKey()));
    absent.insert(absent.end(), fresh.begin(), fresh.end());
    for (const auto& [k, v] : model) {
      absent.push_back(FlipBit(k, 255));
      absent.push_back(FlipBit(k, 254));
      absent.push_back(FlipBit(k, 0));
    }
    CheckProofs(tree, model, absent);

    // State::Prove at the current height gives the same proof and root.
    for (const auto& [k, v] : model) {
      StateProof proof;
      Hash256 root;
      RC_ASSERT(state.Prove(k, state.height(), &proof, &root).ok());
      RC_ASSERT(root == tree.root_hash());
      RC_ASSERT(VerifyStateProof(root, k, std::string_view(v), proof).ok());
    }
  });
}

TEST_CASE("SMT: proofs in a tree of one and of no keys", "[smt]") {
  SparseMerkleTree empty;
  Hash256 k = Sha256("k");
  StateProof p = empty.Prove(k);
  CHECK(p.siblings.empty());
  CHECK_FALSE(p.terminal_is_leaf);
  CHECK(VerifyStateProof(Hash256{}, k, std::nullopt, p).ok());
  CHECK(VerifyStateProof(Hash256{}, k, std::string_view("v"), p).code() == Code::kMismatch);

  SparseMerkleTree one = empty.Apply({{k, StateValueHash("v")}});
  CHECK(one.root_hash() == StateLeafHash(k, StateValueHash("v")));
  CHECK(one.root_hash() == RefLeaf(k, "v"));
  StateProof pk = one.Prove(k);
  CHECK(pk.siblings.empty());
  CHECK(VerifyStateProof(one.root_hash(), k, std::string_view("v"), pk).ok());
  CHECK(VerifyStateProof(one.root_hash(), k, std::nullopt, pk).code() == Code::kMismatch);
  Hash256 other = Sha256("other");
  StateProof po = one.Prove(other);
  CHECK(po.terminal_is_leaf);
  CHECK(po.leaf_key == k);
  CHECK(VerifyStateProof(one.root_hash(), other, std::nullopt, po).ok());
  CHECK(VerifyStateProof(one.root_hash(), other, std::string_view("v"), po).code() == Code::kMismatch);
  // Removing an absent key changes nothing; removing the only key empties the tree.
  CHECK(one.Apply({{other, std::nullopt}}).root_hash() == one.root_hash());
  CHECK(one.Apply({{k, std::nullopt}}).root_hash().IsZero());
  CHECK(empty.Apply({{k, std::nullopt}}).root_hash().IsZero());
  // Setting the same value again changes nothing; another value changes the root.
  CHECK(one.Apply({{k, StateValueHash("v")}}).root_hash() == one.root_hash());
  CHECK(one.Apply({{k, StateValueHash("w")}}).root_hash() == RefLeaf(k, "w"));
}

TEST_CASE("State: proofs for kept and evicted heights", "[state]") {
  State state(/*history_heights=*/3);
  const Hash256 key = Sha256("account");
  const Hash256 other = FlipBit(key, 255);
  std::map<uint64_t, Hash256> roots;
  std::map<uint64_t, std::string> values;
  {
    StateProof proof;
    Hash256 root;
    // Nothing committed yet: no height is kept.
    CHECK(state.Prove(key, 0, &proof, &root).code() == Code::kNotFound);
  }
  for (uint64_t h = 1; h <= 6; ++h) {
    Changes changes;
    values[h] = "balance " + std::to_string(h * 10);
    changes[key] = values[h];
    changes[other] = (h % 2) ? std::optional<std::string>("odd") : std::nullopt;
    SparseMerkleTree tree = state.Preview(V(changes));
    state.Commit(V(changes), tree, h);
    roots[h] = state.root();
    CHECK(state.height() == h);
  }
  for (uint64_t h = 1; h <= 6; ++h) CHECK(roots[h] != roots[h == 1 ? 2 : h - 1]);
  for (uint64_t h = 4; h <= 6; ++h) {
    INFO("kept height " << h);
    StateProof proof;
    Hash256 root;
    REQUIRE(state.Prove(key, h, &proof, &root).ok());
    CHECK(root == roots[h]);
    CHECK(VerifyStateProof(root, key, std::string_view(values[h]), proof).ok());
    // The value of another height does not verify against this one.
    CHECK(VerifyStateProof(root, key, std::string_view(values[h == 6 ? 5 : 6]), proof).code() == Code::kMismatch);
    StateProof proof_other;
    REQUIRE(state.Prove(other, h, &proof_other, &root).ok());
    if (h % 2) CHECK(VerifyStateProof(root, other, std::string_view("odd"), proof_other).ok());
    else CHECK(VerifyStateProof(root, other, std::nullopt, proof_other).ok());
  }
  for (uint64_t h : {0u, 1u, 2u, 3u, 7u, 100u}) {
    INFO("not kept height " << h);
    StateProof proof;
    Hash256 root;
    Result r = state.Prove(key, h, &proof, &root);
    CHECK(r.code() == Code::kNotFound);
    CHECK(r.message().find("4..6") != std::string::npos);
  }
  // Rebuild keeps only the new height.
  state.Rebuild(10);
  CHECK(state.root() == roots[6]);
  StateProof proof;
  Hash256 root;
  CHECK(state.Prove(key, 10, &proof, &root).ok());
  CHECK(root == roots[6]);
  CHECK(state.Prove(key, 6, &proof, &root).code() == Code::kNotFound);
}

TEST_CASE("StateDelta: layering, sandbox merge and erase", "[state]") {
  State state;
  const Hash256 a = StateKey(RecordKind::kAccount, "alice");
  const Hash256 b = StateKey(RecordKind::kAccount, "bob");
  const Hash256 c = StateKey(RecordKind::kAsset, "KTR");
  CHECK(a != b);
  CHECK(StateKey(1, "alice") == a);
  CHECK(StateKey(2, "alice") != a);  // the kind separates records with the same id
  CHECK(a == RefTagged("kontor/state/key", std::string("\x01") + "alice"));
  {
    Changes genesis = {{a, "A0"}, {b, "B0"}};
    state.Commit(V(genesis), state.Preview(V(genesis)), 0);
  }

  StateDelta block(&state);
  CHECK(block.Get(a) == std::optional<std::string>("A0"));
  CHECK(block.empty());

  {  // A failed tx: its sandbox is dropped and the block sees nothing of it.
    StateDelta sandbox(&block);
    sandbox.Put(a, "A-failed");
    sandbox.Erase(b);
    CHECK(sandbox.Get(a) == std::optional<std::string>("A-failed"));
    CHECK_FALSE(sandbox.Get(b).has_value());
    CHECK(block.Get(a) == std::optional<std::string>("A0"));
    CHECK(block.Get(b) == std::optional<std::string>("B0"));
  }
  CHECK(block.empty());

  {  // A successful tx: merged into the block.
    StateDelta sandbox(&block);
    sandbox.PutRecord(static_cast<uint8_t>(RecordKind::kAccount), "alice", "A1");
    sandbox.EraseRecord(static_cast<uint8_t>(RecordKind::kAccount), "bob");
    sandbox.PutRecord(static_cast<uint8_t>(RecordKind::kAsset), "KTR", "asset");
    CHECK(sandbox.size() == 3);
    // Erase hides the parent's value.
    CHECK_FALSE(sandbox.Get(b).has_value());
    CHECK(state.Get(b) == std::optional<std::string>("B0"));
    sandbox.MergeInto(&block);
    CHECK(sandbox.empty());
  }
  CHECK(block.Get(a) == std::optional<std::string>("A1"));
  CHECK_FALSE(block.Get(b).has_value());
  CHECK(block.Get(c) == std::optional<std::string>("asset"));
  CHECK(state.Get(a) == std::optional<std::string>("A0"));  // nothing reaches the state before commit

  std::set<std::string> accounts, assets;
  block.ForEachChangedRecord(static_cast<uint8_t>(RecordKind::kAccount),
                             [&](std::string_view id) { accounts.insert(std::string(id)); });
  block.ForEachChangedRecord(static_cast<uint8_t>(RecordKind::kAsset),
                             [&](std::string_view id) { assets.insert(std::string(id)); });
  CHECK(accounts == std::set<std::string>{"alice", "bob"});
  CHECK(assets == std::set<std::string>{"KTR"});

  {  // A second tx re-creates bob over the erase, then a third erases a key only it had written.
    StateDelta t2(&block);
    t2.Put(b, "B2");
    t2.MergeInto(&block);
    StateDelta t3(&block);
    t3.Put(Sha256("temp"), "t");
    t3.Erase(Sha256("temp"));
    CHECK_FALSE(t3.Get(Sha256("temp")).has_value());
    t3.MergeInto(&block);
  }
  CHECK(block.Get(b) == std::optional<std::string>("B2"));

  StateChanges taken = block.TakeSortedChanges();
  CHECK(std::is_sorted(taken.begin(), taken.end(), [](const auto& x, const auto& y) { return x.first < y.first; }));
  CHECK(block.empty());
  Changes sorted(taken.begin(), taken.end());
  CHECK(sorted.size() == 4);
  CHECK(sorted.at(a) == std::optional<std::string>("A1"));
  CHECK(sorted.at(b) == std::optional<std::string>("B2"));
  CHECK(sorted.at(c) == std::optional<std::string>("asset"));
  CHECK_FALSE(sorted.at(Sha256("temp")).has_value());
  state.Commit(V(sorted), state.Preview(V(sorted)), 1);
  CHECK(state.Get(a) == std::optional<std::string>("A1"));
  CHECK(state.Get(b) == std::optional<std::string>("B2"));
  CHECK(state.Get(c) == std::optional<std::string>("asset"));
  CHECK_FALSE(state.Get(Sha256("temp")).has_value());
  CHECK(state.size() == 3);
  CHECK(state.root() == RefRoot(Model{{a, "A1"}, {b, "B2"}, {c, "asset"}}));
}

TEST_CASE("StateDelta: random layered writes against a model", "[state][property]") {
  rc::prop("Get at every layer and the committed state follow the model", [] {
    // A small key space so that layers overwrite and erase each other's keys.
    auto gen_key = rc::gen::map(rc::gen::inRange(0, 8), [](int i) { return StateKey(20, std::to_string(i)); });
    State state;
    Model base;
    {
      Changes init;
      for (int i = 0; i < 8; i += 2) init[StateKey(20, std::to_string(i))] = "base" + std::to_string(i);
      state.Commit(V(init), state.Preview(V(init)), 0);
      ApplyToModel(init, &base);
    }
    StateDelta block(&state);
    Changes block_model;  // what the block layer holds over the state
    auto view_of = [&](const Changes& overlay, const Hash256& k) -> std::optional<std::string> {
      auto it = overlay.find(k);
      if (it != overlay.end()) return it->second;
      auto jt = base.find(k);
      if (jt != base.end()) return jt->second;
      return std::nullopt;
    };
    const int txs = *rc::gen::inRange(1, 8);
    for (int t = 0; t < txs; ++t) {
      StateDelta sandbox(&block);
      Changes sandbox_model = block_model;
      const int writes = *rc::gen::inRange(0, 6);
      for (int w = 0; w < writes; ++w) {
        Hash256 k = *gen_key;
        if (*rc::gen::inRange(0, 3) == 0) {
          sandbox.Erase(k);
          sandbox_model[k] = std::nullopt;
        } else {
          std::string v = *GenValue();
          sandbox.Put(k, v);
          sandbox_model[k] = v;
        }
        for (int i = 0; i < 8; ++i) {
          Hash256 key = StateKey(20, std::to_string(i));
          RC_ASSERT(sandbox.Get(key) == view_of(sandbox_model, key));
          RC_ASSERT(block.Get(key) == view_of(block_model, key));
        }
      }
      if (*rc::gen::arbitrary<bool>()) {
        sandbox.MergeInto(&block);
        block_model = sandbox_model;
        RC_ASSERT(sandbox.empty());
      }
      for (int i = 0; i < 8; ++i) {
        Hash256 key = StateKey(20, std::to_string(i));
        RC_ASSERT(block.Get(key) == view_of(block_model, key));
        RC_ASSERT(state.Get(key) == view_of({}, key));
      }
    }
    StateChanges taken = block.TakeSortedChanges();
    Changes sorted(taken.begin(), taken.end());
    RC_ASSERT(sorted.size() == taken.size());  // each key once
    // Every key the block wrote is in TakeSortedChanges with its last value (erases included).
    Changes expected;
    for (const auto& [k, v] : block_model) expected[k] = v;
    RC_ASSERT(sorted == expected);
    state.Commit(taken, state.Preview(taken), 1);
    ApplyToModel(sorted, &base);
    for (int i = 0; i < 8; ++i) {
      Hash256 key = StateKey(20, std::to_string(i));
      RC_ASSERT(state.Get(key) == view_of({}, key));
    }
    RC_ASSERT(state.size() == base.size());
    RC_ASSERT(state.root() == RefRoot(base));
  });
}

}  // namespace kontor
