// The kernel backend under the harness's own failures: out of descriptors,
// without CAP_SYS_ADMIN. Each must be a core::HarnessError (or make the
// backend unavailable), never a result the kernel gave.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <vector>

#include "backends/registry.h"
#include "core/differential.h"
#include "core/harness_error.h"
#include "model/model_backend.h"
#include "oracle_kernel/kernel_backend.h"
#include "oracle_kernel/record.h"
#include "oracle_kernel/require_kernel_test_util.h"

namespace amc::oracle_kernel {
namespace {

using core::MapSpec;
using core::MapType;

// Fills the descriptor table (all but `spare` free slots) for its lifetime.
class FdHog {
 public:
  explicit FdHog(int spare) {
    std::vector<int> fds;
    for (int fd; (fd = dup(0)) >= 0;) fds.push_back(fd);
    for (int i = 0; i < spare && !fds.empty(); ++i) {
      close(fds.back());
      fds.pop_back();
    }
    fds_ = std::move(fds);
  }
  ~FdHog() {
    for (int fd : fds_) close(fd);
  }

 private:
  std::vector<int> fds_;
};

// A low soft limit for the test's lifetime, so that filling it is quick.
class LowFdLimit {
 public:
  LowFdLimit() {
    getrlimit(RLIMIT_NOFILE, &old_);
    struct rlimit low = old_;
    low.rlim_cur = 256;
    setrlimit(RLIMIT_NOFILE, &low);
  }
  ~LowFdLimit() { setrlimit(RLIMIT_NOFILE, &old_); }

 private:
  struct rlimit old_;
};

MapSpec TwoEntryArray() {
  MapSpec spec;
  spec.type = MapType::kArray;
  spec.value_size = 8;
  spec.max_entries = 2;
  return spec;
}

TEST(KernelHarnessErrorTest, CreationWithoutAFreeDescriptorIsAHarnessErrorNotEmfile) {
  KernelBackend kernel(0);
  REQUIRE_KERNEL(kernel);
  LowFdLimit limit;
  FdHog hog(0);
  try {
    core::CreateResult created = kernel.Create(TwoEntryArray());
    ADD_FAILURE() << "no harness error; creation gave "
                  << core::ErrnoName(created.err);
  } catch (const core::HarnessError& e) {
    EXPECT_NE(std::string(e.what()).find("EMFILE"), std::string::npos)
        << e.what();
  }
}

TEST(KernelHarnessErrorTest, NoDescriptorForTheReadBackFdIsAHarnessError) {
  KernelBackend kernel(0);
  REQUIRE_KERNEL(kernel);
  LowFdLimit limit;
  FdHog hog(1);  // room for the map, none for its read-write fd
  try {
    kernel.Create(TwoEntryArray());
    ADD_FAILURE() << "no harness error";
  } catch (const core::HarnessError& e) {
    EXPECT_NE(std::string(e.what()).find("BPF_MAP_GET_FD_BY_ID gave EMFILE"),
              std::string::npos)
        << e.what();
  }
}

TEST(KernelHarnessErrorTest, ADifferentialRunOutOfDescriptorsHasAHarnessErrorAndNoDivergence) {
  KernelBackend kernel(0);
  REQUIRE_KERNEL(kernel);
  model::ModelBackend model{model::Params::Host()};
  core::Sequence seq;
  seq.spec = TwoEntryArray();
  seq.steps.push_back({core::Lookup{0, 0}, {}});
  LowFdLimit limit;
  core::RunOutcome out;
  {
    FdHog hog(0);
    out = core::RunDifferential(seq, {&model, &kernel});
  }
  EXPECT_FALSE(out.divergence.has_value()) << out.FailureReport(seq);
  ASSERT_TRUE(out.harness_error.has_value());
  EXPECT_EQ(out.harness_error->rfind("kernel, map creation: ", 0), 0u)
      << *out.harness_error;
  // With descriptors back, the same sequence agrees.
  EXPECT_TRUE(core::RunDifferential(seq, {&model, &kernel}).ok());
}

TEST(KernelHarnessErrorTest, RecordingOutOfDescriptorsRecordsNothing) {
  KernelBackend kernel(0);
  REQUIRE_KERNEL(kernel);
  core::Sequence seq;
  seq.spec = TwoEntryArray();
  seq.steps.push_back({core::Lookup{0, 0}, {}});
  LowFdLimit limit;
  Recording rec;
  {
    FdHog hog(0);
    rec = RecordOnKernel(seq, &kernel);
  }
  EXPECT_FALSE(rec.sequence.has_value());
  EXPECT_TRUE(rec.harness_error);
  EXPECT_NE(rec.error.find("HARNESS ERROR"), std::string::npos) << rec.error;
}

TEST(KernelHarnessErrorTest, WithoutCapSysAdminTheProbeNamesTheCapability) {
  ProbeFacts facts;
  facts.cap_bpf = true;
  facts.harness_call_failed =
      "on a mappable ARRAY map: BPF_MAP_GET_FD_BY_ID gave EPERM "
      "(BPF_MAP_GET_FD_BY_ID needs CAP_SYS_ADMIN)";
  std::string reason = UnavailableReason(facts);
  EXPECT_NE(reason.find("BPF_MAP_GET_FD_BY_ID needs CAP_SYS_ADMIN"),
            std::string::npos)
      << reason;
  EXPECT_NE(ProgramKindReason(facts, core::OpKind::kProgLookup), "");
  facts.harness_call_failed.clear();
  EXPECT_EQ(UnavailableReason(facts), "");
}

}  // namespace
}  // namespace amc::oracle_kernel
