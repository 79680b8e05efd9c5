/* gen_rng.h -- the generators' random numbers (tools/gen.c, gen_billing.c).
 *
 * splitmix64: tiny, fast, passes BigCrush, and any 64-bit seed is valid.
 * Streams are derived per purpose and index, so adding a minute, a
 * distribution or a project never shifts the values drawn elsewhere, and
 * the same seed always gives the same bytes. Inline: the traffic generator
 * draws several numbers per record.
 */
#ifndef EDGEWATCH_GEN_RNG_H
#define EDGEWATCH_GEN_RNG_H

#include <math.h>
#include <stdint.h>

typedef struct {
    uint64_t state;
} ew_rng;

static inline uint64_t ew_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t ew_rng_next(ew_rng *r)
{
    r->state += 0x9e3779b97f4a7c15ULL;
    return ew_mix64(r->state);
}

static inline ew_rng ew_rng_derive(uint64_t seed, uint64_t stream, uint64_t index)
{
    ew_rng r = {ew_mix64(ew_mix64(seed ^ (stream * 0xd1b54a32d192ed03ULL)) + index * 0x9e3779b97f4a7c15ULL)};
    return r;
}

/* Uniform in [0, n); the modulo bias is irrelevant for the small n used. */
static inline uint64_t ew_rng_below(ew_rng *r, uint64_t n) { return n ? ew_rng_next(r) % n : 0; }

/* Uniform in [0, 1). */
static inline double ew_rng_unit(ew_rng *r) { return (double)(ew_rng_next(r) >> 11) * 0x1.0p-53; }

static inline double ew_rng_uniform(ew_rng *r, double lo, double hi) { return lo + (hi - lo) * ew_rng_unit(r); }

/* Standard normal via Box-Muller; u1 is shifted off zero so log() is finite. */
static inline double ew_rng_normal(ew_rng *r)
{
    double u1 = ((double)(ew_rng_next(r) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = ew_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

#endif
