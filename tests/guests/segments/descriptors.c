/* Descriptors a program can make and see: modify_ldt (write, read back, the default LDT,
 * its errors), an LDT data segment in a segment register (and read through it in 32-bit
 * code), set_thread_area through int 0x80 (from 64-bit code too), and what a segment
 * register holds once its entry is cleared. Built 64- and 32-bit; the differential test
 * runs it natively and under syscall-lab. */
#include <asm/ldt.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static unsigned int buf[64] = {0x11111111, 0x22222222, 0x33333333, 0x44444444, 0x55555555};
static struct user_desc desc;

static long modify_ldt(int func, void *ptr, unsigned long count)
{
    return syscall(SYS_modify_ldt, func, ptr, count);
}

/* set_thread_area by int 0x80, the i386 entry, from either kind of code. */
static int set_thread_area80(struct user_desc *u)
{
    int ret;
    asm volatile("int $0x80" : "=a"(ret) : "a"(243), "b"(u) : "memory");
    return ret;
}

static int get_thread_area80(struct user_desc *u)
{
    int ret;
    asm volatile("int $0x80" : "=a"(ret) : "a"(244), "b"(u) : "memory");
    return ret;
}

static unsigned lar(unsigned sel, int *ok)
{
    unsigned ar = 0;
    unsigned char z;
    asm volatile("lar %2, %0; setz %1" : "+r"(ar), "=q"(z) : "r"(sel));
    *ok = z;
    return ar;
}

static unsigned lsl(unsigned sel, int *ok)
{
    unsigned lim = 0;
    unsigned char z;
    asm volatile("lsl %2, %0; setz %1" : "+r"(lim), "=q"(z) : "r"(sel));
    *ok = z;
    return lim;
}

static void show_selector(const char *what, unsigned sel)
{
    int ok1, ok2;
    unsigned ar = lar(sel, &ok1), lim = lsl(sel, &ok2);
    /* lar's bits 19:16 are undefined (Intel SDM, LAR): printed without them. */
    printf("%s %#x: lar %d %#010x lsl %d %#x\n", what, sel, ok1, ar & 0x00f0ff00, ok2, lim);
}

/* Load es with sel, run the clearing call, and report es before and after: all in one
 * asm block, since 32-bit string code uses es. */
static void es_around(unsigned sel, long nr, void *arg1, long arg2, long arg3,
                      unsigned *before, unsigned *after, unsigned *through)
{
    unsigned short b, a;
    unsigned t = 0;
    long ret;
#ifdef __x86_64__
    asm volatile("mov %%es, %%r12w\n\t"
                 "mov %w[sel], %%es\n\t"
                 "mov %%es, %w[b]\n\t"
                 "syscall\n\t"
                 "mov %%es, %w[a]\n\t"
                 "mov %%r12w, %%es"
                 : [b] "=&r"(b), [a] "=&r"(a), "=a"(ret)
                 : [sel] "r"(sel), "a"(nr), "D"(arg1), "S"(arg2), "d"(arg3)
                 : "rcx", "r11", "r12", "memory");
#else
    asm volatile("push %%es\n\t"
                 "mov %w[sel], %%es\n\t"
                 "mov %%es, %[b]\n\t"
                 "mov %%es:16, %%esi\n\t"
                 "mov %%esi, %[t]\n\t"
                 "push %%ebx\n\t"
                 "mov %[a1], %%ebx\n\t"
                 "int $0x80\n\t"
                 "pop %%ebx\n\t"
                 "mov %%es, %[a]\n\t"
                 "pop %%es"
                 : [b] "=m"(b), [a] "=m"(a), [t] "=m"(t), "=a"(ret)
                 : [sel] "D"(sel), "a"(nr), [a1] "m"(arg1), "c"(arg2), "d"(arg3)
                 : "esi", "memory");
#endif
    *before = b;
    *after = a;
    *through = t;
    (void)ret;
}

