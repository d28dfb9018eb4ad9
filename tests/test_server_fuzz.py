"""Bad input at `kmslab serve`: every client mistake gets an AWS error shape with a 4xx, never a
5xx, never a hang, and the server keeps serving.

Most requests here are validly signed (botocore's SigV4Auth over the raw body), so they get past
the signature check and reach the parser. The fuzz test draws thousands of requests from a
seeded random generator: random JSON, member names from botocore's KMS model with values of
random types, truncated and corrupted bodies, random targets and content types.
"""

from __future__ import annotations

import base64
import http.client
import json
import random
import socket
import string
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest
from server_fixtures import (
    HOST,
    JSON_11,
    RawClient,
    Reply,
    ServeProcess,
    kms_client,
    server_log_problems,
    serving,
    sign,
)

FUZZ_SEED = 20240606
FUZZ_REQUESTS = 3000
FUZZ_SECONDS = 20.0
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with serving(tmp_path_factory.mktemp("serve-fuzz")) as server:
        yield server


@pytest.fixture(scope="module")
def key_id(served: ServeProcess) -> str:
    kms = kms_client(served.endpoint)
    key = str(kms.create_key(Description="fuzz target")["KeyMetadata"]["KeyId"])
    kms.create_alias(AliasName="alias/fuzz", TargetKeyId=key)
    return key


@pytest.fixture
def raw(served: ServeProcess) -> Iterator[RawClient]:
    with RawClient(served.port) as client:
        yield client


def still_serves(served: ServeProcess) -> None:
    assert served.running(), served.stderr()
    kms = kms_client(served.endpoint)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    blob = kms.encrypt(KeyId=key, Plaintext=b"still here")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"still here"


def assert_aws_client_error(reply: Reply, code: str | None = None) -> None:
    assert 400 <= reply.status < 500, reply
    assert reply.headers.get("content-type", "").startswith("application/x-amz-json-1."), reply
    doc = reply.json()
    assert isinstance(doc, dict) and isinstance(doc.get("__type"), str), reply
    assert isinstance(doc.get("message", ""), str), reply
    if code is not None:
        assert doc["__type"] == code, reply


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# == one named case per kind of mistake ===========================================================

DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
DEEP_LIST = b'{"GrantTokens":' + b"[" * 50_000 + b"]" * 50_000 + b"}"

