"""`kmslab serve --state` against moto's server under the same HTTP load: calls/s and latency.

Each backend runs as its own subprocess on 127.0.0.1, one after the other (never both at once):

- kmslab: ``python -m kmslab.cli serve --port P --state TMP/bench.db`` (SigV4 checked, every
  call committed to SQLite and recorded on the trail);
- moto:   ``python -m moto.server -H 127.0.0.1 -p P`` (signatures not checked, nothing kept).

The load is identical for both: ``--processes`` load processes (2) holding ``--connections``
keep-alive ``http.client`` connections between them (4), each replaying one Encrypt request of
``--plaintext`` bytes (4096) as fast as the server answers. Every connection signs its request
once with botocore's SigV4Auth and then resends the very same bytes (the signature stays valid
for 15 minutes), so the client does almost no work per call and the server is what is measured.
After ``--warm-up`` seconds the load is measured for ``--seconds`` seconds (10). With
``--rounds`` above 1 the two servers take turns, the first one alternating.

The script prints, per backend, calls/s, p50 and p99 latency, errors, how many TCP
connections were opened (a server that closes keep-alive connections shows here) and the
server process's CPU time per answered call (Linux; the figure least disturbed by other work
on a busy machine), then the ratio of calls/s. It exits with status 1 if kmslab answers fewer
than 5x moto's calls/s, unless ``--no-check``.

    python benchmarks/server_load.py [--seconds 10] [--warm-up 1] [--rounds 1] [--no-check]

moto's server needs the ``lab`` extra (``moto[server]``). Run it on an otherwise idle machine:
with two CPUs, the two load processes and the server already share them.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
GOAL = 5.0
ACCESS_KEY = "AKIAKMSLABADMIN00001"  # kmslab's documented lab admin (kmslab.iam)
SECRET_KEY = "kmslab/admin/secret/do-not-use-in-aws"


# == the servers ==================================================================================


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    for name in ("config", "credentials"):
        (home / f"aws-{name}").touch()
    env.update(
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def wait_until_listening(proc: subprocess.Popen[bytes], port: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with status {proc.returncode}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"server did not listen on port {port} within {timeout} s")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far (Linux /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(name: str, workdir: Path) -> Iterator[tuple[str, int]]:
    """Start one backend; yield its endpoint and pid; stop it (SIGINT, then kill) whatever
    happens."""
    port = free_port()
    if name == "kmslab":
        cmd = [sys.executable, "-m", "kmslab.cli", "serve", "--port", str(port)]
        cmd += ["--state", str(workdir / "bench.db")]
    else:
        cmd = [sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(port)]
    log = (workdir / f"{name}.log").open("wb")
    proc = subprocess.Popen(
        cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=clean_env(workdir)
    )
    try:
        wait_until_listening(proc, port)
        yield f"http://{HOST}:{port}", proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(2)  # SIGINT: kmslab stops cleanly on it
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        log.close()


def make_key(endpoint: str) -> str:
    import boto3

    kms = boto3.session.Session().client(
        "kms",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )
    key_id = str(kms.create_key(Description="server load benchmark")["KeyMetadata"]["KeyId"])
    probe = kms.encrypt(KeyId=key_id, Plaintext=b"probe")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=probe)["Plaintext"] == b"probe"
    return key_id


# == the load =====================================================================================


def signed_encrypt(endpoint: str, key_id: str, plaintext: bytes) -> tuple[dict[str, str], bytes]:
    """One Encrypt request, signed once by botocore's SigV4Auth: (headers, body)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"KeyId": key_id, "Plaintext": base64.b64encode(plaintext).decode()})
    request = AWSRequest(
        method="POST",
        url=endpoint + "/",
        data=body.encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "TrentService.Encrypt",
        },
    )
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "kms", "us-east-1").add_auth(request)
    return dict(request.headers.items()), body.encode()


@dataclass
class Tally:
    calls: int = 0
    all_calls: int = 0  # warm-up included
    errors: int = 0
    connections: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, measured calls only


