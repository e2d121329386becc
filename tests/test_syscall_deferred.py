"""Handler modules imported at a call's first use (kernel_model.syscalls.deferred): the
dispatch tables hold stand-ins equal to the real definitions in all but the handler, the
first call puts the real one in place, and the cached index says what importing every
module says."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from kernel_model.entry.abi import ABIS
from kernel_model.syscalls import deferred
from kernel_model.syscalls.registry import REGISTRY, lookup

ROOT = Path(__file__).resolve().parent.parent


def test_the_cached_index_is_what_importing_every_module_gives():
    assert deferred.index() == deferred.build_index()


def test_each_stand_in_equals_its_definition_but_for_the_handler():
    deferred.import_all()
    for key in deferred.index():
        real, stand_in = REGISTRY[key], deferred._make_stand_in(key)
        assert (stand_in.name, stand_in.args, stand_in.ret, stand_in.nargs) == \
            (real.name, real.args, real.ret, real.nargs), key
        assert stand_in.handler is not real.handler


def test_lookup_and_the_tables_agree_with_the_registry_for_every_abi():
    """An ABI's own handler wins over the shared one, as before: same name, same kinds."""
    deferred.import_all()
    for abi in ABIS.values():
        for name in abi.table.values():
            real = REGISTRY.get((abi.name, name)) or REGISTRY.get((None, name))
            assert lookup(abi.name, name) is real, name
            entry = deferred.dispatch_entry(abi.name, name)
            assert (entry is None) == (real is None), name
            if entry is not None and real is not None:
                assert (entry.name, entry.args, entry.ret, entry.nargs) == \
                    (real.name, real.args, real.ret, real.nargs), name


ALONE = """
import importlib, json, sys
from kernel_model.syscalls import deferred
from kernel_model.syscalls.registry import REGISTRY
index = deferred.index()
by_module = {}
for key, (module, *_) in index.items():
    by_module.setdefault(module, []).append(key)
base = set(sys.modules)
missing = {}
for module, keys in sorted(by_module.items()):
    REGISTRY.clear()
    for name in set(sys.modules) - base:  # every handler module imported for the last one
        del sys.modules[name]
    importlib.import_module(module)
    lost = [list(k) for k in keys if k not in REGISTRY]
    if lost:
        missing[module] = lost
print(json.dumps(missing))
"""


def test_importing_a_module_alone_registers_what_the_index_says_it_does():
    """The index names, for each call, a module whose import registers it by itself."""
    r = subprocess.run([sys.executable, "-c", ALONE], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {}


FIRST_CALL = """
import json, sys
from kernel_model.system import System, RunOptions
from kernel_model.syscalls.registry import REGISTRY
from programs.options import resolve_program
program = resolve_program("hello.glibc-x86_64", None)
system = System(program.image, program.path, ["hello"], RunOptions())
kernel = system.kernel
table, compat = kernel._dispatch_x86_64, kernel._dispatch_i386
write, socket = table[1], table[41]
before = {"write_real": write is REGISTRY.get((None, "write")),
          "socket_module": "kernel_model.syscalls.socket" in sys.modules}
status = system.run()
real_write = REGISTRY[(None, "write")]
fast = kernel._fast_tables  # the entry paths' own tables, by (abi, argument registers)
print(json.dumps({**before, "status": status,
                  "write_now_real": table[1] is real_write,
                  "compat_write_now_real": compat[4] is real_write,
                  "fast_tables": sorted(abi for abi, _ in fast),
                  "fast_write_now_real": all(t[1 if abi == "x86_64" else 4][3] is real_write
                                             for (abi, _), t in fast.items()),
                  "socket_untouched": table[41] is socket,
                  "socket_module_after": "kernel_model.syscalls.socket" in sys.modules}))
"""


def test_the_first_call_puts_the_real_definition_in_every_table_of_the_kernel():
    r = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True,
                       cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout.splitlines()[-1])
    assert got == {"write_real": False, "socket_module": False, "status": 0,
                   "write_now_real": True, "compat_write_now_real": True,
                   "fast_tables": ["i386", "x86_64"], "fast_write_now_real": True,
                   "socket_untouched": True, "socket_module_after": False}


def test_an_edited_source_file_changes_the_index_key(tmp_path, monkeypatch):
    copy = tmp_path / "syscalls"
    shutil.copytree(deferred.HERE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(deferred, "HERE", str(copy))
    key = deferred.sources_key()
    assert deferred.sources_key() == key
    memory = copy / "memory.py"
    memory.write_text(memory.read_text() + "\n")  # a new size
    edited = deferred.sources_key()
    assert edited != key
    st = memory.stat()
    os.utime(memory, ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # the same size, touched
    assert deferred.sources_key() not in (key, edited)
