// Standing offers: a registered provider posts terms and capacity; renters accept units of it.
#include "contracts/families.h"
#include "contracts/records.h"
#include "ledger/accounts.h"
#include "ledger/bech32m.h"

namespace kontor::contracts {

static Result CheckTerms(const v1::OfferTerms& t) {
  KONTOR_RETURN_IF_ERROR(CheckAttributes(t.resources(), "offer resources"));
  if (t.capacity_units() == 0) return {Code::kBadAmount, "offer capacity must be at least one unit"};
  if (t.price_per_unit_hour() == 0) return {Code::kBadAmount, "offer price per unit-hour must be greater than zero"};
  if (t.billing_period_ms() == 0) return {Code::kBadField, "offer billing period must be greater than zero"};
  if (t.max_duration_ms() != 0 && t.min_duration_ms() > t.max_duration_ms())
    return {Code::kBadField, "offer minimum duration is above its maximum"};
  unsigned __int128 rate = static_cast<unsigned __int128>(t.capacity_units()) * t.price_per_unit_hour();
  if (rate > UINT64_MAX) return {Code::kOverflow, "capacity x price per unit-hour exceeds 2^64-1"};
  return CheckRequirement(t.requirement());
}

Result CheckOfferPost(const DecodedTx& tx) { return CheckTerms(tx.body.offer_post().terms()); }

static Result ApplyTerms(const v1::OfferTerms& t, StateDelta& s) {
  if (!LoadAsset(s, t.asset())) return {Code::kUnknownAsset, "asset '" + t.asset() + "' does not exist on this chain"};
  return Result::Ok();
}

Result ApplyOfferPost(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  if (!Load<v1::Provider>(s, Kind::kProvider, tx.fee_payer().view()))
    return {Code::kNotFound, EncodeAddress(tx.fee_payer()) + " is not a registered provider (register first)"};
  KONTOR_RETURN_IF_ERROR(ApplyTerms(tx.body.offer_post().terms(), s));
  v1::Offer offer;
  offer.set_id(tx.txid.bytes());
  offer.set_provider(tx.fee_payer().bytes());
  *offer.mutable_terms() = tx.body.offer_post().terms();
  offer.set_state(v1::OFFER_STATE_OPEN);
  offer.set_posted_at_ms(env.time_ms);
  Store(s, Kind::kOffer, offer.id(), offer);
  IndexAdd(s, Kind::kOfferIndex, kOpenOffersId, offer.id());
  return Result::Ok();
}

static Result LoadOwnOpenOffer(const DecodedTx& tx, StateDelta& s, const std::string& id, v1::Offer* out) {
  if (id.size() != 32) return {Code::kBadField, "offer id must be 32 bytes"};
  auto offer = Load<v1::Offer>(s, Kind::kOffer, id);
  if (!offer) return {Code::kNotFound, "no offer " + HexEncode(id)};
  if (offer->provider() != tx.fee_payer().view()) return {Code::kNotAuthorized, "only the offer's provider may change it"};
  if (offer->state() != v1::OFFER_STATE_OPEN) return {Code::kWrongState, "offer " + HexEncode(id) + " is withdrawn"};
  *out = std::move(*offer);
  return Result::Ok();
}

Result CheckOfferUpdate(const DecodedTx& tx) {
  if (tx.body.offer_update().offer_id().size() != 32) return {Code::kBadField, "offer id must be 32 bytes"};
  return CheckTerms(tx.body.offer_update().terms());
}

Result ApplyOfferUpdate(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Offer offer;
  KONTOR_RETURN_IF_ERROR(LoadOwnOpenOffer(tx, s, tx.body.offer_update().offer_id(), &offer));
  const auto& terms = tx.body.offer_update().terms();
  KONTOR_RETURN_IF_ERROR(ApplyTerms(terms, s));
  if (terms.capacity_units() < offer.reserved_units())
    return {Code::kInsufficientCapacity, "capacity " + std::to_string(terms.capacity_units()) + " is below the " +
                                             std::to_string(offer.reserved_units()) + " units held by open contracts"};
  *offer.mutable_terms() = terms;
  Store(s, Kind::kOffer, offer.id(), offer);
  return Result::Ok();
}

Result CheckOfferWithdraw(const DecodedTx& tx) {
  if (tx.body.offer_withdraw().offer_id().size() != 32) return {Code::kBadField, "offer id must be 32 bytes"};
  return Result::Ok();
}

Result ApplyOfferWithdraw(const DecodedTx& tx, const BlockEnv& env, StateDelta& s) {
  v1::Offer offer;
  KONTOR_RETURN_IF_ERROR(LoadOwnOpenOffer(tx, s, tx.body.offer_withdraw().offer_id(), &offer));
  offer.set_state(v1::OFFER_STATE_WITHDRAWN);  // contracts already formed from it go on
  Store(s, Kind::kOffer, offer.id(), offer);
  IndexRemove(s, Kind::kOfferIndex, kOpenOffersId, offer.id());
  return Result::Ok();
}

}  // namespace kontor::contracts
