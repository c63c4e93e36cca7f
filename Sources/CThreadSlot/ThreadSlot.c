#include "CThreadSlot.h"

__thread intptr_t mapctl_thread_slot_plus_one __attribute__((tls_model("initial-exec"))) = 0;
