"""The ``kmslab`` command as a newcomer uses it: create a key, encrypt, decrypt, rewrap, inspect.

Each step is a real process (``python -m kmslab.cli``) sharing one state file, so keys made by one
command are there for the next, as between shell commands.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kmslab import cli, envelope

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class Shell:
    """Runs ``kmslab ...`` in ``cwd`` with a private state file and no real AWS settings."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.cwd = cwd
        self.env = env

    def __call__(
        self, *args: str, stdin: bytes | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "kmslab.cli", *args],
            cwd=self.cwd,
            env=self.env,
            input=stdin,
            capture_output=True,
            timeout=120,
            check=False,
        )
        if ok:
            assert done.returncode == 0, done.stderr.decode()
        return done


@pytest.fixture
def kmslab_sh(tmp_path: Path) -> Shell:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "KMSLAB_"))}
    env["KMSLAB_STATE"] = str(tmp_path / "state" / "lab.db")
    work = tmp_path / "work"
    work.mkdir()
    return Shell(work, env)


def one_line_error(done: subprocess.CompletedProcess[bytes]) -> str:
    assert done.returncode == 1
    text = done.stderr.decode()
    assert "Traceback" not in text
    lines = text.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmslab: error: "), text
    return lines[0]


def test_newcomer_round_trip(kmslab_sh: Shell) -> None:
    work = kmslab_sh.cwd
    key_id = kmslab_sh("create-key", "--alias", "alias/docs", "--description", "my first key")
    assert UUID.match(key_id.stdout.decode().strip())
    (work / "notes.txt").write_bytes(b"meet at noon\n" * 50_000)

    kmslab_sh(
        "encrypt",
        "--key-id",
        "alias/docs",
        "--context",
        "project=docs",
        "notes.txt",
        "-o",
        "notes.txt.esdk",
    )
    assert (work / "notes.txt.esdk").read_bytes()[:3] == b"\x02\x04\x78"
    kmslab_sh("decrypt", "notes.txt.esdk", "-o", "back.txt", "--context", "project=docs")
    assert (work / "back.txt").read_bytes() == (work / "notes.txt").read_bytes()

    # A wrong context: one line on stderr, exit status 1, and no output file at all.
    error = one_line_error(
        kmslab_sh(
            "decrypt", "notes.txt.esdk", "-o", "wrong.txt", "--context", "project=other", ok=False
        )
    )
    assert "project" in error
    assert sorted(p.name for p in work.iterdir()) == ["back.txt", "notes.txt", "notes.txt.esdk"]

    # Move the file to a second key; its body bytes stay as they were.
    new_key = kmslab_sh("create-key").stdout.decode().strip()
    kmslab_sh("rewrap", "--key-id", new_key, "notes.txt.esdk", "-o", "moved.esdk")
    before = envelope.inspect(work / "notes.txt.esdk").to_dict()
    after = json.loads(kmslab_sh("inspect", "--json", "moved.esdk").stdout)
    assert after["encrypted_data_keys"][0]["provider_info"].endswith(new_key)
    old_bytes, new_bytes = (
        (work / "notes.txt.esdk").read_bytes(),
        (work / "moved.esdk").read_bytes(),
    )
    assert (
        old_bytes[slice(*before["sections"]["body"])]
        == new_bytes[slice(*after["sections"]["body"])]
    )

    # A pipe: standard input to standard output.
    out = kmslab_sh("decrypt", "-", "-o", "-", stdin=new_bytes).stdout
    assert out == (work / "notes.txt").read_bytes()


