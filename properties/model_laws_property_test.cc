// Laws of array maps that the reference model must obey on its own, with no
// other backend to compare against. Each law runs after an arbitrary prefix
// of generated ops, on machines with 1 to 8 possible CPUs.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>

#include "core/ops_text.h"
#include "gen/chooser.h"
#include "model/model_backend.h"
#include "properties/sequence_gen.h"

namespace amc::properties {
namespace {

using core::Bytes;
using core::MapType;

// A map the model creates, the environment it lives in, and a prefix of
// generated ops (the steps) that put it in an arbitrary state.
rc::Gen<core::Sequence> GenLawSequence(rc::Gen<MapType> types) {
  return rc::gen::mapcat(
      rc::gen::tuple(rc::gen::inRange<uint32_t>(1, 9),
                     rc::gen::element<uint32_t>(4096, 16384, 65536), types,
                     rc::gen::oneOf(rc::gen::inRange<uint32_t>(1, 33),
                                    rc::gen::element<uint32_t>(1, 3, 7, 8, 13, 4095, 4096)),
                     rc::gen::oneOf(rc::gen::inRange<uint32_t>(1, 9),
                                    rc::gen::element<uint32_t>(1, 2, 511, 512, 513)),
                     rc::gen::arbitrary<bool>()),
      [](const std::tuple<uint32_t, uint32_t, MapType, uint32_t, uint32_t, bool>& t) {
        const auto& [cpus, page, type, value_size, max_entries, mmapable] = t;
        core::Sequence seq;
        seq.env = core::Environment{cpus, page, ""};
        seq.spec.type = type;
        seq.spec.value_size = value_size;
        seq.spec.max_entries = max_entries;
        if (mmapable && type == MapType::kArray) seq.spec.map_flags = core::kBpfFMmapable;
        gen::GenOptions options;
        options.env = *seq.env;
        options.max_ops = 12;
        return rc::gen::map(
            rc::gen::container<std::vector<std::vector<uint8_t>>>(
                rc::gen::container<std::vector<uint8_t>>(rc::gen::arbitrary<uint8_t>())),
            [seq, options](const std::vector<std::vector<uint8_t>>& ops) {
              core::Sequence out = seq;
              for (size_t i = 0; i < std::min(ops.size(), options.max_ops); ++i) {
                gen::BytesChooser c(ops[i].data(), ops[i].size());
                out.steps.push_back({gen::GenerateOp(c, out.spec, options), std::nullopt});
              }
              return out;
            });
      });
}

rc::Gen<core::Sequence> AnyLawSequence() {
  return GenLawSequence(rc::gen::element(MapType::kArray, MapType::kPercpuArray));
}

// The model with the prefix already run.
struct Prepared {
  model::Params params;
  std::unique_ptr<core::MapInstance> map;
  bool frozen = false;
};

Prepared Prepare(const core::Sequence& seq, bool run_prefix = true) {
  Prepared p;
  p.params.env = *seq.env;
  model::ModelBackend model(p.params);
  core::CreateResult created = model.Create(seq.spec);
  RC_ASSERT(created.err == 0);
  p.map = std::move(created.map);
  if (run_prefix) {
    for (const core::Step& step : seq.steps) {
      core::Result r = p.map->Execute(step.op);
      if (std::holds_alternative<core::Freeze>(step.op) && r.ok()) p.frozen = true;
    }
  }
  return p;
}

uint32_t Cpus(const core::Sequence& seq) {
  return seq.spec.type == MapType::kPercpuArray ? seq.env->possible_cpus : 1;
}

// The value_size bytes of `cpu`'s slot in a syscall value buffer.
Bytes Slot(const core::Sequence& seq, const Bytes& buffer, uint32_t cpu) {
  size_t stride = seq.spec.type == MapType::kPercpuArray ? core::ElemSize(seq.spec) : 0;
  size_t from = stride * cpu;
  RC_ASSERT(from + seq.spec.value_size <= buffer.size());
  return Bytes(buffer.begin() + from, buffer.begin() + from + seq.spec.value_size);
}

Bytes RandomBytes(size_t size) {
  return *rc::gen::container<Bytes>(size, rc::gen::arbitrary<uint8_t>());
}

RC_GTEST_PROP(ModelLaws, ReadYourWrite, ()) {
  const core::Sequence seq = *AnyLawSequence();
  const uint32_t key = *rc::gen::inRange<uint32_t>(0, seq.spec.max_entries);
  const Bytes value = RandomBytes(core::SyscallValueSize(seq.spec, *seq.env));
  Prepared p = Prepare(seq);
  core::Result updated = p.map->Execute(core::Update{key, value, core::kBpfAny});
  if (!p.frozen) RC_ASSERT(updated.ok());
  RC_CLASSIFY(p.frozen, "frozen");
  if (!updated.ok()) return;
  core::Result looked = p.map->Execute(core::Lookup{key, 0});
  RC_ASSERT(looked.ok());
  RC_ASSERT(looked.value.has_value());
  for (uint32_t cpu = 0; cpu < Cpus(seq); ++cpu) {
    RC_ASSERT(Slot(seq, *looked.value, cpu) == Slot(seq, value, cpu));
  }
}

RC_GTEST_PROP(ModelLaws, ZeroInit, ()) {
  const core::Sequence seq = *AnyLawSequence();
  Prepared p = Prepare(seq, /*run_prefix=*/false);
  const Bytes zero(core::SyscallValueSize(seq.spec, *seq.env), 0);
  for (uint32_t key = 0; key < seq.spec.max_entries; ++key) {
    core::Result looked = p.map->Execute(core::Lookup{key, 0});
    RC_ASSERT(looked.ok());
    RC_ASSERT(looked.value.has_value());
    for (uint32_t cpu = 0; cpu < Cpus(seq); ++cpu) {
      RC_ASSERT(Slot(seq, *looked.value, cpu) == Slot(seq, zero, cpu));
    }
  }
  for (uint32_t cpu = 0; cpu < seq.env->possible_cpus; ++cpu) {
    core::Result prog = p.map->Execute(core::ProgLookup{cpu, 0});
    RC_ASSERT(prog.ok());
    RC_ASSERT(!prog.null);
    RC_ASSERT(prog.value == Bytes(seq.spec.value_size, 0));
  }
  core::MapState state = p.map->ReadState();
  RC_ASSERT(std::all_of(state.values.begin(), state.values.end(),
                        [](uint8_t b) { return b == 0; }));
  if (state.mmap_data) {
    RC_ASSERT(std::all_of(state.mmap_data->begin(), state.mmap_data->end(),
                          [](uint8_t b) { return b == 0; }));
  }
}

RC_GTEST_PROP(ModelLaws, GetNextKeyFromNullVisitsEveryKeyExactlyOnce, ()) {
  const core::Sequence seq = *AnyLawSequence();
  Prepared p = Prepare(seq);
  std::vector<uint32_t> visited;
  std::optional<uint32_t> at;  // NULL key first
  for (uint32_t i = 0; i <= seq.spec.max_entries; ++i) {
    core::Result next = p.map->Execute(core::GetNextKey{at});
    if (next.err == ENOENT) break;
    RC_ASSERT(next.ok());
    RC_ASSERT(next.next_key.has_value());
    visited.push_back(*next.next_key);
    at = next.next_key;
  }
  std::vector<uint32_t> every(seq.spec.max_entries);
  for (uint32_t k = 0; k < seq.spec.max_entries; ++k) every[k] = k;
  RC_ASSERT(visited == every);
  RC_ASSERT(p.map->Execute(core::GetNextKey{at}).err == ENOENT);
}

RC_GTEST_PROP(ModelLaws, ProgramUpdateOnOneCpuLeavesEveryOtherCpuSlotAlone, ()) {
  const core::Sequence seq = *GenLawSequence(rc::gen::just(MapType::kPercpuArray));
  const uint32_t cpus = seq.env->possible_cpus;
  const uint32_t key = *rc::gen::inRange<uint32_t>(0, seq.spec.max_entries);
  const uint32_t cpu = *rc::gen::inRange<uint32_t>(0, cpus);
  const Bytes value = RandomBytes(seq.spec.value_size);
  Prepared p = Prepare(seq);

  auto slots = [&] {
    std::vector<Bytes> out;
    for (uint32_t target = 0; target < cpus; ++target) {
      core::Result r = p.map->Execute(core::ProgLookupPercpu{0, key, target});
      RC_ASSERT(r.ok());
      RC_ASSERT(!r.null);
      out.push_back(r.value.value_or(Bytes{}));
    }
    return out;
  };
  std::vector<Bytes> before = slots();
  core::Result updated = p.map->Execute(core::ProgUpdate{cpu, key, value, core::kBpfAny});
  RC_ASSERT(updated.ok());
  std::vector<Bytes> after = slots();
  core::Result looked = p.map->Execute(core::Lookup{key, 0});
  for (uint32_t target = 0; target < cpus; ++target) {
    const Bytes& want = target == cpu ? value : before[target];
    RC_ASSERT(after[target] == want);
    if (looked.ok()) RC_ASSERT(Slot(seq, *looked.value, target) == want);
  }
}

RC_GTEST_PROP(ModelLaws, DeleteFailsAndChangesNothing, ()) {
  const core::Sequence seq = *AnyLawSequence();
  const uint32_t key = *rc::gen::oneOf(rc::gen::inRange<uint32_t>(0, seq.spec.max_entries),
                                       rc::gen::arbitrary<uint32_t>());
  const uint32_t cpu = *rc::gen::inRange<uint32_t>(0, seq.env->possible_cpus);
  Prepared p = Prepare(seq);
  core::MapState before = p.map->ReadState();
  RC_ASSERT(p.map->Execute(core::Delete{key}).err != 0);
  RC_ASSERT(p.map->ReadState() == before);
  RC_ASSERT(p.map->Execute(core::ProgDelete{cpu, key}).err != 0);
  RC_ASSERT(p.map->ReadState() == before);
}

}  // namespace
}  // namespace amc::properties
