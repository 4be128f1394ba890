"""What every screen and dialog may ask of the app, typed (no ``type: ignore`` to reach it).

``self.billing`` is the running :class:`~tui_billing.app.BillingApp`: its posting date, operator,
type-ahead holds and context refresh. The import is for the type checker only, so a screen
module never imports the app at run time (the app imports the screens).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar, cast

from textual.dom import DOMNode
from textual.screen import ModalScreen, Screen

if TYPE_CHECKING:
    from ..app import BillingApp

__all__ = ["BillingModal", "BillingScreen", "billing_app"]

T = TypeVar("T")


def billing_app(node: DOMNode) -> BillingApp:
    """The BillingApp a mounted widget or screen belongs to."""
    return cast("BillingApp", node.app)


class BillingScreen(Screen[T], Generic[T]):
    """A full screen of the billing app."""

    @property
    def billing(self) -> BillingApp:
        return cast("BillingApp", self.app)


class BillingModal(ModalScreen[T], Generic[T]):
    """A dialog of the billing app."""

    @property
    def billing(self) -> BillingApp:
        return cast("BillingApp", self.app)
