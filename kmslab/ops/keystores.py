"""Custom key stores, simulated: AWS CloudHSM key stores and external key stores (XKS).

No CloudHSM cluster and no external key store proxy exist in the lab; every store is backed by
a simulated one that always answers. What AWS decides from the request alone is reproduced:
the parameters each store type requires or forbids, name and cluster and proxy-address
uniqueness in an account and Region, the connection state each operation requires, the keys a
store may hold, and the state of those keys while it is disconnected.

How the simulation behaves where AWS depends on hardware:

* **Connecting completes at once.** ConnectCustomKeyStore returns as in AWS, and the store is
  CONNECTED (or FAILED) right away: the transient CONNECTING and DISCONNECTING states, which
  last minutes in AWS, are never observed.
* **Credentials are checked on connect.** The simulated cluster's ``kmsuser`` password is the
  KeyStorePassword given to CreateCustomKeyStore, and the simulated proxy's credential is the
  XksProxyAuthenticationCredential given then. If UpdateCustomKeyStore later tells KMS
  something else, ConnectCustomKeyStore leaves the store FAILED with ConnectionErrorCode
  INVALID_CREDENTIALS; disconnect, update with the right value and connect again. Only salted
  SHA-256 digests of these secrets are kept, never the secrets.
* **Clusters are not modelled**: any cluster id matching the model's pattern exists, is active
  and has enough HSMs; a trust anchor must be a PEM certificate (else
  IncorrectTrustAnchorException); UpdateCustomKeyStore accepts any other cluster id as a
  related cluster.
* **Keys**: a key in a store (Origin AWS_CLOUDHSM, or EXTERNAL_KEY_STORE with an XksKeyId) is
  a symmetric key whose material the lab generates (XKS double encryption is not modelled).
  While its store is not connected the key is Unavailable (unless PendingDeletion); EnableKey
  and DisableKey then succeed but only take effect on reconnect (key-state table, note 12); the
  state to restore is ``Key.available_state``.

The error codes are the model's; the messages are kmslab's wording of the API Reference text
(AWS's exact messages for these operations are not publicly recorded).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import (
    CloudHsmClusterInUseException,
    CustomKeyStoreHasCMKsException,
    CustomKeyStoreInvalidStateException,
    CustomKeyStoreNameInUseException,
    CustomKeyStoreNotFoundException,
    IncorrectTrustAnchorException,
    LimitExceededException,
    UnsupportedOperationException,
    ValidationException,
    XksKeyAlreadyInUseException,
    XksProxyUriEndpointInUseException,
    XksProxyUriInUseException,
    XksProxyVpcEndpointServiceInUseException,
)
from ..keys import Key
from ..model import KeySpec, KeyState, Origin
from ..store import from_doc, to_doc
from .base import Call, ServiceBase

#: The kind under which stores are persisted with ``store.save_doc``.
DOC_KIND = "custom_key_store"
#: AWS quota: custom key stores per account and Region.
MAX_CUSTOM_KEY_STORES = 10

CLOUDHSM = "AWS_CLOUDHSM"
EXTERNAL = "EXTERNAL_KEY_STORE"
PUBLIC_ENDPOINT = "PUBLIC_ENDPOINT"
VPC_ENDPOINT_SERVICE = "VPC_ENDPOINT_SERVICE"

#: The members of CreateCustomKeyStore and UpdateCustomKeyStore that one store type refuses
#: (they belong to the other type).
_REFUSED_BY_TYPE = {
    CLOUDHSM: frozenset(
        {
            "xks_proxy_uri_endpoint",
            "xks_proxy_uri_path",
            "xks_proxy_vpc_endpoint_service_name",
            "xks_proxy_vpc_endpoint_service_owner",
            "xks_proxy_authentication_credential",
            "xks_proxy_connectivity",
        }
    ),
    EXTERNAL: frozenset({"cloud_hsm_cluster_id", "trust_anchor_certificate", "key_store_password"}),
}

CONNECTED = "CONNECTED"
DISCONNECTED = "DISCONNECTED"
FAILED = "FAILED"
DISCONNECTING = "DISCONNECTING"


@dataclass(slots=True)
class CustomKeyStore:
    """One custom key store of one account and Region. Secrets are kept only as digests."""

    custom_key_store_id: str
    account: str
    region: str
    name: str
    store_type: str
    created: datetime
    connection_state: str = DISCONNECTED
    connection_error_code: str | None = None
    # AWS CloudHSM key stores
    cloud_hsm_cluster_id: str | None = None
    trust_anchor_certificate: str | None = None
    password_digest: str | None = field(default=None, repr=False)  # what KMS was told
    cluster_password_digest: str | None = field(default=None, repr=False)  # the kmsuser's
    # External key stores
    xks_proxy_connectivity: str | None = None
    xks_proxy_uri_endpoint: str | None = None
    xks_proxy_uri_path: str | None = None
    xks_proxy_vpc_endpoint_service_name: str | None = None
    xks_proxy_vpc_endpoint_service_owner: str | None = None
    xks_access_key_id: str | None = field(default=None, repr=False)
    credential_digest: str | None = field(default=None, repr=False)  # what KMS was told
    proxy_credential_digest: str | None = field(default=None, repr=False)  # the proxy's

    @property
    def connected(self) -> bool:
        return self.connection_state == CONNECTED

    def entry(self) -> dict[str, Any]:
        """A CustomKeyStoresListEntry (snake_case member names)."""
        out: dict[str, Any] = {
            "custom_key_store_id": self.custom_key_store_id,
            "custom_key_store_name": self.name,
            "connection_state": self.connection_state,
            "creation_date": self.created,
            "custom_key_store_type": self.store_type,
        }
        if self.connection_state == FAILED:
            out["connection_error_code"] = self.connection_error_code
        if self.store_type == CLOUDHSM:
            out["cloud_hsm_cluster_id"] = self.cloud_hsm_cluster_id
            out["trust_anchor_certificate"] = self.trust_anchor_certificate
        else:
            out["xks_proxy_configuration"] = {
                "connectivity": self.xks_proxy_connectivity,
                "access_key_id": self.xks_access_key_id,
                "uri_endpoint": self.xks_proxy_uri_endpoint,
                "uri_path": self.xks_proxy_uri_path,
                "vpc_endpoint_service_name": self.xks_proxy_vpc_endpoint_service_name,
                "vpc_endpoint_service_owner": self.xks_proxy_vpc_endpoint_service_owner,
            }
        return out


def store_from_doc(doc: dict[str, Any]) -> CustomKeyStore:
    """A store as :meth:`KeyStoreOperations._save_store` persisted it (LocalKms reloads them)."""
    return from_doc(CustomKeyStore, doc)


def _digest(store_id: str, *secret: str) -> str:
    return hashlib.sha256("\0".join((store_id, *secret)).encode()).hexdigest()


def _credential(credential: dict[str, str]) -> tuple[str, str]:
    return credential["access_key_id"], credential["raw_secret_access_key"]


class KeyStoreOperations(ServiceBase):
    """CreateCustomKeyStore, DescribeCustomKeyStores, UpdateCustomKeyStore,
    ConnectCustomKeyStore, DisconnectCustomKeyStore, DeleteCustomKeyStore; keys in stores."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: custom key store id -> store (ids are unique across accounts and Regions)
        self.custom_key_stores: dict[str, CustomKeyStore] = {}

    def restore_custom_key_stores(self, docs: dict[str, dict[str, Any]]) -> None:
        """Reload the stores a persisted lab saved (``Snapshot.docs["custom_key_store"]``)."""
        for doc in docs.values():
            store = store_from_doc(doc)
            self.custom_key_stores[store.custom_key_store_id] = store

    # == helpers ===================================================================================

    def _stores_here(self, call: Call) -> list[CustomKeyStore]:
        return [
            s
            for s in self.custom_key_stores.values()
            if s.account == call.account and s.region == call.region
        ]

    def _store(self, call: Call, store_id: str) -> CustomKeyStore:
        found = self.custom_key_stores.get(store_id)
        if found is None or found.account != call.account or found.region != call.region:
            raise CustomKeyStoreNotFoundException(f"Custom key store {store_id} does not exist.")
        return found

    def _save_store(self, store: CustomKeyStore) -> None:
        self.store.save_doc(DOC_KIND, store.custom_key_store_id, to_doc(store))

    def _keys_in(self, store: CustomKeyStore) -> list[Key]:
        return [k for k in self.keys.values() if k.custom_key_store_id == store.custom_key_store_id]

    @staticmethod
    def _invalid_state(
        store: CustomKeyStore, operation: str
    ) -> CustomKeyStoreInvalidStateException:
        return CustomKeyStoreInvalidStateException(
            f"Custom key store {store.custom_key_store_id} has ConnectionState "
            f"{store.connection_state}, which is not valid for {operation}."
        )

    @staticmethod
    def _suits_type(kind: str, request: dict[str, Any]) -> None:
        """Refuses the first member of ``request`` (snake_case names, in the request's order)
        that only the other store type takes."""
        for name, value in request.items():
            if value is not None and name in _REFUSED_BY_TYPE[kind]:
                wire = "".join(word.capitalize() for word in name.split("_"))
                raise ValidationException(
                    f"{wire} is not valid for a custom key store with CustomKeyStoreType {kind}."
                )

    @staticmethod
    def _required_for_type(kind: str, given: dict[str, Any]) -> None:
        for name, value in given.items():
            if value is None:
                raise ValidationException(
                    f"{name} is required for a custom key store with CustomKeyStoreType {kind}."
                )

    @staticmethod
    def _trust_anchor(certificate: str) -> None:
        if "-----BEGIN CERTIFICATE-----" not in certificate:
            raise IncorrectTrustAnchorException(
                "The trust anchor certificate in the request is not the trust anchor "
                "certificate of the specified CloudHSM cluster."
            )

    @staticmethod
    def _name_free(others: list[CustomKeyStore], name: str) -> None:
        if any(s.name == name for s in others):
            raise CustomKeyStoreNameInUseException(
                f"Custom key store name {name} is already in use in this account and Region."
            )

    @staticmethod
    def _cluster_free(others: list[CustomKeyStore], cluster_id: str) -> None:
        for s in others:
            if s.cloud_hsm_cluster_id == cluster_id:
                raise CloudHsmClusterInUseException(
                    f"CloudHSM cluster {cluster_id} is already associated with custom key store "
                    f"{s.custom_key_store_id}."
                )

    @staticmethod
    def _proxy_free(
        others: list[CustomKeyStore],
        connectivity: str,
        endpoint: str,
        path: str,
        service_name: str | None,
    ) -> None:
        """The uniqueness rules of XksProxyUriEndpoint, XksProxyUriPath and the VPC endpoint
        service among the external key stores of one account and Region."""
        for s in others:
            if s.store_type != EXTERNAL:
                continue
            if s.xks_proxy_uri_endpoint == endpoint and s.xks_proxy_uri_path == path:
                raise XksProxyUriInUseException(
                    f"The external key store proxy address {endpoint}{path} is already "
                    f"associated with custom key store {s.custom_key_store_id}."
                )
            vpc = VPC_ENDPOINT_SERVICE in (connectivity, s.xks_proxy_connectivity)
            if vpc and s.xks_proxy_uri_endpoint == endpoint:
                raise XksProxyUriEndpointInUseException(
                    f"XksProxyUriEndpoint {endpoint} is already associated with custom key store "
                    f"{s.custom_key_store_id}; each external key store with "
                    "VPC_ENDPOINT_SERVICE connectivity needs its own endpoint."
                )
            if service_name is not None and s.xks_proxy_vpc_endpoint_service_name == service_name:
                raise XksProxyVpcEndpointServiceInUseException(
                    f"VPC endpoint service {service_name} is already associated with custom key "
                    f"store {s.custom_key_store_id}."
                )

    @staticmethod
    def _vpc_rules(connectivity: str, service_name: str | None) -> None:
        if connectivity == VPC_ENDPOINT_SERVICE and not service_name:
            raise ValidationException(
                "XksProxyVpcEndpointServiceName is required when XksProxyConnectivity is "
                "VPC_ENDPOINT_SERVICE."
            )
        if connectivity == PUBLIC_ENDPOINT and service_name:
            raise ValidationException(
                "XksProxyVpcEndpointServiceName is not valid when XksProxyConnectivity is "
                "PUBLIC_ENDPOINT."
            )

    def _make_unavailable(self, store: CustomKeyStore) -> None:
        for key in self._keys_in(store):
            if key.state in (KeyState.ENABLED, KeyState.DISABLED):
                key.available_state = key.state
                key.state = KeyState.UNAVAILABLE
                self.store.save_key(key)

    def _make_available(self, store: CustomKeyStore) -> None:
        for key in self._keys_in(store):
            if key.state is KeyState.UNAVAILABLE:
                key.state = key.available_state or KeyState.ENABLED
                key.available_state = None
                self.store.save_key(key)

    # == operations ================================================================================

    def create_custom_key_store(
        self,
        call: Call,
        custom_key_store_name: str,
        cloud_hsm_cluster_id: str | None = None,
        trust_anchor_certificate: str | None = None,
        key_store_password: str | None = None,
        custom_key_store_type: str | None = None,
        xks_proxy_uri_endpoint: str | None = None,
        xks_proxy_uri_path: str | None = None,
        xks_proxy_vpc_endpoint_service_name: str | None = None,
        xks_proxy_vpc_endpoint_service_owner: str | None = None,
        xks_proxy_authentication_credential: dict[str, str] | None = None,
        xks_proxy_connectivity: str | None = None,
    ) -> dict[str, Any]:
        """Raises ValidationException, CustomKeyStoreNameInUseException,
        CloudHsmClusterInUseException, IncorrectTrustAnchorException, XksProxyUriInUseException,
        XksProxyUriEndpointInUseException, XksProxyVpcEndpointServiceInUseException,
        LimitExceededException."""
        request = dict(locals())  # the members, by snake_case name, in the request's order
        kind = custom_key_store_type or CLOUDHSM
        store_id = "cks-" + self.rng.bytes(9).hex()[:17]
        store = CustomKeyStore(
            custom_key_store_id=store_id,
            account=call.account,
            region=call.region,
            name=custom_key_store_name,
            store_type=kind,
            created=call.now,
        )
        others = self._stores_here(call)
        self._suits_type(kind, request)
        if kind == CLOUDHSM:
            self._required_for_type(
                kind,
                {
                    "CloudHsmClusterId": cloud_hsm_cluster_id,
                    "TrustAnchorCertificate": trust_anchor_certificate,
                    "KeyStorePassword": key_store_password,
                },
            )
            assert cloud_hsm_cluster_id and trust_anchor_certificate and key_store_password
            self._name_free(others, custom_key_store_name)
            self._cluster_free(others, cloud_hsm_cluster_id)
            self._trust_anchor(trust_anchor_certificate)
            store.cloud_hsm_cluster_id = cloud_hsm_cluster_id
            store.trust_anchor_certificate = trust_anchor_certificate
            store.password_digest = _digest(store_id, key_store_password)
            store.cluster_password_digest = store.password_digest
        else:
            self._required_for_type(
                kind,
                {
                    "XksProxyConnectivity": xks_proxy_connectivity,
                    "XksProxyUriEndpoint": xks_proxy_uri_endpoint,
                    "XksProxyUriPath": xks_proxy_uri_path,
                    "XksProxyAuthenticationCredential": xks_proxy_authentication_credential,
                },
            )
            assert xks_proxy_connectivity and xks_proxy_uri_endpoint and xks_proxy_uri_path
            assert xks_proxy_authentication_credential is not None
            self._vpc_rules(xks_proxy_connectivity, xks_proxy_vpc_endpoint_service_name)
            if xks_proxy_connectivity == PUBLIC_ENDPOINT and xks_proxy_vpc_endpoint_service_owner:
                raise ValidationException(
                    "XksProxyVpcEndpointServiceOwner is not valid when XksProxyConnectivity is "
                    "PUBLIC_ENDPOINT."
                )
            self._name_free(others, custom_key_store_name)
            self._proxy_free(
                others,
                xks_proxy_connectivity,
                xks_proxy_uri_endpoint,
                xks_proxy_uri_path,
                xks_proxy_vpc_endpoint_service_name,
            )
            access_key_id, secret = _credential(xks_proxy_authentication_credential)
            store.xks_proxy_connectivity = xks_proxy_connectivity
            store.xks_proxy_uri_endpoint = xks_proxy_uri_endpoint
            store.xks_proxy_uri_path = xks_proxy_uri_path
            store.xks_proxy_vpc_endpoint_service_name = xks_proxy_vpc_endpoint_service_name
            if xks_proxy_connectivity == VPC_ENDPOINT_SERVICE:
                store.xks_proxy_vpc_endpoint_service_owner = (
                    xks_proxy_vpc_endpoint_service_owner or call.account
                )
            store.xks_access_key_id = access_key_id
            store.credential_digest = _digest(store_id, access_key_id, secret)
            store.proxy_credential_digest = store.credential_digest
        if len(others) >= MAX_CUSTOM_KEY_STORES:
            raise LimitExceededException(
                f"You have reached the limit of {MAX_CUSTOM_KEY_STORES} custom key stores in "
                "this account and Region."
            )
        self.custom_key_stores[store_id] = store
        self._save_store(store)
        return {"custom_key_store_id": store_id}

    def describe_custom_key_stores(
        self,
        call: Call,
        custom_key_store_id: str | None = None,
        custom_key_store_name: str | None = None,
        limit: int | None = None,
        marker: str | None = None,
    ) -> dict[str, Any]:
        """Raises CustomKeyStoreNotFoundException, InvalidMarkerException, ValidationException."""
        if custom_key_store_id is not None and custom_key_store_name is not None:
            raise ValidationException(
                "Specify either CustomKeyStoreId or CustomKeyStoreName, but not both."
            )
        stores = self._stores_here(call)
        if custom_key_store_id is not None:
            stores = [self._store(call, custom_key_store_id)]
        elif custom_key_store_name is not None:
            stores = [s for s in stores if s.name == custom_key_store_name]
            if not stores:
                raise CustomKeyStoreNotFoundException(
                    f"Custom key store {custom_key_store_name} does not exist."
                )
        page, more = self._page([s.entry() for s in stores], limit, marker, 100)
        return {"custom_key_stores": page, **more}

    def update_custom_key_store(
        self,
        call: Call,
        custom_key_store_id: str,
        new_custom_key_store_name: str | None = None,
        key_store_password: str | None = None,
        cloud_hsm_cluster_id: str | None = None,
        xks_proxy_uri_endpoint: str | None = None,
        xks_proxy_uri_path: str | None = None,
        xks_proxy_vpc_endpoint_service_name: str | None = None,
        xks_proxy_vpc_endpoint_service_owner: str | None = None,
        xks_proxy_authentication_credential: dict[str, str] | None = None,
        xks_proxy_connectivity: str | None = None,
    ) -> dict[str, Any]:
        """Raises CustomKeyStoreNotFoundException, CustomKeyStoreInvalidStateException,
        CustomKeyStoreNameInUseException, CloudHsmClusterInUseException, ValidationException,
        XksProxyUriInUseException, XksProxyUriEndpointInUseException,
        XksProxyVpcEndpointServiceInUseException."""
        request = dict(locals())  # the members, by snake_case name, in the request's order
        store = self._store(call, custom_key_store_id)
        others = [s for s in self._stores_here(call) if s is not store]
        self._suits_type(store.store_type, request)
        if store.store_type == CLOUDHSM:
            needs_disconnected: tuple[str | None, ...] = (key_store_password, cloud_hsm_cluster_id)
        else:
            needs_disconnected = (
                xks_proxy_uri_endpoint,
                xks_proxy_vpc_endpoint_service_name,
                xks_proxy_vpc_endpoint_service_owner,
                xks_proxy_connectivity,
            )
        # The name (and an external key store's credential and path) may change while
        # connected; everything else needs a DISCONNECTED store (UpdateCustomKeyStore reference).
        if any(v is not None for v in needs_disconnected) and store.connection_state != (
            DISCONNECTED
        ):
            raise self._invalid_state(store, "UpdateCustomKeyStore")
        if new_custom_key_store_name is not None:
            self._name_free(others, new_custom_key_store_name)
        if store.store_type == CLOUDHSM:
            if cloud_hsm_cluster_id is not None:
                self._cluster_free(others, cloud_hsm_cluster_id)
                store.cloud_hsm_cluster_id = cloud_hsm_cluster_id
            if key_store_password is not None:
                store.password_digest = _digest(store.custom_key_store_id, key_store_password)
        else:
            connectivity = xks_proxy_connectivity or store.xks_proxy_connectivity or ""
            endpoint = xks_proxy_uri_endpoint or store.xks_proxy_uri_endpoint or ""
            path = xks_proxy_uri_path or store.xks_proxy_uri_path or ""
            service = store.xks_proxy_vpc_endpoint_service_name
            if xks_proxy_vpc_endpoint_service_name is not None:
                service = xks_proxy_vpc_endpoint_service_name or None
            if connectivity != store.xks_proxy_connectivity:
                if xks_proxy_uri_endpoint is None:
                    raise ValidationException(
                        "You must also change XksProxyUriEndpoint when you change "
                        "XksProxyConnectivity."
                    )
                if connectivity == PUBLIC_ENDPOINT:
                    service = None
            self._vpc_rules(connectivity, service)
            self._proxy_free(others, connectivity, endpoint, path, service)
            store.xks_proxy_connectivity = connectivity
            store.xks_proxy_uri_endpoint = endpoint
            store.xks_proxy_uri_path = path
            store.xks_proxy_vpc_endpoint_service_name = service
            if connectivity == PUBLIC_ENDPOINT:
                store.xks_proxy_vpc_endpoint_service_owner = None
            elif xks_proxy_vpc_endpoint_service_owner is not None:
                store.xks_proxy_vpc_endpoint_service_owner = xks_proxy_vpc_endpoint_service_owner
            elif store.xks_proxy_vpc_endpoint_service_owner is None:
                store.xks_proxy_vpc_endpoint_service_owner = call.account
            if xks_proxy_authentication_credential is not None:
                access_key_id, secret = _credential(xks_proxy_authentication_credential)
                store.xks_access_key_id = access_key_id
                store.credential_digest = _digest(store.custom_key_store_id, access_key_id, secret)
        if new_custom_key_store_name is not None:
            store.name = new_custom_key_store_name
        self._save_store(store)
        return {}

    def connect_custom_key_store(self, call: Call, custom_key_store_id: str) -> dict[str, Any]:
        """Connects at once (see the module docstring). Raises
        CustomKeyStoreNotFoundException, CustomKeyStoreInvalidStateException."""
        store = self._store(call, custom_key_store_id)
        if store.connection_state in (FAILED, DISCONNECTING):
            raise self._invalid_state(store, "ConnectCustomKeyStore")
        if store.connection_state == DISCONNECTED:
            if store.store_type == CLOUDHSM:
                valid = store.password_digest == store.cluster_password_digest
            else:
                valid = store.credential_digest == store.proxy_credential_digest
            if valid:
                store.connection_state, store.connection_error_code = CONNECTED, None
                self._make_available(store)
            else:
                store.connection_state, store.connection_error_code = FAILED, "INVALID_CREDENTIALS"
            self._save_store(store)
        return {}

    def disconnect_custom_key_store(self, call: Call, custom_key_store_id: str) -> dict[str, Any]:
        """Raises CustomKeyStoreNotFoundException, CustomKeyStoreInvalidStateException."""
        store = self._store(call, custom_key_store_id)
        if store.connection_state in (DISCONNECTED, DISCONNECTING):
            raise self._invalid_state(store, "DisconnectCustomKeyStore")
        store.connection_state, store.connection_error_code = DISCONNECTED, None
        self._make_unavailable(store)
        self._save_store(store)
        return {}

    def delete_custom_key_store(self, call: Call, custom_key_store_id: str) -> dict[str, Any]:
        """Raises CustomKeyStoreNotFoundException, CustomKeyStoreInvalidStateException,
        CustomKeyStoreHasCMKsException."""
        store = self._store(call, custom_key_store_id)
        if store.connection_state != DISCONNECTED:
            raise self._invalid_state(store, "DeleteCustomKeyStore")
        if self._keys_in(store):
            raise CustomKeyStoreHasCMKsException(
                f"Custom key store {custom_key_store_id} contains KMS keys; delete them "
                "(ScheduleKeyDeletion) before deleting the key store."
            )
        del self.custom_key_stores[custom_key_store_id]
        self.store.delete_doc(DOC_KIND, custom_key_store_id)
        return {}

    # == hooks the other operation families call ===================================================

    def _check_custom_key_store(
        self,
        call: Call,
        origin: str | None,
        custom_key_store_id: str | None,
        xks_key_id: str | None,
        key_spec: KeySpec,
        multi_region: bool | None,
    ) -> None:
        """May CreateKey make a key in this custom key store? Raises ValidationException,
        UnsupportedOperationException, CustomKeyStoreNotFoundException,
        CustomKeyStoreInvalidStateException, XksKeyAlreadyInUseException."""
        wanted = {CLOUDHSM: CLOUDHSM, EXTERNAL: EXTERNAL}.get(origin or "")
        if xks_key_id is not None and wanted != EXTERNAL:
            raise ValidationException(
                "XksKeyId is valid only for a KMS key with Origin EXTERNAL_KEY_STORE."
            )
        if wanted is None or custom_key_store_id is None:
            raise ValidationException(
                "To create a KMS key in a custom key store, specify its CustomKeyStoreId and an "
                "Origin of AWS_CLOUDHSM (CloudHSM key store) or EXTERNAL_KEY_STORE (external key "
                "store)."
            )
        if wanted == EXTERNAL and xks_key_id is None:
            raise ValidationException(
                "XksKeyId is required for a KMS key with Origin EXTERNAL_KEY_STORE."
            )
        if key_spec is not KeySpec.SYMMETRIC_DEFAULT:
            raise UnsupportedOperationException(
                f"KeySpec {key_spec.value} is not supported in a custom key store; only "
                "SYMMETRIC_DEFAULT keys can be created there."
            )
        if multi_region:
            raise UnsupportedOperationException(
                "You cannot create a multi-Region key in a custom key store."
            )
        store = self._store(call, custom_key_store_id)
        if store.store_type != wanted:
            raise UnsupportedOperationException(
                f"Origin {origin} is not valid for custom key store {custom_key_store_id} of "
                f"type {store.store_type}."
            )
        if not store.connected:
            raise self._invalid_state(store, "CreateKey")
        if xks_key_id is not None:
            for key in self._keys_in(store):
                if key.xks_key_id == xks_key_id:
                    raise XksKeyAlreadyInUseException(
                        f"External key {xks_key_id} is already associated with KMS key {key.arn}."
                    )

    def _custom_key_store_random(self, call: Call, custom_key_store_id: str) -> None:
        """GenerateRandom in a CloudHSM key store's cluster: the store must be connected."""
        store = self._store(call, custom_key_store_id)
        if store.store_type != CLOUDHSM:
            raise UnsupportedOperationException(
                f"{custom_key_store_id} is an external key store; GenerateRandom accepts only "
                "the ID of an AWS CloudHSM key store."
            )
        if not store.connected:
            raise self._invalid_state(store, "GenerateRandom")

    def _set_state(self, key: Key, state: KeyState) -> None:
        """Enable/Disable of a key whose store is not connected: recorded for reconnection,
        the key stays Unavailable (key-state table note 12)."""
        store = self.custom_key_stores.get(key.custom_key_store_id or "")
        if (
            store is not None
            and not store.connected
            and state in (KeyState.ENABLED, KeyState.DISABLED)
        ):
            key.available_state = state
            key.state = KeyState.UNAVAILABLE
            return
        super()._set_state(key, state)

    def _metadata(self, key: Key) -> dict[str, Any]:
        md = super()._metadata(key)
        if key.custom_key_store_id is not None:
            md["custom_key_store_id"] = key.custom_key_store_id
            # CurrentKeyMaterialId is shown only for AWS_KMS and EXTERNAL origins (KeyMetadata).
            md.pop("current_key_material_id", None)
            store = self.custom_key_stores.get(key.custom_key_store_id)
            if key.origin is Origin.AWS_CLOUDHSM and store is not None:
                md["cloud_hsm_cluster_id"] = store.cloud_hsm_cluster_id
            if key.xks_key_id is not None:
                md["xks_key_configuration"] = {"id": key.xks_key_id}
        return md