# (target, body, expected status, expected __type; None: any AWS error shape with a 4xx)
CASES: dict[str, tuple[str | None, bytes, int | None, str | None]] = {
    "malformed JSON": ("TrentService.ListKeys", b'{"Limit":', 400, "SerializationException"),
    "JSON array": ("TrentService.ListKeys", b"[1, 2]", 400, "SerializationException"),
    "JSON string": ("TrentService.ListKeys", b'"{}"', 400, "SerializationException"),
    "JSON null": ("TrentService.ListKeys", b"null", 400, "SerializationException"),
    "not UTF-8": ("TrentService.ListKeys", b'{"Marker": "\xff\xfe"}', 400, None),
    "NUL bytes": ("TrentService.ListKeys", b"\x00" * 64, 400, "SerializationException"),
    "missing body (Encrypt)": ("TrentService.Encrypt", b"", 400, "ValidationException"),
    "missing body (Decrypt)": ("TrentService.Decrypt", b"{}", 400, None),
    "ReEncrypt without ciphertext": (
        "TrentService.ReEncrypt",
        b'{"DestinationKeyId": "alias/fuzz"}',
        400,
        None,
    ),
    "unknown operation": ("TrentService.MakeCoffee", b"{}", 400, "UnknownOperationException"),
    "missing target": (None, b"{}", 400, "UnknownOperationException"),
    "other service's target": (
        "DynamoDB_20120810.ListTables",
        b"{}",
        400,
        "UnknownOperationException",
    ),
    "target without operation": ("TrentService.", b"{}", 400, "UnknownOperationException"),
    "lower-case operation": ("TrentService.listKeys", b"{}", 400, "UnknownOperationException"),
    "string for integer": (
        "TrentService.ListKeys",
        b'{"Limit": "ten"}',
        400,
        "SerializationException",
    ),
    "float for integer": ("TrentService.ListKeys", b'{"Limit": 1.5}', 400, None),
    "NaN for integer": ("TrentService.ListKeys", b'{"Limit": NaN}', 400, None),
    "huge integer": ("TrentService.ListKeys", b'{"Limit": ' + b"9" * 5000 + b"}", 400, None),
    "integer out of range": (
        "TrentService.ListKeys",
        b'{"Limit": 100000}',
        400,
        "ValidationException",
    ),
    "number for string": ("TrentService.DescribeKey", b'{"KeyId": 5}', 400, None),
    "list for string": ("TrentService.DescribeKey", b'{"KeyId": ["a"]}', 400, None),
    "object for blob": (
        "TrentService.Decrypt",
        b'{"CiphertextBlob": {"a": 1}}',
        400,
        "SerializationException",
    ),
    "invalid base64": (
        "TrentService.Decrypt",
        b'{"CiphertextBlob": "not base64!"}',
        400,
        "SerializationException",
    ),
    "not a ciphertext": (
        "TrentService.Decrypt",
        json.dumps({"CiphertextBlob": b64(b"\x01" * 64)}).encode(),
        400,
        "InvalidCiphertextException",
    ),
    "string for boolean": (
        "TrentService.CreateKey",
        b'{"MultiRegion": "yes"}',
        400,
        "SerializationException",
    ),
    "string for list": ("TrentService.CreateKey", b'{"Tags": "a=b"}', 400, None),
    "null in list": ("TrentService.CreateKey", b'{"Tags": [null]}', 400, None),
    "number for map value": (
        "TrentService.GenerateRandom",
        b'{"NumberOfBytes": 16, "Recipient": 7}',
        400,
        None,
    ),
    "bad enum": (
        "TrentService.CreateKey",
        b'{"KeySpec": "AES_999"}',
        400,
        "ValidationException",
    ),
    "policy not JSON": (
        "TrentService.CreateKey",
        b'{"Policy": "{not json"}',
        400,
        "MalformedPolicyDocumentException",
    ),
    "deeply nested object": ("TrentService.ListKeys", DEEP_OBJECT, 400, None),
    "deeply nested list": ("TrentService.CreateKey", DEEP_LIST, 400, None),
    "huge timestamp": (
        "TrentService.ImportKeyMaterial",
        b'{"KeyId": "alias/fuzz", "ImportToken": "AA==", "EncryptedKeyMaterial": "AA==",'
        b' "ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": 1e300}',
        400,
        None,
    ),
    "NaN timestamp": (
        "TrentService.ImportKeyMaterial",
        b'{"KeyId": "alias/fuzz", "ImportToken": "AA==", "EncryptedKeyMaterial": "AA==",'
        b' "ExpirationModel": "KEY_MATERIAL_EXPIRES", "ValidTo": NaN}',
        400,
        None,
    ),
    "just over 1 MiB": (
        "TrentService.ListKeys",
        b" " * (MiB + 1),
        413,
        "RequestEntityTooLargeException",
    ),
}


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_bad_input_is_an_aws_client_error(
    served: ServeProcess, key_id: str, raw: RawClient, case: str
) -> None:
    target, body, status, code = CASES[case]
    started = time.monotonic()
    reply = raw.call(target, body)
    assert time.monotonic() - started < 10
    assert_aws_client_error(reply, code)
    if status is not None:
        assert reply.status == status, reply
    assert raw.call("TrentService.ListKeys", b"{}").status == 200


def test_plaintext_over_4096_bytes_is_the_aws_validation_message(
    key_id: str, raw: RawClient
) -> None:
    body = json.dumps({"KeyId": key_id, "Plaintext": b64(b"x" * 4097)}).encode()
    reply = raw.call("TrentService.Encrypt", body)
    assert_aws_client_error(reply, "ValidationException")
    assert reply.message == (
        "1 validation error detected: Value at 'plaintext' failed to satisfy constraint: "
        "Member must have length less than or equal to 4096"
    )


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/xml", "application/x-www-form-urlencoded"]
)
def test_wrong_content_type_is_an_aws_client_error(
    raw: RawClient, content_type: str | None
) -> None:
    reply = raw.call("TrentService.ListKeys", b"{}", content_type=content_type)
    assert_aws_client_error(reply)


@pytest.mark.parametrize(
    "content_type", ["application/x-amz-json-1.0", "application/x-amz-json-1.1; charset=utf-8"]
)
def test_json_content_types_that_sdks_send_are_accepted(raw: RawClient, content_type: str) -> None:
    assert raw.call("TrentService.ListKeys", b"{}", content_type=content_type).status == 200


