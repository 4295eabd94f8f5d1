/* real.h — the real type and instruction set of one instantiation of the
 * generic core. Included (without guard) after defining CRNN_DOUBLE (0 or
 * 1), CRNN_ISA_ID (a CRNN_ID_* of common.h) and CRNN_ISA_TAG (its name in
 * identifiers); every generic file after it is compiled for that pair
 * (core.c says in which order). FN(name) names a function or internal type
 * of this instantiation (crnn_avx2_s_name); TYPED(name) a public type of
 * the real type (crnn_s_seq). float takes the vectorisable exp/tanh of
 * vmath.h; double takes libm's. */
#undef REAL
#undef FN
#undef TYPED
#undef RTANH
#undef RSIGMOID

#if CRNN_DOUBLE
#define REAL double
#define FN(name) CRNN_CAT(CRNN_CAT(CRNN_CAT(crnn_, CRNN_ISA_TAG), _d_), name)
#define TYPED(name) crnn_d_##name
#define RTANH tanh
#define RSIGMOID crnn_sigmoid
#else
#define REAL float
#define FN(name) CRNN_CAT(CRNN_CAT(CRNN_CAT(crnn_, CRNN_ISA_TAG), _s_), name)
#define TYPED(name) crnn_s_##name
#define RTANH FN(tanhf)
#define RSIGMOID FN(sigmoidf)
#endif
