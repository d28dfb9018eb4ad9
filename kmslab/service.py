"""KmsService: one method per KMS operation, named as botocore names it (``xform_name``).

Methods take a :class:`Call` (who is calling, from which Region, at what lab time) and the
operation's input members as snake_case keyword arguments, already decoded and checked against
the model's constraints by the protocol layer. They return the output members as a snake_case
dict and raise only :mod:`kmslab.errors` classes for caller mistakes. The service never sees the
wire and never imports botocore.

The operations live in families under :mod:`kmslab.ops`, each a class over the shared
:class:`~kmslab.ops.base.ServiceBase`; this class only composes them.
"""

from __future__ import annotations

from .ops.agreement import AgreementOperations
from .ops.aliases import AliasOperations
from .ops.base import Call, ServiceBase
from .ops.cryptographic import CryptographicOperations
from .ops.grants import GrantOperations
from .ops.importing import ImportOperations
from .ops.keys import KeyOperations
from .ops.keystores import KeyStoreOperations
from .ops.multiregion import MultiRegionOperations
from .ops.usage import UsageOperations

__all__ = ["Call", "KmsService", "ServiceBase"]


class KmsService(
    KeyOperations,
    AliasOperations,
    CryptographicOperations,
    ImportOperations,
    GrantOperations,
    AgreementOperations,
    UsageOperations,
    KeyStoreOperations,
    MultiRegionOperations,
):
    """The simulated AWS KMS of one lab: every account and Region in it."""
