#include "oracle_kernel/kernel_backend.h"

#include <dirent.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/harness_error.h"
#include "core/ops_text.h"
#include "oracle_kernel/record.h"
#include "oracle_kernel/require_kernel_test_util.h"

namespace amc::oracle_kernel {
namespace {

using core::MapSpec;
using core::MapType;

int OpenFds() {
  int n = 0;
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(d);
  return n - 1;  // the DIR's own fd
}

// Ids of live kernel maps named KernelBackend::MapName() or
// "<MapName()>.rodata" (libbpf's internal map of our programs).
std::vector<uint32_t> OurMaps() {
  std::vector<uint32_t> ids;
  std::string name = KernelBackend::MapName();
  uint32_t id = 0;
  for (;;) {
    union bpf_attr attr;
    std::memset(&attr, 0, sizeof attr);
    attr.start_id = id;
    if (syscall(__NR_bpf, BPF_MAP_GET_NEXT_ID, &attr, sizeof attr) != 0) break;
    id = attr.next_id;
    std::memset(&attr, 0, sizeof attr);
    attr.map_id = id;
    long fd = syscall(__NR_bpf, BPF_MAP_GET_FD_BY_ID, &attr, sizeof attr);
    if (fd < 0) continue;
    struct bpf_map_info info;
    std::memset(&info, 0, sizeof info);
    std::memset(&attr, 0, sizeof attr);
    attr.info.bpf_fd = static_cast<uint32_t>(fd);
    attr.info.info_len = sizeof info;
    attr.info.info = reinterpret_cast<uintptr_t>(&info);
    if (syscall(__NR_bpf, BPF_OBJ_GET_INFO_BY_FD, &attr, sizeof attr) == 0) {
      std::string have = info.name;
      if (have == name || have == name + ".rodata") ids.push_back(id);
    }
    close(static_cast<int>(fd));
  }
  return ids;
}

// Maps freed by closing their last fd leave the id space at once, but maps
// held by a program go after an RCU grace period: wait for that, boundedly.
std::vector<uint32_t> OurMapsAfterRcu() {
  std::vector<uint32_t> ids;
  for (int i = 0; i < 200; ++i) {
    ids = OurMaps();
    if (ids.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ids;
}

core::Sequence Parse(const std::string& text) {
  auto parsed = core::ParseOps(text, "test");
  if (auto* e = std::get_if<core::ParseError>(&parsed)) {
    ADD_FAILURE() << e->ToString();
    return {};
  }
  return std::get<core::Sequence>(parsed);
}

TEST(KernelBackendTest, ProbeSaysAvailableOrGivesAReason) {
  KernelBackend kernel;
  core::Availability a = kernel.Probe();
  EXPECT_EQ(a.available, a.reason.empty()) << a.reason;
}

TEST(KernelBackendTest, UnavailableReasonNamesMissingCapabilityAndSysctl) {
  ProbeFacts f;
  f.create_err = EPERM;
  f.unprivileged_bpf_disabled = 2;
  f.kernel_release = "6.1.0";
  std::string reason = UnavailableReason(f);
  EXPECT_NE(reason.find("no CAP_BPF"), std::string::npos) << reason;
  EXPECT_NE(reason.find("kernel.unprivileged_bpf_disabled=2"),
            std::string::npos)
      << reason;
}

TEST(KernelBackendTest, RefusedSyscallProgramMakesOnlyProgramKindsUnavailable) {
  ProbeFacts f;
  f.cap_bpf = true;
  f.prog_load_err = EINVAL;
  f.kernel_release = "5.10.0-46-cloud-amd64";
  // Maps work: the backend runs, without its program ops.
  EXPECT_EQ(UnavailableReason(f), "");
  EXPECT_EQ(ProgramKindReason(f, core::OpKind::kLookup), "");
  EXPECT_EQ(ProgramKindReason(f, core::OpKind::kLookupBatch), "");
  for (core::OpKind kind :
       {core::OpKind::kProgLookup, core::OpKind::kProgUpdate,
        core::OpKind::kProgDelete, core::OpKind::kProgLookupPercpu,
        core::OpKind::kProgAtomicAdd}) {
    std::string reason = ProgramKindReason(f, kind);
    EXPECT_NE(reason.find("needs Linux 5.14 for BPF_PROG_TYPE_SYSCALL"),
              std::string::npos)
        << reason;
    EXPECT_NE(reason.find("5.10.0-46-cloud-amd64"), std::string::npos)
        << reason;
    EXPECT_NE(reason.find("EINVAL"), std::string::npos) << reason;
  }
}

TEST(KernelBackendTest, RefusedPercpuLookupHelperMakesOnlyItsKindUnavailable) {
  ProbeFacts f;
  f.cap_bpf = true;
  f.lookup_percpu_load_err = EINVAL;
  f.kernel_release = "5.15.0-1-amd64";
  EXPECT_EQ(ProgramKindReason(f, core::OpKind::kProgLookup), "");
  EXPECT_EQ(ProgramKindReason(f, core::OpKind::kProgAtomicAdd), "");
  std::string reason = ProgramKindReason(f, core::OpKind::kProgLookupPercpu);
  EXPECT_NE(reason.find("needs Linux 5.19 for bpf_map_lookup_percpu_elem"),
            std::string::npos)
      << reason;
}

TEST(KernelBackendTest, ProgramThatRunsWithTheWrongAnswerIsAGapNotAnAnswer) {
  ProbeFacts f;
  f.cap_bpf = true;
  f.prog_run_err = EPROTO;
  f.kernel_release = "6.18.0";
  std::string reason = ProgramKindReason(f, core::OpKind::kProgDelete);
  EXPECT_NE(reason.find("BPF_PROG_TEST_RUN gave EPROTO"), std::string::npos)
      << reason;
}

TEST(KernelBackendTest, BackendOnThisKernelSupportsWhatItsProbeFound) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  const ProbeFacts& f = kernel.Facts();
  for (size_t k = 0; k < core::kOpKindCount; ++k) {
    auto kind = static_cast<core::OpKind>(k);
    EXPECT_EQ(kernel.Supports(kind), ProgramKindReason(f, kind).empty())
        << core::OpKindName(kind);
    EXPECT_EQ(kernel.UnsupportedReason(kind), ProgramKindReason(f, kind));
  }
}

TEST(KernelBackendTest, UnavailableReasonIsEmptyWhenEverythingWorks) {
  ProbeFacts f;
  f.cap_bpf = true;
  EXPECT_EQ(UnavailableReason(f), "");
}

TEST(KernelBackendTest, ProbeWithoutCapabilitiesReportsNoCapBpf) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    close(pipe_fds[0]);
    // Drop every capability, then probe as an unprivileged process would.
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {};
    if (syscall(SYS_capset, &header, data) != 0) _exit(2);
    std::string reason = UnavailableReason(GatherProbeFacts());
    ssize_t n = write(pipe_fds[1], reason.data(), reason.size());
    _exit(n == static_cast<ssize_t>(reason.size()) ? 0 : 3);
  }
  close(pipe_fds[1]);
  std::string reason;
  char buf[512];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof buf)) > 0) reason.append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::ifstream sysctl("/proc/sys/kernel/unprivileged_bpf_disabled");
  int disabled = 0;
  sysctl >> disabled;
  if (disabled == 0) {
    // Unprivileged maps are allowed here; SYSCALL programs still need CAP_BPF.
    EXPECT_NE(reason.find("no CAP_BPF"), std::string::npos) << reason;
  } else {
    EXPECT_NE(reason.find("no CAP_BPF"), std::string::npos) << reason;
    EXPECT_NE(
        reason.find("unprivileged_bpf_disabled=" + std::to_string(disabled)),
        std::string::npos)
        << reason;
  }
}

