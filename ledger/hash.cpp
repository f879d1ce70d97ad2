#include "ledger/hash.h"

#include <cryptopp/sha.h>

#include <map>
#include <memory>
#include <mutex>

namespace kontor {

Hash256 Sha256(std::string_view data) {
  Hash256 out;
  CryptoPP::SHA256().CalculateDigest(out.data.data(), reinterpret_cast<const CryptoPP::byte*>(data.data()),
                                     data.size());
  return out;
}

struct TaggedHasher::Impl {
  CryptoPP::SHA256 midstate;
};

TaggedHasher::TaggedHasher(std::string_view tag) : impl_(new Impl) {
  Hash256 tag_hash = Sha256(tag);
  impl_->midstate.Update(tag_hash.data.data(), 32);
  impl_->midstate.Update(tag_hash.data.data(), 32);
}

TaggedHasher::~TaggedHasher() { delete impl_; }

static void Absorb(CryptoPP::SHA256& sha, std::string_view data) {
  sha.Update(reinterpret_cast<const CryptoPP::byte*>(data.data()), data.size());
}

Hash256 TaggedHasher::Hash(std::string_view data) const {
  CryptoPP::SHA256 sha(impl_->midstate);
  Absorb(sha, data);
  Hash256 out;
  sha.Final(out.data.data());
  return out;
}

Hash256 TaggedHasher::Hash(std::string_view a, std::string_view b) const {
  CryptoPP::SHA256 sha(impl_->midstate);
  Absorb(sha, a);
  Absorb(sha, b);
  Hash256 out;
  sha.Final(out.data.data());
  return out;
}

Hash256 TaggedHasher::Hash(std::string_view a, std::string_view b, std::string_view c) const {
  CryptoPP::SHA256 sha(impl_->midstate);
  Absorb(sha, a);
  Absorb(sha, b);
  Absorb(sha, c);
  Hash256 out;
  sha.Final(out.data.data());
  return out;
}

const TaggedHasher& Tagged(std::string_view tag) {
  static std::mutex mu;
  static std::map<std::string, std::unique_ptr<TaggedHasher>, std::less<>> hashers;
  std::lock_guard lock(mu);
  auto it = hashers.find(tag);
  if (it == hashers.end()) it = hashers.emplace(std::string(tag), std::make_unique<TaggedHasher>(tag)).first;
  return *it->second;
}

}  // namespace kontor
