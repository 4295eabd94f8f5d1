/* vmath.h — exp, tanh and sigmoid for float, written so that the compiler
 * vectorises loops over them (no branches, no libm calls, no undefined
 * behaviour on NaN or infinity) without -ffast-math. Accuracy, measured
 * against double-precision libm over [-30, 30]: exp 8e-8 relative (1 ulp),
 * tanh 4e-7 (3 ulp), sigmoid 1.4e-7. NaN propagates; +-inf saturate.
 * Generic over the instantiation's ISA (the polynomials use MADD, fused
 * where the ISA has FMA); compiled in the float instantiations only
 * (double takes libm's). */
#if !CRNN_DOUBLE

/* Cephes' expf: x = n ln2 + r, |r| <= ln2/2, e^r by a degree-7 polynomial,
 * 2^n applied in two halves so that subnormal results stay exact. */
static inline float FN(expf)(float x) {
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to int */
    float xc = x > 88.3762626647949f ? 88.3762626647949f : x;
    float t, fx, r, z, y;
    uint32_t n, n1;
    xc = xc < -103.0f ? -103.0f : xc;  /* NaN passes both clamps */
    t = MADD(xc, 1.44269504088896341f, magic);
    fx = t - magic;                    /* round(x / ln2) */
    n = crnn_f2u(t) - crnn_f2u(magic); /* the same, as an integer */
    r = MADD(fx, -0.693359375f, xc);
    r = MADD(fx, 2.12194440e-4f, r);
    z = r * r;
    y = 1.9875691500E-4f;
    y = MADD(y, r, 1.3981999507E-3f);
    y = MADD(y, r, 8.3334519073E-3f);
    y = MADD(y, r, 4.1665795894E-2f);
    y = MADD(y, r, 1.6666665459E-1f);
    y = MADD(y, r, 5.0000001201E-1f);
    y = MADD(y, z, r) + 1.0f;
    n1 = (uint32_t)((int32_t)n >> 1);
    return y * crnn_u2f((n1 + 127u) << 23) * crnn_u2f((n - n1 + 127u) << 23);
}

/* tanh by a 13/6 rational function on [-7.9, 7.9] (saturated beyond), and
 * x itself for |x| < 4e-4 where that is exact to float precision. */
static inline float FN(tanhf)(float x) {
    const float c = 7.90531110763549805f;
    float xc = x > c ? c : x;
    float x2, p, q, ax = x < 0 ? -x : x;
    xc = xc < -c ? -c : xc;
    x2 = xc * xc;
    p = -2.76076847742355e-16f;
    p = MADD(p, x2, 2.00018790482477e-13f);
    p = MADD(p, x2, -8.60467152213735e-11f);
    p = MADD(p, x2, 5.12229709037114e-08f);
    p = MADD(p, x2, 1.48572235717979e-05f);
    p = MADD(p, x2, 6.37261928875436e-04f);
    p = MADD(p, x2, 4.89352455891786e-03f);
    p = p * xc;
    q = 1.19825839466702e-06f;
    q = MADD(q, x2, 1.18534705686654e-04f);
    q = MADD(q, x2, 2.26843463243900e-03f);
    q = MADD(q, x2, 4.89352518554385e-03f);
    return ax < 0.0004f ? x : p / q;
}

static inline float FN(sigmoidf)(float x) { return 1.0f / (1.0f + FN(expf)(-x)); }
#endif
