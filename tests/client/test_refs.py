"""Parsing references the way people write them."""

from __future__ import annotations

import pytest
from mllab.client.errors import RefError
from mllab.client.refs import Ref, parse_artifact, parse_namespace, parse_ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("users/alice/iris", Ref("users/alice", "iris"), id="artifact"),
        pytest.param("users/alice/iris:3", Ref("users/alice", "iris", number=3), id="number"),
        pytest.param("groups/vision/cnn@production", Ref("groups/vision", "cnn", alias="production"), id="alias"),
        pytest.param("iris", Ref(None, "iris"), id="plain-name"),
        pytest.param("iris:12", Ref(None, "iris", number=12), id="plain-name-number"),
        pytest.param("iris@latest", Ref(None, "iris", alias="latest"), id="plain-name-alias"),
        pytest.param("  users/alice/iris ", Ref("users/alice", "iris"), id="surrounding-space"),
        pytest.param("users/a/v1.2_final-x", Ref("users/a", "v1.2_final-x"), id="dots-underscores-dashes"),
    ],
)
def test_parse_ref(text, expected):
    assert parse_ref(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("", id="empty"),
        pytest.param("users/alice/iris:", id="empty-number"),
        pytest.param("users/alice/iris:0", id="version-zero"),
        pytest.param("users/alice/iris:-1", id="negative-version"),
        pytest.param("users/alice/iris:three", id="word-version"),
        pytest.param("users/alice/iris:\u00b3", id="unicode-digit-version"),
        pytest.param("users/alice/iris@", id="empty-alias"),
        pytest.param("users/alice/iris:3@prod", id="number-and-alias"),
        pytest.param("teams/vision/iris", id="unknown-namespace-kind"),
        pytest.param("alice/iris", id="namespace-without-kind"),
        pytest.param("users/alice/x/iris", id="too-many-segments"),
        pytest.param("users//iris", id="empty-owner"),
        pytest.param("users/alice/-iris", id="name-starts-with-dash"),
        pytest.param("users/alice/ir is", id="space-in-name"),
        pytest.param("users/alice/" + "x" * 129, id="name-too-long"),
        pytest.param("users/alice/iris@pro/d", id="slash-in-alias"),
        pytest.param("users/alice/iris@3x", id="alias-starting-with-a-digit"),
        pytest.param("users/alice/iris:2147483648", id="version-out-of-range"),
        # The registry takes owners named like artifacts only; it would refuse the reference too.
        pytest.param("users/alice.b@x.org/m", id="owner-not-a-name"),
    ],
)
def test_parse_ref_rejects(text):
    with pytest.raises(RefError):
        parse_ref(text)


def test_plain_name_takes_the_namespace_given():
    assert parse_ref("iris:2", namespace="users/bob") == Ref("users/bob", "iris", number=2)
    assert parse_ref("groups/vision/iris", namespace="users/bob").namespace == "groups/vision"


@pytest.mark.parametrize(
    ("ref", "text"),
    [
        pytest.param(Ref("users/alice", "iris"), "users/alice/iris", id="artifact"),
        pytest.param(Ref("users/alice", "iris", number=3), "users/alice/iris:3", id="number"),
        pytest.param(Ref("users/alice", "iris", alias="prod"), "users/alice/iris@prod", id="alias"),
        pytest.param(Ref(None, "iris", number=1), "iris:1", id="plain"),
    ],
)
def test_str_round_trips(ref, text):
    assert str(ref) == text
    assert parse_ref(text) == ref


def test_version_for_the_api():
    assert parse_ref("a:3").version == "3"
    assert parse_ref("a@prod").version == "prod"
    assert parse_ref("a").version is None
    assert not parse_ref("a").pinned


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("users/alice", "users/alice", id="user"),
        pytest.param("groups/vision/", "groups/vision", id="trailing-slash"),
    ],
)
def test_parse_namespace(text, expected):
    assert parse_namespace(text) == expected


@pytest.mark.parametrize("text", ["users", "users/", "people/alice", "users/alice/x", "users/a b", "users/a@b.org"])
def test_parse_namespace_rejects(text):
    with pytest.raises(RefError, match="users/<user> or groups/<group>"):
        parse_namespace(text)


def test_parse_artifact_refuses_versions_and_conflicting_namespaces():
    assert parse_artifact("iris", "groups/vision") == Ref("groups/vision", "iris")
    assert parse_artifact("groups/vision/iris", "groups/vision/") == Ref("groups/vision", "iris")
    with pytest.raises(RefError, match="names a version"):
        parse_artifact("iris:3")
    with pytest.raises(RefError, match="not in the namespace given"):
        parse_artifact("users/alice/iris", "groups/vision")


def test_full_name_needs_a_namespace():
    with pytest.raises(RefError):
        _ = Ref(None, "iris").full_name


def test_refused_names_are_explained_in_the_registry_words():
    with pytest.raises(RefError, match=r"^Alias '3x' is not valid: .* starting with a letter\.$"):
        parse_ref("iris@3x")
    with pytest.raises(RefError, match=r"^Name '-iris' is not valid"):
        parse_ref("users/alice/-iris")
