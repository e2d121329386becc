"""struct statfs as strace prints it (its statfs.c): f_type by its magic's name, f_fsid
as two hex words, f_flags by name."""

from __future__ import annotations

from kernel_model.uapi.constants import chex

# f_type (include/uapi/linux/magic.h), the ones a guest meets and the common hosts'.
FS_MAGIC = {
    0x01021994: "TMPFS_MAGIC", 0x9FA0: "PROC_SUPER_MAGIC", 0x50495045: "PIPEFS_MAGIC",
    0x858458F6: "RAMFS_MAGIC", 0xEF53: "EXT2_SUPER_MAGIC", 0x62656572: "SYSFS_MAGIC",
    0x794C7630: "OVERLAYFS_SUPER_MAGIC", 0x9123683E: "BTRFS_SUPER_MAGIC",
    0x58465342: "XFS_SUPER_MAGIC", 0x6969: "NFS_SUPER_MAGIC", 0x01021997: "V9FS_MAGIC",
    0x65735546: "FUSE_SUPER_MAGIC", 0x2FC12FC1: "ZFS_SUPER_MAGIC",
    0x4D44: "MSDOS_SUPER_MAGIC", 0x534F434B: "SOCKFS_MAGIC", 0x1CD1: "DEVPTS_SUPER_MAGIC",
}
# f_flags in strace's order (xlat/statfs_flags.in)
ST_FLAGS = (
    ("ST_VALID", 0x20), ("ST_RDONLY", 1), ("ST_NOSUID", 2), ("ST_NODEV", 4),
    ("ST_NOEXEC", 8), ("ST_SYNCHRONOUS", 16), ("ST_MANDLOCK", 64), ("ST_WRITE", 128),
    ("ST_APPEND", 256), ("ST_IMMUTABLE", 512), ("ST_NOATIME", 1024),
    ("ST_NODIRATIME", 2048), ("ST_RELATIME", 4096), ("ST_NOSYMFOLLOW", 8192),
)


def _st_flags(value: int) -> str:
    names = [n for n, bit in ST_FLAGS if value & bit]
    rest = value & ~sum(bit for _, bit in ST_FLAGS)
    if rest:
        names.append(chex(rest))
    return "|".join(names) if names else "0"


def statfs_text(f: dict, abi: str) -> str:
    magic = f["f_type"] & 0xFFFFFFFF
    fsid = ", ".join(chex(v & 0xFFFFFFFF) if v else "0" for v in f["f_fsid"])
    fields = [("f_type", FS_MAGIC.get(magic, chex(magic)))]
    fields += [(n, str(f[n])) for n in ("f_bsize", "f_blocks", "f_bfree", "f_bavail",
                                        "f_files", "f_ffree")]
    fields += [("f_fsid", "{val=[" + fsid + "]}"), ("f_namelen", str(f["f_namelen"])),
               ("f_frsize", str(f["f_frsize"])), ("f_flags", _st_flags(f["f_flags"]))]
    return "{" + ", ".join(f"{k}={v}" for k, v in fields) + "}"
