"""LocalKms: the whole simulated AWS side of the lab, and the boto3 clients that reach it."""

from __future__ import annotations

import functools
import json
import os
import threading
from datetime import datetime, timedelta
from typing import Any

from . import policy
from .clock import Clock, ManualClock
from .crypto import RandomSource
from .errors import KmsError
from .iam import DEFAULT_ACCOUNT, Directory, Principal
from .keys import Key
from .policy import Decision
from .protocol import JsonProtocol, Response
from .service import Call, KmsService
from .store import MemoryStore, SqliteStore
from .trail import Event, Trail


class LocalKms:
    """A faithful local AWS KMS, answered in-process behind genuine boto3 clients.

    >>> lab = LocalKms(seed=7)                     # doctest: +SKIP
    >>> kms = lab.client()                          # a real boto3 KMS client
    >>> kid = kms.create_key()["KeyMetadata"]["KeyId"]

    Args:
        clock: the lab clock; default real time plus an offset that ``lab.clock.advance``
            moves. Pass :class:`~kmslab.clock.ManualClock` for a clock that stands still.
        seed: makes key ids, key material, data keys and nonces reproducible.
        state: a file path: the lab is persisted there in SQLite (with ``PATH.root-key``
            beside it) and reopened from it next time.
    """

    def __init__(
        self,
        clock: Clock | None = None,
        seed: int | None = None,
        state: str | os.PathLike[str] | None = None,
    ) -> None:
        self.store: MemoryStore | SqliteStore = SqliteStore(state) if state else MemoryStore()
        snapshot = self.store.load()
        if clock is None:
            clock = Clock(timedelta(seconds=float(snapshot.meta.get("clock_offset", 0))))
        self.clock = clock
        self.rng = RandomSource(seed)
        if "rng_counter" in snapshot.meta and seed is not None:
            self.rng.restore(int(snapshot.meta["rng_counter"]))
        # A state file's trail is read on the first use of `trail`, not here: a long-used lab
        # holds up to MEMORY_WINDOW events, and parsing 10,000 of them would add ~0.35 s to
        # every start (every `kmslab encrypt`). Each event recorded until then is in the store.
        self._trail = Trail()
        self._trail_loaded = self.store.path is None
        self.directory = Directory(
            DEFAULT_ACCOUNT,
            rng=self.rng,
            now=self.clock.now,
            store=self.store,
            on_change=self._save_rng,
        )
        self.directory.restore(snapshot.docs)
        self.service = KmsService(
            clock=self.clock, rng=self.rng, store=self.store, on_service_event=self._service_event
        )
        self.service.directory = self.directory
        for key in snapshot.keys:
            self.service.keys[key.arn] = key
        for alias in snapshot.aliases:
            self.service.aliases[(alias.account, alias.region, alias.name)] = alias
        self.service.restore_import_state(snapshot.docs)
        self.service.restore_grants(snapshot.docs.get("grant", {}))
        self.service.restore_custom_key_stores(snapshot.docs.get("custom_key_store", {}))
        for arn, usage in snapshot.docs.get("last_usage", {}).items():
            if arn in self.service.keys:
                self.service.keys[arn].last_usage = usage
        self.service.reschedule()
        self.kms = JsonProtocol(self.service, self._record)
        # IAM and STS (query protocol) share the service's lock and store transactions; they
        # are built on their first request (most labs only ever speak KMS).
        self.directory.lock = self.service.lock
        self.clock.subscribe(self._clock_moved)
        self._closed = False
        self._rng_saved = self.rng.counter
        self._lock = threading.Lock()

    @functools.cached_property
    def iam(self) -> Any:
        """The lab's IAM endpoint (query protocol), built on first use."""
        from .iamservice import IamService
        from .query import QueryProtocol

        return QueryProtocol(
            IamService(self.directory, decide=self._iam_allows),
            self._record,
            "iam",
            self.clock.now,
            lock=lambda: self.service.lock,
            transaction=self.store.transaction,
        )

    @functools.cached_property
    def sts(self) -> Any:
        """The lab's STS endpoint (GetCallerIdentity), built on first use."""
        from .iamservice import StsService
        from .query import QueryProtocol

        return QueryProtocol(
            StsService(),
            self._record,
            "sts",
            self.clock.now,
            lock=lambda: self.service.lock,
            transaction=self.store.transaction,
        )

    # -- the lab's side ----------------------------------------------------------------------------

    def _iam_allows(self, principal: Principal, action: str, resource_arn: str) -> bool:
        """IAM calls are decided by the caller's identity policies (the root user may do
        anything in its own account), with the same evaluator as KMS."""
        request = policy.Request(self.service.caller(principal), action, resource_arn, {})
        decision = policy.decide(request, None, self.directory.identity_policies(principal))
        return decision.allowed

    @property
    def account(self) -> str:
        return self.directory.default_account

    @property
    def trail(self) -> list[dict[str, Any]]:
        """Every call so far as CloudTrail-like JSON events (plaintext is never recorded): the
        newest ``kmslab.trail.MEMORY_WINDOW`` (100,000) of them; a state file keeps them all."""
        if not self._trail_loaded:
            with self.service.lock:  # no event is recorded while the store is read
                if not self._trail_loaded:
                    trail = Trail()
                    trail.extend(self.store.load_events())
                    self._trail, self._trail_loaded = trail, True
        return self._trail.events()

    def _record(self, event: Event) -> None:
        self._trail.append(event)
        self.store.append_event(event)
        self.service.note_request(event.request_id, event.resources, event.error_code is not None)
        if self.rng.counter != self._rng_saved:
            self._rng_saved = self.rng.counter
            self.store.set_meta("rng_counter", str(self._rng_saved))

    def _save_rng(self) -> None:
        """Persist the random source's position (the directory drew ids outside a request)."""
        if self.rng.counter != getattr(self, "_rng_saved", self.rng.counter):
            self._rng_saved = self.rng.counter
            self.store.set_meta("rng_counter", str(self._rng_saved))

    def _service_event(self, name: str, key: Key, when: datetime) -> None:
        """KMS's own work (scheduled deletion, automatic rotation) as AwsServiceEvent entries."""
        import uuid  # here: importing it costs every command ~5 ms (it imports platform)

        event = Event(
            time=when,
            source="kms.amazonaws.com",
            name=name,
            region=key.region,
            user_identity={"accountId": key.account, "invokedBy": "kms.amazonaws.com"},
            request_parameters=None,
            response_elements=None,
            error_code=None,
            error_message=None,
            request_id=str(uuid.uuid4()),
            resources=(key.arn,),
            event_type="AwsServiceEvent",
        )
        self._trail.append(event)
        self.store.append_event(event)

    def _clock_moved(self) -> None:
        with self.service.lock, self.store.transaction():
            if not isinstance(self.clock, ManualClock):
                self.store.set_meta("clock_offset", str(self.clock.offset.total_seconds()))
            self.service.run_due(self.clock.now())
            if self.rng.counter != self._rng_saved:  # scheduled work drew random bytes
                self._rng_saved = self.rng.counter
                self.store.set_meta("rng_counter", str(self._rng_saved))

    def explain(
        self,
        principal: str | None,
        action: str,
        key: str | None = None,
        context: dict[str, str] | None = None,
        region: str = "us-east-1",
    ) -> Decision:
        """Would ``principal`` be allowed ``action`` on ``key``, and why?

        ``principal`` is a user name, a principal ARN, or None for the account's root user;
        ``action`` is "kms:Encrypt" or "Encrypt"; ``key`` a key id, key ARN or alias (None for
        operations on no key, such as CreateKey). The decision is the one the service makes
        for a real request, with the statements that made it, in words::

            >>> print(lab.explain("myKeyManager", "kms:Encrypt", key_id))  # doctest: +SKIP
            DENIED: arn:aws:iam::111122223333:user/myKeyManager -> kms:Encrypt on arn:...
              - the key policy has no statement that allows this caller this action
        """
        who = self.directory.find(principal)
        if who is None:
            raise ValueError(f"no principal {principal!r} in this lab")
        action = action.removeprefix("kms:")
        service = self.service
        with service.lock:
            call = Call(who, region, self.clock.now(), action)
            if key is None:
                return service.decide(call, action, "*", None, context=context)
            target = service.find_key(who.account, region, key)
            return service.decide(
                call,
                action,
                target.arn,
                target.policy,
                key=target,
                key_account=target.account,
                context=context,
            )

    def handle(
        self, target: str | None, body: bytes, principal: Principal, region: str
    ) -> Response:
        """Answer one AWS JSON 1.1 KMS request (used by both transports)."""
        return self.kms.handle(target, body, principal, region)

    def set_quota(
        self,
        requests_per_second: float | None,
        burst: float | None = None,
        per_class: dict[str, float] | None = None,
    ) -> Any:
        """Simulate KMS request quotas; off by default, ``None`` turns them off again.

        A token bucket per account, Region and quota class, refilled by the lab clock: a request
        that finds its bucket empty gets ``ThrottlingException`` as from AWS (:mod:`kmslab.quota`).
        Returns the :class:`~kmslab.quota.RequestQuota` (or None); ``.throttled`` counts refusals.
        """
        from .quota import RequestQuota

        quota = None if requests_per_second is None else RequestQuota(
            requests_per_second, burst, per_class
        )
        # JsonProtocol.handle reads this with getattr (the one quota hook in protocol.py).
        setattr(self.kms, "quota", quota)  # noqa: B010
        return quota

    @staticmethod
    def _error_body(exc: KmsError) -> tuple[int, bytes]:
        return exc.status, json.dumps({"__type": exc.code, "message": exc.message}).encode()

    # -- clients ---------------------------------------------------------------------------------

    def client(
        self,
        service_name: str = "kms",
        region_name: str = "us-east-1",
        principal: str | None = None,
        **client_kwargs: Any,
    ) -> Any:
        """A genuine boto3 client whose requests this lab answers in-process.

        ``service_name`` is "kms", "iam" or "sts". ``principal`` is a user name in the default
        account or a principal ARN (an account root, a user, a role: its session); ``None`` is
        the default account's root user. A user without an access key gets one.
        """
        if service_name not in ("kms", "iam", "sts"):
            raise ValueError(
                f"kmslab simulates 'kms', 'iam' and 'sts'; {service_name!r} is not simulated"
            )
        session = self.boto3_session(region_name=region_name, principal=principal)
        return session.client(service_name, **client_kwargs)

    def boto3_session(self, region_name: str = "us-east-1", principal: str | None = None) -> Any:
        """A boto3 Session signed as ``principal`` whose KMS clients this lab answers.

        For code that makes its own clients (the AWS Encryption SDK takes a botocore session:
        ``session._session`` or :meth:`botocore_session`).
        """
        import boto3  # clients are made on demand: `import kmslab` stays light

        return boto3.session.Session(
            botocore_session=self.botocore_session(principal), region_name=region_name
        )

    def botocore_session(self, principal: str | None = None) -> Any:
        """A botocore Session with ``principal``'s credentials; every KMS client made from it
        is answered by this lab in-process (the handler sits on the session's events)."""
        from .transport import make_before_send  # botocore: only once a client is made

        who = self.directory.signing_principal(principal)
        if who is None:
            raise ValueError(f"no principal {principal!r} in this lab")
        session = isolated_botocore_session()
        # One model loader for every session: a new client then costs ~0.1 s, not ~0.4 s.
        session.register_component("data_loader", _shared_loader())
        session.set_credentials(who.access_key_id, who.secret_access_key)
        handler = make_before_send(
            self.directory.by_access_key,
            self.handle,
            self._error_body,
            {
                "iam": (
                    lambda *args: self.iam.handle(*args),
                    lambda exc: self.iam.transport_error(exc),
                ),
                "sts": (
                    lambda *args: self.sts.handle(*args),
                    lambda exc: self.sts.transport_error(exc),
                ),
            },
        )
        emitter = session.get_component("event_emitter")
        _drop_foreign_senders(emitter)
        # On every service, so that no request from this session can leave the process.
        emitter.register_first("before-send", handler)
        return session

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.store.close()

    def __enter__(self) -> LocalKms:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f"state={str(self.store.path)!r}" if self.store.path else "in memory"
        return f"LocalKms({len(self.service.keys)} keys, {where}, clock={self.clock!r})"


