/*
 * compute_loop.c - pure computation, no system calls inside the loop.
 *
 * Usage: compute_loop [N]      (default N = 50000000)
 *
 * Each iteration mixes a xorshift64 step with a 64-bit LCG step.  The
 * final value is printed, so the compiler cannot throw the loop away, and
 * it depends only on N, so the output is deterministic.  Useful as a
 * baseline: the only system calls are the ones around the loop (startup,
 * the final write, exit_group).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
    uint64_t n = 50000000;
    uint64_t x = 0x9E3779B97F4A7C15u;   /* xorshift state (must be non-zero) */
    uint64_t acc = 1;                   /* LCG accumulator */

    if (argc > 1)
        n = strtoull(argv[1], NULL, 10);

    for (uint64_t i = 0; i < n; i++) {
        /* xorshift64 (Marsaglia) */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        /* LCG step (Knuth's MMIX constants), mixed with the xorshift value */
        acc = acc * 6364136223846793005u + 1442695040888963407u;
        acc ^= x;
    }

    printf("compute loop: %" PRIu64 " iterations, result %016" PRIx64 "\n",
           n, acc);
    return 0;
}
