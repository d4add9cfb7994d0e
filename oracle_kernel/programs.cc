// oracle_kernel/programs.cc: the program-side ops' BPF programs as
// instructions (programs.h).
#include "oracle_kernel/programs.h"

#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <vector>

#include "oracle_kernel/kernel_backend.h"

namespace amc::oracle_kernel {
namespace {

// ProgContext field offsets, as the programs read and write them.
constexpr int16_t kKey = offsetof(ProgContext, key);
constexpr int16_t kFlags = offsetof(ProgContext, flags);
constexpr int16_t kTargetCpu = offsetof(ProgContext, target_cpu);
constexpr int16_t kDelta = offsetof(ProgContext, delta);
constexpr int16_t kRet = offsetof(ProgContext, ret);
constexpr int16_t kNull = offsetof(ProgContext, null);
constexpr int16_t kAddr = offsetof(ProgContext, addr);
constexpr int16_t kOld = offsetof(ProgContext, old);
constexpr int16_t kOp = offsetof(ProgContext, op);

// Registers: r1-r5 helper arguments, r0 the result, r6 the context, r7 a
// value pointer, r10 the frame pointer.
constexpr uint8_t R0 = 0, R1 = 1, R2 = 2, R3 = 3, R4 = 4, R6 = 6, R7 = 7,
                  R9 = 9, R10 = 10;

// Where a program writes its report: the context (kSyscall) or the `res`
// value (kOnCpu, pointer in r9), and what it returns.
struct Report {
  uint8_t base;
  int16_t ret, null, addr, old;
  int32_t exit_value;
};
constexpr Report kContextReport = {R6, kRet, kNull, kAddr, kOld, 0};
constexpr Report kResReport = {
    R9,
    offsetof(ProgReport, ret),
    offsetof(ProgReport, null),
    offsetof(ProgReport, addr),
    offsetof(ProgReport, old),
    static_cast<int32_t>(kReported)};

// A program under construction, with forward jumps patched by label.
class Asm {
 public:
  explicit Asm(const Report& report) : r(report) {}
  const Report r;

  void Insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm) {
    struct bpf_insn i;
    std::memset(&i, 0, sizeof i);
    i.code = code;
    i.dst_reg = dst;
    i.src_reg = src;
    i.off = off;
    i.imm = imm;
    insns_.push_back(i);
  }
  void MovReg(uint8_t dst, uint8_t src) {
    Insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
  }
  void MovImm(uint8_t dst, int32_t imm) {
    Insn(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm);
  }
  void AddImm(uint8_t dst, int32_t imm) {
    Insn(BPF_ALU64 | BPF_ADD | BPF_K, dst, 0, 0, imm);
  }
  void Load(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
    Insn(BPF_LDX | size | BPF_MEM, dst, src, off, 0);
  }
  void Store(uint8_t size, uint8_t dst, uint8_t src, int16_t off) {
    Insn(BPF_STX | size | BPF_MEM, dst, src, off, 0);
  }
  void StoreImm(uint8_t size, uint8_t dst, int16_t off, int32_t imm) {
    Insn(BPF_ST | size | BPF_MEM, dst, 0, off, imm);
  }
  void MapFd(uint8_t dst, int fd) {
    Insn(BPF_LD | BPF_DW | BPF_IMM, dst, BPF_PSEUDO_MAP_FD, 0, fd);
    Insn(0, 0, 0, 0, 0);
  }
  void Call(int32_t helper) { Insn(BPF_JMP | BPF_CALL, 0, 0, 0, helper); }
  void Exit0() {
    MovImm(R0, r.exit_value);
    Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
  }
  // Report fields.
  void Put(int16_t field, uint8_t src) { Store(BPF_DW, r.base, src, field); }
  void PutImm(int16_t field, int32_t imm) {
    StoreImm(BPF_DW, r.base, field, imm);
  }
  // if (dst OP imm) goto label; the label is placed later with Here().
  size_t JumpIf(uint8_t op, uint8_t dst, int32_t imm) {
    Insn(BPF_JMP | op | BPF_K, dst, 0, 0, imm);
    return insns_.size() - 1;
  }
  void Here(size_t jump) {
    insns_[jump].off = static_cast<int16_t>(insns_.size() - jump - 1);
  }
  const std::vector<bpf_insn>& insns() const { return insns_; }

