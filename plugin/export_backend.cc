// plugin/export_backend.cc: C entry points forwarding to a core::Backend.
#include "plugin/export_backend.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "core/mapping_table.h"
#include "core/state_digest.h"

// The plug-in's opaque map type, defined by this exporter.
struct amc_map {
  std::unique_ptr<amc::core::Backend> backend;
  std::unique_ptr<amc::core::MapInstance> map;
  amc::core::MapSpec spec;
  amc::core::Environment env;
  uint64_t vbuf = 0;  // syscall value buffer size of one key
  std::array<bool, amc::core::kMappingSlots> slot_used{};
};

namespace amc::plugin {
namespace {

using core::Result;

BackendFactory& Factory() {
  static BackendFactory factory;
  return factory;
}

void CopyOut(const std::optional<std::vector<uint8_t>>& from, uint8_t* to,
             uint64_t room) {
  uint64_t n = from ? std::min<uint64_t>(from->size(), room) : 0;
  if (n > 0 && to) std::memcpy(to, from->data(), n);
}

core::Bytes In(const uint8_t* p, uint64_t n) {
  return p ? core::Bytes(p, p + n) : core::Bytes(n, 0);
}

int32_t Create(const amc_map_spec* s, const amc_env* e, amc_map** out) {
  core::Environment env{e->possible_cpus, e->page_size, "", e->online_cpus};
  auto backend = Factory()(env);
  core::MapSpec spec;
  spec.type = static_cast<core::MapType>(s->map_type);
  spec.key_size = s->key_size;
  spec.value_size = s->value_size;
  spec.max_entries = s->max_entries;
  spec.map_flags = s->map_flags;
  spec.numa_node = s->numa_node;
  if (s->spin_lock_offset >= 0) {
    spec.spin_lock_offset = static_cast<uint32_t>(s->spin_lock_offset);
  }
  core::CreateResult created = backend->Create(spec);
  if (created.err != 0) return created.err;
  auto* m = new amc_map;
  m->backend = std::move(backend);
  m->map = std::move(created.map);
  m->spec = spec;
  m->env = env;
  m->vbuf = core::SyscallValueSize(spec, env);
  *out = m;
  return 0;
}

void Destroy(amc_map* m) { delete m; }

// Copies the state a chunk at a time (core::MapInstance::ReadStateChunk),
// writing only chunks that hold a non-zero byte: amc hands read_state
// zero-filled buffers (amc_plugin.h), so a huge map's untouched gigabytes
// are never written, and cost the child no memory.
void CopyStateInChunks(core::MapInstance& map, core::StatePart part,
                       uint64_t size, uint64_t unit, uint8_t* out) {
  // Whole keys (or elements) per chunk: the backend copies them straight.
  const uint64_t chunk = std::min<uint64_t>(core::StateChunkFor(unit), size);
  std::vector<uint8_t> buffer(chunk);
  for (uint64_t at = 0; at < size; at += chunk) {
    const uint64_t n = std::min(chunk, size - at);
    map.ReadStateChunk(part, at, n, buffer.data());
    if (!core::AllZero(buffer.data(), n)) {
      std::memcpy(out + at, buffer.data(), n);
    }
  }
}

void ReadState(amc_map* m, uint8_t* values, uint8_t* mmap_data) {
  const uint64_t values_size = m->vbuf * m->spec.max_entries;
  uint64_t page = m->env.page_size;
  uint64_t region =
      (core::ElemSize(m->spec) * m->spec.max_entries + page - 1) / page * page;
  if (values_size > core::kStreamedStateBytes ||
      region > core::kStreamedStateBytes) {
    CopyStateInChunks(*m->map, core::StatePart::kValues, values_size, m->vbuf,
                      values);
    if (mmap_data) {
      CopyStateInChunks(*m->map, core::StatePart::kMmapData, region,
                        core::ElemSize(m->spec), mmap_data);
    }
    return;
  }
  core::MapState s = m->map->ReadState();
  if (!s.values.empty()) {
    std::memcpy(values, s.values.data(),
                std::min<uint64_t>(s.values.size(), values_size));
  }
  if (mmap_data && s.mmap_data && !s.mmap_data->empty()) {
    std::memcpy(mmap_data, s.mmap_data->data(),
                std::min<uint64_t>(s.mmap_data->size(), region));
  }
}

// VBUF for element flags (amc_plugin.h): value_size with BPF_F_CPU or
// BPF_F_ALL_CPUS.
uint64_t Vbuf(const amc_map* m, uint64_t flags) {
  return core::SyscallValueSize(m->spec, m->env, flags, true);
}
int32_t Lookup(amc_map* m, uint32_t key, uint64_t flags, uint8_t* value) {
  Result r = m->map->Execute(core::Lookup{key, flags});
  CopyOut(r.value, value, Vbuf(m, flags));
  return r.err;
}
int32_t Update(amc_map* m, uint32_t key, const uint8_t* value, uint64_t flags) {
  return m->map->Execute(core::Update{key, In(value, Vbuf(m, flags)), flags}).err;
}
int32_t DeleteElem(amc_map* m, uint32_t key) {
  return m->map->Execute(core::Delete{key}).err;
}
int32_t LookupAndDelete(amc_map* m, uint32_t key, uint64_t flags,
                        uint8_t* value) {
  Result r = m->map->Execute(core::LookupAndDelete{key, flags});
  CopyOut(r.value, value, m->vbuf);
  return r.err;
}
int32_t GetNextKey(amc_map* m, const uint32_t* key, uint32_t* next) {
  core::GetNextKey op;
  if (key) op.key = *key;
  Result r = m->map->Execute(op);
  if (r.next_key) *next = *r.next_key;
  return r.err;
}
template <typename BatchOp>
int32_t LookupBatchLike(amc_map* m, const uint32_t* in_batch,
                        uint32_t* out_batch, uint32_t* keys, uint8_t* values,
                        uint32_t* count, uint64_t elem_flags, uint64_t flags) {
  BatchOp op;
  if (in_batch) op.in_batch = *in_batch;
  op.count = *count;
  op.elem_flags = elem_flags;
  op.flags = flags;
  uint64_t room = std::min<uint64_t>(*count, m->spec.max_entries);
  Result r = m->map->Execute(op);
  if (r.count) *count = *r.count;
  if (r.keys) {
    uint64_t n = std::min<uint64_t>(r.keys->size(), room);
    if (n) std::memcpy(keys, r.keys->data(), n * 4);
  }
  CopyOut(r.value, values, room * Vbuf(m, elem_flags));
  if (r.out_batch) *out_batch = *r.out_batch;
  return r.err;
}
int32_t UpdateBatch(amc_map* m, const uint32_t* keys, const uint8_t* values,
                    uint32_t* count, uint64_t elem_flags, uint64_t flags) {
  core::UpdateBatch op;
  op.keys.assign(keys, keys + *count);
  op.values = In(values, Vbuf(m, elem_flags) * *count);
  op.elem_flags = elem_flags;
  op.flags = flags;
  Result r = m->map->Execute(op);
  if (r.count) *count = *r.count;
  return r.err;
}
int32_t DeleteBatch(amc_map* m, const uint32_t* keys, uint32_t* count,
                    uint64_t elem_flags, uint64_t flags) {
  core::DeleteBatch op;
  op.keys.assign(keys, keys + *count);
  op.elem_flags = elem_flags;
  op.flags = flags;
  Result r = m->map->Execute(op);
  if (r.count) *count = *r.count;
  return r.err;
}
int32_t Freeze(amc_map* m) { return m->map->Execute(core::Freeze{}).err; }

// A mapping's handle is its slot + 1 in the wrapped backend.
uint32_t SlotOf(void* handle) {
  return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(handle) - 1);
}
int32_t Mmap(amc_map* m, uint64_t offset, uint64_t length, uint32_t prot,
             uint32_t shared, void** handle) {
  uint32_t slot = 0;
  while (slot < core::kMappingSlots && m->slot_used[slot]) ++slot;
  if (slot == core::kMappingSlots) return EBUSY;  // amc never lets it come here
  Result r =
      m->map->Execute(core::Mmap{slot, offset, length, prot, shared != 0});
  if (r.err == 0) {
    m->slot_used[slot] = true;
    *handle = reinterpret_cast<void*>(uintptr_t{slot} + 1);
  }
  return r.err;
}
int32_t MmapRead(amc_map* m, void* handle, uint64_t offset, uint64_t length,
                 uint8_t* out) {
  Result r = m->map->Execute(core::MmapRead{SlotOf(handle), offset, length});
  CopyOut(r.value, out, length);
  return r.err;
}
int32_t MmapWrite(amc_map* m, void* handle, uint64_t offset, uint64_t length,
                  const uint8_t* bytes) {
  return m->map
      ->Execute(core::MmapWrite{SlotOf(handle), offset, In(bytes, length)})
      .err;
}
int32_t Munmap(amc_map* m, void* handle) {
  uint32_t slot = SlotOf(handle);
  Result r = m->map->Execute(core::Munmap{slot});
  if (slot < core::kMappingSlots) m->slot_used[slot] = false;
  return r.err;
}

uint32_t ProgFlags(const Result& r) {
  if (r.null) return AMC_PROG_NULL;
  return r.aligned.value_or(false) ? AMC_PROG_ALIGNED : 0;
}
int32_t ProgLookup(amc_map* m, uint32_t cpu, uint32_t key, uint8_t* value,
                   uint32_t* flags) {
  Result r = m->map->Execute(core::ProgLookup{cpu, key});
  *flags = ProgFlags(r);
  CopyOut(r.value, value, m->spec.value_size);
  return r.err;
}
int32_t ProgUpdate(amc_map* m, uint32_t cpu, uint32_t key, const uint8_t* value,
                   uint64_t flags) {
  return m->map
      ->Execute(
          core::ProgUpdate{cpu, key, In(value, m->spec.value_size), flags})
      .err;
}
int32_t ProgDelete(amc_map* m, uint32_t cpu, uint32_t key) {
  return m->map->Execute(core::ProgDelete{cpu, key}).err;
}
int32_t ProgLookupPercpu(amc_map* m, uint32_t cpu, uint32_t key,
                         uint32_t target_cpu, uint8_t* value, uint32_t* flags) {
  Result r = m->map->Execute(core::ProgLookupPercpu{cpu, key, target_cpu});
  *flags = ProgFlags(r);
  CopyOut(r.value, value, m->spec.value_size);
  return r.err;
}
int32_t ProgAtomicAdd(amc_map* m, uint32_t cpu, uint32_t key, uint32_t offset,
                      uint64_t delta, uint64_t* old, uint32_t* flags) {
  Result r = m->map->Execute(core::ProgAtomicAdd{cpu, key, offset, delta});
  *flags = r.null ? AMC_PROG_NULL : 0;
  if (r.old) *old = *r.old;
  return r.err;
}

}  // namespace

