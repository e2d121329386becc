/* x87 results that depend on fprem (musl's fmodl, and its strtod at the edge of the
 * subnormal range): Unicorn 2.1's x87 computes fprem through double precision, so these
 * differ from Linux on real hardware. tests/test_fpu_state.py expects the difference
 * (strictly): the day Unicorn fixes it, the test says so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

int main(void)
{
    volatile long double y = 0x1.fffffffffffff8p+63L;
    printf("fmodl: %La\n", fmodl(y, 0x1p11L));
    printf("strtod: %.17g\n", strtod("2.2250738585072011e-308", NULL));
    return 0;
}
