"""strace -c's table (src/count.c)."""

from __future__ import annotations

from kernel_model.trace.strace.values import abi_name


def summary_table(rows, abi=None) -> str:
    """strace -c's table (src/count.c), rows sorted by time, descending; ties keep the
    order given. rows: (name, calls, errors, seconds). abi "i386" adds strace's line for
    a 32-bit process. Ends with a newline, as strace's output does."""
    rows = [(name, calls, errors, round(seconds * 1e9))
            for name, calls, errors, seconds in rows if calls]
    rows.sort(key=lambda r: -r[3])
    total_ns = sum(r[3] for r in rows)
    total_s = total_ns / 1e9
    calls = sum(r[1] for r in rows)
    errors = sum(r[2] for r in rows)

    def secs(ns: int) -> float:  # strace's ts_float, in the same double arithmetic
        return ns // 10**9 + (ns % 10**9) / 1e9

    avgs = [int(secs(ns // n) * 1e6) for _, n, _, ns in rows]
    widths = (6, max(11, len(f"{total_s:.6f}")), max(11, len(str(max(avgs, default=0)))),
              max(9, len(str(calls))), max(9, len(str(errors))),
              max(16, max((len(r[0]) for r in rows), default=0) + 1))
    w_pct, w_sec, w_avg, w_calls, w_err, _ = widths

    def line(pct: float, sec: float, avg: int, n: int, err: int, name: str) -> str:
        err_text = str(err) if err else ""  # strace's "%.0u": 0 prints as nothing
        return (f"{pct:{w_pct}.2f} {sec:{w_sec}.6f} {avg:{w_avg}d} {n:{w_calls}d} "
                f"{err_text:>{w_err}} {name}")

    rule = " ".join("-" * w for w in widths)
    out = [] if abi_name(abi) != "i386" else ["System call usage summary for 32 bit mode:"]
    out.append(f"{'% time':>{w_pct}} {'seconds':>{w_sec}} {'usecs/call':>{w_avg}} "
               f"{'calls':>{w_calls}} {'errors':>{w_err}} syscall")
    out.append(rule)
    for (name, n, err, ns), avg in zip(rows, avgs, strict=True):
        pct = 100.0 * secs(ns)
        if pct != 0.0:
            pct /= secs(total_ns)
        out.append(line(pct, secs(ns), avg, n, err, name))
    out.append(rule)
    out.append(line(100.0, secs(total_ns), int(secs(total_ns) / calls * 1e6) if calls else 0,
                    calls, errors, "total"))
    return "\n".join(out) + "\n"
