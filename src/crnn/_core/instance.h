/* instance.h — one instantiation of the generic core, for the real types
 * float and double, under the CRNN_ISA_ID / CRNN_ISA_TAG that core.c set.
 * The order of the generic files is the order of their dependencies. */
#define CRNN_DOUBLE 0
#include "real.h"
#include "simd.h"
#include "vmath.h"
#include "gemm.h"
#include "linalg.h"
#include "elman.h"
#include "lstm.h"
#include "gru.h"
#include "layer.h"
static size_t FN(nb)(void) { return NB; }
#undef CRNN_DOUBLE

#define CRNN_DOUBLE 1
#include "real.h"
#include "simd.h"
#include "gemm.h"
#include "linalg.h"
#include "elman.h"
#include "lstm.h"
#include "gru.h"
#include "layer.h"
static size_t FN(nb)(void) { return NB; }
#undef CRNN_DOUBLE