def test_unknown_members_are_ignored_as_aws_does(key_id: str, raw: RawClient) -> None:
    body = json.dumps({"KeyId": key_id, "NoSuchMember": {"x": [1, 2]}}).encode()
    assert raw.call("TrentService.DescribeKey", body).status == 200


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_other_http_methods_are_aws_client_errors(
    served: ServeProcess, raw: RawClient, method: str
) -> None:
    headers = sign(served.endpoint, "TrentService.ListKeys", b"{}")
    reply = raw.send(method, headers, b"{}")
    assert_aws_client_error(reply)


def test_get_is_a_health_check(raw: RawClient) -> None:
    reply = raw.send("GET", {})
    assert reply.status == 200
    assert b"kmslab" in reply.body


def test_chunked_body_is_read_whole(served: ServeProcess) -> None:
    headers = sign(served.endpoint, "TrentService.ListKeys", b"{}")
    conn = http.client.HTTPConnection(HOST, served.port, timeout=10)
    try:
        conn.request("POST", "/", body=iter([b"{", b"}"]), headers=headers, encode_chunked=True)
        response = conn.getresponse()
        assert response.status == 200, response.read()
    finally:
        conn.close()


# == below HTTP: raw sockets ======================================================================


def _exchange(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    """Send ``data`` on a fresh connection; everything the server sends back until it closes
    the connection or goes quiet for a moment."""
    with socket.create_connection((HOST, port), timeout=timeout) as s:
        s.sendall(data)
        s.settimeout(timeout)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            s.settimeout(0.5)
        return b"".join(chunks)


def test_content_length_over_the_limit_is_refused_without_reading_it(
    served: ServeProcess,
) -> None:
    head = (
        "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-amz-json-1.1\r\n"
        f"X-Amz-Target: TrentService.ListKeys\r\nContent-Length: {64 * MiB}\r\n\r\n"
    )
    started = time.monotonic()
    answer = _exchange(served.port, head.encode())
    assert time.monotonic() - started < 10
    assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
    still_serves(served)


@pytest.mark.parametrize(
    "garbage",
    [
        b"hello\r\n\r\n",
        b"POST / HTTP/9.9\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n",
    ],
    ids=[
        "no request line",
        "HTTP/9.9",
        "negative length",
        "text length",
        "bad chunk",
        "200 KB header",
    ],
)
def test_broken_http_is_answered_or_closed_and_the_server_serves_on(
    served: ServeProcess, garbage: bytes
) -> None:
    started = time.monotonic()
    answer = _exchange(served.port, garbage)
    assert time.monotonic() - started < 10
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:200]
    still_serves(served)


def test_a_stalled_request_does_not_hold_up_other_clients(served: ServeProcess) -> None:
    body = b'{"Limit": 10}'
    headers = sign(served.endpoint, "TrentService.ListKeys", body)
    head = f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head += f"Content-Length: {len(body)}\r\n\r\n"
    with socket.create_connection((HOST, served.port), timeout=10) as stalled:
        stalled.sendall(head.encode() + body[:5])  # ... and the rest never comes
        started = time.monotonic()
        assert "Keys" in kms_client(served.endpoint, timeout=5).list_keys()
        assert time.monotonic() - started < 5
        stalled.sendall(body[5:])  # late, but whole: still answered
        stalled.settimeout(10)
        assert stalled.recv(65536).startswith(b"HTTP/1.1 200")


# == the fuzz =====================================================================================


