"""Application groups of ``includeApplications`` / ``excludeApplications`` (Graph
``conditionalAccessApplications``): ``All``, ``Office365``, ``MicrosoftAdminPortals``, or
application ids.

``Office365`` is the Microsoft 365 suite. Its members are the apps listed in Microsoft Entra
docs "Apps included in Conditional Access Office 365 app suite"
(identity/conditional-access/reference-office-365-application-contents, dated 2024-12-06, linked
from "Conditional Access: Target resources", section "Office 365"). That page lists names only;
the application ids below are those Microsoft publishes for the same names in "Verify
first-party Microsoft applications in sign-in reports" (section "Application IDs of commonly
used Microsoft applications"). Listed apps without a published id cannot be matched by id and
are left out; a resource whose id is not in the table is not part of the suite (an API
registered by its operator never is).

``MicrosoftAdminPortals`` has no published list of application ids ("We're continually adding
more administrative portals"): it is undecided here.
"""

from __future__ import annotations

import re
from functools import lru_cache
from types import MappingProxyType

from ._model import Selection
from ._tri import Tri, all_of, any_of, negate, undecided

__all__ = ["OFFICE365_APPLICATIONS", "applications_selected"]

OFFICE365_APPLICATIONS = MappingProxyType(
    {
        "00000002-0000-0ff1-ce00-000000000000": "Office 365 Exchange Online",
        "00000003-0000-0ff1-ce00-000000000000": "Office 365 SharePoint Online",
        "00000004-0000-0ff1-ce00-000000000000": "Skype for Business Online",
        "00000005-0000-0ff1-ce00-000000000000": "Viva Engage",
        "00000006-0000-0ff1-ce00-000000000000": "Microsoft Office 365 Portal",
        "00000007-0000-0ff1-ce00-000000000000": "Microsoft Exchange Online Protection",
        "08e18876-6177-487e-b8b5-cf950c1e598c": "SharePoint Online Web Client Extensibility",
        "0cd196ee-71bf-4fd6-a57c-b491ffd4fb1e": "Media Analysis and Transformation Service",
        "0f698dd4-f011-4d23-a33e-b36416dcb1e6": "OfficeClientService",
        "1fec8e78-bce4-4aaf-ab1b-5451cc387264": "Microsoft Teams",
        "243c63a3-247d-41c5-9d83-7788c43f1c43": "Office Online Core SSO",
        "2d4d3d8e-2be3-4bef-9f87-7875a61c29de": "OneNote",
        "4345a7b9-9a63-4910-a426-35363201d503": "O365 Suite UX",
        "4765445b-32c6-49b0-83e6-1d93765276ca": "OfficeHome",
        "4b233688-031c-404b-9a80-a4f3f2351f90": "Office.com",
        "5e3ce6c0-2b1f-4285-8d4b-75ee78787346": "Microsoft Teams Web Client",
        "66a88757-258c-4c72-893c-3e8bed4d6899": "Office 365 Search Service",
        "89bee1f7-5e6e-4d8a-9f3d-ecd601259da7": "Office365 Shell WCSS-Client",
        "905fcf26-4eb7-48a0-9ff0-8dcc7194b5ba": "Sway",
        "93d53678-613d-4013-afc1-62e9e444a0a5": "Office Online Add-in SSO",
        "944f0bd1-117b-4b1c-af26-804ed95e767e": "Media Analysis and Transformation Service",
        "94c63fef-13a3-47bc-8074-75af8c65887a": "Office Delve",
        "95de633a-083e-42f5-b444-a4295d8e9314": "Microsoft Whiteboard Services",
        "ab9b8c07-8f02-4f72-87fa-80105867a763": "OneDrive SyncEngine",
        "c9a559d2-7aab-4f13-a6ed-e7e9c52aec87": "Microsoft Forms",
        "cc15fd57-2c6c-4117-a88c-83b1d56b4bbe": "Microsoft Teams Services",
        "cf53fce8-def6-4aeb-8d30-b158e7b1cf83": "Microsoft Stream Portal",
        "d3590ed6-52b3-4102-aeff-aad2292ab01c": "Microsoft Office",
    }
)
"""Application id -> name, for the ``Office365`` keyword."""

_OFFICE365 = frozenset(OFFICE365_APPLICATIONS)


_KEYWORDS = frozenset({"all", "none", "office365", "microsoftadminportals"})
_APP_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@lru_cache(maxsize=64)
def _knows_its_application_id(app_ids: frozenset[str]) -> bool:
    return any(_APP_ID.fullmatch(a) for a in app_ids)


def _listed(values: frozenset[str], app_ids: frozenset[str], where: str) -> Tri:
    """Whether an application id listed in ``values`` is this resource's. Graph lists
    application (client) ids; a v1.0 token's ``aud`` may be the App ID URI instead (access
    token claims reference, ``aud``), so a resource known only by URI cannot tell whether
    another application id is its own, unless that id is one of Microsoft's own apps."""
    listed = values - _KEYWORDS
    if not listed:
        return False
    if listed & app_ids:
        return True
    if _knows_its_application_id(app_ids):
        return False
    unknown = [a for a in listed if _APP_ID.fullmatch(a) and a not in _OFFICE365]
    if unknown:
        return undecided(
            f"{where}: this resource's application id is not known (only "
            f"{', '.join(sorted(app_ids)) or 'no id'}): set CAESettings.app_ids"
        )
    return False


def _selected(values: frozenset[str], app_ids: frozenset[str], where: str) -> Tri:
    return any_of(
        [
            "all" in values,
            _listed(values, app_ids, where),
            "office365" in values and bool(_OFFICE365 & app_ids),
            undecided(f"{where}: MicrosoftAdminPortals (Microsoft publishes no id list)")
            if "microsoftadminportals" in values
            else False,
        ]
    )


def applications_selected(selection: Selection, app_ids: frozenset[str]) -> Tri:
    """Whether this resource (``app_ids``, lower-case) is targeted by ``selection``."""
    if "none" in selection.include:
        return False
    included = _selected(selection.include, app_ids, "applications.includeApplications")
    excluded = _selected(selection.exclude, app_ids, "applications.excludeApplications")
    return all_of([included, negate(excluded)])
