#include "impl/impl_backend.h"

#include <gtest/gtest.h>

#include <variant>

#include "core/differential.h"
#include "core/ops_text.h"
#include "model/model_backend.h"

namespace amc::impl {
namespace {

core::Sequence Parse(const std::string& text) {
  auto parsed = core::ParseOps(text, "inline");
  if (auto* err = std::get_if<core::ParseError>(&parsed)) {
    ADD_FAILURE() << err->ToString();
    return {};
  }
  return std::get<core::Sequence>(parsed);
}

void ExpectAgreesWithModel(const std::string& text, uint32_t cpus = 2) {
  core::Sequence seq = Parse(text);
  core::Environment env = core::HostEnvironment();
  env.possible_cpus = cpus;
  model::Params params = model::Params::Host();
  params.env = env;
  model::ModelBackend model(params);
  ImplBackend impl(env);
  core::RunOutcome out = core::RunDifferential(seq, {&model, &impl});
  EXPECT_TRUE(out.ok()) << out.divergence->Report(seq);
  EXPECT_EQ(out.steps_run, seq.steps.size());
}

TEST(ImplBackendTest, IsNamedImplAndTakesTheRequestedCpuCount) {
  core::Environment env = core::HostEnvironment();
  env.possible_cpus = 7;
  ImplBackend impl(env);
  EXPECT_EQ(impl.Name(), "impl");
  EXPECT_EQ(impl.Env().possible_cpus, 7u);
  core::MapSpec spec;
  spec.type = core::MapType::kPercpuArray;
  auto created = impl.Create(spec);
  ASSERT_EQ(created.err, 0);
  auto r = created.map->Execute(core::Lookup{0, 0});
  ASSERT_TRUE(r.value);
  EXPECT_EQ(r.value->size(), 8u * 7);
}

TEST(ImplBackendTest, SyscallOpsAgreeWithTheModel) {
  ExpectAgreesWithModel(R"(
map type=ARRAY key_size=4 value_size=5 max_entries=3 flags=0 -> ok
update key=1 value=0102030405 flags=BPF_ANY
update key=1 value=0102 flags=BPF_NOEXIST
update key=3 value=01 flags=BPF_ANY
update key=0 value=01 flags=3
lookup key=1 flags=0
lookup key=1 flags=BPF_F_LOCK
lookup key=9 flags=0
delete key=1
lookup_and_delete key=1 flags=0
get_next_key key=null
get_next_key key=2
get_next_key key=77
lookup_batch in=null count=2 elem_flags=0 flags=0
lookup_batch in=0 count=9 elem_flags=0 flags=0
update_batch keys=0,2,5 values=11*5+22*5+33*5 elem_flags=0 flags=0
delete_batch keys=0 elem_flags=0 flags=0
lookup_and_delete_batch in=null count=1 elem_flags=0 flags=0
freeze
update key=0 value=01 flags=0
freeze
lookup key=0 flags=0
)");
}

TEST(ImplBackendTest, PercpuAndProgramOpsAgreeWithTheModel) {
  for (uint32_t cpus : {1u, 2u, 5u}) {
    ExpectAgreesWithModel(R"(
map type=PERCPU_ARRAY key_size=4 value_size=12 max_entries=4 flags=0 -> ok
update key=2 value=01*16+02*16+03*16+04*16+05*16 flags=BPF_ANY
update key=2 value=01 flags=BPF_NOEXIST
update key=2 value=01 flags=BPF_F_LOCK
lookup key=2 flags=0
prog_lookup cpu=1 key=2
prog_lookup cpu=0 key=4
prog_lookup cpu=9 key=0
prog_update cpu=0 key=1 value=aa*12 flags=BPF_ANY
prog_update cpu=0 key=1 value=aa*12 flags=BPF_NOEXIST
prog_update cpu=0 key=8 value=aa*12 flags=BPF_ANY
prog_delete cpu=0 key=1
prog_lookup_percpu cpu=0 key=1 target_cpu=0
prog_lookup_percpu cpu=0 key=1 target_cpu=1
prog_lookup_percpu cpu=0 key=1 target_cpu=64
prog_atomic_add cpu=0 key=3 offset=0 delta=5
prog_atomic_add cpu=0 key=3 offset=0 delta=5
prog_atomic_add cpu=0 key=3 offset=8 delta=5
prog_atomic_add cpu=0 key=3 offset=4 delta=5
prog_atomic_add cpu=0 key=9 offset=0 delta=5
lookup_batch in=null count=4 elem_flags=0 flags=0
mmap slot=0 offset=0 length=4096 prot=1 shared=1
)",
                          cpus);
  }
}

TEST(ImplBackendTest, MmapOpsAgreeWithTheModel) {
  ExpectAgreesWithModel(R"(
map type=ARRAY key_size=4 value_size=12 max_entries=600 flags=BPF_F_MMAPABLE -> ok
mmap slot=0 offset=0 length=8192 prot=3 shared=1
mmap slot=0 offset=0 length=4096 prot=1 shared=1
mmap slot=1 offset=4096 length=4096 prot=1 shared=1
mmap slot=2 offset=8192 length=4096 prot=1 shared=1
mmap slot=2 offset=0 length=4096 prot=1 shared=0
mmap slot=2 offset=0 length=4096 prot=5 shared=1
mmap slot=9 offset=0 length=4096 prot=1 shared=1
update key=300 value=0102030405060708090a0b0c flags=0
mmap_read slot=1 offset=704 length=16
mmap_write slot=0 offset=4099 bytes=ffeedd
mmap_write slot=1 offset=0 bytes=ff
mmap_read slot=0 offset=8190 length=4
mmap_read slot=3 offset=0 length=4
lookup key=341 flags=0
freeze
munmap slot=0
freeze
mmap slot=0 offset=0 length=4096 prot=3 shared=1
mmap slot=0 offset=0 length=4096 prot=1 shared=1
munmap slot=3
prog_update cpu=0 key=1 value=01 flags=0
mmap_read slot=0 offset=0 length=24
)");
}

TEST(ImplBackendTest, CreationErrorsAgreeWithTheModel) {
  for (const char* spec :
       {"map type=ARRAY key_size=4 value_size=8 max_entries=0 flags=0",
        "map type=PERCPU_ARRAY key_size=4 value_size=32769 max_entries=1 flags=0",
        "map type=PERCPU_ARRAY key_size=4 value_size=8 max_entries=1 flags=BPF_F_MMAPABLE",
        "map type=ARRAY key_size=4 value_size=8 max_entries=1 flags=BPF_F_RDONLY_PROG|BPF_F_WRONLY_PROG",
        "map type=ARRAY key_size=4 value_size=8 max_entries=4294967295 flags=0",
        "map type=ARRAY key_size=4 value_size=2147483648 max_entries=1 flags=0"}) {
    ExpectAgreesWithModel(std::string(spec) + "\n");
  }
}

TEST(ImplBackendTest, ProgramRestrictionsAgreeWithTheModel) {
  for (const char* flags : {"BPF_F_RDONLY_PROG", "BPF_F_WRONLY_PROG",
                            "BPF_F_RDONLY", "BPF_F_WRONLY"}) {
    ExpectAgreesWithModel(
        std::string("map type=ARRAY key_size=4 value_size=16 max_entries=2 "
                    "flags=BPF_F_MMAPABLE|") +
        flags + R"(
prog_lookup cpu=0 key=0
prog_update cpu=1 key=0 value=01 flags=0
prog_delete cpu=0 key=0
prog_atomic_add cpu=0 key=1 offset=8 delta=3
prog_lookup_percpu cpu=0 key=0 target_cpu=0
lookup key=0 flags=0
update key=0 value=02 flags=0
get_next_key key=null
freeze
mmap slot=0 offset=0 length=4096 prot=3 shared=1
mmap slot=1 offset=0 length=4096 prot=1 shared=1
)");
  }
}

// ReadState copies all keys at once; it must give exactly the lookup
// buffers of every key in turn, padding and the last key's end included.
TEST(ImplBackendTest, FinalStateIsEveryKeysLookupBufferInOrder) {
  core::Environment env = core::HostEnvironment();
  env.possible_cpus = 3;
  ImplBackend impl(env);
  for (core::MapType type : {core::MapType::kArray, core::MapType::kPercpuArray}) {
    for (uint32_t value_size = 1; value_size <= 41; ++value_size) {
      for (uint32_t entries : {1u, 2u, 3u, 7u, 9u}) {
        core::MapSpec spec;
        spec.type = type;
        spec.value_size = value_size;
        spec.max_entries = entries;
        core::CreateResult created = impl.Create(spec);
        ASSERT_TRUE(created.map);
        const uint64_t per_key = core::SyscallValueSize(spec, env);
        std::vector<uint8_t> expected;
        for (uint32_t key = 0; key < entries; ++key) {
          core::Bytes value(per_key);
          for (size_t i = 0; i < value.size(); ++i) value[i] = uint8_t(key * 31 + i + 1);
          created.map->Execute(core::Update{key, value, core::kBpfAny});
          core::Result r = created.map->Execute(core::Lookup{key, 0});
          ASSERT_TRUE(r.value.has_value());
          expected.insert(expected.end(), r.value->begin(), r.value->end());
        }
        EXPECT_EQ(created.map->ReadState().values, expected)
            << (type == core::MapType::kArray ? "array" : "percpu") << " value_size " << value_size
            << " entries " << entries;
      }
    }
  }
}

}  // namespace
}  // namespace amc::impl
