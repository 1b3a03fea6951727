"""Pure naming, tagging and sizing rules of the core."""

from __future__ import annotations

import re

import pytest

from orchestrator.core import naming, sizing
from orchestrator.core.manifest import Environment, Resources, Rule, SecurityGroup
from orchestrator.core.validation import validate_bytes

from .conftest import REPO, example


def test_names() -> None:
    assert naming.stack_name("zwb", "citizen-portal", Environment.TRIAL) == "zwb.citizen-portal.trial"
    assert naming.project_name("zwb", "citizen-portal", Environment.TRIAL) == "zwb-citizen-portal-trial"
    assert naming.resource_name("citizen-portal", "web", 2) == "citizen-portal-web-2"


def test_tag_formats_round_trip() -> None:
    app = example("citizen-portal")
    tags = naming.tags(app, Environment.TEST)
    assert naming.parse_tags(tags + ["other=1", "govcloud:bogus=x"]) == naming.labels(app, Environment.TEST)
    assert naming.metadata(app, Environment.TEST)["govcloud:digest"] == app.digest
    assert all(":" not in key for key in naming.header_metadata(app, Environment.TEST))
    assert all(len(t) <= 255 and "," not in t and "/" not in t for t in tags)


@pytest.mark.parametrize(
    ("name", "vcpu", "ram"),
    [("g.1c2g", 1, 2), ("g.8c16g", 8, 16), ("g.16c64g", 16, 64), ("g.32c128g", 32, 128)],
)
def test_flavor_table_and_convention(name: str, vcpu: int, ram: int) -> None:
    assert sizing.flavor(name) == sizing.Flavor(vcpu, ram)


@pytest.mark.parametrize("name", ["m1.small", "g.0c2g", "g.2c", "G.2C4G", "g.2c4gb"])
def test_unknown_flavor_is_a_clear_error(name: str) -> None:
    with pytest.raises(sizing.UnknownFlavor, match=f"unknown flavor '{name}'.*g.<vCPU>c<RAM GB>g"):
        sizing.flavor(name)


def test_validation_names_the_field_of_an_unknown_flavor() -> None:
    raw = (REPO / "examples/manifests/permit-prototype.yaml").read_bytes().replace(b"g.1c2g", b"m1.small")
    report = validate_bytes(raw, "permit.yaml")
    [problem] = [p for p in report.problems if p.rule == "flavor-known"]
    assert problem.field == "spec.resources.servers[0].flavor"
    assert problem.line == raw.split(b"\n").index(b"        flavor: m1.small") + 1


def test_totals_and_quotas_of_social_security_production() -> None:
    res = example("social-security").environments[Environment.PRODUCTION].resources
    totals = sizing.totals(res)
    # gateways 2 x g.2c4g, app 4 x g.8c16g, database g.8c16g
    assert (totals.vcpu, totals.ram_gb) == (2 * 2 + 4 * 8 + 8, 2 * 4 + 4 * 16 + 16)
    # app data 4 x (200 + 100), archive 1000, database 300
    assert totals.volume_gb == 4 * 300 + 1000 + 300
    assert (totals.object_gb, totals.servers, totals.database_instances) == (2000, 6, 1)
    assert (totals.public_ips, totals.world_open_rules) == (2, 1)
    quotas = sizing.quotas(res)
    assert quotas.compute == {"instances": 6, "cores": 36, "ram": 72 * 1024}
    assert quotas.block_storage == {"volumes": 9, "gigabytes": 2200, "snapshots": 0}  # exact: no room at all
    # 3 declared groups + default; 4 declared rules + 2 default egress x 3 + 4 in default
    assert quotas.network == {
        "network": 1,
        "subnet": 1,
        "router": 1,
        "port": 8,
        "floatingip": 2,
        "security_group": 4,
        "security_group_rule": 4 + 6 + 4,
    }


def test_headroom_makes_room_for_snapshots_and_emergency_rules() -> None:
    res = example("social-security").environments[Environment.PRODUCTION].resources
    exact = sizing.quotas(res)
    room = sizing.quotas(res, sizing.Headroom(snapshot_share=0.5, snapshots_per_volume=2, security_group_rules=3))
    assert room.block_storage == {"volumes": 9, "gigabytes": 2200 + 1100, "snapshots": 18}
    assert room.network == exact.network | {"security_group_rule": exact.network["security_group_rule"] + 3}
    assert room.compute == exact.compute
    assert sizing.Headroom(snapshot_share=0.3).extra(res)["gigabytes"] == 660  # rounded up, never short


