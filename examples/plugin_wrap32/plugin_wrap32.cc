// examples/plugin_wrap32: a plug-in with ONE planted memory-safety fault,
// the one issue 17 found in a real user-space runtime and no bound of a
// default campaign reached:
//
//   FAULT: a map's storage is sized with elem_size * max_entries (times the
//   possible CPUs for PERCPU_ARRAY) computed in 32 bits, and the value_size
//   bound (INT_MAX) is not checked. Where the true size is 2^32 bytes or
//   more, the product wraps to a small number, the map is created with that
//   little storage, and the first update of a key past it writes out of
//   bounds.
//
// Every map whose size does not wrap is the reference model's (exported
// through plugin/export_backend.h), so nothing else differs. The storage of
// a wrapped map is followed by an inaccessible (PROT_NONE) reservation as
// long as the map's true size, so the out-of-bounds write faults at once
// (SIGSEGV in amc's plug-in child) instead of corrupting memory silently:
// the fault is deterministic. `amc run --backends model,plugin:PATH` then
// reports "accepted invalid map (model E2BIG), then crashed at op update"
// for value_size > INT_MAX, and a crash at the op for maps the model
// creates past 4 GiB (--huge-maps).
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "model/model_backend.h"
#include "plugin/amc_plugin.h"
#include "plugin/export_backend.h"

namespace {

amc_plugin table;
amc_plugin model;  // the exported model's entries

// A map whose storage size wrapped.
struct WrapMap {
  uint8_t* storage = nullptr;
  uint64_t reserved = 0;  // storage plus the PROT_NONE rest
  uint32_t value_size = 0;
  uint32_t max_entries = 0;
  uint32_t cpus = 1;
  uint64_t vbuf = 0;  // syscall value bytes per key
  // The model's map for the same spec, when the model creates it (a map
  // past 4 GiB): every op but update and lookup goes there, so that the
  // only fault is the storage.
  amc_map* shadow = nullptr;
};

std::mutex mu;
std::set<amc_map*> wrapped;

WrapMap* AsWrap(amc_map* map) {
  std::lock_guard<std::mutex> lock(mu);
  return wrapped.count(map) ? reinterpret_cast<WrapMap*>(map) : nullptr;
}

int32_t Create(const amc_map_spec* spec, const amc_env* env, amc_map** out) {
  const bool percpu = spec->map_type == AMC_MAP_TYPE_PERCPU_ARRAY;
  const uint32_t cpus = percpu ? env->possible_cpus : 1;
  const uint32_t elem = (spec->value_size + 7) & ~7u;  // 32 bits too
  const uint64_t true_size = uint64_t{(spec->value_size + uint64_t{7}) & ~uint64_t{7}} *
                             spec->max_entries * cpus;
  const uint32_t size = elem * spec->max_entries * cpus;  // FAULT: wraps
  if (true_size == size || spec->key_size != 4 || spec->max_entries == 0 ||
      spec->value_size == 0 || spec->map_flags != 0 ||
      (spec->map_type != AMC_MAP_TYPE_ARRAY && !percpu)) {
    return model.create(spec, env, out);
  }
  // The runtime's own bound, on the wrapped size.
  if (size > (uint32_t{1} << 30)) return ENOMEM;
  auto* m = new WrapMap;
  const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t usable = (uint64_t{size} + page - 1) / page * page;
  m->reserved = usable + (true_size + page - 1) / page * page;
  void* p = mmap(nullptr, m->reserved, PROT_NONE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    delete m;
    return ENOMEM;
  }
  if (usable && mprotect(p, usable, PROT_READ | PROT_WRITE) != 0) {
    munmap(p, m->reserved);
    delete m;
    return ENOMEM;
  }
  m->storage = static_cast<uint8_t*>(p);
  m->value_size = spec->value_size;
  m->max_entries = spec->max_entries;
  m->cpus = cpus;
  m->vbuf = percpu ? uint64_t{elem} * cpus : spec->value_size;
  if (model.create(spec, env, &m->shadow) != 0) m->shadow = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu);
    wrapped.insert(reinterpret_cast<amc_map*>(m));
  }
  *out = reinterpret_cast<amc_map*>(m);
  return 0;
}

