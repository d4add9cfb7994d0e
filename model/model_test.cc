#include "model/model_backend.h"

#include <gtest/gtest.h>

namespace amc::model {
namespace {

using core::MapSpec;
using core::MapType;

Params TwoCpus() {
  Params p;
  p.env = core::Environment{2, 4096, ""};
  return p;
}

Params TwoCpusOn(const char* release) {
  Params p = TwoCpus();
  p.profile = *core::KernelProfileByName(release);
  return p;
}

TEST(ModelTest, PercpuSyscallUpdateWritesEveryCpuIncludingPaddingBefore70) {
  ModelBackend model(TwoCpusOn("6.18"));
  MapSpec spec{MapType::kPercpuArray, 4, 3, 2, 0, 0, std::nullopt};
  auto created = model.Create(spec);
  ASSERT_EQ(created.err, 0);
  std::vector<uint8_t> buf = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(created.map->Execute(core::Update{1, buf, 0}).err, 0);
  core::Result r = created.map->Execute(core::Lookup{1, 0});
  ASSERT_TRUE(r.value.has_value());
  EXPECT_EQ(*r.value, buf);
  core::Result prog = created.map->Execute(core::ProgLookup{1, 1});
  EXPECT_EQ(*prog.value, (std::vector<uint8_t>{9, 10, 11}));
}

TEST(ModelTest, ProgramUpdateOnPercpuTouchesOnlyItsCpu) {
  ModelBackend model(TwoCpus());
  MapSpec spec{MapType::kPercpuArray, 4, 8, 1, 0, 0, std::nullopt};
  auto m = model.Create(spec).map;
  EXPECT_EQ(m->Execute(core::ProgUpdate{1, 0, {0xff}, 0}).err, 0);
  EXPECT_EQ(*m->Execute(core::ProgLookupPercpu{0, 0, 0}).value,
            std::vector<uint8_t>(8, 0));
  EXPECT_EQ(m->Execute(core::ProgLookupPercpu{0, 0, 1}).value->at(0), 0xff);
}

TEST(ModelTest, HugeMapCostsOnlyWhatIsWritten) {
  ModelBackend model(TwoCpus());
  MapSpec spec{MapType::kArray, 4, 8, 1u << 30, 0, 0, std::nullopt};
  auto m = model.Create(spec).map;
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Execute(core::Update{(1u << 30) - 1, {7}, 0}).err, 0);
  EXPECT_EQ(m->Execute(core::Lookup{(1u << 30) - 1, 0}).value->at(0), 7);
}

TEST(ModelTest, StateChunksAreSlicesOfTheWholeState) {
  ModelBackend model(TwoCpus());
  for (MapSpec spec : {MapSpec{MapType::kArray, 4, 5, 9, 0, 0, std::nullopt},
                       MapSpec{MapType::kPercpuArray, 4, 3, 7, 0, 0, std::nullopt},
                       MapSpec{MapType::kArray, 4, 12, 700, core::kBpfFMmapable, 0,
                               std::nullopt},
                       MapSpec{MapType::kArray, 4, 8, 5, 0, 0, 0u}}) {
    auto m = model.Create(spec).map;
    ASSERT_NE(m, nullptr);
    const uint64_t vbuf = core::SyscallValueSize(spec, TwoCpus().env);
    for (uint32_t k = 0; k < spec.max_entries; k += 3) {
      std::vector<uint8_t> v(vbuf);
      for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<uint8_t>(k * 31 + i + 1);
      ASSERT_EQ(m->Execute(core::Update{k, v, 0}).err, 0);
    }
    core::MapState whole = m->ReadState();
    for (uint64_t offset : {0, 1, 7, 13}) {
      for (uint64_t length : {1, 5, 16, 64}) {
        if (offset + length > whole.values.size()) continue;
        std::vector<uint8_t> chunk(length, 0xee);
        m->ReadStateChunk(core::StatePart::kValues, offset, length, chunk.data());
        EXPECT_EQ(chunk, std::vector<uint8_t>(whole.values.begin() + offset,
                                              whole.values.begin() + offset + length))
            << static_cast<int>(spec.type) << " offset " << offset;
        if (whole.mmap_data && offset + length <= whole.mmap_data->size()) {
          m->ReadStateChunk(core::StatePart::kMmapData, offset, length, chunk.data());
          EXPECT_EQ(chunk,
                    std::vector<uint8_t>(whole.mmap_data->begin() + offset,
                                         whole.mmap_data->begin() + offset + length));
        }
      }
    }
  }
}

TEST(ModelTest, StateChunksOfAMapPast4GiBHoldWhatWasWrittenAtTheWrapElement) {
  ModelBackend model(TwoCpus());
  // 8 * (2^29 + 1) = 2^32 + 8 bytes: key 2^29 starts at byte 2^32.
  MapSpec spec{MapType::kArray, 4, 8, (1u << 29) + 1, 0, 0, std::nullopt};
  auto m = model.Create(spec).map;
  ASSERT_NE(m, nullptr);
  const uint32_t wrap = 1u << 29;
  ASSERT_EQ(m->Execute(core::Update{wrap, {1, 2, 3, 4, 5, 6, 7, 8}, 0}).err, 0);
  ASSERT_EQ(m->Execute(core::Update{0, {9}, 0}).err, 0);
  std::vector<uint8_t> chunk(24, 0xee);
  m->ReadStateChunk(core::StatePart::kValues, uint64_t{wrap} * 8 - 8, 24, chunk.data());
  EXPECT_EQ(chunk, (std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4,
                                         5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0}));
  m->ReadStateChunk(core::StatePart::kValues, 0, 8, chunk.data());
  EXPECT_EQ(chunk[0], 9);
  EXPECT_EQ(chunk[1], 0);
}

