"""kmslab envelope encryption against plain AES-GCM and the aws-encryption-sdk, side by side.

Every measurement is a child process that imports kmslab first, started by this script; runs are
interleaved (A, B, A, B, ...) and the medians compared, so that drift on a shared machine hits all
sides alike. Three sections:

1. ``kmslab encrypt`` / ``kmslab decrypt`` of a ``--size`` file (default 1 GiB), as whole
   processes (interpreter start, imports, the KMS call against a persisted local lab, file I/O),
   against a process that streams the same file through one AES-256-GCM ``Cipher`` with
   pyca/cryptography (1 MiB ``update_into`` chunks). Goal: kmslab's throughput >= 0.9 of it.
   Also the peak memory growth of the kmslab processes: ``VmHWM`` (from /proc/self/status, read
   in the child; ``ru_maxrss`` is inherited across fork+exec) at the end, minus ``VmHWM`` just
   before the envelope call (after the lab and the boto3 client exist) -- goal: <= 64 MiB -- and,
   for information, minus ``VmHWM`` after ``import kmslab`` (the whole command). The same
   processes on an empty file show the fixed costs (start-up, lab, client, KMS call).
2. kmslab against the aws-encryption-sdk (legacy ``StrictAwsKmsMasterKeyProvider`` over the same
   local lab) on ``--sdk-size`` (default 256 MiB), file to file, timed inside each child from the
   first KMS call to the last byte written: each with its own defaults (goal: kmslab >= 5x), then
   both with the SDK's defaults (0x0578, 4 KiB frames) and both with kmslab's (0x0478, 256 KiB).
3. With ``--frames``: kmslab encrypt throughput by frame length (the measurement behind the
   default).

    python benchmarks/envelope_vs_sdk.py [--size 1GiB] [--sdk-size 256MiB] [--repeat 3]
                                         [--dir DIR] [--frames] [--skip-sdk]

Exit status 1 if a goal is missed (``--no-check``: always 0). Files go to ``--dir`` (default: the
system temporary directory) and are removed at the end; ``sync`` runs before each child, so no
run pays for the write-back of the one before, and every run writes a new file (replacing an
existing one costs an immediate write-back on ext4: its ``auto_da_alloc`` heuristic flushes a file
renamed over another, which is also what makes kmslab's temp-file-and-rename crash-safe there).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
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


def _plain(mode: str, source: str, destination: str) -> None:
    """One AES-256-GCM stream over the whole file, 1 MiB chunks, tag at the end."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key_file = destination + ".key" if mode == "encrypt" else source + ".key"
    chunk = memoryview(bytearray(MiB))
    out = memoryview(bytearray(MiB + 16))
    if mode == "encrypt":
        key, nonce = os.urandom(32), os.urandom(12)
        Path(key_file).write_bytes(key + nonce)
        cipher = Cipher(algorithms.AES(key), modes.GCM(nonce)).encryptor()
        with open(source, "rb", buffering=0) as src, open(destination, "wb", buffering=0) as dst:
            while n := src.readinto(chunk):
                dst.write(out[: cipher.update_into(chunk[:n], out)])
            cipher.finalize()
            dst.write(cipher.tag)
        return
    material = Path(key_file).read_bytes()
    size = os.path.getsize(source) - 16
    decryptor = Cipher(algorithms.AES(material[:32]), modes.GCM(material[32:])).decryptor()
    with open(source, "rb", buffering=0) as src, open(destination, "wb", buffering=0) as dst:
        left = size
        while left:
            n = src.readinto(chunk[: min(left, MiB)])
            dst.write(out[: decryptor.update_into(chunk[:n], out)])
            left -= n
        decryptor.finalize_with_tag(src.read(16))


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
        _plain(*args)
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


def run_child(role: str, *args: str) -> dict[str, Any]:
    # Start every run with no dirty pages, so that no run pays for its predecessor's writeback.
    os.sync()
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--child", role, *args],
        capture_output=True,
        text=True,
        check=False,
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


