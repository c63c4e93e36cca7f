#!/usr/bin/env bash
# Runs the README's tour command by command and compares what each prints with
# the README's console block, so that a README that drifts from the program
# fails CI (.ci/run calls it).
#
#   bash scripts/readme-tour.sh                    # the debug build (built if needed)
#   TOUR_README=/tmp/README.md bash scripts/readme-tour.sh   # check another copy
#
# What is compared: every `$ ` line of the ```console blocks of the "Tour"
# section (up to "A bad version rolls itself back", which examples/demo.sh
# checks on its own) is run, in order, in a scratch copy of the repository
# (its own `.mapctl/`, its own port), with `swift run mapctl` replaced by the
# built binary: `swift run` prints build lines first, which the README leaves
# out. Standard output and standard error are compared together, as a terminal
# shows them, with the lines after the `$ ` line, once both sides are
# normalized:
#   - 127.0.0.1:PORT for any port (the README's daemon is on 7468, this one not);
#   - TIME for dates and times (2026-11-26 23:37:42, 23:03:33.126);
#   - DURATION for a time left (2m0s, 59s), COMMIT for a git commit after `@`,
#     SHA for the 12 hex digits of a content hash, CLIENT for the apply or
#     rollback client (apply:root@vm);
#   - runs of spaces as two spaces (so a column's width does not count), and
#     trailing spaces dropped;
#   - the lines of `/metrics` sorted (the registry's order is no promise), and a
#     block that ends with `...` only needs its lines to be among the output's.
# Each command's exit status must be 0 unless the table below says otherwise.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
swift build --product mapctl 2>&1 | tail -n 1
bin="$(swift build --show-bin-path)/mapctl"

work=$(mktemp -d /tmp/mapctl-tour.XXXXXX)
trap 'rm -rf "$work"' EXIT
git ls-files -z schemas examples/bad examples/tour | xargs -0 -I{} cp --parents {} "$work/"

# The README's daemon listens on 127.0.0.1:7468; a CI machine may have that
# port taken, so the tour's daemon uses its own and the client is told with MAPCTL_SERVER.
export TOUR_BIN="$bin" TOUR_PORT="${TOUR_PORT:-17468}" TOUR_README="${TOUR_README:-$repo/README.md}"
cd "$work"
python3 - <<'PY'
import difflib, json, os, re, shlex, signal, subprocess, sys, time, urllib.request

binary, port, readme = os.environ["TOUR_BIN"], os.environ["TOUR_PORT"], os.environ["TOUR_README"]
server = f"http://127.0.0.1:{port}"
# Commands whose README output is a failure, by the start of their arguments.
expected_status = {"validate examples/bad/": 1, "diff -f": 1, "put user_cache u43": 1}

def fail(message):
    print(f"tour: FAILED: {message}", file=sys.stderr)
    sys.exit(1)

def tour_steps(text):
    """(command, expected lines) for every `$ ` line of the Tour's console blocks."""
    start = text.find("\n## Tour\n")
    end = text.find("\n### A bad version rolls itself back", start)
    if start < 0 or end < 0:
        fail(f"{readme}: no '## Tour' section ending at '### A bad version rolls itself back'")
    steps = []
    for block in re.findall(r"```console\n(.*?)```", text[start:end], re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append((line[2:], []))
            elif steps:
                steps[-1][1].append(line)
    if not steps:
        fail(f"{readme}: the Tour has no console blocks")
    return steps

def normalize(lines):
    out = []
    for line in lines:
        line = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", line)
        line = re.sub(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?Z?", "TIME", line)
        line = re.sub(r"\b\d\d:\d\d:\d\d\.\d+\b", "TIME", line)
        line = re.sub(r"\b(apply|rollback):\S+", r"\1:CLIENT", line)
        line = re.sub(r"@[0-9a-f]{7,64}\b", "@COMMIT", line)
        line = re.sub(r"\b[0-9a-f]{12}\b", "SHA", line)
        line = re.sub(r"\b(\d+h)?(\d+m)?\d+s\b", "DURATION", line)
        out.append(re.sub(r" {2,}", "  ", line).rstrip())
    return out

def compare(command, expected, actual):
    want, got = normalize(expected), normalize(actual)
    elided = bool(want) and want[-1] == "..."
    if "/metrics" in command:
        want, got = sorted(want), sorted(got)
    if elided:
        missing = [line for line in want if line != "..." and line not in got]
        if missing:
            fail(f"'{command}': lines the README shows are not in the output:\n  " + "\n  ".join(missing)
                 + "\n(output, normalized:)\n  " + "\n  ".join(got))
    elif want != got:
        diff = difflib.unified_diff(want, got, "README (normalized)", "output (normalized)", lineterm="")
        fail(f"'{command}': the output differs from the README:\n" + "\n".join(diff))

def wait_for(what, condition, backstop=60):
    """Polls `condition`; the backstop only ends a tour whose daemon never gets there."""
    deadline = time.monotonic() + backstop
    while not condition():
        if time.monotonic() > deadline:
            fail(f"{what} (waited {backstop} s)")
        time.sleep(0.05)

def ready():
    try:
        return urllib.request.urlopen(f"{server}/readyz", timeout=5).status == 200
    except OSError:
        return False

environment = dict(os.environ, MAPCTL_SERVER=server, NO_COLOR="1")
daemon = None
try:
    for command, expected in tour_steps(open(readme, encoding="utf-8").read()):
        print(f"$ {command}")
        words = shlex.split(command)
        if words[:3] == ["swift", "run", "mapctl"] and words[3:4] == ["watch"]:
            log = open("watch.out", "w+")
            daemon = subprocess.Popen([binary] + words[3:] + ["--listen", f"127.0.0.1:{port}"],
                                      stdout=log, stderr=open("watch.log", "w"), env=environment)
            wait_for("the daemon never printed 'listening on'", lambda: "listening on" in open("watch.out").read())
            wait_for("the daemon never became ready", ready)
            actual, status, arguments = open("watch.out").read().splitlines(), 0, " ".join(words[3:])
        else:
            if words[:3] == ["swift", "run", "mapctl"]:
                arguments = command.split("swift run mapctl ", 1)[1]
                shell = shlex.quote(binary) + " " + arguments
            elif words[0] == "curl":
                arguments, shell = command, command.replace("127.0.0.1:7468", f"127.0.0.1:{port}")
            else:
                fail(f"'{command}': the tour runs only `swift run mapctl ...` and `curl ...`")
            run = subprocess.run(["bash", "-c", shell], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 env=environment, text=True, timeout=120)
            actual, status = run.stdout.splitlines(), run.returncode
        if actual:
            print("\n".join(actual))
        want_status = next((code for prefix, code in expected_status.items() if arguments.startswith(prefix)), 0)
        if status != want_status:
            fail(f"'{command}' exited {status}, expected {want_status}")
        compare(command, expected, actual)

    # Beyond what the README prints: the record is complete and SIGTERM ends the daemon cleanly.
    history = json.loads(subprocess.run([binary, "history", "user_cache", "-o", "json"], env=environment,
                                        stdout=subprocess.PIPE, check=True).stdout)
    if [entry["action"] for entry in history] != ["apply", "apply", "rollback", "quarantine"]:
        fail(f"history: {history}")
    if daemon is None:
        fail("the tour never started the daemon")
    daemon.send_signal(signal.SIGTERM)
    if daemon.wait(timeout=60) != 0:
        fail(f"the daemon exited {daemon.returncode} on SIGTERM")
    daemon = None
    print("tour: OK: every command printed what the README shows")
finally:
    if daemon is not None:
        daemon.kill()
PY