const char kEveryOpArray[] = R"(
map type=ARRAY key_size=4 value_size=12 max_entries=3 flags=BPF_F_MMAPABLE numa_node=0
update key=1 value=0102030405060708090a0b0c flags=BPF_ANY
lookup key=1 flags=0
delete key=1
lookup_and_delete key=1 flags=0
get_next_key key=null
lookup_batch in=null count=8 elem_flags=0 flags=0
lookup_and_delete_batch in=null count=2 elem_flags=0 flags=0
update_batch keys=0,2 values=11*12+22*12 elem_flags=0 flags=0
delete_batch keys=0 elem_flags=0 flags=0
mmap slot=0 offset=0 length=4096 prot=PROT_READ|PROT_WRITE shared=1
mmap_write slot=0 offset=12 bytes=ffffffff
mmap_read slot=0 offset=0 length=48
prog_lookup cpu=1 key=2
prog_update cpu=0 key=0 value=33*12 flags=BPF_ANY
prog_delete cpu=0 key=0
prog_lookup_percpu cpu=0 key=0 target_cpu=0
prog_atomic_add cpu=1 key=0 offset=0 delta=7
munmap slot=0
freeze
)";

const char kEveryOpPercpu[] = R"(
map type=PERCPU_ARRAY key_size=4 value_size=12 max_entries=3 flags=0 numa_node=0
update key=1 value=0102030405060708090a0b0c flags=BPF_ANY
update_batch keys=0,2 values=11*16+11*16+22*32 elem_flags=0 flags=0
prog_update cpu=1 key=0 value=33*12 flags=BPF_ANY
prog_lookup_percpu cpu=0 key=0 target_cpu=1
prog_atomic_add cpu=1 key=2 offset=0 delta=7
lookup_batch in=null count=8 elem_flags=0 flags=0
)";

