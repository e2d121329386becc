"""The vDSO: the images (kernel_model.vdso.image: assembly in vdso64.s / vdso32.s, packed into
an ELF shared object by elf_so.py) and the data page below them that the kernel model keeps
current (kernel_model.vdso.vvar: layout and Timekeeper)."""