TEST(ModelTest, StorageBeyondMemoryIsEnomem) {
  Params p = TwoCpus();
  p.memory_limit_bytes = 1 << 20;
  MapSpec spec{MapType::kArray, 4, 8, 1u << 18, 0, 0, std::nullopt};
  EXPECT_EQ(ModelCreateErrno(spec, p), ENOMEM);
  spec.max_entries = 1u << 17;
  EXPECT_EQ(ModelCreateErrno(spec, p), 0);
}

TEST(ModelTest, UnprivilegedRoundingOverflowIsE2big) {
  Params p = TwoCpus();
  p.bypass_spec_v1 = false;
  MapSpec spec{MapType::kArray, 4, 1, (1u << 31) + 1, 0, 0, std::nullopt};
  EXPECT_EQ(ModelCreateErrno(spec, p), E2BIG);
}

Params Linux61() {
  Params p = TwoCpus();
  p.profile = *core::KernelProfileByName("6.1");
  return p;
}

TEST(ModelTest, OnLinux61AMisalignedLockIsNoLockAndLockMapsFreeze) {
  ModelBackend model(Linux61());
  MapSpec misaligned{MapType::kArray, 4, 16, 1, core::kBpfFWronlyProg, 0, 6};
  auto m = model.Create(misaligned).map;
  ASSERT_NE(m, nullptr);
  EXPECT_EQ(m->Execute(core::Lookup{0, core::kBpfFLock}).err, EINVAL);
  EXPECT_EQ(ModelBackend(TwoCpus()).Create(misaligned).err, EFAULT);
  MapSpec aligned{MapType::kArray, 4, 16, 1, 0, 0, 4};
  auto lock = model.Create(aligned).map;
  ASSERT_NE(lock, nullptr);
  EXPECT_EQ(lock->Execute(core::Freeze{}).err, 0);
  EXPECT_EQ(lock->Execute(core::Freeze{}).err, EBUSY);
  // Sleepable programs may not use a lock map before 6.6, even where the
  // access would not touch the lock.
  EXPECT_EQ(lock->Execute(core::ProgAtomicAdd{0, 0, 8, 1}).err, EINVAL);
  MapSpec percpu{MapType::kPercpuArray, 4, 8, 1, 0, 0, 0};
  EXPECT_EQ(model.Create(percpu).err, 524);
  EXPECT_EQ(ModelBackend(TwoCpus()).Create(percpu).err, EOPNOTSUPP);
}

