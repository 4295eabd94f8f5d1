/* real.h — the real type of one instantiation of the generic core.
 * Included (without guard) after defining CRNN_DOUBLE to 0 or 1; every
 * generic header after it is compiled for that type. float takes the
 * vectorisable exp/tanh of vmath.h; double takes libm's. */
#undef REAL
#undef FN
#undef TYPED
#undef GEMM
#undef RTANH
#undef RSIGMOID
#undef PANEL_MR

#if CRNN_DOUBLE
#define REAL double
#define FN(name) crnn_d_##name
#define TYPED(name) crnn_d_##name
#define GEMM dgemm
#define RTANH tanh
#define RSIGMOID crnn_sigmoid
#define PANEL_MR 3 /* rows of 64 sums held in registers (linalg.h) */
#else
#define REAL float
#define FN(name) crnn_s_##name
#define TYPED(name) crnn_s_##name
#define GEMM sgemm
#define RTANH crnn_tanhf
#define RSIGMOID crnn_sigmoidf
#define PANEL_MR 6
#endif