def section_processes(work: Path, size: int, repeat: int, state: str, arn: str) -> list[str]:
    plain = work / "plain.bin"
    make_plaintext(plain, size)
    times: dict[str, list[float]] = {k: [] for k in ("aes-enc", "kms-enc", "aes-dec", "kms-dec")}
    growth: dict[str, list[float]] = {"kms-enc": [], "kms-dec": [], "aes-enc": [], "aes-dec": []}
    op_growth: dict[str, list[float]] = {"kms-enc": [], "kms-dec": []}
    for _ in range(repeat):
        jobs = [
            ("aes-enc", ("plain", "encrypt", str(plain), str(work / "aes.bin"))),
            (
                "kms-enc",
                (
                    "cli",
                    "encrypt",
                    "--state",
                    state,
                    "--key-id",
                    arn,
                    str(plain),
                    "-o",
                    str(work / "m.esdk"),
                ),
            ),
            ("aes-dec", ("plain", "decrypt", str(work / "aes.bin"), str(work / "aes.out"))),
            (
                "kms-dec",
                (
                    "cli",
                    "decrypt",
                    "--state",
                    state,
                    str(work / "m.esdk"),
                    "-o",
                    str(work / "m.out"),
                ),
            ),
        ]
        for name, job in jobs:
            # Every run writes a new file: on ext4, replacing an existing file (by rename, as
            # kmslab's temp-file-and-rename does, or by truncation) forces its write-back at once.
            if name.endswith("enc"):
                (work / ("aes.bin" if name == "aes-enc" else "m.esdk")).unlink(missing_ok=True)
            report = run_child(*job)
            times[name].append(report["wall"])
            growth[name].append((report["hwm_peak_kib"] - report["hwm_base_kib"]) / 1024)
            if "hwm_before_op_kib" in report:
                op_growth[name].append(
                    (report["hwm_peak_kib"] - report["hwm_before_op_kib"]) / 1024
                )
            if name.endswith("dec"):
                out = work / ("aes.out" if name == "aes-dec" else "m.out")
                out.unlink()
    for leftover in ("aes.bin", "aes.bin.key", "m.esdk"):
        (work / leftover).unlink(missing_ok=True)
    plain.unlink()
    fixed = _fixed_costs(work, repeat, state, arn)
    lines = [
        f"1. whole processes, {size / MiB:.0f} MiB file, median of {repeat} interleaved runs "
        "(each imports kmslab first; kmslab pays its KMS call and the state file)",
        f"   {'process':<44} {'seconds':>8} {'MiB/s':>8} {'peak growth MiB':>16}",
    ]
    label = {
        "aes-enc": "plain AES-256-GCM stream, encrypt",
        "kms-enc": "kmslab encrypt (0x0478, 256 KiB frames)",
        "aes-dec": "plain AES-256-GCM stream, decrypt",
        "kms-dec": "kmslab decrypt",
    }
    for name in ("aes-enc", "kms-enc", "aes-dec", "kms-dec"):
        t = median(times[name])
        lines.append(
            f"   {label[name]:<44} {t:>8.2f} {mib_s(size, t):>8.0f} {median(growth[name]):>16.1f}"
        )
    plain_fixed, kmslab_fixed = fixed
    lines.append(
        f"   same processes on an empty file (start-up, lab, client, KMS call): plain "
        f"{plain_fixed:.2f} s, kmslab encrypt {kmslab_fixed:.2f} s"
    )
    verdicts = []
    for op in ("enc", "dec"):
        ratio = median(times[f"aes-{op}"]) / median(times[f"kms-{op}"])
        verdicts.append(_verdict(f"kmslab {op}rypt / plain AES-GCM throughput", ratio, GOAL_VS_AES))
    for op in ("enc", "dec"):
        plain_body = median(times[f"aes-{op}"]) - plain_fixed
        kmslab_body = median(times[f"kms-{op}"]) - kmslab_fixed
        if plain_body > 0 and kmslab_body > 0:
            verdicts.append(
                f"   info kmslab {op}rypt / plain with the empty-file times taken out: "
                f"{plain_body / kmslab_body:.2f}"
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


def _fixed_costs(work: Path, repeat: int, state: str, arn: str) -> tuple[float, float]:
    """Median wall time of the plain and the kmslab encrypt processes on an empty file."""
    empty = work / "empty.bin"
    empty.write_bytes(b"")
    plain_times, kmslab_times = [], []
    for _ in range(repeat):
        plain_times.append(run_child("plain", "encrypt", str(empty), str(work / "e.aes"))["wall"])
        (work / "e.esdk").unlink(missing_ok=True)
        job = ("encrypt", "--state", state, "--key-id", arn, str(empty), "-o", str(work / "e.esdk"))
        kmslab_times.append(run_child("cli", *job)["wall"])
    return median(plain_times), median(kmslab_times)


def _verdict(what: str, value: float, goal: float) -> str:
    ok = value >= goal
    return f"   {'OK  ' if ok else 'MISS'} {what}: {value:.2f} (goal >= {goal:g})"


SDK_DEFAULT = ("0x0578", 4096)
KMSLAB_DEFAULT = ("0x0478", 256 * 1024)


def section_sdk(work: Path, size: int, repeat: int, state: str, arn: str) -> list[str]:
    plain = work / "sdk-plain.bin"
    make_plaintext(plain, size)
    cases = {
        "defaults": (SDK_DEFAULT, KMSLAB_DEFAULT),
        "both 0x0578, 4 KiB frames": (SDK_DEFAULT, SDK_DEFAULT),
        "both 0x0478, 256 KiB frames": (KMSLAB_DEFAULT, KMSLAB_DEFAULT),
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
                        role, mode, str(src), str(dst), state, arn, suite, str(frame)
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
                "api", "encrypt", str(plain), str(work / "f.esdk"), state, arn, "0x0478", str(frame)
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
    parser.add_argument("--dir", default=None, help="where the files go (default: temp dir)")
    parser.add_argument("--frames", action="store_true", help="also sweep the frame length")
    parser.add_argument("--skip-sdk", action="store_true", help="skip section 2")
    parser.add_argument("--no-check", action="store_true", help="exit 0 even if a goal is missed")
    args = parser.parse_args()

    from kmslab import LocalKms

    work = Path(tempfile.mkdtemp(prefix="kmslab-bench-", dir=args.dir))
    try:
        state = str(work / "lab.db")
        with LocalKms(state=state) as lab:
            arn = lab.client().create_key(Description="benchmark")["KeyMetadata"]["Arn"]
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, files in {work}")
        lines = section_processes(work, args.size, args.repeat, state, arn)
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