def isolated_botocore_session() -> Any:
    """A botocore Session that reads nothing of the learner's AWS configuration: no profile
    (an AWS_PROFILE naming a missing profile would otherwise fail), no config or credentials
    file, no configured endpoint URLs. For lab and mock clients only; real AWS uses the
    learner's own configuration."""
    import botocore.session

    session = botocore.session.Session()
    session.set_config_variable("config_file", os.devnull)
    session.set_config_variable("credentials_file", os.devnull)
    # The config store's override (not a session variable, where None means "unset").
    session.get_component("config_store").set_config_variable("profile", None)
    session.set_config_variable("ignore_configured_endpoint_urls", True)
    return session


@functools.cache
def _shared_loader() -> Any:
    """botocore's data loader, shared: it caches the service models it has read."""
    import botocore.loaders

    return botocore.loaders.create_loader()


def _drop_foreign_senders(emitter: Any) -> None:
    """Remove moto's ``before-send`` hook from a session kmslab answers.

    botocore calls *every* ``before-send`` handler and keeps the first response, so while a moto
    mock is active its hook (which moto adds to every session made after moto is imported) would
    also run on kmslab's requests: moto would create keys of its own and double the cost of
    each call. kmslab's sessions are answered by kmslab alone.
    """
    inner = getattr(emitter, "_emitter", emitter)  # botocore wraps it in an EventAliaser
    try:
        handlers = list(inner._handlers.prefix_search("before-send"))
    except AttributeError:  # pragma: no cover - a botocore without the private trie
        return
    for handler in handlers:
        if type(handler).__module__.startswith("moto."):
            emitter.unregister("before-send", handler)