void Destroy(amc_map* map) {
  if (WrapMap* m = AsWrap(map)) {
    {
      std::lock_guard<std::mutex> lock(mu);
      wrapped.erase(map);
    }
    munmap(m->storage, m->reserved);
    if (m->shadow) model.destroy(m->shadow);
    delete m;
    return;
  }
  model.destroy(map);
}

// Where key k's value lives: indexed in 64 bits, as the runtime does, past
// the storage it sized in 32.
uint8_t* Slot(WrapMap* m, uint32_t key) { return m->storage + key * m->vbuf; }

int32_t Update(amc_map* map, uint32_t key, const uint8_t* value, uint64_t flags) {
  WrapMap* m = AsWrap(map);
  if (!m) return model.update(map, key, value, flags);
  if (key >= m->max_entries) return E2BIG;
  if (flags > 2) return EINVAL;
  std::memcpy(Slot(m, key), value, m->vbuf);  // out of bounds past `size`
  return 0;
}

int32_t Lookup(amc_map* map, uint32_t key, uint64_t flags, uint8_t* value) {
  WrapMap* m = AsWrap(map);
  if (!m) return model.lookup(map, key, flags, value);
  if (key >= m->max_entries) return ENOENT;
  if (flags) return EINVAL;
  std::memcpy(value, Slot(m, key), m->vbuf);  // out of bounds past `size`
  return 0;
}

void ReadState(amc_map* map, uint8_t* values, uint8_t* mmap_data) {
  WrapMap* m = AsWrap(map);
  if (!m) return model.read_state(map, values, mmap_data);
  for (uint32_t k = 0; k < m->max_entries; ++k) {
    std::memcpy(values + k * m->vbuf, Slot(m, k), m->vbuf);
  }
}


const amc_plugin* Build() {
  amc::plugin::ExportBackend(
      &table, "amc example: the model with storage sized in 32 bits",
      AMC_OP_ALL, [](const amc::core::Environment& env) {
        amc::model::Params params = amc::model::Params::Host();
        params.env = env;
        return std::unique_ptr<amc::core::Backend>(
            std::make_unique<amc::model::ModelBackend>(params));
      });
  model = table;
  table.create = Create;
  table.destroy = Destroy;
  table.read_state = ReadState;
  table.update = Update;
  table.lookup = Lookup;
  // The other ops go to the model: its own maps, or a wrapped map's shadow
  // (refused where there is none: a map the model refuses).
#define AMC_WRAP32_FORWARD(field)                                            \
  table.field = [](amc_map* map, auto... args) -> int32_t {                  \
    WrapMap* w = AsWrap(map);                                                \
    if (!w) return model.field(map, args...);                                \
    return w->shadow ? model.field(w->shadow, args...) : EINVAL;             \
  }
  AMC_WRAP32_FORWARD(get_next_key);
  AMC_WRAP32_FORWARD(delete_elem);
  AMC_WRAP32_FORWARD(lookup_and_delete);
  AMC_WRAP32_FORWARD(lookup_batch);
  AMC_WRAP32_FORWARD(lookup_and_delete_batch);
  AMC_WRAP32_FORWARD(update_batch);
  AMC_WRAP32_FORWARD(delete_batch);
  AMC_WRAP32_FORWARD(freeze);
  AMC_WRAP32_FORWARD(mmap);
  AMC_WRAP32_FORWARD(mmap_read);
  AMC_WRAP32_FORWARD(mmap_write);
  AMC_WRAP32_FORWARD(munmap);
  AMC_WRAP32_FORWARD(prog_lookup);
  AMC_WRAP32_FORWARD(prog_update);
  AMC_WRAP32_FORWARD(prog_delete);
  AMC_WRAP32_FORWARD(prog_lookup_percpu);
  AMC_WRAP32_FORWARD(prog_atomic_add);
#undef AMC_WRAP32_FORWARD
  return &table;
}

}  // namespace

extern "C" AMC_PLUGIN_EXPORT const amc_plugin* amc_plugin_get(void) {
  static const amc_plugin* built = Build();
  return built;
}
