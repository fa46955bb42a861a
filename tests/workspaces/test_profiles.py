"""``MLLab.profiles``: validated once, mapped onto DockerSpawner and KubeSpawner in one place."""

from __future__ import annotations

import pytest
from mllab.hub.backends.profiles import kubespawner_profile_list, parse_profiles, spawner_overrides
from mllab.hub.platform import MLLab

GPU = {"display_name": "GPU large", "cpu_limit": 8, "cpu_guarantee": 2, "mem_limit": "32G", "mem_guarantee": "16G",
       "gpus": 2, "node_selector": {"gpu": "a100"}, "environment": {"A": "1"}}


def test_no_profiles_is_one_default_profile():
    [profile] = parse_profiles([], "mllab/workspace:1")
    assert (profile.slug, profile.image, profile.default) == ("default", "mllab/workspace:1", True)
    assert profile.mem_limit is None


def test_slug_default_and_sizes():
    small, gpu = parse_profiles([{"display_name": "Small", "mem_limit": 2**30}, GPU], "img")
    assert (small.slug, small.default, small.mem_limit) == ("small", True, 2**30)
    assert (gpu.slug, gpu.default, gpu.mem_limit, gpu.image) == ("gpu-large", False, 32 * 2**30, "img")
    assert gpu.summary() == "img, 8 CPU, 32 GiB memory, 2 GPUs"


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ([{"slug": "x"}], "display_name"),
        ([{"display_name": "A", "memory": "1G"}], "unknown keys"),
        ([{"display_name": "A", "mem_limit": "lots"}], "mem_limit"),
        ([{"display_name": "A", "cpu_limit": -1}], "positive"),
        ([{"display_name": "A", "gpus": "one"}], "gpus"),
        ([{"display_name": "A"}, {"display_name": "a"}], "unique slugs"),
        ([{"display_name": "A", "default": True}, {"display_name": "B", "default": True}], "one default"),
    ],
    ids=["no-name", "unknown-key", "bad-size", "negative-cpu", "bad-gpus", "same-slug", "two-defaults"],
)
def test_invalid_profiles_are_refused_by_the_option(entries, message):
    with pytest.raises(ValueError, match=message):
        MLLab(profiles=entries)


def test_same_profile_on_both_spawners():
    [profile] = parse_profiles([GPU], "img")
    docker = spawner_overrides(profile, "docker")
    kube = spawner_overrides(profile, "kubernetes")
    for name in ("image", "cpu_limit", "cpu_guarantee", "mem_limit", "mem_guarantee", "environment"):
        assert docker[name] == kube[name] == getattr(profile, name)
    assert docker["extra_host_config"] == {
        "mem_limit": 32 * 2**30,
        "cpu_period": 100_000,
        "cpu_quota": 800_000,
        "device_requests": [{"Driver": "nvidia", "Count": 2, "Capabilities": [["gpu"]]}],
        "mem_reservation": 16 * 2**30,
        "cpu_shares": 2048,
    }
    assert kube["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
    assert kube["node_selector"] == {"gpu": "a100"}
    assert "node_selector" not in docker  # Kubernetes only


def test_kubespawner_profile_list():
    [entry] = kubespawner_profile_list(parse_profiles([GPU], "img"))
    assert entry["slug"] == "gpu-large"
    assert entry["default"] is True
    assert entry["description"] == "img, 8 CPU, 32 GiB memory, 2 GPUs"
    assert entry["kubespawner_override"]["extra_resource_limits"] == {"nvidia.com/gpu": "2"}
