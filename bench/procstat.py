"""Process figures from /proc shared by the benchmark scripts."""
import os


def tree(pid):
    """pid, then every descendant (children of all its threads)."""
    out = [pid]
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                for c in f.read().split():
                    out += tree(int(c))
    except OSError:
        pass
    return out


def field(path, key):
    """The number after `key` in a /proc file such as status or
    smaps_rollup (kB for the memory fields); 0 if absent."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    return field(f"/proc/{pid}/status", "VmRSS:")


def pss_kb(pid):
    return field(f"/proc/{pid}/smaps_rollup", "Pss:")