std::vector<core::Backend*> ModelAndKernel(core::Backend* model,
                                           core::Backend* kernel) {
  return {model, kernel};
}

TEST(KernelBackendTest, RunsEveryOpKindAndAgreesWithTheModel) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  auto model = backends::AllBackends()[0].make(std::nullopt);
  for (const char* text : {kEveryOpArray, kEveryOpPercpu}) {
    core::Sequence seq = Parse(text);
    core::RunOutcome out =
        core::RunDifferential(seq, ModelAndKernel(model.get(), &kernel));
    EXPECT_TRUE(out.ok()) << out.divergence->Report(seq);
    EXPECT_TRUE(out.left_out.empty());
  }
}

TEST(KernelBackendTest, ProgramLookupReportsTheKernelsValueAndAlignment) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  MapSpec spec{MapType::kArray, 4, 12, 2, 0, 0, std::nullopt};
  auto created = kernel.Create(spec);
  ASSERT_EQ(created.err, 0);
  std::vector<uint8_t> value = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  ASSERT_EQ(created.map->Execute(core::Update{1, value, 0}).err, 0);
  core::Result r = created.map->Execute(core::ProgLookup{1, 1});
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.value, value);
  EXPECT_EQ(r.aligned, true);
  EXPECT_TRUE(created.map->Execute(core::ProgLookup{0, 2}).null);
}

TEST(KernelBackendTest, ReusedMapStartsAllZeroAfterAVerifiedReset) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  MapSpec spec{MapType::kArray, 4, 4, 3, core::kBpfFMmapable, 0, std::nullopt};
  {
    auto created = kernel.Create(spec);
    ASSERT_EQ(created.err, 0);
    auto& m = *created.map;
    ASSERT_EQ(m.Execute(core::Update{0, {1, 2, 3, 4}, 0}).err, 0);
    ASSERT_EQ(m.Execute(core::ProgUpdate{1, 2, {9, 9, 9, 9}, 0}).err, 0);
    ASSERT_EQ(m.Execute(core::Mmap{0, 0, 4096,
                                   core::kProtRead | core::kProtWrite, true})
                  .err,
              0);
    // Padding of element 1, visible only through the mapping.
    ASSERT_EQ(m.Execute(core::MmapWrite{0, 12, {0xee, 0xee, 0xee, 0xee}}).err,
              0);
  }
  auto again = kernel.Create(spec);
  ASSERT_EQ(again.err, 0);
  EXPECT_EQ(kernel.Stats().maps_reused, 1u);
  EXPECT_EQ(kernel.Stats().maps_created, 1u);
  core::MapState state = again.map->ReadState();
  EXPECT_EQ(state.values, std::vector<uint8_t>(12, 0));
  ASSERT_TRUE(state.mmap_data.has_value());
  EXPECT_EQ(*state.mmap_data, std::vector<uint8_t>(4096, 0));
}

