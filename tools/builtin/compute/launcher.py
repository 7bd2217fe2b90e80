# The host side of a sandbox's start, run as `python3 -I -S -c <this> <cgroup dir or ""> <command...>`
# ahead of setpriv and bwrap. It joins the compute cgroup when there is one, so every process the
# sandbox forks is counted against its memory.max and pids.max, and it closes every descriptor above
# stdio, then execs the command. Node opens its own descriptors close-on-exec, but one lyra tools
# inherited without the flag (Node marks fds 0-15 at start and stops at the first gap) would pass
# through setpriv and bwrap into the sandboxed code; bwrap has no option that closes them.
import os, sys

cgroup = sys.argv[1]
if cgroup:
    fd = os.open(cgroup + "/cgroup.procs", os.O_WRONLY)
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
for name in os.listdir("/proc/self/fd"):
    if int(name) > 2:
        try:
            os.close(int(name))
        except OSError:
            pass  # the listing's own descriptor, already closed
os.execv(sys.argv[2], sys.argv[2:])