def test_declared_egress_replaces_default_egress() -> None:
    res = Resources.model_validate(
        {
            "securityGroups": [
                {
                    "name": "locked",
                    "rules": [
                        {"direction": "egress", "protocol": "tcp", "ports": 443, "remoteCidr": "0.0.0.0/0"},
                        {"protocol": "tcp", "ports": 22, "remoteCidr": "0.0.0.0/0"},
                    ],
                }
            ]
        }
    )
    assert sizing.keeps_default_egress(res.security_groups[0]) is False
    assert sizing.quotas(res).network["security_group_rule"] == 2 + 4
    assert sizing.totals(res).world_open_rules == 1  # egress to anywhere is not "open"


@pytest.mark.parametrize(("ports", "cidr"), [(3, "172.16.0.0/24"), (300, "172.16.0.0/23"), (10**6, "172.16.0.0/16")])
def test_subnet_grows_with_ports(ports: int, cidr: str) -> None:
    assert sizing.subnet_cidr(Environment.TEST, ports) == cidr
    assert sizing.subnet_cidr(Environment.PRODUCTION, 3) == "172.18.0.0/24"


def test_errors_survive_pickling_for_the_process_pool() -> None:
    import pickle

    from orchestrator.errors import ManifestInvalid

    report = validate_bytes(b"kind: Application\n", "x.yaml")
    error = pickle.loads(pickle.dumps(ManifestInvalid("x.yaml", report.problems)))
    assert error.path == "x.yaml" and error.problems == report.problems and error.exit_code == 1
    flavor = pickle.loads(pickle.dumps(sizing.UnknownFlavor("m1.tiny")))
    assert flavor.name == "m1.tiny" and str(flavor) == str(sizing.UnknownFlavor("m1.tiny"))


def _group(name: str, *rules: dict) -> SecurityGroup:
    return SecurityGroup.model_validate({"name": name, "rules": list(rules)})


@pytest.mark.parametrize(
    ("rule", "slug"),
    [
        ({"protocol": "tcp", "ports": 443, "remoteCidr": "0.0.0.0/0"}, "ingress-tcp-443-0.0.0.0_0"),
        ({"protocol": "tcp", "ports": "8000-8080", "remoteGroup": "web"}, "ingress-tcp-8000-8080-sg-web"),
        ({"protocol": "icmp", "remoteCidr": "10.20.0.0/16"}, "ingress-icmp-10.20.0.0_16"),
        ({"direction": "egress", "protocol": "any", "remoteCidr": "2001:DB8:0::/32"}, "egress-any-2001.db8.._32"),
        ({"protocol": "udp", "ports": 53, "remoteCidr": "::/0"}, "ingress-udp-53-.._0"),
    ],
)
def test_a_rule_is_named_by_what_it_is(rule: dict, slug: str) -> None:
    assert naming.rule_slug(Rule.model_validate(rule)) == slug


def test_rule_names_are_unique_even_where_group_names_meet() -> None:
    # "web" + "ingress-tcp-443-sg-x-egress-any-sg-y" == "web-ingress-tcp-443-sg-x" + "egress-any-sg-y"
    web = _group(
        "web",
        {"protocol": "tcp", "ports": 443, "remoteGroup": "x-egress-any-sg-y"},
        {"protocol": "tcp", "ports": 22, "remoteCidr": "10.0.0.0/8"},
    )
    other = _group("web-ingress-tcp-443-sg-x", {"direction": "egress", "protocol": "any", "remoteGroup": "y"})
    names = naming.security_rule_names("a", [web, other])
    clashing = "a-web-ingress-tcp-443-sg-x-egress-any-sg-y"
    first, second = names["web"][0].name, names["web-ingress-tcp-443-sg-x"][0].name
    assert first != second and all(re.fullmatch(clashing + "-[0-9a-f]{8}", n) for n in (first, second))
    assert names["web"][1].name == "a-web-ingress-tcp-22-10.0.0.0_8", "only the clashing names take a hash"
    assert [n.old for n in names["web"]] == ["a-web-rule-1", "a-web-rule-2"]


def test_an_old_numbered_name_that_is_now_another_rules_name_is_no_alias() -> None:
    web = _group("web", {"protocol": "tcp", "ports": 443, "remoteGroup": "foo-rule-1"})
    other = _group("web-ingress-tcp-443-sg-foo", {"protocol": "tcp", "ports": 80, "remoteCidr": "0.0.0.0/0"})
    names = naming.security_rule_names("a", [web, other])
    assert names["web"] == [naming.RuleName("a-web-ingress-tcp-443-sg-foo-rule-1", "a-web-rule-1")]
    assert names["web-ingress-tcp-443-sg-foo"][0].old is None
