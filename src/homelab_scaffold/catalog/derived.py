"""The options scaffold adds to a component's own, derived from its component.yaml.

A chart component gets ``version`` (its chart version, pinned), every image ``<key>_image_tag``
(its tag, pinned, so Renovate bumps it in scaffold.yaml), a UI with ``sso`` the option ``sso``.
One pure function of the raw component.yaml data serves both the catalog loader and shell
completion (which reads component.yaml without the loader, so it imports nothing but this).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

VERSION_OPTION = "version"
IMAGE_TAG_SUFFIX = "_image_tag"
SSO_OPTION = "sso"
# Every path of a host: what ``ui.sso.paths`` guards by default.
WHOLE_HOST = ("/",)


def image_tag_option(key: str) -> str:
    """The option that pins the tag of the component's image ``key``."""
    return f"{key}{IMAGE_TAG_SUFFIX}"


def derived_options(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The options scaffold adds to those of a component.yaml, as option specs (the keys of
    ``options.<name>`` in component.yaml). Lenient: malformed parts add nothing."""
    found: dict[str, dict[str, Any]] = {}
    chart = data.get("chart")
    if isinstance(chart, Mapping) and "version" in chart:
        found[VERSION_OPTION] = _version_spec(chart)
    images = data.get("images")
    for key, image in (images.items() if isinstance(images, Mapping) else ()):
        if isinstance(image, Mapping) and "tag" in image:
            found[image_tag_option(str(key))] = _image_tag_spec(image)
    ui = data.get("ui")
    sso = ui.get("sso") if isinstance(ui, Mapping) else None
    if isinstance(sso, Mapping):
        found[SSO_OPTION] = _sso_spec(sso)
    return found


def _version_spec(chart: Mapping[str, Any]) -> dict[str, Any]:
    # Not pin: scaffold.yaml states every chart version anyway (engine.pinned_values).
    return _pinned_spec("version", str(chart["version"]), f"{chart.get('name')} chart version")


def _image_tag_spec(image: Mapping[str, Any]) -> dict[str, Any]:
    # pin: scaffold.yaml states it, so Renovate bumps it there and in the manifest together.
    what = f"Tag of the {image.get('repository')} image"
    return {**_pinned_spec("image_tag", str(image["tag"]), what), "pin": True}


def _pinned_spec(kind: str, default: str, what: str) -> dict[str, Any]:
    return {"type": kind, "default": default, "help": f"{what} (pinned default {default})"}


def _sso_spec(sso: Mapping[str, Any]) -> dict[str, Any]:
    paths = sso.get("paths") or list(WHOLE_HOST)
    what = "the UI" if tuple(paths) == WHOLE_HOST else f"its {', '.join(map(str, paths))}"
    without = (
        ". The UI has no login of its own: without single sign-on it gets no Ingress unless "
        "this is false."
        if sso.get("required")
        else "; false exposes it without."
    )
    return {
        "type": "bool",
        "default": True,
        "help": (
            f"Put {what} behind the single sign-on login while a component providing it "
            f"(authelia) is selected{without}"
        ),
    }
