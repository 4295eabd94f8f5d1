/* check.h — the C tests' one assertion: counts, and prints what failed. */
#ifndef CRNN_TEST_CHECK_H
#define CRNN_TEST_CHECK_H
#include <stdio.h>

static int passed, failed;

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (cond) passed++;                                                   \
        else { failed++; printf("FAIL %s:%d: ", __FILE__, __LINE__);          \
               printf(__VA_ARGS__); printf("\n"); }                           \
    } while (0)
#endif
