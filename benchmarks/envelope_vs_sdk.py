"""kmslab envelope encryption against plain AES-GCM and the aws-encryption-sdk, side by side.

Every measurement is a child process that imports kmslab first, started by this script; runs are
interleaved (A, B, A, B, ...; in section 1 each round starts at another process) and the medians
compared, so that drift on a shared machine hits all sides alike. Three sections:

1. ``kmslab encrypt`` / ``kmslab decrypt`` of a ``--size`` file (default 1 GiB), as whole
   processes (interpreter start, imports, the KMS call against a persisted local lab, file I/O),
   against processes that stream the same file through one AES-256-GCM ``Cipher`` with
   pyca/cryptography, ``update_into`` between reused buffers of ``--plain-chunk`` bytes, in two
   loops: the textbook one (read, encrypt, write, in turn) and one with kmslab's own I/O shape (a
   writer thread, so that writing one chunk overlaps reading and encrypting the next). Goal:
   kmslab's throughput >= 0.9 of the textbook loop's, the issue's "plain AES-256-GCM streaming".
   The ratio to the threaded loop is printed too, as is the same ratio with each side's
   empty-file time taken out: against a plain loop given kmslab's own I/O design, what is left
   is kmslab's start-up (the local KMS and its state file). The chunk is the plain loops' best:
   64 KiB, whose buffers stay in a core's cache (1 GiB, threaded loop, 2-CPU machine: 0.90-1.07
   s in 64 KiB chunks, 1.09-1.32 s in 256 KiB or 1 MiB chunks; 16 KiB chunks were slower again).
   Also the peak memory growth of the kmslab processes: ``VmHWM`` (from /proc/self/status, read
   in the child; ``ru_maxrss`` is inherited across fork+exec) at the end, minus ``VmHWM`` just
   before the envelope call (after the lab and its client exist) -- goal: <= 64 MiB -- and,
   for information, minus ``VmHWM`` after ``import kmslab`` (the whole command). The same
   processes on an empty file show the fixed costs (start-up, lab, KMS call).
   Children run with cached bytecode, as an installed command does (see
   :func:`child_environment`; ``--inherit-bytecode-setting`` to keep this environment's), after
   one untimed warm-up run of each kind.
2. kmslab against the aws-encryption-sdk (legacy ``StrictAwsKmsMasterKeyProvider`` over the same
   local lab) on ``--sdk-size`` (default 256 MiB), file to file, timed inside each child from the
   first KMS call to the last byte written: each with its own defaults (goal: kmslab >= 5x), then
   both with the SDK's defaults (0x0578, 4 KiB frames) and both with kmslab's (0x0478, 256 KiB).
3. With ``--frames``: kmslab encrypt throughput by frame length (the measurement behind the
   default).

    python benchmarks/envelope_vs_sdk.py [--size 1GiB] [--sdk-size 256MiB] [--repeat 3]
                                         [--dir DIR] [--frames] [--skip-sdk] [--no-check]
                                         [--plain-chunk 64KiB] [--inherit-bytecode-setting]
                                         [--no-prime]

Exit status 1 if a goal is missed (``--no-check``: always 0). Files go to ``--dir`` (default: the
system temporary directory) and are removed at the end; ``sync`` runs before each child, so no
run pays for the write-back of the one before, and every run writes a new file (replacing an
existing one costs an immediate write-back on ext4: its ``auto_da_alloc`` heuristic flushes a file
renamed over another, which is also what makes kmslab's temp-file-and-rename crash-safe there).
Before each child that writes a large file, the script frees fresh memory for its output
(:func:`prime_memory`): where the kernel hands long-free memory back to the system beneath it,
writing into such memory costs up to 7x more, and which run gets it would otherwise depend on
the order of the runs. ``--no-prime`` measures the machine as it comes.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

MiB = 1 << 20
GOAL_VS_AES = 0.9
GOAL_VS_SDK = 5.0
GOAL_MEMORY_MIB = 64.0
SIZE = re.compile(r"(\d+)\s*(|k|kib|m|mib|g|gib)", re.IGNORECASE)
UNITS = {"": 1, "k": 1 << 10, "kib": 1 << 10, "m": MiB, "mib": MiB, "g": 1 << 30, "gib": 1 << 30}


def parse_size(text: str) -> int:
    match = SIZE.fullmatch(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r}: use e.g. 256MiB or 1GiB")
    return int(match[1]) * UNITS[match[2].lower()]


# -- children ------------------------------------------------------------------------------------
# Each child imports kmslab first, notes VmHWM, does one job, and prints one JSON line.


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


def _plain(
    mode: str, source: str, destination: str, loop: str = "simple", chunk_size: int = MiB
) -> None:
    """One AES-256-GCM stream over the whole file in ``chunk_size`` chunks, tag at the end.

    ``loop`` "simple": read, ``update_into``, write, in turn, in one thread (the textbook loop).
    "threaded": the same with write-behind, kmslab's own I/O shape: a writer thread takes filled
    chunks from a pool of three, so the write of one chunk overlaps the read and AES-GCM of the
    next (writes release the GIL). Both reuse their buffers; neither allocates per chunk.
    """
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key_file = destination + ".key" if mode == "encrypt" else source + ".key"
    chunk = memoryview(bytearray(chunk_size))
    if mode == "encrypt":
        key, nonce = os.urandom(32), os.urandom(12)
        Path(key_file).write_bytes(key + nonce)
        cipher = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        with open(source, "rb", buffering=0) as src, open(destination, "wb", buffering=0) as dst:
            with _write_behind(dst, loop, chunk_size) as (take, give):
                while n := src.readinto(chunk):
                    out = take()
                    give(out, cipher.update_into(chunk[:n], out))
            cipher.finalize()
            dst.write(cipher.tag)
        return
    material = Path(key_file).read_bytes()
    size = os.path.getsize(source) - 16
    decryptor = Cipher(algorithms.AES(material[:32]), modes.GCM(material[32:])).decryptor()
    with open(source, "rb", buffering=0) as src, open(destination, "wb", buffering=0) as dst:
        with _write_behind(dst, loop, chunk_size) as (take, give):
            left = size
            while left:
                n = src.readinto(chunk[: min(left, chunk_size)])
                out = take()
                give(out, decryptor.update_into(chunk[:n], out))
                left -= n
        decryptor.finalize_with_tag(src.read(16))


@contextlib.contextmanager
def _write_behind(dst: Any, loop: str, chunk_size: int) -> Iterator[tuple[Any, Any]]:
    """(take, give): take an output buffer, give it back filled with n bytes to be written."""
    if loop == "simple":
        out = bytearray(chunk_size + 16)
        view = memoryview(out)
        yield (lambda: out), (lambda _buffer, n: dst.write(view[:n]))
        return
    free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
    full: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
    for _ in range(3):
        free.put(bytearray(chunk_size + 16))

    def writer() -> None:
        while (item := full.get()) is not None:
            buffer, n = item
            dst.write(memoryview(buffer)[:n])
            free.put(buffer)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        yield free.get, lambda buffer, n: full.put((buffer, n))
    finally:
        full.put(None)
        thread.join()


def _sdk(
    mode: str, source: str, destination: str, state: str, arn: str, suite: str, frame: int
) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import aws_encryption_sdk
        from aws_encryption_sdk import CommitmentPolicy, StrictAwsKmsMasterKeyProvider
        from aws_encryption_sdk.identifiers import Algorithm

    from kmslab import LocalKms

    with LocalKms(state=state) as lab:
        provider = StrictAwsKmsMasterKeyProvider(
            key_ids=[arn], botocore_session=lab.botocore_session()
        )
        client = aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        )
        options: dict[str, Any] = {}
        if mode == "encrypt":
            options = {"frame_length": frame, "algorithm": Algorithm.get_by_id(int(suite, 0))}
        start = time.perf_counter()
        with (
            open(source, "rb") as src,
            open(destination, "wb") as dst,
            client.stream(
                mode="e" if mode == "encrypt" else "d", source=src, key_provider=provider, **options
            ) as stream,
        ):
            while chunk := stream.read(MiB):
                dst.write(chunk)
        _emit_op(time.perf_counter() - start)


def _kmslab(
    mode: str, source: str, destination: str, state: str, arn: str, suite: str, frame: int
) -> None:
    from kmslab import LocalKms, envelope

    with LocalKms(state=state) as lab:
        kms = lab.client()
        start = time.perf_counter()
        if mode == "encrypt":
            envelope.encrypt_file(
                kms, source, destination, key_id=arn, suite=suite, frame_length=frame
            )
        else:
            envelope.decrypt_file(kms, source, destination)
        _emit_op(time.perf_counter() - start)


_OP: dict[str, float] = {}


def _note_hwm_before(module: Any) -> None:
    """Record VmHWM just before the envelope call the command makes (after the lab and client)."""
    for name in ("encrypt_stream", "decrypt_stream"):
        real = getattr(module, name)

        def wrapped(*args: Any, _real: Any = real, **kwargs: Any) -> Any:
            _OP["hwm_before_op_kib"] = _status_kib("VmHWM")
            return _real(*args, **kwargs)

        setattr(module, name, wrapped)


def _emit_op(seconds: float) -> None:
    _OP["op_seconds"] = seconds


def child(role: str, args: list[str]) -> int:
    import kmslab  # every measured process imports kmslab first

    del kmslab
    base = _status_kib("VmHWM")
    code = 0
    if role == "cli":
        from kmslab import envelope
        from kmslab.cli import main

        _note_hwm_before(envelope)
        code = main(args)
    elif role == "plain":
        _plain(args[0], args[1], args[2], args[3], int(args[4]))
    elif role == "sdk":
        _sdk(args[0], args[1], args[2], args[3], args[4], args[5], int(args[6]))
    elif role == "api":
        _kmslab(args[0], args[1], args[2], args[3], args[4], args[5], int(args[6]))
    else:
        raise SystemExit(f"unknown child role {role}")
    report = {"code": code, "hwm_base_kib": base, "hwm_peak_kib": _status_kib("VmHWM"), **_OP}
    print(json.dumps(report), file=sys.stdout, flush=True)
    return code


# -- parent --------------------------------------------------------------------------------------


_CHILD_ENV: dict[str, str] = dict(os.environ)


def child_environment(work: Path) -> None:
    """Children run with cached bytecode, as an installed kmslab does.

    ``pip install`` compiles every module, and Python caches what it compiles; but with
    ``PYTHONDONTWRITEBYTECODE`` set (as on some CI and container images) every process would
    compile kmslab's modules from source again (~0.4 s here), a cost no installed command pays.
    The children write their bytecode under ``work`` (removed at the end), and a warm-up run
    fills it before anything is timed. The plain processes get the same treatment.
    """
    _CHILD_ENV.pop("PYTHONDONTWRITEBYTECODE", None)
    _CHILD_ENV["PYTHONPYCACHEPREFIX"] = str(work / "pycache")


SETTLE_SECONDS = 3.0  # see prime_memory
_priming = True  # main() turns it off for --no-prime
_SCRATCH = "prime.scratch"


def prime_memory(work: Path, nbytes: int) -> None:
    """Write and delete ``nbytes`` of scratch file, so that the child writes into recent memory.

    Where the kernel returns memory that has stayed free for a couple of seconds to the system
    beneath it (free page reporting, as some hosts run it), using such memory again costs several
    times more than using memory freed a moment ago: here a new 1 GiB file took 0.35 s to write
    into memory freed just before, and 2.3 s into memory free for 5 s. A process's file output
    goes into whatever free memory the kernel picks, so without this step the time of a run would
    depend on its place in the sequence (what the run before it freed, and when), not on its code.
    First ``settle``: whatever an earlier step freed is reported meanwhile, so no report is due
    while the child runs; then the scratch file's page cache is freed just before the child
    starts, and the child's output lands in it. ``nbytes`` is the child's output plus a margin.
    On a machine that does not report free memory this costs a write into the page cache and
    changes nothing.
    """
    time.sleep(SETTLE_SECONDS)
    scratch = work / _SCRATCH
    block = memoryview(bytearray(4 * MiB))
    with open(scratch, "wb", buffering=0) as out:
        left = nbytes
        while left > 0:
            left -= out.write(block[: min(left, len(block))])
    scratch.unlink()  # the dirty pages are dropped, not written back


def run_child(
    role: str, *args: str, cached: Path | None = None, prime: tuple[Path, int] | None = None
) -> dict[str, Any]:
    """Run one child; ``cached``: its input file, read into the page cache first (untimed);
    ``prime``: the work folder and about how much the child writes (see :func:`prime_memory`)."""
    if cached is not None:
        # Every run finds its input in the page cache: a host may reclaim the cache of files
        # idle for a while, which would make some runs read from the disk, depending on their
        # place in the sequence.
        buffer = memoryview(bytearray(16 * MiB))
        with open(cached, "rb", buffering=0) as warm:
            while warm.readinto(buffer):
                pass
    # Start every run with no dirty pages, so that no run pays for its predecessor's writeback.
    os.sync()
    if prime is not None and _priming:
        folder, nbytes = prime
        prime_memory(folder, nbytes + nbytes // 4)
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", role, *args],
        capture_output=True,
        text=True,
        check=False,
        env=_CHILD_ENV,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"child {role} {' '.join(args)} failed:\n{done.stderr}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["wall"] = wall
    return report


def make_plaintext(path: Path, size: int) -> None:
    block = os.urandom(16 * MiB)
    with open(path, "wb") as out:
        left = size
        while left:
            out.write(block[: min(left, len(block))])
            left -= min(left, len(block))


def mib_s(size: int, seconds: float) -> float:
    return size / seconds / MiB


def median(values: list[float]) -> float:
    return statistics.median(values)


PLAIN_LOOPS = ("simple", "threaded")
PLAIN_CHUNK = 64 << 10  # see the module docstring


def section_processes(
    work: Path, size: int, repeat: int, state: str, arn: str, plain_chunk: int = PLAIN_CHUNK
) -> list[str]:
    plain = work / "plain.bin"
    make_plaintext(plain, size)
    names = [f"aes-{loop}-{op}" for op in ("enc", "dec") for loop in PLAIN_LOOPS]
    names[2:2] = ["kms-enc"]
    names.append("kms-dec")
    times: dict[str, list[float]] = {k: [] for k in names}
    growth: dict[str, list[float]] = {k: [] for k in names}
    op_growth: dict[str, list[float]] = {"kms-enc": [], "kms-dec": []}
    message = str(work / "m.esdk")
    cli = ("cli", "encrypt", "--state", state, "--key-id", arn, str(plain), "-o", message)
    jobs: dict[str, tuple[str, ...]] = {
        "kms-enc": cli,
        "kms-dec": ("cli", "decrypt", "--state", state, message, "-o", str(work / "m.out")),
    }
    outputs = {"kms-enc": work / "m.esdk", "kms-dec": work / "m.out"}
    inputs = {"kms-enc": plain, "kms-dec": work / "m.esdk"}
    for loop in PLAIN_LOOPS:
        sealed, opened = work / f"aes-{loop}.bin", work / f"aes-{loop}.out"
        chunk = str(plain_chunk)
        jobs[f"aes-{loop}-enc"] = ("plain", "encrypt", str(plain), str(sealed), loop, chunk)
        jobs[f"aes-{loop}-dec"] = ("plain", "decrypt", str(sealed), str(opened), loop, chunk)
        outputs[f"aes-{loop}-enc"], outputs[f"aes-{loop}-dec"] = sealed, opened
        inputs[f"aes-{loop}-enc"], inputs[f"aes-{loop}-dec"] = plain, sealed
    encrypts, decrypts = names[:3], names[3:]
    for round_ in range(repeat):
        # Each round starts the encryptions, then the decryptions, at a different one: on a
        # shared virtual machine the place in the sequence matters (page cache, memory the host
        # reclaimed), and rotating spreads it evenly over the processes compared.
        turn = round_ % len(encrypts)
        for name in encrypts[turn:] + encrypts[:turn] + decrypts[turn:] + decrypts[:turn]:
            # Every run writes a new file: on ext4, replacing an existing file (by rename, as
            # kmslab's temp-file-and-rename does, or by truncation) forces its write-back at once.
            if name.endswith("enc"):
                outputs[name].unlink(missing_ok=True)
            report = run_child(*jobs[name], cached=inputs[name], prime=(work, size))
            times[name].append(report["wall"])
            growth[name].append((report["hwm_peak_kib"] - report["hwm_base_kib"]) / 1024)
            if "hwm_before_op_kib" in report:
                op_growth[name].append(
                    (report["hwm_peak_kib"] - report["hwm_before_op_kib"]) / 1024
                )
            if name.endswith("dec"):
                outputs[name].unlink()
    for leftover in work.glob("aes-*"):
        leftover.unlink()
    (work / "m.esdk").unlink(missing_ok=True)
    plain.unlink()
    fixed = _fixed_costs(work, repeat, state, arn)
    lines = [
        f"1. whole processes, {size / MiB:.0f} MiB file, median (min-max) of {repeat} interleaved "
        "runs (each imports kmslab first; kmslab pays its KMS call and the state file)",
        f"   {'process':<48} {'seconds (min-max)':>19} {'MiB/s':>6} {'peak growth MiB':>16}",
    ]
    frame_kib = kmslab_default()[1] // 1024
    label = {
        "kms-enc": f"kmslab encrypt (0x0478, {frame_kib} KiB frames)",
        "kms-dec": "kmslab decrypt",
    }
    for loop in PLAIN_LOOPS:
        for op in ("enc", "dec"):
            label[f"aes-{loop}-{op}"] = (
                f"plain AES-GCM, {loop} loop, {plain_chunk >> 10} KiB, {op}rypt"
            )
    for name in names:
        t = median(times[name])
        spread = f"{t:.2f} ({min(times[name]):.2f}-{max(times[name]):.2f})"
        lines.append(
            f"   {label[name]:<48} {spread:>19} {mib_s(size, t):>6.0f} "
            f"{median(growth[name]):>16.1f}"
        )
    plain_fixed, enc_fixed, dec_fixed = fixed
    lines.append(
        f"   the same processes on an empty file (start-up, lab, KMS call): plain "
        f"{plain_fixed:.2f} s, kmslab encrypt {enc_fixed:.2f} s, kmslab decrypt {dec_fixed:.2f} s"
    )
    verdicts = []
    for op in ("enc", "dec"):
        # The goal: against the plain textbook loop (the "plain AES-256-GCM streaming").
        kmslab_time = median(times[f"kms-{op}"])
        ratio = median(times[f"aes-simple-{op}"]) / kmslab_time
        what = f"kmslab {op}rypt / plain AES-GCM throughput (simple loop)"
        verdicts.append(_verdict(what, ratio, GOAL_VS_AES))
        threaded = median(times[f"aes-threaded-{op}"])
        plain_body = threaded - plain_fixed
        kmslab_body = kmslab_time - (dec_fixed if op == "dec" else enc_fixed)
        bodies = (
            f"; with the empty-file times taken out of both: {plain_body / kmslab_body:.2f}"
            if plain_body > 0 and kmslab_body > 0
            else ""
        )
        verdicts.append(
            f"   info kmslab {op}rypt / the plain loop given kmslab's writer thread: "
            f"{threaded / kmslab_time:.2f}{bodies}"
        )
    for op in ("enc", "dec"):
        peak = max(op_growth[f"kms-{op}"])
        ok = peak <= GOAL_MEMORY_MIB
        verdicts.append(
            f"   {'OK  ' if ok else 'MISS'} kmslab {op}rypt peak memory growth {peak:.1f} MiB "
            f"from the envelope call, {max(growth[f'kms-{op}']):.1f} MiB for the whole command "
            f"(goal <= {GOAL_MEMORY_MIB:.0f})"
        )
    return lines + verdicts


def _fixed_costs(work: Path, repeat: int, state: str, arn: str) -> tuple[float, float, float]:
    """Median wall times on an empty file: plain encrypt, kmslab encrypt, kmslab decrypt."""
    empty = work / "empty.bin"
    empty.write_bytes(b"")
    plain_times, encrypt_times, decrypt_times = [], [], []
    sealed = str(work / "e.esdk")
    for _ in range(repeat):
        job: tuple[str, ...] = ("plain", "encrypt", str(empty), str(work / "e.aes"), "simple")
        job += (str(PLAIN_CHUNK),)
        plain_times.append(run_child(*job)["wall"])
        (work / "e.esdk").unlink(missing_ok=True)
        job = ("cli", "encrypt", "--state", state, "--key-id", arn, str(empty), "-o", sealed)
        encrypt_times.append(run_child(*job)["wall"])
        job = ("cli", "decrypt", "--state", state, sealed, "-o", str(work / "e.out"))
        decrypt_times.append(run_child(*job)["wall"])
        (work / "e.out").unlink()
    return median(plain_times), median(encrypt_times), median(decrypt_times)


def warm_up(work: Path, state: str, arn: str) -> None:
    """One untimed run of every kind of child: compiles the bytecode the timed runs reuse."""
    _fixed_costs(work, 1, state, arn)


def _verdict(what: str, value: float, goal: float) -> str:
    ok = value >= goal
    return f"   {'OK  ' if ok else 'MISS'} {what}: {value:.2f} (goal >= {goal:g})"


SDK_DEFAULT = ("0x0578", 4096)


def kmslab_default() -> tuple[str, int]:
    from kmslab.envelope import DEFAULT_FRAME_LENGTH

    return ("0x0478", DEFAULT_FRAME_LENGTH)


def section_sdk(work: Path, size: int, repeat: int, state: str, arn: str) -> list[str]:
    plain = work / "sdk-plain.bin"
    make_plaintext(plain, size)
    kmslab_defaults = kmslab_default()
    cases = {
        "defaults": (SDK_DEFAULT, kmslab_defaults),
        "both 0x0578, 4 KiB frames": (SDK_DEFAULT, SDK_DEFAULT),
        f"both 0x0478, {kmslab_defaults[1] // 1024} KiB frames": (kmslab_defaults, kmslab_defaults),
    }
    results: dict[tuple[str, str, str], list[float]] = {}
    for _ in range(repeat):
        for case, settings in cases.items():
            for side, (suite, frame) in zip(("sdk", "kmslab"), settings, strict=True):
                role = "sdk" if side == "sdk" else "api"
                message = work / f"{side}.esdk"
                for mode, src, dst in (
                    ("encrypt", plain, message),
                    ("decrypt", message, work / f"{side}.out"),
                ):
                    report = run_child(
                        role,
                        mode,
                        str(src),
                        str(dst),
                        state,
                        arn,
                        suite,
                        str(frame),
                        cached=src,
                        prime=(work, size),
                    )
                    results.setdefault((case, side, mode), []).append(report["op_seconds"])
                (work / f"{side}.out").unlink()
                message.unlink()
    plain.unlink()
    lines = [
        f"2. kmslab against aws-encryption-sdk {_sdk_version()}, {size / MiB:.0f} MiB file to "
        f"file, median of {repeat} (timed from the first KMS call to the last byte)",
        f"   {'settings':<30} {'op':<8} {'SDK MiB/s':>10} {'kmslab MiB/s':>13} {'kmslab/SDK':>11}",
    ]
    verdicts = []
    for case, (sdk_settings, kms_settings) in cases.items():
        for mode in ("encrypt", "decrypt"):
            sdk_t = median(results[(case, "sdk", mode)])
            kms_t = median(results[(case, "kmslab", mode)])
            ratio = sdk_t / kms_t
            name = case
            if case == "defaults":
                name = f"own defaults {sdk_settings[0]}/{kms_settings[0]}"
            lines.append(
                f"   {name:<30} {mode:<8} {mib_s(size, sdk_t):>10.0f} {mib_s(size, kms_t):>13.0f} "
                f"{ratio:>10.1f}x"
            )
            goal = GOAL_VS_SDK if case == "defaults" else 1.0
            verdicts.append(_verdict(f"{case}, {mode}: kmslab/SDK speed", ratio, goal))
    return lines + verdicts


def _sdk_version() -> str:
    from importlib.metadata import version

    return version("aws-encryption-sdk")


def section_frames(work: Path, size: int, repeat: int, state: str, arn: str) -> list[str]:
    plain = work / "frames-plain.bin"
    make_plaintext(plain, size)
    frames = [4096, 16384, 65536, 262144, MiB, 4 * MiB]
    results: dict[int, list[float]] = {f: [] for f in frames}
    for _ in range(repeat):
        for frame in frames:
            (work / "f.esdk").unlink(missing_ok=True)
            report = run_child(
                "api",
                "encrypt",
                str(plain),
                str(work / "f.esdk"),
                state,
                arn,
                "0x0478",
                str(frame),
                cached=plain,
                prime=(work, size),
            )
            results[frame].append(report["op_seconds"])
    (work / "f.esdk").unlink()
    plain.unlink()
    lines = [f"3. kmslab encrypt by frame length, {size / MiB:.0f} MiB, median of {repeat}"]
    for frame in frames:
        lines.append(
            f"   {frame // 1024:>6} KiB frames {mib_s(size, median(results[frame])):>8.0f} MiB/s"
        )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=1 << 30, help="section 1 file size")
    parser.add_argument("--sdk-size", type=parse_size, default=256 * MiB, help="section 2 size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--plain-chunk", type=parse_size, default=PLAIN_CHUNK, help="plain loops' chunk size"
    )
    parser.add_argument("--dir", default=None, help="where the files go (default: temp dir)")
    parser.add_argument("--frames", action="store_true", help="also sweep the frame length")
    parser.add_argument("--skip-sdk", action="store_true", help="skip section 2")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even if a goal is missed")
    parser.add_argument(
        "--no-prime",
        action="store_true",
        help="do not free fresh memory for each child's output (see prime_memory)",
    )
    parser.add_argument(
        "--inherit-bytecode-setting",
        action="store_true",
        help="children keep this environment's PYTHONDONTWRITEBYTECODE (default: cached bytecode)",
    )
    args = parser.parse_args()
    global _priming
    _priming = not args.no_prime

    from kmslab import LocalKms

    work = Path(tempfile.mkdtemp(prefix="kmslab-bench-", dir=args.dir))
    try:
        state = str(work / "lab.db")
        with LocalKms(state=state) as lab:
            arn = lab.client().create_key(Description="benchmark")["KeyMetadata"]["Arn"]
        if not args.inherit_bytecode_setting:
            child_environment(work)
        bytecode = (
            "compiled from source in every process"
            if _CHILD_ENV.get("PYTHONDONTWRITEBYTECODE")
            else "cached"
        )
        print(
            f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, files in {work}, "
            f"bytecode {bytecode}"
        )
        warm_up(work, state, arn)
        lines = section_processes(work, args.size, args.repeat, state, arn, args.plain_chunk)
        print("\n".join(lines), flush=True)
        if not args.skip_sdk:
            more = section_sdk(work, args.sdk_size, args.repeat, state, arn)
            print("\n".join(more), flush=True)
            lines += more
        if args.frames:
            print("\n".join(section_frames(work, args.sdk_size, args.repeat, state, arn)))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    missed = [line for line in lines if line.lstrip().startswith("MISS")]
    return 1 if missed and not args.no_check else 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        sys.exit(child(sys.argv[2], sys.argv[3:]))
    sys.exit(main())