class Fuzzer:
    """Malformed requests from a seeded generator, most of them validly signed."""

    def __init__(self, rng: random.Random, endpoint: str, key_id: str) -> None:
        self.rng = rng
        self.endpoint = endpoint
        model = botocore.session.get_session().get_service_model("kms")
        self.operations = {
            name: model.operation_model(name).input_shape for name in model.operation_names
        }
        self.names = sorted(self.operations)
        self.all_members = sorted(
            {m for shape in self.operations.values() if shape for m in shape.members}
        )
        self.key_ids = [
            key_id,
            f"arn:aws:kms:us-east-1:111122223333:key/{key_id}",
            "alias/fuzz",
            "alias/aws/ebs",
            "00000000-0000-0000-0000-000000000000",
        ]

    # -- values ----------------------------------------------------------------------------------

    def junk(self, depth: int = 0) -> Any:
        """Any JSON value."""
        r = self.rng
        kinds = ["str", "int", "float", "bool", "null", "b64"]
        if depth < 4:
            kinds += ["list", "dict"]
        kind = r.choice(kinds)
        if kind == "str":
            return self.text()
        if kind == "int":
            return r.choice([0, -1, 1, 2**31, -(2**63) - 1, 2**64, 10**30, r.randint(-9999, 9999)])
        if kind == "float":
            return r.choice([0.5, -1e308, 1e308, float("nan"), float("inf"), r.random()])
        if kind == "bool":
            return r.random() < 0.5
        if kind == "null":
            return None
        if kind == "b64":
            return b64(r.randbytes(r.choice([0, 1, 16, 32, 100, 4096, 4097, 6144])))
        if kind == "list":
            return [self.junk(depth + 1) for _ in range(r.randint(0, 5))]
        return {self.text(12): self.junk(depth + 1) for _ in range(r.randint(0, 5))}

    def text(self, limit: int = 300) -> str:
        r = self.rng
        choice = r.randrange(9)
        if choice == 0:
            return ""
        if choice == 1:
            return r.choice(self.key_ids)
        if choice == 2:
            return "".join(r.choices(string.printable, k=r.randint(1, limit)))
        if choice == 3:
            return "".join(chr(r.randint(0x80, 0x2FFF)) for _ in range(r.randint(1, 40)))
        if choice == 4:
            return "x" * r.choice([255, 256, 2048, 8193, 40000])
        if choice == 5:
            return r.choice(["\x00", "\ud800", "alias/", "arn:aws:kms:::", "*", "%s%n", "../"])
        if choice == 6:
            return r.choice(self.all_members)
        if choice == 7:
            return r.choice(
                ["SYMMETRIC_DEFAULT", "RSA_2048", "AES_256", "ENCRYPT_DECRYPT", "HMAC_256"]
            )
        return "".join(r.choices(string.ascii_letters + string.digits + "-_/:", k=r.randint(1, 64)))

    def value(self, shape: Any, depth: int = 0) -> Any:
        """Mostly the model's type for ``shape`` (valid or not); sometimes anything at all."""
        r = self.rng
        if shape is None or r.random() < 0.25 or depth > 4:
            return self.junk(depth)
        t = shape.type_name
        if t == "string":
            enum = getattr(shape, "enum", None)
            if enum and r.random() < 0.5:
                return r.choice(enum)
            return self.text()
        if t == "blob":
            if r.random() < 0.2:
                return r.choice(["", "====", "not base64", "AA", "AA=", "\u00e9\u00e9"])
            return b64(r.randbytes(r.choice([0, 1, 12, 32, 64, 200, 4096, 4097, 6145])))
        if t in ("integer", "long"):
            return r.choice([0, -1, 1, 7, 1024, 2**31, 2**63, -(2**63) - 1, 10**25, 1.0])
        if t == "boolean":
            return r.random() < 0.5
        if t == "timestamp":
            return r.choice([0, -1, 1.5, 1e12, 1e300, -1e300, 2**70, float("nan"), time.time()])
        if t == "list":
            return [self.value(shape.member, depth + 1) for _ in range(r.choice([0, 1, 2, 3, 60]))]
        if t == "map":
            out: dict[str, Any] = {}
            for _ in range(r.randint(0, 4)):
                name = self.value(shape.key, depth + 1)  # JSON object keys are strings
                out[name if isinstance(name, str) else json.dumps(name)] = self.value(
                    shape.value, depth + 1
                )
            return out
        if t == "structure":
            members = list(shape.members.items())
            picked = r.sample(members, k=r.randint(0, len(members))) if members else []
            doc = {name: self.value(sub, depth + 1) for name, sub in picked}
            if r.random() < 0.2:
                doc[r.choice(self.all_members)] = self.junk(depth + 1)
            return doc
        return self.junk(depth)

    # -- requests --------------------------------------------------------------------------------

    def target(self) -> tuple[str | None, Any]:
        r = self.rng
        roll = r.random()
        name = r.choice(self.names)
        if roll < 0.85:
            return f"TrentService.{name}", self.operations[name]
        if roll < 0.88:
            return None, None
        if roll < 0.91:
            return f"TrentService.{name.lower()}", None
        if roll < 0.94:
            return r.choice(["TrentService.", "TrentService", "Trent.Encrypt", ".", ""]), None
        if roll < 0.97:
            return f"TrentService.{self.text(40)}", None
        return f"{self.text(20)}.{name}", None

    def body(self, shape: Any) -> bytes:
        r = self.rng
        roll = r.random()
        if roll < 0.6:
            doc = self.value(shape) if shape is not None else self.junk()
        elif roll < 0.8:
            doc = {r.choice(self.all_members): self.junk() for _ in range(r.randint(1, 6))}
        else:
            doc = self.junk()
        data = json.dumps(doc, allow_nan=True).encode()
        roll = r.random()
        if roll < 0.10 and data:
            return data[: r.randrange(len(data))]  # truncated
        if roll < 0.14 and data:
            i = r.randrange(len(data))
            return data[:i] + bytes([r.randrange(256)]) + data[i + 1 :]  # one byte flipped
        if roll < 0.16:
            return r.randbytes(r.randint(0, 512))
        if roll < 0.18:
            return b""
        if roll < 0.19:
            return b"[" * r.randint(900, 5000) + b"]" * r.randint(0, 5000)
        return data

    def request(self) -> tuple[dict[str, str], bytes]:
        r = self.rng
        target, shape = self.target()
        if target is not None:  # a header value: printable Latin-1, as HTTP allows
            target = "".join(c for c in target if " " <= c <= "~" or "\xa0" <= c <= "\xff")
        body = self.body(shape)
        content_type: str | None = JSON_11
        roll = r.random()
        if roll < 0.03:
            content_type = None
        elif roll < 0.06:
            content_type = r.choice(["text/plain", "application/json", "*/*", "\u00e9"])
        kwargs: dict[str, Any] = {"content_type": content_type}
        roll = r.random()
        if roll < 0.03:
            kwargs["secret"] = "wrong"
        elif roll < 0.05:
            kwargs["access_key"] = "AKIA" + "".join(r.choices(string.ascii_uppercase, k=16))
        try:
            headers = sign(self.endpoint, target, body, **kwargs)
        except (UnicodeError, ValueError):
            headers = sign(self.endpoint, target, body)
        roll = r.random()
        if roll < 0.02:
            headers.pop("Authorization", None)
        elif roll < 0.04:
            # Printable ASCII only: control characters in a header are broken HTTP, which the
            # raw-socket tests cover; here the request must reach the signature check.
            headers["Authorization"] = "".join(c for c in self.text(120) if " " <= c <= "~")
        return headers, body


