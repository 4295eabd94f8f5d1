/* npy.h — the examples' reader and writer of .npy files: C-ordered 1-D or
 * 2-D arrays of float32 ('<f4') or int8 ('|i1'), as NumPy saves them. */
#ifndef CRNN_EXAMPLE_NPY_H
#define CRNN_EXAMPLE_NPY_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct npy_type { const char *descr; size_t item; } npy_type;
static const npy_type NPY_F4 = {"'<f4'", 4}, NPY_I1 = {"'|i1'", 1};

typedef struct npy { void *data; size_t rows, cols; } npy;

static int npy_read(const char *path, npy *a, npy_type type) {
    FILE *f = fopen(path, "rb");
    unsigned char magic[8], len2[2], len4[4];
    size_t hlen, count;
    char *header, *shape;
    if (!f) return -1;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, "\x93NUMPY", 6)) goto bad;
    if (magic[6] == 1) {
        if (fread(len2, 1, 2, f) != 2) goto bad;
        hlen = len2[0] | (size_t)len2[1] << 8;
    } else {
        if (fread(len4, 1, 4, f) != 4) goto bad;
        hlen = len4[0] | (size_t)len4[1] << 8 | (size_t)len4[2] << 16 | (size_t)len4[3] << 24;
    }
    header = calloc(hlen + 1, 1);
    if (fread(header, 1, hlen, f) != hlen || !strstr(header, type.descr) ||
        !strstr(header, "'fortran_order': False") || !(shape = strstr(header, "'shape': ("))) {
        free(header);
        goto bad;
    }
    shape += strlen("'shape': (");
    a->rows = strtoul(shape, &shape, 10);
    a->cols = 1;
    if (*shape == ',' && shape[1] != ')') a->cols = strtoul(shape + 1, NULL, 10);
    free(header);
    count = a->rows * a->cols;
    a->data = malloc(count * type.item + 1);
    if (fread(a->data, type.item, count, f) != count) goto bad;
    fclose(f);
    return 0;
bad:
    fclose(f);
    return -1;
}

static int npy_write(const char *path, const float *data, size_t rows, size_t cols) {
    char header[128];
    FILE *f = fopen(path, "wb");
    int n;
    if (!f) return -1;
    n = snprintf(header, sizeof header,
                 "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }", rows, cols);
    while ((10 + n + 1) % 64) header[n++] = ' ';
    header[n++] = '\n';
    fwrite("\x93NUMPY\x01\x00", 1, 8, f);
    fputc(n & 0xff, f);
    fputc(n >> 8, f);
    fwrite(header, 1, (size_t)n, f);
    fwrite(data, sizeof(float), rows * cols, f);
    return fclose(f);
}

/* DIR/NAME.npy of the given type, or exit with a message. */
static npy load(const char *dir, const char *name, npy_type type) {
    char path[1024];
    npy a;
    snprintf(path, sizeof path, "%s/%s.npy", dir, name);
    if (npy_read(path, &a, type)) {
        fprintf(stderr, "cannot read %s (%s, C order, 1-D or 2-D)\n", path, type.descr);
        exit(2);
    }
    return a;
}

/* The largest |a - b| over n floats. */
static double max_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double d = a[i] > b[i] ? (double)a[i] - b[i] : (double)b[i] - a[i];
        if (d > worst) worst = d;
    }
    return worst;
}
#endif