TEST(KernelBackendTest, FrozenMapIsRecreatedNotReused) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  MapSpec spec{MapType::kArray, 4, 8, 2, 0, 0, std::nullopt};
  {
    auto created = kernel.Create(spec);
    ASSERT_EQ(created.err, 0);
    ASSERT_EQ(created.map->Execute(core::Freeze{}).err, 0);
  }
  auto again = kernel.Create(spec);
  ASSERT_EQ(again.err, 0);
  EXPECT_EQ(kernel.Stats().maps_reused, 0u);
  EXPECT_EQ(kernel.Stats().maps_created, 2u);
  EXPECT_EQ(again.map->Execute(core::Update{0, {1}, 0}).err, 0);
}

TEST(KernelBackendTest, ReadStateBypassesWriteOnlyFdAndFreeze) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  MapSpec spec{MapType::kArray, 4, 4, 2, core::kBpfFWronly, 0, std::nullopt};
  auto created = kernel.Create(spec);
  ASSERT_EQ(created.err, 0);
  auto& m = *created.map;
  ASSERT_EQ(m.Execute(core::Update{1, {5, 6, 7, 8}, 0}).err, 0);
  EXPECT_EQ(m.Execute(core::Lookup{1, 0}).err, EPERM);
  ASSERT_EQ(m.Execute(core::Freeze{}).err, 0);
  EXPECT_EQ(m.ReadState().values,
            (std::vector<uint8_t>{0, 0, 0, 0, 5, 6, 7, 8}));
}

TEST(KernelBackendTest, ManySequencesKeepTheFdCountAndLeaveNoMaps) {
  int fds_before = OpenFds();
  {
    KernelBackend kernel(4);
    REQUIRE_KERNEL(kernel);
    auto model = backends::AllBackends()[0].make(std::nullopt);
    core::Sequence array = Parse(kEveryOpArray);
    core::Sequence percpu = Parse(kEveryOpPercpu);
    for (int i = 0; i < 300; ++i) {
      core::Sequence seq = i % 2 ? array : percpu;
      seq.spec.max_entries = 3 + (i / 10) % 6;  // more specs than the cache
      if (i % 3 == 0) seq.steps.pop_back();     // some sequences end unfrozen
      core::RunOutcome out =
          core::RunDifferential(seq, ModelAndKernel(model.get(), &kernel));
      ASSERT_TRUE(out.ok()) << out.divergence->Report(seq);
      if (i % 100 == 99) {
        EXPECT_GT(OpenFds(), fds_before);  // the cache holds maps
        EXPECT_GT(OurMaps().size(), 4u);   // maps, scratch maps, .rodata
        kernel.DropCache();
        EXPECT_EQ(OpenFds(), fds_before) << "after " << i + 1 << " sequences";
      }
    }
    EXPECT_GT(kernel.Stats().maps_reused, 100u);
  }
  EXPECT_EQ(OpenFds(), fds_before);
  EXPECT_EQ(OurMapsAfterRcu(), std::vector<uint32_t>{});
}

