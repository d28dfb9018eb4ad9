"""AWS KMS errors, one class per wire error code.

Every class is named exactly as the ``__type`` AWS puts on the wire, so the protocol
layer can turn an exception into a response mechanically and botocore turns the
response back into ``client.exceptions.<Code>`` (for modeled codes) or a plain
``ClientError`` whose ``response["Error"]["Code"]`` is the name (for the common codes
the KMS model does not list, such as ``ValidationException``). :class:`AwsError` is what
KMS's errors share with IAM's (:class:`kmslab.iam.IamError`): code, message and status.

::

    KmsError                      400 unless stated
    ├── (modeled by the KMS service model, e.g.)
    │   AlreadyExistsException, DisabledException, IncorrectKeyException,
    │   InvalidCiphertextException, KMSInvalidStateException, NotFoundException, ...
    ├── (common AWS codes, not in the KMS model)
    │   ValidationException, AccessDeniedException, SerializationException,
    │   UnknownOperationException, UnrecognizedClientException,
    │   InvalidSignatureException, ...
    └── KMSInternalException      500: the one place anything unexpected ends up

Messages copy AWS's wording; they never contain plaintext or key material.
"""

from __future__ import annotations

from typing import ClassVar


def log_unexpected(message: str, *args: object) -> None:
    """Log the exception being handled, an unexpected one, to the ``kmslab`` logger.

    What the wire layers do before answering with an internal error. ``logging`` is imported
    here, on first use: importing it costs every command ~5 ms.
    """
    import logging

    logging.getLogger("kmslab").exception(message, *args)


class AwsError(Exception):
    """An AWS-shaped error of any service: ``code`` is the wire code (the class name),
    ``message`` AWS's text, ``status`` the HTTP status. The KMS errors below and the IAM errors
    (:class:`kmslab.iam.IamError`) are two separate trees under it: each protocol catches its
    own service's tree only."""

    status: ClassVar[int] = 400

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"{self.code}({self.message!r})"


class KmsError(AwsError):
    """An AWS-shaped error: ``code`` is the wire ``__type``, ``message`` AWS's text."""

    #: True for codes the botocore KMS model lists as modeled exceptions.
    modeled: ClassVar[bool] = True


# -- modeled by botocore's KMS model (kms/2014-11-01) ------------------------------------------


class AlreadyExistsException(KmsError):
    pass


class CloudHsmClusterInUseException(KmsError):
    pass


class CloudHsmClusterInvalidConfigurationException(KmsError):
    pass


class CloudHsmClusterNotActiveException(KmsError):
    pass


class CloudHsmClusterNotFoundException(KmsError):
    pass


class CloudHsmClusterNotRelatedException(KmsError):
    pass


class ConflictException(KmsError):
    pass


class CustomKeyStoreHasCMKsException(KmsError):
    pass


class CustomKeyStoreInvalidStateException(KmsError):
    pass


class CustomKeyStoreNameInUseException(KmsError):
    pass


class CustomKeyStoreNotFoundException(KmsError):
    pass


class DependencyTimeoutException(KmsError):
    status = 503


class DisabledException(KmsError):
    pass


class DryRunOperationException(KmsError):
    pass


class ExpiredImportTokenException(KmsError):
    pass


class IncorrectKeyException(KmsError):
    pass


class IncorrectKeyMaterialException(KmsError):
    pass


class IncorrectTrustAnchorException(KmsError):
    pass


class InvalidAliasNameException(KmsError):
    pass


class InvalidArnException(KmsError):
    pass


class InvalidCiphertextException(KmsError):
    pass


class InvalidGrantIdException(KmsError):
    pass


class InvalidGrantTokenException(KmsError):
    pass


class InvalidImportTokenException(KmsError):
    pass


class InvalidKeyUsageException(KmsError):
    pass


class InvalidMarkerException(KmsError):
    pass


class KMSInternalException(KmsError):
    status = 500


class KMSInvalidMacException(KmsError):
    pass


class KMSInvalidSignatureException(KmsError):
    pass


class KMSInvalidStateException(KmsError):
    pass


class KeyUnavailableException(KmsError):
    status = 500


class LimitExceededException(KmsError):
    pass


class MalformedPolicyDocumentException(KmsError):
    pass


class NotFoundException(KmsError):
    pass


class TagException(KmsError):
    pass


class UnsupportedOperationException(KmsError):
    pass


class XksKeyAlreadyInUseException(KmsError):
    pass


class XksKeyInvalidConfigurationException(KmsError):
    pass


class XksKeyNotFoundException(KmsError):
    pass


class XksProxyIncorrectAuthenticationCredentialException(KmsError):
    pass


class XksProxyInvalidConfigurationException(KmsError):
    pass


class XksProxyInvalidResponseException(KmsError):
    pass


class XksProxyUriEndpointInUseException(KmsError):
    pass


class XksProxyUriInUseException(KmsError):
    pass


class XksProxyUriUnreachableException(KmsError):
    pass


class XksProxyVpcEndpointServiceInUseException(KmsError):
    pass


class XksProxyVpcEndpointServiceInvalidConfigurationException(KmsError):
    pass


class XksProxyVpcEndpointServiceNotFoundException(KmsError):
    pass


# -- common AWS error codes that the KMS model does not list ------------------------------------


class _CommonError(KmsError):
    modeled = False


class ValidationException(_CommonError):
    pass


class AccessDeniedException(_CommonError):
    pass


class SerializationException(_CommonError):
    pass


class UnknownOperationException(_CommonError):
    pass


class UnrecognizedClientException(_CommonError):
    pass


class InvalidSignatureException(_CommonError):
    pass


class IncompleteSignatureException(_CommonError):
    pass


class MissingAuthenticationTokenException(_CommonError):
    status = 403


class ThrottlingException(_CommonError):
    pass


class NotAuthorizedException(_CommonError):
    pass


class RequestEntityTooLargeException(_CommonError):
    status = 413


def _all_error_classes() -> dict[str, type[KmsError]]:
    found: dict[str, type[KmsError]] = {}
    stack: list[type[KmsError]] = [KmsError]
    while stack:
        cls = stack.pop()
        for sub in cls.__subclasses__():
            if not sub.__name__.startswith("_"):
                found[sub.__name__] = sub
            stack.append(sub)
    return found


#: Every concrete error class by its wire code.
ERRORS_BY_CODE: dict[str, type[KmsError]] = _all_error_classes()
