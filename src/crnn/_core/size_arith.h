/* size_arith.h — size_t arithmetic that cannot wrap: a product or sum
 * that overflows is SIZE_MAX (and SIZE_MAX stays SIZE_MAX), so a size
 * query reports CRNN_ERR_TOO_LARGE instead of a small wrong size; and the
 * check that a size fits a 32-bit BLAS int. */
#ifndef CRNN_CORE_SIZE_ARITH_H
#define CRNN_CORE_SIZE_ARITH_H

#include <limits.h>
#include <stdint.h>
#include <stddef.h>

/* a*b, or SIZE_MAX when it overflows (SIZE_MAX stays SIZE_MAX). */
static inline size_t crnn_mul(size_t a, size_t b) {
    if (a == SIZE_MAX || b == SIZE_MAX) return SIZE_MAX;
    if (a != 0 && b > SIZE_MAX / a) return SIZE_MAX;
    return a * b;
}

static inline size_t crnn_add(size_t a, size_t b) {
    if (a == SIZE_MAX || b == SIZE_MAX || b > SIZE_MAX - a) return SIZE_MAX;
    return a + b;
}

static inline int crnn_fits_int(size_t v) { return v <= (size_t)INT_MAX; }

#endif