@pytest.mark.slow
def test_fuzz_thousands_of_malformed_requests(served: ServeProcess, key_id: str) -> None:
    fuzzer = Fuzzer(random.Random(FUZZ_SEED), served.endpoint, key_id)
    statuses: Counter[int] = Counter()
    codes: Counter[str] = Counter()
    server_errors: list[str] = []
    deadline = time.monotonic() + FUZZ_SECONDS
    sent = 0
    with RawClient(served.port, timeout=10) as client:
        while sent < FUZZ_REQUESTS and time.monotonic() < deadline:
            headers, body = fuzzer.request()
            try:
                reply = client.post(headers, body)
            except Exception as exc:  # a hang (timeout) or a dead server
                pytest.fail(
                    f"request {sent} got no answer ({exc!r}): "
                    f"target={headers.get('X-Amz-Target')!r} body={body[:200]!r}\n"
                    f"server stderr:\n{served.stderr()[-3000:]}"
                )
            sent += 1
            statuses[reply.status] += 1
            if reply.status >= 500:
                server_errors.append(
                    f"{reply.status} {reply.body[:120]!r} <- {headers.get('X-Amz-Target')!r} "
                    f"{body[:160]!r}"
                )
                continue
            if reply.status != 200:
                assert_aws_client_error(reply)
                codes[str(reply.error_type)] += 1
    print(f"\nfuzz: {sent} requests, statuses {dict(statuses)}, errors {codes.most_common(8)}")
    assert not server_errors, (
        f"{len(server_errors)} of {sent} malformed requests got a 5xx:\n"
        + "\n".join(server_errors[:15])
    )
    assert sent >= 1000, f"only {sent} requests in {FUZZ_SECONDS} s"
    assert codes["SerializationException"] > 0 and codes["ValidationException"] > 0
    still_serves(served)


def test_no_internal_errors_were_logged(served: ServeProcess) -> None:
    still_serves(served)
    assert server_log_problems(served.stderr()) == [], served.stderr()[-5000:]


def test_a_tls_hello_on_the_plain_port_does_not_hold_up_other_clients(
    served: ServeProcess,
) -> None:
    """A learner who types https:// sends a TLS ClientHello to the plain-HTTP port."""
    hello = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256))
    with socket.create_connection((HOST, served.port), timeout=10) as tls:
        tls.sendall(hello)
        started = time.monotonic()
        assert "Keys" in kms_client(served.endpoint, timeout=5).list_keys()
        assert time.monotonic() - started < 5
    still_serves(served)