void ExportBackend(amc_plugin* t, const char* name, uint32_t supported_ops,
                   BackendFactory make) {
  Factory() = std::move(make);
  t->abi_version = AMC_PLUGIN_ABI_VERSION;
  t->struct_size = sizeof(amc_plugin);
  t->name = name;
  t->supported_ops = supported_ops;
  t->create = Create;
  t->destroy = Destroy;
  t->read_state = ReadState;
  t->lookup = Lookup;
  t->update = Update;
  t->delete_elem = DeleteElem;
  t->lookup_and_delete = LookupAndDelete;
  t->get_next_key = GetNextKey;
  t->lookup_batch = LookupBatchLike<core::LookupBatch>;
  t->lookup_and_delete_batch = LookupBatchLike<core::LookupAndDeleteBatch>;
  t->update_batch = UpdateBatch;
  t->delete_batch = DeleteBatch;
  t->freeze = Freeze;
  t->mmap = Mmap;
  t->mmap_read = MmapRead;
  t->mmap_write = MmapWrite;
  t->munmap = Munmap;
  t->prog_lookup = ProgLookup;
  t->prog_update = ProgUpdate;
  t->prog_delete = ProgDelete;
  t->prog_lookup_percpu = ProgLookupPercpu;
  t->prog_atomic_add = ProgAtomicAdd;
}

}  // namespace amc::plugin
