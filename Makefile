# libcrnn: the crnn core as a C library (static and shared), no Python.
#
#   make                 build/c/libcrnn.a and build/c/libcrnn.so
#   make check           build and run the C tests of the core (need only libm)
#   make example BLAS_LIBS="-lopenblas"        the C example (examples/c)
#   make run-example BLAS_LIBS="-lopenblas"    ... built, fed by examples/c/export.py
#                                              (rnn_infer over BLAS, rnn_infer_noblas
#                                              without; qlstm_infer: an int8 LSTM
#                                              served a frame at a time, no BLAS)
#                                              (crnn installed in $(PYTHON)), and run
#
# The core calls BLAS through the function pointers the caller passes in
# (crnn_blas in include/crnn.h), or none when they are NULL; only the
# example rnn_infer links one. Flags stay
# portable: -O3, no -march=native, no -ffast-math; -fno-trapping-math lets
# the gate math vectorise and changes no result.
CC ?= cc
CFLAGS ?= -O3 -ffp-contract=off -fno-trapping-math
WARN = -std=c99 -Wall -Wextra -Wpedantic
BUILD = build/c
# the core's translation units, one per concern (dispatch.c instantiates the
# generic .inc kernels per instruction set and holds the typed entry points)
CORE = $(sort $(wildcard src/crnn/_core/*.c))
CORE_OBJ = $(patsubst src/crnn/_core/%.c,$(BUILD)/core/%.o,$(CORE))
CORE_DEPS = $(wildcard src/crnn/_core/*.h src/crnn/_core/*.inc) include/crnn.h
# the example's BLAS: any Fortran-ABI sgemm; BLAS_PREFIX for prefixed
# builds such as SciPy's OpenBLAS (scipy_sgemm_)
BLAS_LIBS ?= -lopenblas
BLAS_PREFIX ?=
PYTHON ?= python3

all: $(BUILD)/libcrnn.a $(BUILD)/libcrnn.so

$(BUILD):
	mkdir -p $(BUILD)

$(BUILD)/core/%.o: src/crnn/_core/%.c $(CORE_DEPS) | $(BUILD)
	@mkdir -p $(BUILD)/core
	$(CC) $(WARN) $(CFLAGS) -fPIC -fvisibility=hidden -DCRNN_BUILD_SHARED -Iinclude -c $< -o $@

$(BUILD)/libcrnn.a: $(CORE_OBJ)
	rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/libcrnn.so: $(CORE_OBJ)
	$(CC) -shared -o $@ $^ -lm

$(BUILD)/test_core: tests/c/test_core.c tests/c/check.h $(BUILD)/libcrnn.a
	$(CC) $(WARN) $(CFLAGS) -pthread -Iinclude $< $(BUILD)/libcrnn.a -lm -o $@

# the quantized kernels (internal, static in dispatch.c): the test includes
# dispatch.c and is linked with the core's other translation units
$(BUILD)/test_quant: tests/c/test_quant.c tests/c/check.h $(CORE) $(CORE_DEPS) | $(BUILD)
	$(CC) $(WARN) $(CFLAGS) -Iinclude $< $(filter-out %/dispatch.c,$(CORE)) -lm -o $@

check: $(BUILD)/test_core $(BUILD)/test_quant
	$(BUILD)/test_core
	$(BUILD)/test_quant

$(BUILD)/rnn_infer: examples/c/rnn_infer.c examples/c/npy.h $(BUILD)/libcrnn.a
	$(CC) $(WARN) $(CFLAGS) -Iinclude -DBLAS_PREFIX=$(BLAS_PREFIX) $< $(BUILD)/libcrnn.a $(BLAS_LIBS) -lm -o $@

# the same example without BLAS: every product on the core's own kernels
$(BUILD)/rnn_infer_noblas: examples/c/rnn_infer.c examples/c/npy.h $(BUILD)/libcrnn.a
	$(CC) $(WARN) $(CFLAGS) -Iinclude -DNO_BLAS $< $(BUILD)/libcrnn.a -lm -o $@

$(BUILD)/qlstm_infer: examples/c/qlstm_infer.c examples/c/npy.h $(BUILD)/libcrnn.a
	$(CC) $(WARN) $(CFLAGS) -Iinclude $< $(BUILD)/libcrnn.a -lm -o $@

example: $(BUILD)/rnn_infer $(BUILD)/rnn_infer_noblas $(BUILD)/qlstm_infer

run-example: $(BUILD)/rnn_infer $(BUILD)/rnn_infer_noblas $(BUILD)/qlstm_infer
	$(PYTHON) examples/c/export.py $(BUILD)/example
	$(BUILD)/rnn_infer $(BUILD)/example
	$(BUILD)/rnn_infer_noblas $(BUILD)/example
	$(BUILD)/qlstm_infer $(BUILD)/example/qlstm

clean:
	rm -rf $(BUILD)

.PHONY: all check example run-example clean