int main(void)
{
    unsigned char table[40];
    unsigned before, after, through;

    /* The LDT: nothing yet, then one data segment over buf. */
    memset(table, 0xAA, sizeof table);
    printf("read empty: %ld\n", modify_ldt(0, table, sizeof table));
    memset(&desc, 0, sizeof desc);
    desc.entry_number = 0;
    desc.base_addr = (unsigned long)buf;
    desc.limit = 0xfff;
    desc.seg_32bit = 1;
    desc.useable = 1;
    printf("write 0x11: %ld\n", modify_ldt(0x11, &desc, sizeof desc));
    desc.entry_number = 2;
    desc.contents = 2; /* code */
    desc.read_exec_only = 1;
    printf("write 1 (oldmode) entry 2: %ld\n", modify_ldt(1, &desc, sizeof desc));
    memset(table, 0xAA, sizeof table);
    long n = modify_ldt(0, table, sizeof table);
    printf("read: %ld:", n);
    for (int i = 0; i < 40; i += 4) {
        unsigned w;
        memcpy(&w, table + i, 4);
        /* the base is buf's address: the same in both runs of this static binary */
        printf(" %08x", w);
    }
    printf("\n");
    memset(table, 0xAA, sizeof table);
    n = modify_ldt(2, table, 20);
    printf("read default: %ld first %02x last %02x next %02x\n", n, table[0], table[19],
           table[20]);
    desc.entry_number = 8192;
    printf("entry 8192: %d\n", (int)modify_ldt(0x11, &desc, sizeof desc));
    desc.entry_number = 1;
    printf("short count: %d\n", (int)modify_ldt(0x11, &desc, 15));
    desc.contents = 3;
    printf("conforming oldmode: %d\n", (int)modify_ldt(1, &desc, sizeof desc));
    desc.seg_not_present = 0;
    printf("conforming present: %d\n", (int)modify_ldt(0x11, &desc, sizeof desc));
    printf("func 7: %d\n", (int)modify_ldt(7, &desc, sizeof desc));
    show_selector("ldt data", 0x7);
    show_selector("ldt code", 0x17);
    show_selector("ldt none", 0xf);

    /* es = 0x7 (LDT entry 0), then entry 0 cleared the old way: es reads 0 after. */
    memset(&desc, 0, sizeof desc);
    desc.entry_number = 0;
#ifdef __x86_64__
    es_around(0x7, SYS_modify_ldt, (void *)1, (long)&desc, sizeof desc, &before, &after,
              &through);
    printf("es %#x, after clearing its LDT entry %#x\n", before, after);
#else
    /* i386: arguments of modify_ldt in ebx, ecx, edx */
    es_around(0x7, SYS_modify_ldt, (void *)1, (long)&desc, sizeof desc, &before, &after,
              &through);
    printf("es %#x read through it %#x, after clearing its LDT entry %#x\n", before, through,
           after);
#endif
    show_selector("ldt cleared", 0x7);

    /* set_thread_area by int 0x80: the first free entry, from 64-bit code as well. */
    static struct user_desc tls;
    memset(&tls, 0, sizeof tls);
    tls.entry_number = -1;
    tls.base_addr = (unsigned long)buf;
    tls.limit = 0xfffff;
    tls.seg_32bit = 1;
    tls.limit_in_pages = 1;
    tls.useable = 1;
    int ret = set_thread_area80(&tls);
    printf("set_thread_area: %d entry %d\n", ret, tls.entry_number);
    unsigned sel = tls.entry_number * 8 + 3;
    show_selector("tls", sel);
    static struct user_desc got;
    memset(&got, 0x55, sizeof got);
    got.entry_number = tls.entry_number;
    ret = get_thread_area80(&got);
    printf("get_thread_area: %d base %s limit %#x 32bit %d contents %d reo %d pages %d np %d "
           "useable %d\n", ret, got.base_addr == (unsigned long)buf ? "buf" : "other",
           got.limit, got.seg_32bit, got.contents, got.read_exec_only, got.limit_in_pages,
           got.seg_not_present, got.useable);
    static struct user_desc bad;
    memset(&bad, 0, sizeof bad);
    bad.entry_number = tls.entry_number;
    bad.base_addr = 0x1000;
    bad.limit = 0xff;
    printf("16-bit tls: %d\n", set_thread_area80(&bad));
    bad.entry_number = 11;
    bad.seg_32bit = 1;
    printf("entry 11: %d\n", set_thread_area80(&bad));

    /* es = the TLS selector, then the entry emptied: es reads 0. */
    static struct user_desc empty;
    memset(&empty, 0, sizeof empty);
    empty.entry_number = tls.entry_number;
    empty.read_exec_only = 1;
    empty.seg_not_present = 1;
#ifdef __x86_64__
    /* int 0x80 from the asm block: rax 243, rbx the pointer */
    {
        unsigned short b, a;
        int r;
        asm volatile("mov %%es, %%r12w\n\t"
                     "mov %w[sel], %%es\n\t"
                     "mov %%es, %w[b]\n\t"
                     "int $0x80\n\t"
                     "mov %%es, %w[a]\n\t"
                     "mov %%r12w, %%es"
                     : [b] "=&r"(b), [a] "=&r"(a), "=a"(r)
                     : [sel] "r"(sel), "a"(243), "b"(&empty)
                     : "r12", "memory");
        printf("es %#x, after clearing its TLS entry %#x (%d)\n", b, a, r);
    }
#else
    es_around(sel, 243, &empty, 0, 0, &before, &after, &through);
    printf("es %#x read through it %#x, after clearing its TLS entry %#x\n", before, through,
           after);
#endif
    show_selector("tls cleared", sel);
    return 0;
}
