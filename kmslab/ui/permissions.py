"""Who may do what with a key: act as a principal, try an action, read why.

:class:`PermissionsExplorer` is the pure view-model. It holds one real boto3 KMS client per
principal (``course.client(principal="myKeyManager")``) and, for each try, makes the *real*
call through that principal's client: the answer is KMS's own, ``OK`` or the
``AccessDeniedException`` with AWS's message. Beside it, when the backend can explain itself
(kmslab's ``lab.explain``), the decision in words: which statement allowed or denied, and why.

Actions that change the key (DisableKey, ScheduleKeyDeletion, CreateGrant, PutKeyPolicy) are
undone at once through an administrator's client, so that one try never spoils the next.

:meth:`PermissionsExplorer.grid` tries every action as every principal: a "predict, then run"
table of ALLOWED and DENIED computed by real calls, and :func:`check_predictions` compares a
learner's predictions with it. :class:`PermissionsView` is the thin ipywidgets view.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets
from botocore.exceptions import ClientError

from . import Panel
from .wizard import Feedback, parse_pairs

__all__ = [
    "ACTIONS",
    "ROOT",
    "Action",
    "Attempt",
    "Grid",
    "PermissionsExplorer",
    "PermissionsView",
    "check_predictions",
]

#: The label of the account's root user among the principals.
ROOT = "account root"


@dataclass(frozen=True)
class Action:
    name: str  # the API name, "Encrypt"
    kind: str  # "use", "manage" or "read"
    description: str


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("Encrypt", "use", "Encrypt a few bytes under the key (kms:Encrypt)."),
        Action(
            "Decrypt",
            "use",
            "Decrypt a ciphertext the key made (kms:Decrypt); the lab's administrator makes "
            "the ciphertext first, with the same encryption context.",
        ),
        Action(
            "GenerateDataKey",
            "use",
            "Ask for a data key for envelope encryption (kms:GenerateDataKey).",
        ),
        Action("DescribeKey", "read", "Read the key's metadata (kms:DescribeKey)."),
        Action(
            "CreateGrant",
            "manage",
            "Delegate Decrypt to the key's account with a grant (kms:CreateGrant); the grant "
            "is revoked again at once.",
        ),
        Action("GetKeyPolicy", "read", "Read the key policy (kms:GetKeyPolicy)."),
        Action(
            "PutKeyPolicy",
            "manage",
            "Write the key policy (kms:PutKeyPolicy); the explorer writes back the same "
            "policy, so nothing changes.",
        ),
        Action(
            "DisableKey",
            "manage",
            "Disable the key (kms:DisableKey); the explorer enables it again at once.",
        ),
        Action(
            "ScheduleKeyDeletion",
            "manage",
            "Schedule the key's deletion in 7 days (kms:ScheduleKeyDeletion); the explorer "
            "cancels it and enables the key again at once.",
        ),
    )
}


@dataclass(frozen=True)
class Attempt:
    """One real call as one principal, and what KMS answered."""

    principal: str
    action: str
    context: Mapping[str, str]
    ok: bool
    code: str  # "OK" or the AWS error code
    message: str
    explanation: str | None = None  # the lab's decision in words, when it can explain

    @property
    def verdict(self) -> str:
        """ALLOWED, DENIED (AccessDeniedException), or another error code."""
        if self.ok:
            return "ALLOWED"
        return "DENIED" if self.code == "AccessDeniedException" else self.code

    def line(self) -> str:
        """One plain line: what a checked notebook cell prints."""
        where = f" with context {dict(self.context)}" if self.context else ""
        head = f"{self.principal} {self.action}{where}: {self.verdict}"
        return head if self.ok else f"{head} ({self.code}: {self.message})"


@dataclass(frozen=True)
class Grid:
    """ALLOWED/DENIED for every (principal, action), from real calls."""

    principals: tuple[str, ...]
    actions: tuple[str, ...]
    cells: Mapping[tuple[str, str], str]

    def table(self) -> str:
        """A plain-text table: one row per action, one column per principal."""
        first = max(len("action"), *(len(a) for a in self.actions))
        widths = [max(len(p), 7) for p in self.principals]
        rows = [
            "  ".join(
                ["action".ljust(first)]
                + [p.ljust(w) for p, w in zip(self.principals, widths, strict=True)]
            )
        ]
        for a in self.actions:
            cells = [
                self.cells[(p, a)].ljust(w) for p, w in zip(self.principals, widths, strict=True)
            ]
            rows.append("  ".join([a.ljust(first), *cells]).rstrip())
        return "\n".join(row.rstrip() for row in rows)

    def __str__(self) -> str:
        return self.table()

    def html(self) -> str:
        head = "".join(f"<th>{html.escape(p)}</th>" for p in self.principals)
        body = "".join(
            f"<tr><th style='text-align:left'>{html.escape(a)}</th>"
            + "".join(
                f"<td>{'✔' if self.cells[(p, a)] == 'ALLOWED' else '✘'} "
                f"{html.escape(self.cells[(p, a)])}</td>"
                for p in self.principals
            )
            + "</tr>"
            for a in self.actions
        )
        return (
            "<table style='font-family:monospace'><caption>Real calls: who may do what"
            f"</caption><tr><th>action</th>{head}</tr>{body}</table>"
        )


class PermissionsExplorer:
    """Try KMS actions on ``key_id`` as each principal, through real clients.

    Args:
        clients: principal label -> a boto3 KMS client signed as that principal
            (use :data:`ROOT` as the label of the account's root user).
        key_id: the key (id, ARN or alias; an ARN for a key of another account).
        admin: a client that may undo what a try changed (the key account's root user).
        explain: ``lab.explain`` (kmslab only) or None where the backend cannot explain.
    """

    def __init__(
        self,
        clients: Mapping[str, Any],
        key_id: str,
        *,
        admin: Any,
        explain: Callable[..., Any] | None = None,
    ) -> None:
        self.clients = dict(clients)
        self.key_id = key_id
        self.admin = admin
        self.explain = explain
        self.history: list[Attempt] = []

    @property
    def principals(self) -> tuple[str, ...]:
        return tuple(self.clients)

    def add_principal(self, label: str, client: Any) -> None:
        """Act as one more principal (``label`` as ``lab.explain`` knows it: a user name or
        a principal ARN)."""
        self.clients[label] = client

    @property
    def last(self) -> Attempt | None:
        return self.history[-1] if self.history else None

    def why(self, principal: str, action: str, context: Mapping[str, str] | None = None) -> str:
        """The lab's explanation of the decision, or a sentence saying there is none."""
        if self.explain is None:
            return "(this backend cannot explain its decisions)"
        who = None if principal == ROOT else principal
        return str(self.explain(who, f"kms:{action}", self.key_id, context=dict(context or {})))

    def try_action(
        self, principal: str, action: str, context: Mapping[str, str] | None = None
    ) -> Attempt:
        """Make the real ``action`` call as ``principal``; undo any change it made."""
        if principal not in self.clients:
            raise ValueError(f"principal must be one of {', '.join(self.clients)}")
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}")
        ctx = dict(context or {})
        explanation = self.why(principal, action, ctx) if self.explain else None
        try:
            self._run(self.clients[principal], action, ctx)
            attempt = Attempt(principal, action, ctx, True, "OK", "", explanation)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            attempt = Attempt(
                principal,
                action,
                ctx,
                False,
                err.get("Code", ""),
                err.get("Message", ""),
                explanation,
            )
        self.history.append(attempt)
        return attempt

    def _run(self, client: Any, action: str, ctx: dict[str, str]) -> None:
        key, admin = self.key_id, self.admin
        with_ctx: dict[str, Any] = {"EncryptionContext": ctx} if ctx else {}
        if action == "Encrypt":
            client.encrypt(KeyId=key, Plaintext=b"lab secret", **with_ctx)
        elif action == "Decrypt":
            blob = admin.encrypt(KeyId=key, Plaintext=b"lab secret", **with_ctx)["CiphertextBlob"]
            client.decrypt(CiphertextBlob=blob, KeyId=key, **with_ctx)
        elif action == "GenerateDataKey":
            client.generate_data_key(KeyId=key, KeySpec="AES_256", **with_ctx)
        elif action == "DescribeKey":
            client.describe_key(KeyId=key)
        elif action == "CreateGrant":
            arn = admin.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
            account = arn.split(":")[4]
            grant = client.create_grant(
                KeyId=key, GranteePrincipal=f"arn:aws:iam::{account}:root", Operations=["Decrypt"]
            )
            admin.revoke_grant(KeyId=key, GrantId=grant["GrantId"])
        elif action == "GetKeyPolicy":
            client.get_key_policy(KeyId=key, PolicyName="default")
        elif action == "PutKeyPolicy":
            same = admin.get_key_policy(KeyId=key, PolicyName="default")["Policy"]
            client.put_key_policy(KeyId=key, PolicyName="default", Policy=same)
        elif action == "DisableKey":
            client.disable_key(KeyId=key)
            admin.enable_key(KeyId=key)
        elif action == "ScheduleKeyDeletion":
            client.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
            admin.cancel_key_deletion(KeyId=key)
            admin.enable_key(KeyId=key)

    def grid(
        self, principals: Iterable[str] | None = None, actions: Iterable[str] | None = None
    ) -> Grid:
        """Try every action as every principal (real calls) and tabulate the verdicts."""
        ps = tuple(principals if principals is not None else self.principals)
        acts = tuple(actions if actions is not None else ACTIONS)
        cells = {(p, a): self.try_action(p, a).verdict for a in acts for p in ps}
        return Grid(ps, acts, cells)


def check_predictions(predictions: Mapping[str, Mapping[str, str]], grid: Grid) -> Feedback:
    """Compare ``{principal: {action: "ALLOWED" | "DENIED"}}`` with the real grid."""
    wrong: list[str] = []
    asked = 0
    for principal, row in predictions.items():
        for action, predicted in row.items():
            if (principal, action) not in grid.cells:
                raise ValueError(f"the grid has no cell for {principal} {action}")
            asked += 1
            if str(predicted).upper() != grid.cells[(principal, action)]:
                wrong.append(f"{principal} {action}")
    if not asked:
        return Feedback(False, "fill in some predictions first.")
    if not wrong:
        return Feedback(True, f"all {asked} predictions match the real calls.")
    return Feedback(
        False,
        f"{len(wrong)} of {asked} predictions differ ({', '.join(wrong)}). Hint: the console "
        "policy gives key administrators management actions only and key users cryptographic "
        "actions plus DescribeKey; a user's CreateGrant must be for an AWS resource.",
    )


# == the view ======================================================================================

_STYLE = {"description_width": "initial"}


class PermissionsView:
    """Choose a principal and an action, press Try: the real answer and the reason why."""

    def __init__(self, model: PermissionsExplorer) -> None:
        self.model = model
        self.principal = widgets.Dropdown(
            options=list(model.principals),
            description="Act as",
            style=_STYLE,
            tooltip="The principal whose client makes the call",
        )
        self.action = widgets.Dropdown(
            options=[(f"{a.name} ({a.kind})", a.name) for a in ACTIONS.values()],
            description="Action",
            style=_STYLE,
            tooltip="The KMS operation to try on the key",
        )
        self.action_note = widgets.HTML()
        self.context = widgets.Text(
            value="",
            description="Encryption context (key=value, comma-separated)",
            placeholder="dept=secret",
            continuous_update=False,
            style=_STYLE,
            layout=widgets.Layout(width="460px"),
        )
        self.try_button = widgets.Button(
            description="Try", tooltip="Make the real call as this principal", icon="play"
        )
        self.grid_button = widgets.Button(
            description="Run the whole grid",
            tooltip="Try every action as every principal (real calls)",
            icon="table",
            layout=widgets.Layout(width="auto"),
        )
        self.panel = Panel()
        self.explanation = widgets.HTML()
        self.grid_html = widgets.HTML()
        self.try_button.on_click(self.panel.guard(self._try))
        self.grid_button.on_click(self.panel.guard(self._grid))
        self.action.observe(self.panel.guard(self._describe), names="value")
        self._describe()

    def _describe(self, _change: Any = None) -> None:
        self.action_note.value = f"<i>{html.escape(ACTIONS[self.action.value].description)}</i>"

    def _try(self, _button: Any = None) -> None:
        attempt = self.model.try_action(
            self.principal.value, self.action.value, parse_pairs(self.context.value)
        )
        self.panel.show(attempt.ok, attempt.line())
        text = attempt.explanation or self.model.why(attempt.principal, attempt.action)
        self.explanation.value = (
            f"<b>Why</b><pre style='white-space:pre-wrap'>{html.escape(text)}</pre>"
        )

    def _grid(self, _button: Any = None) -> None:
        grid = self.model.grid()
        self.grid_html.value = grid.html()
        self.panel.show(True, f"{len(grid.cells)} real calls made")

    def widget(self) -> widgets.Widget:
        return widgets.VBox(
            [
                widgets.HBox([self.principal, self.action]),
                self.action_note,
                self.context,
                widgets.HBox([self.try_button, self.grid_button]),
                self.panel.html,
                self.explanation,
                self.grid_html,
            ]
        )
