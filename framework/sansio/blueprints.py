"""``flask.sansio.blueprints``: blueprints and their registration state."""

from __future__ import annotations

from framework.blueprints import Blueprint, BlueprintSetupState

__all__ = ["Blueprint", "BlueprintSetupState"]
