#include "properties/sequence_gen.h"

#include <algorithm>
#include <cstdint>

#include "core/ops_text.h"
#include "gen/chooser.h"

namespace amc::core {

void showValue(const Sequence& seq, std::ostream& os) {
  os << "\n" << PrintOps(seq);
}

}  // namespace amc::core

namespace amc::properties {

namespace {

using ByteString = std::vector<uint8_t>;

rc::Gen<ByteString> GenBytes() {
  return rc::gen::container<ByteString>(rc::gen::arbitrary<uint8_t>());
}

}  // namespace

rc::Gen<core::Sequence> GenSequence(const gen::GenOptions& options) {
  return rc::gen::map(
      rc::gen::pair(GenBytes(), rc::gen::container<std::vector<ByteString>>(GenBytes())),
      [options](const std::pair<ByteString, std::vector<ByteString>>& drawn) {
        const auto& [spec_bytes, op_bytes] = drawn;
        core::Sequence seq;
        gen::BytesChooser spec_chooser(spec_bytes.data(), spec_bytes.size());
        seq.spec = gen::GenerateSpec(spec_chooser, options);
        size_t ops = std::min(op_bytes.size(), options.max_ops);
        for (size_t i = 0; i < ops; ++i) {
          gen::BytesChooser op_chooser(op_bytes[i].data(), op_bytes[i].size());
          seq.steps.push_back(
              {gen::GenerateOp(op_chooser, seq.spec, options), std::nullopt});
        }
        return seq;
      });
}

gen::GenOptions OptionsFor(const std::vector<core::Backend*>& backends) {
  gen::GenOptions options;
  // Maps up to 256 KiB still cross many pages; bigger ones only slow each
  // test case (and shrinking) down.
  options.max_map_bytes = uint64_t{256} << 10;
  options.env = backends.empty() ? core::HostEnvironment() : backends[0]->Env();
  for (core::Backend* backend : backends) {
    for (size_t k = 0; k < core::kOpKindCount; ++k) {
      if (!backend->Supports(static_cast<core::OpKind>(k))) options.kinds.reset(k);
    }
  }
  return options;
}

}  // namespace amc::properties
