/* status.c — the status codes' texts and the library's version (crnn.h). */
#include "crnn.h"

const char *crnn_status_string(crnn_status status) {
    switch (status) {
    case CRNN_OK: return "success";
    case CRNN_ERR_NULL: return "a required pointer is NULL";
    case CRNN_ERR_SIZE: return "invalid size, cell kind or proj_size";
    case CRNN_ERR_STRIDE: return "a row stride is smaller than the row";
    case CRNN_ERR_BATCH_SIZES:
        return "batch_sizes must start at the batch size, be >= 1 and non-increasing";
    case CRNN_ERR_TOO_LARGE: return "a size exceeds the 32-bit BLAS integer range";
    case CRNN_ERR_ISA: return "this CPU (or build) does not support that instruction set";
    case CRNN_ERR_PACKED:
        return "the packed weights were made for another instruction set (pack them again), "
               "or for another layer or quantized type";
    case CRNN_ERR_SCALE: return "a quantization scale is not a positive, finite number";
    }
    return "unknown status";
}

#define CRNN_STR_(x) #x
#define CRNN_STR(x) CRNN_STR_(x)
const char *crnn_version(void) {
    return CRNN_STR(CRNN_VERSION_MAJOR) "." CRNN_STR(CRNN_VERSION_MINOR) "."
        CRNN_STR(CRNN_VERSION_PATCH);
}
int crnn_version_number(void) { return CRNN_VERSION_NUMBER; }
