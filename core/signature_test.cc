#include "core/signature.h"

#include <gtest/gtest.h>

namespace amc::core {
namespace {

const std::vector<std::string> kNames = {"model", "faulty"};

std::string OpSignature(const MapSpec& spec, const Environment& env,
                        const Op& op, const Result& a, const Result& b) {
  Divergence d;
  d.kind = Divergence::Kind::kOp;
  ClassifyOpDivergence(spec, env, op, kNames, {a, b}, nullptr, &d);
  return d.Signature();
}

Result WithValue(std::vector<uint8_t> bytes) {
  Result r;
  r.value = std::move(bytes);
  return r;
}

MapSpec Percpu(uint32_t value_size) {
  MapSpec spec;
  spec.type = MapType::kPercpuArray;
  spec.value_size = value_size;
  return spec;
}

TEST(SignatureTest, ErrnoDivergenceNamesOpMapTypeAndEachAnswer) {
  MapSpec spec;
  EXPECT_EQ(OpSignature(spec, {2, 4096, ""}, Update{4, {1, 2}, 0},
                        Result::Errno(E2BIG), Result::Errno(ENOENT)),
            "op update ARRAY: errno: model E2BIG, faulty ENOENT");
}

TEST(SignatureTest, SameFaultWithOtherKeysValuesAndSizesHasTheSameSignature) {
  MapSpec small;
  small.value_size = 1;
  small.max_entries = 1;
  MapSpec large;
  large.value_size = 4096;
  large.max_entries = 1754;
  EXPECT_EQ(OpSignature(small, {1, 4096, ""}, Update{1, {0}, 0},
                        Result::Errno(E2BIG), Result::Errno(ENOENT)),
            OpSignature(large, {4, 65536, ""},
                        Update{99999, std::vector<uint8_t>(4096, 7), kBpfExist},
                        Result::Errno(E2BIG), Result::Errno(ENOENT)));
}

TEST(SignatureTest, OtherAnswersOpKindsOrMapTypesGiveOtherSignatures) {
  MapSpec array;
  const Environment env{2, 4096, ""};
  const std::string base = OpSignature(array, env, Update{4, {}, 0},
                                       Result::Errno(E2BIG), Result::Errno(ENOENT));
  EXPECT_NE(base, OpSignature(array, env, Update{4, {}, 0},
                              Result::Errno(E2BIG), Result::Errno(EINVAL)));
  EXPECT_NE(base, OpSignature(array, env, Lookup{4, 0}, Result::Errno(E2BIG),
                              Result::Errno(ENOENT)));
  EXPECT_NE(base, OpSignature(Percpu(8), env, Update{4, {}, 0},
                              Result::Errno(E2BIG), Result::Errno(ENOENT)));
}

TEST(SignatureTest, PerCpuLookupNamesPaddingApartFromValueBytes) {
  // value_size 4: each CPU's 8-byte slot has bytes 4-7 as padding.
  const MapSpec spec = Percpu(4);
  const Environment env{2, 4096, ""};
  std::vector<uint8_t> zero(16, 0), padding = zero, value = zero;
  padding[13] = 0xaa;
  value[9] = 1;
  const std::string in_padding =
      OpSignature(spec, env, Lookup{0, 0}, WithValue(zero), WithValue(padding));
  const std::string in_value =
      OpSignature(spec, env, Lookup{3, 0}, WithValue(zero), WithValue(value));
  EXPECT_EQ(in_padding,
            "op lookup PERCPU_ARRAY: padding bytes: faulty differs from model");
  EXPECT_EQ(in_value,
            "op lookup PERCPU_ARRAY: value bytes: faulty differs from model");
}

TEST(SignatureTest, PerCpuLookupNamesBytesOfOfflineCpus) {
  const MapSpec spec = Percpu(8);
  const Environment env{4, 4096, "", 2};
  std::vector<uint8_t> zero(32, 0), offline = zero;
  offline[24] = 3;  // CPU 3, possible and offline
  EXPECT_EQ(OpSignature(spec, env, Lookup{0, 0}, WithValue(zero),
                        WithValue(offline)),
            "op lookup PERCPU_ARRAY: value bytes of offline CPUs: faulty "
            "differs from model");
}

TEST(SignatureTest, CountKeysNullAndAlignmentAreFieldsWithDirectionNotValues) {
  MapSpec spec;
  const Environment env{1, 4096, ""};
  Result four, three;
  four.count = 4;
  three.count = 3;
  EXPECT_EQ(OpSignature(spec, env, LookupBatch{{}, 4, 0, 0}, four, three),
            "op lookup_batch ARRAY: count: faulty lower than model");
  Result null, found;
  null.null = true;
  EXPECT_EQ(OpSignature(spec, env, ProgLookup{0, 9}, null, found),
            "op prog_lookup ARRAY: null: faulty non-null where model null");
  Result aligned, unaligned;
  aligned.aligned = true;
  unaligned.aligned = false;
  EXPECT_EQ(OpSignature(spec, env, ProgLookup{0, 0}, aligned, unaligned),
            "op prog_lookup ARRAY: alignment: faulty unaligned where model "
            "aligned");
  Result next1, next2;
  next1.next_key = 1;
  next2.next_key = 2;
  EXPECT_EQ(OpSignature(spec, env, GetNextKey{0}, next1, next2),
            "op get_next_key ARRAY: next_key: faulty differs from model");
}

TEST(SignatureTest, ExpectationSignatureHasTheExpectedSideFirst) {
  MapSpec spec;
  Divergence d;
  d.kind = Divergence::Kind::kExpectation;
  Result expected = Result::Errno(EACCES);
  ClassifyOpDivergence(spec, {1, 4096, ""}, ProgDelete{0, 0}, {"model"},
                       {Result::Errno(EINVAL)}, &expected, &d);
  EXPECT_EQ(d.Signature(),
            "expectation prog_delete ARRAY: errno: expected EACCES, model EINVAL");
}

TEST(SignatureTest, CreationSignatureNamesEachErrnoAndTheMapType) {
  Divergence eacces, einval;
  eacces.kind = einval.kind = Divergence::Kind::kCreate;
  ClassifyCreateDivergence(Percpu(8), kNames, {EACCES, EINVAL}, nullptr, &eacces);
  ClassifyCreateDivergence(Percpu(8), kNames, {0, EINVAL}, nullptr, &einval);
  EXPECT_EQ(eacces.Signature(),
            "create PERCPU_ARRAY: errno: model EACCES, faulty EINVAL");
  EXPECT_EQ(einval.Signature(),
            "create PERCPU_ARRAY: errno: model created, faulty EINVAL");
}

TEST(SignatureTest, FinalStateNamesPaddingOrValueBytes) {
  const MapSpec spec = Percpu(2);
  const Environment env{1, 4096, ""};
  MapState a, pad, val;
  a.values = std::vector<uint8_t>(16, 0);  // two keys, one 8-byte slot each
  pad = val = a;
  pad.values[12] = 1;
  val.values[9] = 1;
  Divergence dp, dv;
  dp.kind = dv.kind = Divergence::Kind::kFinalState;
  ClassifyStateDivergence(spec, env, kNames, {a, pad}, &dp);
  ClassifyStateDivergence(spec, env, kNames, {a, val}, &dv);
  EXPECT_EQ(dp.Signature(),
            "final state PERCPU_ARRAY: padding bytes: faulty differ from model");
  EXPECT_EQ(dv.Signature(),
            "final state PERCPU_ARRAY: value bytes: faulty differ from model");
}

TEST(SignatureTest, UnclassifiedDivergenceUsesEachSidesFirstWord) {
  Divergence d;
  d.kind = static_cast<Divergence::Kind>(97);
  d.sides = {{"model", "ok value=0102"}, {"plugin", "CRASH_SIGSEGV in destroy"}};
  EXPECT_EQ(d.Signature(),
            "divergence kind 97: differs: model ok, plugin CRASH_SIGSEGV");
}

}  // namespace
}  // namespace amc::core