 private:
  std::vector<bpf_insn> insns_;
};

// r2 = &(u32)ctx->key on the stack at fp-4.
void KeyOnStack(Asm& a) {
  a.Load(BPF_DW, R2, R6, kKey);
  a.Store(BPF_W, R10, R2, -4);
  a.MovReg(R2, R10);
  a.AddImm(R2, -4);
}

// `value = lookup(target, key)`, NULL reported as ctx->null = 1; otherwise
// the element's address and copy_out: ctx->ret = update(out, 0, value).
void LookupBody(Asm& a, const ProgMaps& m, bool percpu) {
  KeyOnStack(a);
  a.MapFd(R1, m.target);
  if (percpu) {
    a.Load(BPF_DW, R3, R6, kTargetCpu);  // the helper takes it as u32
    a.Call(BPF_FUNC_map_lookup_percpu_elem);
  } else {
    a.Call(BPF_FUNC_map_lookup_elem);
  }
  size_t found = a.JumpIf(BPF_JNE, R0, 0);
  a.PutImm(a.r.null, 1);
  a.Exit0();
  a.Here(found);
  a.Put(a.r.addr, R0);
  a.MovReg(R3, R0);
  a.StoreImm(BPF_W, R10, -8, 0);
  a.MovReg(R2, R10);
  a.AddImm(R2, -8);
  a.MapFd(R1, m.out);
  a.MovImm(R4, BPF_ANY);
  a.Call(BPF_FUNC_map_update_elem);
  a.Put(a.r.ret, R0);
  a.Exit0();
}

// value = lookup(in, 0); ctx->ret = update(target, key, value, ctx->flags).
void UpdateBody(Asm& a, const ProgMaps& m) {
  a.StoreImm(BPF_W, R10, -8, 0);
  a.MovReg(R2, R10);
  a.AddImm(R2, -8);
  a.MapFd(R1, m.in);
  a.Call(BPF_FUNC_map_lookup_elem);
  size_t have = a.JumpIf(BPF_JNE, R0, 0);
  a.PutImm(a.r.ret, -1000);  // cannot happen: `in` has one entry
  a.Exit0();
  a.Here(have);
  a.MovReg(R7, R0);
  KeyOnStack(a);
  a.MapFd(R1, m.target);
  a.MovReg(R3, R7);
  a.Load(BPF_DW, R4, R6, kFlags);
  a.Call(BPF_FUNC_map_update_elem);
  a.Put(a.r.ret, R0);
  a.Exit0();
}

// ctx->ret = delete(target, key).
void DeleteBody(Asm& a, const ProgMaps& m) {
  KeyOnStack(a);
  a.MapFd(R1, m.target);
  a.Call(BPF_FUNC_map_delete_elem);
  a.Put(a.r.ret, R0);
  a.Exit0();
}

// p = lookup(target, key); ctx->old = fetch_add((u64 *)(p + offset),
// ctx->delta), the offset a constant.
void AtomicAddBody(Asm& a, const ProgMaps& m, uint32_t offset) {
  KeyOnStack(a);
  a.MapFd(R1, m.target);
  a.Call(BPF_FUNC_map_lookup_elem);
  size_t found = a.JumpIf(BPF_JNE, R0, 0);
  a.PutImm(a.r.null, 1);
  a.Exit0();
  a.Here(found);
  a.Put(a.r.addr, R0);
  if (offset) a.AddImm(R0, static_cast<int32_t>(offset));
  a.Load(BPF_DW, R2, R6, kDelta);
  a.Insn(BPF_STX | BPF_DW | BPF_ATOMIC, R0, R2, 0, BPF_ADD | BPF_FETCH);
  a.Put(a.r.old, R2);
  a.Exit0();
}

}  // namespace