def one_connection(
    endpoint: str, key_id: str, plaintext: bytes, go: Any, warm_up: float, seconds: float
) -> Tally:
    headers, body = signed_encrypt(endpoint, key_id, plaintext)
    port = int(endpoint.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    tally = Tally()
    go.wait()
    start = time.perf_counter()
    measure_from = start + warm_up
    stop_at = measure_from + seconds
    clock = time.perf_counter
    while True:
        t0 = clock()
        if t0 >= stop_at:
            break
        if conn.sock is None:
            tally.connections += 1
        try:
            conn.request("POST", "/", body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            ok = False
        t1 = clock()
        tally.all_calls += ok
        if t0 >= measure_from:
            if ok:
                tally.calls += 1
                tally.latencies.append(t1 - t0)
            else:
                tally.errors += 1
    conn.close()
    return tally


def load_process(
    endpoint: str,
    key_id: str,
    plaintext: bytes,
    connections: int,
    go: Any,
    warm_up: float,
    seconds: float,
    out: Any,
) -> None:
    results: list[Tally] = []

    def run() -> None:
        results.append(one_connection(endpoint, key_id, plaintext, go, warm_up, seconds))

    threads = [threading.Thread(target=run) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    total = Tally()
    for r in results:
        total.calls += r.calls
        total.all_calls += r.all_calls
        total.errors += r.errors
        total.connections += r.connections
        total.latencies += r.latencies
    out.put(total)


@dataclass
class Result:
    backend: str
    calls_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    connections: int
    calls: int
    server_cpu_ms_per_call: float | None  # the server's CPU time per answered call


def drive(name: str, endpoint: str, pid: int, args: argparse.Namespace) -> Result:
    key_id = make_key(endpoint)
    plaintext = os.urandom(args.plaintext)
    ctx = mp.get_context("spawn")
    go = ctx.Event()
    out = ctx.Queue()
    share = [args.connections // args.processes] * args.processes
    for i in range(args.connections % args.processes):
        share[i] += 1
    procs = [
        ctx.Process(
            target=load_process,
            args=(endpoint, key_id, plaintext, n, go, args.warm_up, args.seconds, out),
        )
        for n in share
    ]
    for p in procs:
        p.start()
    time.sleep(1.5)  # let the spawned interpreters import and sign before the start signal
    cpu_before = cpu_seconds(pid)
    go.set()
    tallies = [out.get(timeout=args.warm_up + args.seconds + 120) for _ in procs]
    cpu_after = cpu_seconds(pid)
    for p in procs:
        p.join(timeout=30)
    latencies = sorted(x for t in tallies for x in t.latencies)
    calls = sum(t.calls for t in tallies)
    if not latencies:
        raise SystemExit(f"{name}: no call succeeded")
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(
        backend=name,
        calls_per_s=calls / args.seconds,
        p50_ms=statistics.median(latencies) * 1000,
        p99_ms=p99 * 1000,
        errors=sum(t.errors for t in tallies),
        connections=sum(t.connections for t in tallies),
        calls=calls,
        server_cpu_ms_per_call=None
        if cpu_before is None or cpu_after is None
        else (cpu_after - cpu_before) * 1000 / max(1, sum(t.all_calls for t in tallies)),
    )


# == main =========================================================================================


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds (10)")
    parser.add_argument("--warm-up", type=float, default=1.0, help="unmeasured seconds (1)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds per backend (1)")
    parser.add_argument("--processes", type=int, default=2, help="load processes (2)")
    parser.add_argument("--connections", type=int, default=4, help="connections in all (4)")
    parser.add_argument("--plaintext", type=int, default=4096, help="bytes per Encrypt (4096)")
    parser.add_argument("--no-check", action="store_true", help=f"do not fail under {GOAL:g}x")
    args = parser.parse_args(argv)

    results: dict[str, list[Result]] = {"kmslab": [], "moto": []}
    with tempfile.TemporaryDirectory(prefix="kmslab-bench-") as tmp:
        for n in range(args.rounds):
            order = ["kmslab", "moto"] if n % 2 == 0 else ["moto", "kmslab"]
            for name in order:
                workdir = Path(tmp) / f"{name}-{n}"
                workdir.mkdir()
                with server(name, workdir) as (endpoint, pid):
                    results[name].append(drive(name, endpoint, pid, args))

    def best(name: str) -> Result:
        return max(results[name], key=lambda r: r.calls_per_s)

    kmslab, moto = best("kmslab"), best("moto")
    load = (
        f"{args.connections} keep-alive connections from {args.processes} processes, "
        f"pre-signed Encrypt of {args.plaintext} B, {args.seconds:g} s measured"
        + (f", best of {args.rounds} rounds" if args.rounds > 1 else "")
    )
    print(f"Load: {load}; {os.cpu_count()} CPUs")
    print()
    print(
        f"{'backend':<24}{'calls/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'conns':>8}"
        f"{'server CPU ms/call':>20}"
    )
    labels = {"kmslab": "kmslab serve --state", "moto": "moto.server"}
    for r in (kmslab, moto):
        cpu = "n/a" if r.server_cpu_ms_per_call is None else f"{r.server_cpu_ms_per_call:.2f}"
        print(
            f"{labels[r.backend]:<24}{r.calls_per_s:>10.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}"
            f"{r.errors:>8}{r.connections:>8}{cpu:>20}"
        )
    ratio = kmslab.calls_per_s / moto.calls_per_s
    print()
    print(f"kmslab / moto calls/s: {ratio:.1f}x (goal >= {GOAL:g}x)")
    if args.rounds > 1:
        for name in ("kmslab", "moto"):
            runs = ", ".join(f"{r.calls_per_s:.0f}" for r in results[name])
            print(f"  {name} calls/s per round: {runs}")
    if ratio < GOAL and not args.no_check:
        print(f"below the goal of {GOAL:g}x")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
