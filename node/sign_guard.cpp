#include "node/sign_guard.h"

#include <nlohmann/json.hpp>

#include <tuple>

#include "ledger/bytes.h"
#include "node/keyring.h"

namespace kontor::node {

namespace {

constexpr size_t kFileBytesMax = 4096;

const char* StepText(SignStep s) {
  switch (s) {
    case SignStep::kProposal: return "proposal";
    case SignStep::kPrevote: return "prevote";
    case SignStep::kPrecommit: return "precommit";
  }
  return "?";
}

std::string Position(uint64_t h, uint32_t r, SignStep s) {
  return "height " + std::to_string(h) + " round " + std::to_string(r) + " " + StepText(s);
}

std::string BlockText(const std::optional<Hash256>& b) { return b ? b->hex() : std::string("nil"); }

}  // namespace

Result SignGuard::Open(const std::filesystem::path& path, const PrivateKey* key, std::unique_ptr<SignGuard>* out) {
  std::unique_ptr<SignGuard> guard(new SignGuard(path, key));
  std::string text;
  Result read = ReadWholeFile(path, kFileBytesMax, &text);
  if (read.code() == Code::kNotFound) {
    *out = std::move(guard);
    return Result::Ok();
  }
  KONTOR_RETURN_IF_ERROR(read);
  auto damaged = [&](const std::string& what) {
    return Result(Code::kCorruption, path.string() + " (the last signed vote) is damaged: " + what +
                                         "; refusing to sign (docs/operator.md, \"after a crash\")");
  };
  nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (!j.is_object()) return damaged("not a JSON object");
  try {
    Last last;
    last.height = j.at("height").get<uint64_t>();
    last.round = j.at("round").get<uint32_t>();
    const std::string step = j.at("step").get<std::string>();
    if (step == "proposal") {
      last.step = SignStep::kProposal;
    } else if (step == "prevote") {
      last.step = SignStep::kPrevote;
    } else if (step == "precommit") {
      last.step = SignStep::kPrecommit;
    } else {
      return damaged("unknown step '" + step + "'");
    }
    const std::string block = j.at("block").get<std::string>();
    if (block != "nil") {
      auto h = Hash256::FromHex(block);
      if (!h) return damaged("block is not 64 hex digits or nil");
      last.block = *h;
    }
    last.timestamp_ms = j.at("timestamp_ms").get<uint64_t>();
    auto message = Hash256::FromHex(j.at("message").get<std::string>());
    if (!message) return damaged("message is not 64 hex digits");
    last.message = *message;
    const std::string sig_hex = j.at("signature").get<std::string>();
    auto sig = Hash256::FromHex(sig_hex.substr(0, 64));
    auto sig2 = Hash256::FromHex(sig_hex.size() == 128 ? sig_hex.substr(64) : std::string());
    if (!sig || !sig2) return damaged("signature is not 128 hex digits");
    last.signature = sig->bytes() + sig2->bytes();
    guard->last_ = std::move(last);
  } catch (const nlohmann::json::exception& e) {
    return damaged(e.what());
  }
  *out = std::move(guard);
  return Result::Ok();
}

Result SignGuard::Persist(const Last& next) const {
  nlohmann::json j = {{"height", next.height},
                      {"round", next.round},
                      {"step", StepText(next.step)},
                      {"block", BlockText(next.block)},
                      {"timestamp_ms", next.timestamp_ms},
                      {"message", next.message.hex()},
                      {"signature", HexEncode(next.signature)}};
  return WriteFileAtomic(path_, j.dump(2) + "\n", /*private_mode=*/false);
}

Result SignGuard::Sign(const SignRequest& req, Signed* out) {
  if (last_) {
    const auto asked = std::make_tuple(req.height, req.round, static_cast<uint8_t>(req.step));
    const auto done = std::make_tuple(last_->height, last_->round, static_cast<uint8_t>(last_->step));
    if (asked < done) {
      return {Code::kDoubleSign, "refusing to sign " + Position(req.height, req.round, req.step) +
                                   ": this validator already signed " +
                                   Position(last_->height, last_->round, last_->step)};
    }
    if (asked == done) {
      if (req.block != last_->block) {
        return {Code::kDoubleSign, "refusing to sign " + Position(req.height, req.round, req.step) + " for " +
                                     BlockText(req.block) + ": this validator signed it for " +
                                     BlockText(last_->block) + " (that would be equivocation)"};
      }
      *out = Signed{last_->signature, last_->timestamp_ms, true};
      return Result::Ok();
    }
  }
  OsRandom random;
  const Signature64 sig = key_->Sign(req.message, random.Array<32>());
  Last next{req.height, req.round, req.step, req.block, req.timestamp_ms,
            std::string(reinterpret_cast<const char*>(sig.data()), sig.size()), req.message};
  // On disk before the signature leaves: a crash after this line cannot lead to a second one.
  KONTOR_RETURN_IF_ERROR(Persist(next));
  last_ = std::move(next);
  *out = Signed{last_->signature, last_->timestamp_ms, false};
  return Result::Ok();
}

}  // namespace kontor::node