TEST(ModelTest, WritableMappingBlocksFreezeUntilUnmapped) {
  ModelBackend model(TwoCpus());
  MapSpec spec{MapType::kArray, 4, 8, 4, core::kBpfFMmapable, 0, std::nullopt};
  auto m = model.Create(spec).map;
  EXPECT_EQ(m->Execute(core::Mmap{0, 0, 4096, core::kProtRead | core::kProtWrite, true}).err, 0);
  EXPECT_EQ(m->Execute(core::Freeze{}).err, EBUSY);
  EXPECT_EQ(m->Execute(core::Munmap{0}).err, 0);
  EXPECT_EQ(m->Execute(core::Freeze{}).err, 0);
  EXPECT_EQ(m->Execute(core::Mmap{0, 0, 4096, core::kProtRead | core::kProtWrite, true}).err, EPERM);
  EXPECT_EQ(m->Execute(core::Mmap{0, 0, 4096, core::kProtRead, true}).err, 0);
}

TEST(ModelTest, MmapWritesShowInLookupsAndPaddingInState) {
  ModelBackend model(TwoCpus());
  MapSpec spec{MapType::kArray, 4, 4, 2, core::kBpfFMmapable, 0, std::nullopt};
  auto m = model.Create(spec).map;
  ASSERT_EQ(m->Execute(core::Mmap{0, 0, 4096, core::kProtRead | core::kProtWrite, true}).err, 0);
  EXPECT_EQ(m->Execute(core::MmapWrite{0, 8, {1, 2, 3, 4, 5, 6}}).err, 0);
  EXPECT_EQ(*m->Execute(core::Lookup{1, 0}).value, (std::vector<uint8_t>{1, 2, 3, 4}));
  core::MapState state = m->ReadState();
  ASSERT_TRUE(state.mmap_data.has_value());
  EXPECT_EQ(state.mmap_data->size(), 4096u);
  EXPECT_EQ(state.mmap_data->at(13), 6);
  EXPECT_EQ(m->Execute(core::MmapRead{0, 4090, 7}).err, EFAULT);
  EXPECT_EQ(m->Execute(core::MmapRead{1, 0, 1}).err, EBADF);
}

TEST(ModelTest, PercpuSyscallUpdateLeavesPaddingZeroSince70) {
  ModelBackend model(TwoCpusOn("7.0"));
  MapSpec spec{MapType::kPercpuArray, 4, 3, 2, 0, 0, std::nullopt};
  auto m = model.Create(spec).map;
  std::vector<uint8_t> buf = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  EXPECT_EQ(m->Execute(core::Update{1, buf, 0}).err, 0);
  EXPECT_EQ(*m->Execute(core::Lookup{1, 0}).value,
            (std::vector<uint8_t>{1, 2, 3, 0, 0, 0, 0, 0, 9, 10, 11, 0, 0, 0, 0, 0}));
}

constexpr uint64_t Cpu(uint64_t cpu) { return core::kBpfFCpu | (cpu << 32); }

