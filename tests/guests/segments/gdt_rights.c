/* lar, lsl, verr and verw on every GDT selector a program can name (0 to 0x7f): the
 * access rights and limits Linux gives the user code and data segments, the TLS entries
 * (i386 glibc installs one) and the per-CPU entry 15 whose limit holds the CPU number. */
#include <stdio.h>

int main(void)
{
    for (unsigned sel = 0; sel < 0x80; sel++) {
        unsigned ar = 0, lim = 0;
        unsigned char okar, oklim, r, w;
        asm volatile("lar %2, %0; setz %1" : "+r"(ar), "=q"(okar) : "r"(sel));
        asm volatile("lsl %2, %0; setz %1" : "+r"(lim), "=q"(oklim) : "r"(sel));
        asm volatile("verr %1; setz %0" : "=q"(r) : "r"((unsigned short)sel));
        asm volatile("verw %1; setz %0" : "=q"(w) : "r"((unsigned short)sel));
        /* lar's bits 19:16 are undefined (Intel SDM, LAR): printed without them. */
        if (okar || oklim || r || w)
            printf("%#04x lar=%d:%#010x lsl=%d:%#010x verr=%d verw=%d\n", sel, okar,
                   ar & 0x00f0ff00, oklim, lim, r, w);
    }
    return 0;
}
