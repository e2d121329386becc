"""emu.records.Record, the plain classes that replaced the frozen dataclasses of
the trace events, the stop causes and the argument kinds: they must behave as those did."""

from __future__ import annotations

import copy
import pickle
from dataclasses import FrozenInstanceError

import pytest

from kernel_model.entry.mechanism import Mechanism
from kernel_model.run.causes import Exited, Fault
from kernel_model.syscalls.argkinds import Flags, Int, Iovec, Uid
from kernel_model.trace.events import (
    MemAccess,
    ProcessExited,
    RegChange,
    StackPush,
    SyscallEntered,
    event_to_dict,
)


def entered() -> SyscallEntered:
    return SyscallEntered(7, Mechanism.INT80, "i386", "ia32_sys_call_table", "entry_INT80_32",
                          4, "write", True, (1, 2, 3), 0x401000, {"eax": 4},
                          (RegChange("rcx", 1, 2), StackPush("ss", 0x2B)))


def test_equal_by_class_and_fields_and_hashed_so():
    assert Fault(11, 1, 0x10) == Fault(11, 1, 0x10)
    assert Fault(11, 1, 0x10) != Fault(11, 1, 0x11)
    assert hash(Fault(11, 1, 0x10)) == hash(Fault(11, 1, 0x10))
    assert Int() != Exited()  # two classes without fields are still two things
    assert len({Uid(16), Uid(16), Uid(32)}) == 2
    assert RegChange("rax", 1, 2) != ("rax", 1, 2)


def test_shown_as_a_dataclass_is():
    assert repr(Iovec(2)) == "Iovec(count_arg=2, writes=False)"
    assert repr(Exited()) == "Exited()"
    assert repr(ProcessExited(0, 0, None, "+++ exited with 0 +++")) == \
        "ProcessExited(status=0, code=0, signal=None, text='+++ exited with 0 +++', pid=0, " \
        "kind='exit')"


def test_frozen():
    for record in (Fault(11, 1, 0), MemAccess(1, 2, True), Flags("open"), entered()):
        field = record._fields[0]
        with pytest.raises(FrozenInstanceError):
            setattr(record, field, 1)
        with pytest.raises(FrozenInstanceError):
            delattr(record, field)


def test_pickled_and_copied_slots_or_not():
    for record in (Fault(11, 1, 0), MemAccess(1, 2, True), Iovec(3, True), entered()):
        for twin in (pickle.loads(pickle.dumps(record)), copy.deepcopy(record),
                     copy.copy(record)):
            assert twin == record and twin is not record
            assert repr(twin) == repr(record)


def test_positional_patterns_name_the_constructors_fields():
    match Fault(11, 1, 0x10):
        case Fault(signo, code, addr):
            assert (signo, code, addr) == (11, 1, 0x10)
    assert SyscallEntered.__match_args__[-1] == "cpu_effects"  # kind is not an argument


def test_event_to_dict_is_what_asdict_gave():
    assert event_to_dict(entered()) == {
        "seq": 7, "mechanism": Mechanism.INT80, "abi": "i386", "table": "ia32_sys_call_table",
        "entry": "entry_INT80_32", "nr": 4, "name": "write", "implemented": True,
        "args": (1, 2, 3), "pc": 0x401000, "regs": {"eax": 4},
        "cpu_effects": ({"name": "rcx", "old": 1, "new": 2}, {"name": "ss", "value": 0x2B}),
        "kind": "syscall_entry"}
