/* getpwuid(0), getgrgid(0), getpwnam("root") through the libc's own /etc readers (glibc's
 * static NSS reads /etc/nsswitch.conf first), the host name three ways (gethostname,
 * uname's nodename and /etc/hostname must agree), and localhost from /etc/hosts. Prints
 * nothing that differs between two machines, so a native run and a syscall-lab run print
 * the same. (No lookup of a missing
 * name: a host whose nsswitch.conf names a module beyond "files" would make static glibc
 * load it, and a static program cannot.) */
#include <arpa/inet.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

int main(void)
{
    struct passwd *pw = getpwuid(0);
    if (!pw) {
        printf("getpwuid(0): no entry\n");
        return 1;
    }
    printf("getpwuid(0): name=%s uid=%u gid=%u dir=%s\n", pw->pw_name,
           (unsigned)pw->pw_uid, (unsigned)pw->pw_gid, pw->pw_dir);
    struct passwd *named = getpwnam("root");
    printf("getpwnam(root): uid=%d\n", named ? (int)named->pw_uid : -1);
    struct group *gr = getgrgid(0);
    if (!gr) {
        printf("getgrgid(0): no entry\n");
        return 1;
    }
    printf("getgrgid(0): name=%s gid=%u\n", gr->gr_name, (unsigned)gr->gr_gid);

    char host[256] = "";
    if (gethostname(host, sizeof host) != 0) {
        perror("gethostname");
        return 1;
    }
    struct utsname u;
    uname(&u);
    char file[256] = "";
    FILE *f = fopen("/etc/hostname", "r");
    if (f) {
        if (fgets(file, sizeof file, f))
            file[strcspn(file, "\n")] = 0;
        fclose(f);
    }
    printf("gethostname == uname nodename: %s\n", strcmp(host, u.nodename) ? "no" : "yes");
    printf("gethostname == /etc/hostname: %s\n", strcmp(host, file) ? "no" : "yes");
    printf("host name not empty: %s\n", host[0] ? "yes" : "no");
    /* /etc/hosts, through the libc's own reader */
    struct hostent *h = gethostbyname("localhost");
    printf("gethostbyname(localhost): %s\n",
           h ? inet_ntoa(*(struct in_addr *)h->h_addr_list[0]) : "none");
    return 0;
}