TEST(ModelTest, CpuFlagReadsAndWritesOneCpusValueSince70) {
  ModelBackend model(TwoCpusOn("7.0"));
  MapSpec spec{MapType::kPercpuArray, 4, 4, 2, 0, 0, std::nullopt};
  auto m = model.Create(spec).map;
  EXPECT_EQ(m->Execute(core::Update{0, {1, 2, 3, 4}, Cpu(1)}).err, 0);
  EXPECT_EQ(*m->Execute(core::Lookup{0, Cpu(1)}).value,
            (std::vector<uint8_t>{1, 2, 3, 4}));
  EXPECT_EQ(*m->Execute(core::Lookup{0, Cpu(0)}).value,
            (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(m->Execute(core::Update{1, {9, 9, 9, 9}, core::kBpfFAllCpus}).err, 0);
  EXPECT_EQ(*m->Execute(core::Lookup{1, 0}).value,
            (std::vector<uint8_t>{9, 9, 9, 9, 0, 0, 0, 0, 9, 9, 9, 9, 0, 0, 0, 0}));
}

TEST(ModelTest, CpuFlagChecksFollowBpfMapCheckOpFlagsSince70) {
  ModelBackend model(TwoCpusOn("7.0"));
  auto pcpu = model.Create({MapType::kPercpuArray, 4, 4, 2, 0, 0, std::nullopt}).map;
  auto array = model.Create({MapType::kArray, 4, 4, 2, 0, 0, std::nullopt}).map;
  EXPECT_EQ(pcpu->Execute(core::Lookup{0, Cpu(2)}).err, ERANGE);
  EXPECT_EQ(pcpu->Execute(core::Lookup{0, uint64_t{1} << 32}).err, EINVAL);
  EXPECT_EQ(pcpu->Execute(core::Lookup{0, core::kBpfFAllCpus}).err, EINVAL);
  EXPECT_EQ(pcpu->Execute(core::Lookup{5, Cpu(1)}).err, ENOENT);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, Cpu(0) | core::kBpfFAllCpus}).err, EINVAL);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, Cpu(9) | core::kBpfNoexist}).err, ERANGE);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, Cpu(1) | core::kBpfNoexist}).err, 0);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, core::kBpfNoexist | core::kBpfExist}).err, 0);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, core::kBpfNoexist}).err, EEXIST);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, 0x20}).err, EINVAL);
  EXPECT_EQ(array->Execute(core::Lookup{0, Cpu(0)}).err, EINVAL);
  EXPECT_EQ(array->Execute(core::Update{0, {}, core::kBpfFAllCpus}).err, EINVAL);
  EXPECT_EQ(array->Execute(core::Update{0, {}, core::kBpfNoexist | core::kBpfExist}).err,
            EINVAL);
  core::Result batch = pcpu->Execute(core::LookupBatch{std::nullopt, 2, Cpu(1), 0});
  EXPECT_EQ(batch.err, 0);
  EXPECT_EQ(batch.value->size(), 8u);
  EXPECT_EQ(pcpu->Execute(core::LookupBatch{std::nullopt, 2, core::kBpfFAllCpus, 0}).err,
            EINVAL);
  EXPECT_EQ(pcpu->Execute(core::UpdateBatch{{0, 1}, {}, core::kBpfFAllCpus, 0}).err, 0);
  EXPECT_EQ(pcpu->Execute(core::UpdateBatch{{0}, {}, core::kBpfExist, 0}).err, EINVAL);
}

TEST(ModelTest, CpuFlagsAreEinvalBefore70) {
  ModelBackend model(TwoCpusOn("6.18"));
  auto pcpu = model.Create({MapType::kPercpuArray, 4, 4, 2, 0, 0, std::nullopt}).map;
  EXPECT_EQ(pcpu->Execute(core::Lookup{0, Cpu(1)}).err, EINVAL);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, Cpu(1)}).err, EINVAL);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, core::kBpfFAllCpus}).err, EINVAL);
  EXPECT_EQ(pcpu->Execute(core::Update{0, {}, core::kBpfNoexist | core::kBpfExist}).err,
            EINVAL);
  EXPECT_EQ(pcpu->Execute(core::LookupBatch{std::nullopt, 2, Cpu(0), 0}).err, EINVAL);
}

}  // namespace
}  // namespace amc::model
