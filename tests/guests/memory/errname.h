/* The errno names these guests print (strerrorname_np is glibc-only). */
#include <errno.h>

static inline const char *errname(int e)
{
    switch (e) {
    case 0: return "ok";
    case EPERM: return "EPERM";
    case EAGAIN: return "EAGAIN";
    case ENOMEM: return "ENOMEM";
    case EFAULT: return "EFAULT";
    case EBUSY: return "EBUSY";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case ENOSYS: return "ENOSYS";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case ENODEV: return "ENODEV";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return "E?";
    }
}
