// The calling thread's ThreadSlot (LiveMaps), in a C thread-local variable: Swift has no thread-locals of
// its own, and pthread_getspecific, a call into libc per map operation, cost up to 40 % of a 1M-key
// lookup (BENCHMARKS.md, "Live maps"). Read inline, this is one load relative to the thread pointer.
#ifndef CTHREADSLOT_H
#define CTHREADSLOT_H

#include <stdint.h>

// The slot + 1; 0 while the thread has none. Initial-exec: the variable lives in the static TLS block,
// so no __tls_get_addr call (this module is linked into executables, not dlopen-ed).
extern __thread intptr_t mapctl_thread_slot_plus_one __attribute__((tls_model("initial-exec")));

static inline intptr_t mapctl_thread_slot_get(void) { return mapctl_thread_slot_plus_one; }

static inline void mapctl_thread_slot_set(intptr_t value) { mapctl_thread_slot_plus_one = value; }

#endif
