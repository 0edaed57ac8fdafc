"""CPU per process, read from /proc: live processes, and a server whose children come and go."""

import subprocess
import sys
import textwrap

from bench.stack import CpuAccount

# Burns this much CPU, then says so and waits for stdin to close.
BURN = textwrap.dedent(
    """
    import sys, time
    spent = time.process_time()
    while time.process_time() - spent < float(sys.argv[1]):
        pass
    print("done", flush=True)
    sys.stdin.read()
    """
)

# A "server": on "go" it runs a child that burns CPU and exits, reaps it,
# says so and waits for stdin to close; the child's time is then in its
# parent's cutime, as a PostgreSQL backend's is in the postmaster's.
SERVER = textwrap.dedent(
    f"""
    import subprocess, sys
    sys.stdin.readline()
    subprocess.run([sys.executable, "-c", {BURN!r}, sys.argv[1]], stdin=subprocess.DEVNULL, check=True)
    print("done", flush=True)
    sys.stdin.read()
    """
)


def spawn(script: str, seconds: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", script, str(seconds)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def test_a_process_is_charged_the_cpu_it_used_between_begin_and_end():
    burner = spawn(BURN, 0.4)
    account = CpuAccount()
    try:
        account.begin({burner.pid: "burner"})
        assert burner.stdout.readline() == "done\n"
        used = account.end({burner.pid: "burner"})
    finally:
        burner.communicate("", timeout=10)

    assert 0.3 <= used["burner"] < 2.0
    assert account.wall > 0


def test_a_server_is_charged_for_children_that_lived_and_died_between_two_samples():
    server = spawn(SERVER, 0.4)
    account = CpuAccount(server=server.pid, server_name="server")
    try:
        account.begin({})
        server.stdin.write("go\n")
        server.stdin.flush()
        assert server.stdout.readline() == "done\n"
        used = account.end({})
    finally:
        server.communicate("", timeout=10)

    assert 0.3 <= used["server"] < 2.0
