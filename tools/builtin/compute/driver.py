# The Python side of the compute sandbox, run as `python3 -I -c <this> <limits JSON>` inside bwrap.
# Sets the resource limits on itself (inherited by anything it starts), then runs one request per
# line read from stdin: {"id", "code", "cpu_s"}. The code's stdout and stderr go to fd 1; after
# each request a frame "\x1e<id><result JSON>\n" follows on fd 1, so output and frame stay ordered.
import ast, json, math, os, resource as R, signal, sys, traceback, types

# The launcher closed every descriptor above stdio before bwrap; if one got through, the code
# could reach a host file with it: refuse to run any (the self-test then reports why).
inherited = []
for n in os.listdir("/proc/self/fd"):
    try:
        if int(n) > 2 and os.fstat(int(n)):
            inherited.append(n)
    except OSError:
        pass  # the listing's own descriptor, closed by now
if inherited:
    sys.exit(f"descriptors inherited from the host are open in the sandbox ({', '.join(inherited)}); the launcher must close them")

lim = json.loads(sys.argv[1])
R.setrlimit(R.RLIMIT_CPU, (lim["cpu_hard_s"], lim["cpu_hard_s"]))
for res, v in ((R.RLIMIT_AS, lim["memory_bytes"]), (R.RLIMIT_NPROC, lim["processes"]), (R.RLIMIT_FSIZE, lim["file_bytes"]), (R.RLIMIT_NOFILE, lim["open_files"]), (R.RLIMIT_CORE, 0)):
    R.setrlimit(res, (v, v))
# A write past RLIMIT_FSIZE fails with EFBIG (an exception the code sees) instead of killing.
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
CAP = lim["max_chars"]

requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
frames = os.dup(1)
null = os.open("/dev/null", os.O_RDONLY)
os.dup2(null, 0)
os.close(null)
os.dup2(1, 2)
sys.stdin = open(os.devnull, encoding="utf-8")

# The code gets a __main__ module of its own (so pickle finds its classes), apart from this one's globals.
main = types.ModuleType("__main__")
sys.modules["__main__"] = main
scope = main.__dict__


def cut(s):
    return s if len(s) <= CAP else s[:CAP] + f"... [cut at {CAP} characters]"


def run(code):
    try:
        tree = ast.parse(code, "<python>", "exec")
    except SyntaxError:
        return {"ok": False, "error": cut(traceback.format_exc(limit=0))}
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    try:
        exec(compile(tree, "<python>", "exec"), scope)
        if last is not None:
            v = eval(compile(last, "<python>", "eval"), scope)
            if v is not None:
                return {"ok": True, "value": cut(repr(v))}
        return {"ok": True}
    except BaseException:
        et, ev, tb = sys.exc_info()
        return {"ok": False, "error": cut("".join(traceback.format_exception(et, ev, tb.tb_next)))}


for line in requests:
    req = json.loads(line)
    used = R.getrusage(R.RUSAGE_SELF)
    soft = math.ceil(used.ru_utime + used.ru_stime) + req["cpu_s"]
    R.setrlimit(R.RLIMIT_CPU, (min(soft, lim["cpu_hard_s"]), lim["cpu_hard_s"]))
    result = run(req["code"])
    for f in (sys.stdout, sys.stderr):
        try:
            f.flush()
        except BaseException:
            pass
    frame = memoryview(b"\x1e" + req["id"].encode() + json.dumps(result).encode() + b"\n")
    while frame:
        frame = frame[os.write(frames, frame):]
