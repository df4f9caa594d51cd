"""The naming convention of Microsoft's "Conditional Access framework and policies" (Azure
Architecture Center) as ``cae_sdk.core.naming`` checks it: pure rules."""

from __future__ import annotations

import pytest

from cae_sdk.core.errors import CAEError, PolicyNameError
from cae_sdk.core.naming import (
    PERSONA_RANGES,
    check_policy_name,
    parse_policy_name,
    persona_for_number,
)


def codes(name: str) -> set[str]:
    return {issue.code for issue in check_policy_name(name)[1]}


def test_parses_every_component():
    name = parse_policy_name("CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA-Baseline-v2")
    assert name.number == 100
    assert (name.persona, name.policy_type, name.app) == ("Internals", "BaseProtection", "AllApps")
    assert (name.platform, name.grant_control) == ("AnyPlatform", "MFA")
    assert name.description == "Baseline-v2"
    assert str(name) == "CA100-Internals-BaseProtection-AllApps-AnyPlatform-MFA-Baseline-v2"


@pytest.mark.parametrize(
    ("persona", "low", "high"),
    [
        ("Global", 1, 99),
        ("Admins", 200, 299),
        ("WorkloadIdentities", 900, 999),
        ("Developers", 1000, 1099),
        ("M365ServiceAccounts", 600, 699),
    ],
)
def test_number_ranges_per_persona(persona, low, high):
    assert PERSONA_RANGES[persona] == (low, high)
    ok = f"CA{low:03d}-{persona}-BaseProtection-AllApps-AnyPlatform-Block"
    assert check_policy_name(ok)[1] == []
    assert "number-range" in codes(
        f"CA{high + 1:03d}-{persona}-BaseProtection-AllApps-AnyPlatform-Block"
    )
    assert "number-range" in codes(
        f"CA{max(low - 1, 0):03d}-{persona}-BaseProtection-AllApps-AnyPlatform-Block"
    )


def test_out_of_range_names_the_owner():
    _, issues = check_policy_name("CA150-Admins-BaseProtection-AllApps-AnyPlatform-MFA")
    (issue,) = issues
    assert issue.severity == "error"
    assert "Internals" in issue.message and "CA200-CA299" in issue.message
    assert persona_for_number(150) == "Internals"
    assert persona_for_number(1100) is None


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Block legacy auth", "name-format"),
        ("CA001-Global-BaseProtection-AllApps-AnyPlatform", "name-format"),
        ("CAX01-Global-BaseProtection-AllApps-AnyPlatform-Block", "number-format"),
        ("CA001-Everyone-BaseProtection-AllApps-AnyPlatform-Block", "persona"),
        ("CA001-Global-Protection-AllApps-AnyPlatform-Block", "policy-type"),
        ("CA001-Global-BaseProtection-AllApps-Symbian-Block", "platform"),
        ("CA001-Global-BaseProtection-AllApps-AnyPlatform-Allow", "grant-control"),
        ("CA001-global-BaseProtection-AllApps-AnyPlatform-Block", "persona-case"),
        ("CA001-Global-BaseProtection-All Apps-AnyPlatform-Block", "app-format"),
        ("", "name-missing"),
    ],
)
def test_each_rule(name, code):
    assert code in codes(name)


def test_parse_strict_raises_typed_error():
    with pytest.raises(PolicyNameError) as info:
        parse_policy_name("CA150-Admins-BaseProtection-AllApps-AnyPlatform-MFA")
    assert isinstance(info.value, CAEError) and isinstance(info.value, ValueError)
    assert "CA200-CA299" in str(info.value)


def test_round_trip_over_the_whole_vocabulary():
    from hypothesis import given
    from hypothesis import strategies as st

    from cae_sdk.core.naming import GRANT_CONTROLS, PLATFORMS, POLICY_TYPES, PolicyName

    @st.composite
    def names(draw):
        persona = draw(st.sampled_from(sorted(PERSONA_RANGES)))
        low, high = PERSONA_RANGES[persona]
        return PolicyName(
            draw(st.integers(low, high)),
            persona,
            draw(st.sampled_from(POLICY_TYPES)),
            draw(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True)),
            draw(st.sampled_from(PLATFORMS)),
            draw(st.sampled_from(GRANT_CONTROLS)),
            draw(st.none() | st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True)),
        )

    @given(names())
    def check(name):
        assert parse_policy_name(str(name)) == name
        assert check_policy_name(str(name))[1] == []

    check()


def test_never_raises_on_arbitrary_text():
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.text(max_size=200))
    def check(text):
        parsed, issues = check_policy_name(text)
        assert parsed is None or not [i for i in issues if i.severity == "error"]

    check()