const char* ProgName(ProgKind kind) {
  switch (kind) {
    case ProgKind::kLookup: return "prog_lookup";
    case ProgKind::kLookupPercpu: return "prog_lookup_percpu";
    case ProgKind::kUpdate: return "prog_update";
    case ProgKind::kDelete: return "prog_delete";
    case ProgKind::kAtomicAdd: return "prog_atomic_add";
    case ProgKind::kLookupUpdateDelete: return "prog_multi";
  }
  return "?";
}

int LoadProgram(ProgKind kind, ProgFace face, const ProgMaps& maps,
                uint32_t value_size, uint32_t offset, const std::string& name) {
  Asm a(face == ProgFace::kOnCpu ? kResReport : kContextReport);
  a.MovReg(R6, R1);
  if (face == ProgFace::kOnCpu) {
    // r9 = &res[0], every report field zeroed (a context starts zeroed by
    // its caller; `res` holds the last run's report).
    a.StoreImm(BPF_W, R10, -16, 0);
    a.MovReg(R2, R10);
    a.AddImm(R2, -16);
    a.MapFd(R1, maps.res);
    a.Call(BPF_FUNC_map_lookup_elem);
    size_t have = a.JumpIf(BPF_JNE, R0, 0);
    a.MovImm(R0, 0);  // not kReported: the caller fails loudly
    a.Insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
    a.Here(have);
    a.MovReg(R9, R0);
    for (int16_t f : {a.r.ret, a.r.null, a.r.addr, a.r.old}) a.PutImm(f, 0);
  }
  switch (kind) {
    case ProgKind::kLookup: LookupBody(a, maps, false); break;
    case ProgKind::kLookupPercpu: LookupBody(a, maps, true); break;
    case ProgKind::kUpdate: UpdateBody(a, maps); break;
    case ProgKind::kDelete: DeleteBody(a, maps); break;
    case ProgKind::kAtomicAdd:
      if (value_size < 8 || offset > value_size - 8 || offset % 8 != 0 ||
          offset > INT32_MAX) {
        return -EINVAL;  // the backend answers such offsets itself
      }
      AtomicAddBody(a, maps, offset);
      break;
    case ProgKind::kLookupUpdateDelete: {
      a.Load(BPF_DW, R2, R6, kOp);
      size_t update = a.JumpIf(BPF_JEQ, R2, kMultiUpdate);
      size_t del = a.JumpIf(BPF_JEQ, R2, kMultiDelete);
      LookupBody(a, maps, false);
      a.Here(update);
      UpdateBody(a, maps);
      a.Here(del);
      DeleteBody(a, maps);
      break;
    }
  }
  static const char kLicense[] = "GPL";
  union bpf_attr attr;
  std::memset(&attr, 0, sizeof attr);
  attr.prog_type = face == ProgFace::kOnCpu ? BPF_PROG_TYPE_RAW_TRACEPOINT
                                            : BPF_PROG_TYPE_SYSCALL;
  attr.insns = reinterpret_cast<uintptr_t>(a.insns().data());
  attr.insn_cnt = static_cast<uint32_t>(a.insns().size());
  attr.license = reinterpret_cast<uintptr_t>(kLicense);
  // SYSCALL programs must be sleepable (the verifier refuses them
  // otherwise), as libbpf marks SEC("syscall").
  if (face == ProgFace::kSyscall) attr.prog_flags = BPF_F_SLEEPABLE;
  std::strncpy(attr.prog_name, name.c_str(), sizeof attr.prog_name - 1);
  long fd = syscall(__NR_bpf, BPF_PROG_LOAD, &attr, sizeof attr);
  return fd < 0 ? -errno : static_cast<int>(fd);
}

}  // namespace amc::oracle_kernel