TEST(RecordTest, RecordingCarriesTheKernelsResultsEnvAndRelease) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  core::Sequence seq = Parse(
      "# a case\n"
      "map type=ARRAY key_size=4 value_size=4 max_entries=2 flags=0 "
      "numa_node=0\n"
      "update key=2 value=01020304 flags=BPF_ANY\n"
      "lookup key=0 flags=0\n"
      "prog_lookup cpu=1 key=1\n");
  Recording rec = RecordOnKernel(seq, &kernel);
  ASSERT_TRUE(rec.sequence.has_value()) << rec.error;
  const core::Sequence& r = *rec.sequence;
  EXPECT_EQ(r.expect_create, 0);
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[0].expect->err, E2BIG);
  EXPECT_EQ(r.steps[1].expect->value, std::vector<uint8_t>(4, 0));
  EXPECT_EQ(r.steps[2].expect->aligned, true);
  ASSERT_TRUE(r.env.has_value());
  EXPECT_EQ(*r.env, kernel.Env());
  EXPECT_EQ(r.comments.front(), "a case");
  EXPECT_NE(r.comments.back().find("recorded on Linux " +
                                   kernel.Env().kernel_release),
            std::string::npos);
  // Printed and parsed back, it replays as the same recording.
  EXPECT_EQ(Parse(core::PrintOps(r)), r);
  Recording again = RecordOnKernel(r, &kernel);
  ASSERT_TRUE(again.sequence.has_value());
  EXPECT_EQ(*again.sequence, r);
}

TEST(RecordTest, RefusedCreationIsRecordedAsTheCreateErrno) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  core::Sequence seq = Parse(
      "map type=ARRAY key_size=8 value_size=4 max_entries=2 flags=0 "
      "numa_node=0\n"
      "lookup key=0 flags=0\n");
  Recording rec = RecordOnKernel(seq, &kernel);
  ASSERT_TRUE(rec.sequence.has_value()) << rec.error;
  EXPECT_EQ(rec.sequence->expect_create, EINVAL);
  EXPECT_FALSE(rec.sequence->steps[0].expect.has_value());
}

}  // namespace
}  // namespace amc::oracle_kernel

namespace amc::oracle_kernel {
namespace {

// Opens a raw map fd the way a caller without BTF would, for the check.
int RawArrayFd(uint32_t value_size) {
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = value_size;
  attr.max_entries = 1;
  std::strncpy(attr.map_name, KernelBackend::MapName().c_str(),
               sizeof(attr.map_name) - 1);
  return static_cast<int>(syscall(__NR_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
}

TEST(KernelBackendTest, SpinLockCheckTellsAMapWithoutItsLock) {
  KernelBackend kernel;
  REQUIRE_KERNEL(kernel);
  // A map created without BTF (what libbpf's silent retry would leave) is
  // told apart, with the reason.
  int fd = RawArrayFd(8);
  ASSERT_GE(fd, 0);
  MapSpec lock_at_0{MapType::kArray, 4, 8, 1, 0, 0, 0u};
  std::string missing = SpinLockMissing(fd, lock_at_0);
  close(fd);
  EXPECT_NE(missing.find("no BTF"), std::string::npos) << missing;
  // The backend's own map for a spec with a lock passes the check, and the
  // lock is there: BPF_F_LOCK is accepted.
  MapSpec spec{MapType::kArray, 4, 16, 2, 0, 0, 8u};
  auto created = kernel.Create(spec);
  ASSERT_EQ(created.err, 0);
  EXPECT_EQ(kernel.Stats().lock_checks_failed, 0u);
  EXPECT_EQ(created.map->Execute(core::Lookup{1, core::kBpfFLock}).err, 0);
  // A refusal stays a result, not a harness error.
  spec.type = MapType::kPercpuArray;
  EXPECT_EQ(kernel.Create(spec).err, EOPNOTSUPP);
  EXPECT_EQ(kernel.Stats().lock_checks_failed, 0u);
  // A lock at 512 MiB has no BTF (u32 bit offsets): never asked with a
  // wrapped offset, answered as a harness error.
  MapSpec far{MapType::kArray, 4, 0xc0000000u, 1, 0, 0, 1u << 29};
  EXPECT_THROW(kernel.Create(far), core::HarnessError);
}

}  // namespace
}  // namespace amc::oracle_kernel
