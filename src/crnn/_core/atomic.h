/* atomic.h — the atomics (sequentially consistent loads, stores and
 * compare-and-swap of a long), the spin-wait hint and the yield that the
 * teams and the instruction-set choice synchronise with. */
#ifndef CRNN_CORE_ATOMIC_H
#define CRNN_CORE_ATOMIC_H

/* Atomics, a spin-wait hint and a yield for teams (C11 <stdatomic.h> is
 * missing from some compilers the wheels use, so the builtins). */
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>
#define CRNN_YIELD() ((void)SwitchToThread())
#else
#include <sched.h>
#define CRNN_YIELD() ((void)sched_yield())
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
typedef volatile long crnn_atomic;
#define CRNN_LOAD(p) InterlockedCompareExchange((p), 0, 0)
#define CRNN_STORE(p, v) ((void)InterlockedExchange((p), (long)(v)))
#define CRNN_CAS(p, expect, want) \
    (InterlockedCompareExchange((p), (long)(want), (long)(expect)) == (long)(expect))
#define CRNN_PAUSE() YieldProcessor()
#else
typedef long crnn_atomic;
#define CRNN_LOAD(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define CRNN_STORE(p, v) __atomic_store_n((p), (long)(v), __ATOMIC_SEQ_CST)
#define CRNN_CAS(p, expect, want)                                             \
    __extension__({                                                           \
        long crnn_e_ = (long)(expect);                                        \
        __atomic_compare_exchange_n((p), &crnn_e_, (long)(want), 0,           \
                                    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);      \
    })
#if defined(__x86_64__) || defined(__i386__)
#define CRNN_PAUSE() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define CRNN_PAUSE() __asm__ __volatile__("yield")
#else
#define CRNN_PAUSE() ((void)0)
#endif
#endif

#endif