def test_pipes_inspect_and_signed_suite_in_process(
    capsysbinary: pytest.CaptureFixture[bytes], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KMSLAB_STATE", str(tmp_path / "lab.db"))
    assert cli.main(["create-key", "--alias", "alias/pipes"]) == 0
    capsysbinary.readouterr()

    def run(stdin: bytes, *args: str) -> bytes:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        assert cli.main(list(args)) == 0
        return capsysbinary.readouterr().out

    sealed = run(
        b"from a pipe",
        "encrypt",
        "--key-id",
        "alias/pipes",
        "--suite",
        "0x0578",
        "--frame-length",
        "4KiB",
        "-",
        "-o",
        "-",
    )
    assert run(sealed, "decrypt", "-", "-o", "-") == b"from a pipe"
    table = run(sealed, "inspect", "-").decode()
    assert "AES_256_GCM_HKDF_SHA512_COMMIT_KEY_ECDSA_P384" in table and "Signature" in table
    mapped = json.loads(run(sealed, "inspect", "--json", "-"))
    assert mapped["frame_length"] == 4096 and "footer" in mapped["sections"]


def run_in_process(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``kmslab ARGS`` through :func:`kmslab.cli.main`, in this process (no interpreter start)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def in_process_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, _, err = run_in_process(capsys, *args)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kmslab: error: "), err
    return lines[0]


def test_errors_are_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KMSLAB_STATE", str(tmp_path / "lab.db"))
    monkeypatch.chdir(tmp_path)
    Path("a.txt").write_bytes(b"a")
    missing = in_process_error(capsys, "encrypt", "--key-id", "alias/none", "a.txt", "-o", "a.esdk")
    assert "NotFoundException" in missing
    assert "No such file" in in_process_error(capsys, "decrypt", "nope.esdk", "-o", "x")
    Path("junk.esdk").write_bytes(b"not a message")
    assert "version" in in_process_error(capsys, "decrypt", "junk.esdk", "-o", "x")
    assert "KEY=VALUE" in in_process_error(
        capsys, "encrypt", "--key-id", "k", "--context", "novalue", "a.txt", "-o", "b"
    )
    Path("garbage.db").write_bytes(b"not a lab")
    assert "state file" in in_process_error(capsys, "create-key", "--state", "garbage.db")
    left = sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("lab.db"))
    assert left == ["a.txt", "garbage.db", "junk.esdk"]


def test_state_file_choices(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("KMSLAB_STATE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_in_process(capsys, "create-key", "--alias", "alias/xdg")
    assert code == 0 and UUID.match(out.strip())
    assert (tmp_path / "xdg" / "kmslab" / "lab.db").exists()
    Path("a.txt").write_bytes(b"a")
    assert (
        run_in_process(capsys, "encrypt", "--key-id", "alias/xdg", "a.txt", "-o", "a.esdk")[0] == 0
    )
    # An explicit --state, or $KMSLAB_STATE, is another lab: the alias is not there.
    other = str(tmp_path / "other.db")
    error = in_process_error(
        capsys, "encrypt", "--state", other, "--key-id", "alias/xdg", "a.txt", "-o", "b.esdk"
    )
    assert "NotFoundException" in error
    monkeypatch.setenv("KMSLAB_STATE", other)
    assert "NotFoundException" in in_process_error(capsys, "decrypt", "a.esdk", "-o", "a.out")


def test_default_state_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KMSLAB_STATE", str(tmp_path / "s.db"))
    assert cli.default_state_path() == tmp_path / "s.db"
    monkeypatch.delenv("KMSLAB_STATE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert cli.default_state_path() == tmp_path / "kmslab" / "lab.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli.default_state_path() == tmp_path / ".local" / "share" / "kmslab" / "lab.db"


def test_sizes_and_the_old_subcommands(capsys: pytest.CaptureFixture[str]) -> None:
    assert [cli._size(s) for s in ("4096", "64KiB", "1MiB", "2m")] == [
        4096,
        65536,
        1 << 20,
        2 << 20,
    ]
    assert cli.main(["version"]) == 0
    assert capsys.readouterr().out.startswith("kmslab ")
    with pytest.raises(SystemExit):
        cli.main(["encrypt", "in"])  # --key-id and -o are required


# -- the file commands' way to the local lab ----------------------------------------------------

START_UP_PROBE = """
import json, sys
from kmslab import cli
codes = [
    cli.main(["encrypt", "--key-id", sys.argv[1], "a.txt", "-o", "a.esdk"]),
    cli.main(["decrypt", "a.esdk", "-o", "b.txt"]),
]
loaded = sorted(m for m in ("boto3", "kmslab.bench") if m in sys.modules)
print(json.dumps({"codes": codes, "loaded": loaded}))
"""


def test_file_commands_reach_the_lab_without_boto3(kmslab_sh: Shell) -> None:
    """encrypt/decrypt start without boto3 or the bench package (~0.35 s of start-up), and
    their requests reach the lab as a boto3 client's would: same caller, same trail."""
    work = kmslab_sh.cwd
    key_id = kmslab_sh("create-key", "--alias", "alias/fast").stdout.decode().strip()
    (work / "a.txt").write_bytes(b"x" * 300_000)
    done = subprocess.run(
        [sys.executable, "-c", START_UP_PROBE, "alias/fast"],
        cwd=work,
        env=kmslab_sh.env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout.decode().splitlines()[-1])
    assert report == {"codes": [0, 0], "loaded": []}
    assert (work / "b.txt").read_bytes() == (work / "a.txt").read_bytes()

    from kmslab import LocalKms

    with LocalKms(state=kmslab_sh.env["KMSLAB_STATE"]) as lab:
        # A call before the first look at the trail (which the lab reads from the state file
        # only then): it comes last, and no event appears twice.
        arn = lab.client().describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        trail = lab.trail
    assert trail[-1]["eventName"] == "DescribeKey"
    assert len({e["eventID"] for e in trail}) == len(trail)
    events = [e for e in trail if e["eventName"] in ("GenerateDataKey", "Decrypt")]
    assert [e["eventName"] for e in events] == ["GenerateDataKey", "Decrypt"]
    for event in events:
        assert event["userIdentity"]["arn"] == "arn:aws:iam::111122223333:root"
        assert event["requestParameters"]["keyId"] in ("alias/fast", arn)
        assert event.get("errorCode") is None
        assert "plaintext" not in json.dumps(event).lower()


def _outcome(call: object, **params: object) -> tuple[str, object]:
    """("ok", the response's non-random members) or ("error", (code, message))."""
    assert callable(call)
    try:
        response = call(**params)
    except Exception as exc:  # both clients' errors, compared as AWS errors
        error = envelope._aws_error(exc)
        assert error is not None, repr(exc)
        return "error", error
    assert isinstance(response, dict)
    kept = {k: v for k, v in response.items() if k not in ("ResponseMetadata",)}
    kept.pop("CiphertextBlob", None)
    plaintext = kept.pop("Plaintext", None)
    return "ok", (sorted(kept.items()), None if plaintext is None else len(plaintext))


def test_lab_client_of_the_file_commands_answers_as_boto3(tmp_path: Path) -> None:
    """The same calls through cli's boto3-free client and through a real boto3 client of the
    same lab: the same answers, the same AWS error codes and messages."""
    from kmslab import LocalKms

    with LocalKms(state=tmp_path / "lab.db") as lab:
        boto = lab.client()
        fast = cli._LabKms(lab, "us-east-1")
        key = boto.create_key()["KeyMetadata"]["Arn"]
        off = boto.create_key()["KeyMetadata"]["Arn"]
        boto.disable_key(KeyId=off)
        blob = boto.encrypt(KeyId=key, Plaintext=b"k" * 32, EncryptionContext={"a": "b"})[
            "CiphertextBlob"
        ]
        cases: list[tuple[str, dict[str, object]]] = [
            ("generate_data_key", {"KeyId": key, "NumberOfBytes": 32}),
            ("generate_data_key", {"KeyId": off, "NumberOfBytes": 32}),
            ("generate_data_key", {"KeyId": "alias/missing", "NumberOfBytes": 32}),
            ("generate_data_key", {"KeyId": key, "NumberOfBytes": 2048}),
            ("encrypt", {"KeyId": key, "Plaintext": b"k" * 32, "EncryptionContext": {"a": "b"}}),
            ("decrypt", {"CiphertextBlob": blob, "KeyId": key, "EncryptionContext": {"a": "b"}}),
            ("decrypt", {"CiphertextBlob": blob, "KeyId": key, "EncryptionContext": {"a": "c"}}),
            ("decrypt", {"CiphertextBlob": blob, "KeyId": off}),
            ("describe_key", {"KeyId": "alias/missing"}),
        ]
        for name, params in cases:
            expected = _outcome(getattr(boto, name), **params)
            assert _outcome(getattr(fast, name), **params) == expected, (name, params)
        assert _outcome(boto.generate_data_key, KeyId=off, NumberOfBytes=32)[1][0] == (
            "DisabledException"
        )
        with pytest.raises(cli.CommandError, match="region_name"):
            cli._LabKms(lab, "not a region")
