#!/usr/bin/env python3
"""Regenerate tokens.json: Terraform type name -> Pulumi token of the pulumi-openstack Python SDK.

The bridged provider must answer to the tokens that the Python SDK (pulumi-openstack on PyPI)
sends, e.g. openstack:networking/network:Network for openstack_networking_network_v2.
This script reads the tokens out of an installed pulumi_openstack package and the Terraform
type names out of the terraform-provider-openstack module source, and pairs them by name.

usage: gen_tokens.py SITE_PACKAGES_DIR TF_PROVIDER_MODULE_DIR > tokens.json
"""

import glob
import json
import os
import re
import sys

# Terraform module prefixes that pulumi-openstack spells differently.
MODULE_ALIASES = {"db": "database", "fw": "firewall", "lb": "loadbalancer"}

# Pairs that do not follow the naming pattern (kept as the SDK spells them, typos included).
MANUAL = {
    "resources": {
        "openstack_blockstorage_quotaset_v3": "openstack:blockstorage/quoteSetV3:QuoteSetV3",
        "openstack_objectstorage_object_v1": "openstack:objectstorage/containerObject:ContainerObject",
    },
    "dataSources": {
        "openstack_dns_zone_v2": "openstack:dns/getDnsZone:getDnsZone",
        # Older spelling of openstack_loadbalancer_flavor_v2, which has loadbalancer/getFlavorV2.
        "openstack_lb_flavor_v2": "openstack:loadbalancer/getLbFlavorDeprecated:getLbFlavorDeprecated",
        "openstack_sharedfilesystem_availability_zones_v2": (
            "openstack:sharedfilesystem/getAvailbilityZones:getAvailbilityZones"  # sic: upstream's spelling
        ),
    },
}


def sdk_tokens(site_packages):
    toks = set()
    for f in glob.glob(os.path.join(site_packages, "pulumi_openstack", "**", "*.py"), recursive=True):
        with open(f, encoding="utf-8") as fh:
            toks |= set(re.findall(r"'(openstack:[a-zA-Z]+/[a-zA-Z0-9]+:[A-Za-z0-9]+)'", fh.read()))
    return toks


def tf_names(module_dir):
    with open(os.path.join(module_dir, "openstack", "provider.go"), encoding="utf-8") as fh:
        src = fh.read()

    def block(marker):
        start = src.index(marker)
        end = src.index("\n\t\t},", start)
        return re.findall(r'"(openstack_[a-z0-9_]+)"', src[start:end])

    return block("ResourcesMap"), block("DataSourcesMap")


def candidates(tf, is_data, toks):
    parts = tf[len("openstack_") :].split("_")
    module = MODULE_ALIASES.get(parts[0], parts[0])
    body = parts[1:]
    no_version = body[:-1] if body and re.fullmatch(r"v\d+", body[-1]) else body
    forms = [(module, "".join(no_version)), (module, "".join(body)), ("index", "".join(parts))]
    out = []
    for mod, name in forms:
        for tok in sorted(toks):
            tmod, tname = tok.split(":", 1)[1].split("/")[0], tok.rsplit(":", 1)[1]
            is_fn = tname.startswith("get") and tname[3:4].isupper()
            if is_fn != is_data:
                continue
            bare = tname[3:] if is_data else tname
            if tmod == mod and bare.lower() == name and tok not in out:
                out.append(tok)
    return out


def main():
    toks = sdk_tokens(sys.argv[1])
    resources, data_sources = tf_names(sys.argv[2])
    result = {"resources": {}, "resourceAliases": {}, "dataSources": {}, "dataSourceAliases": {}}
    for kind, names, is_data in (("resources", resources, False), ("dataSources", data_sources, True)):
        alias_kind = "resourceAliases" if not is_data else "dataSourceAliases"
        for tf in names:
            found = [MANUAL[kind][tf]] if tf in MANUAL[kind] else candidates(tf, is_data, toks)
            if not found:
                print(f"warning: no SDK token for {tf}; the bridge will name it itself", file=sys.stderr)
                continue
            # Prefer a token in a named module; extra matches in `index` are legacy names.
            found.sort(key=lambda t: t.split(":")[1].startswith("index/"))
            taken = set(result[kind].values())
            if found[0] in taken:
                print(f"warning: {tf} would reuse {found[0]}; left to the bridge", file=sys.stderr)
                continue
            result[kind][tf] = found[0]
            if len(found) > 1:
                result[alias_kind][tf] = found[1:]
    used = {t for k in ("resources", "dataSources") for t in result[k].values()}
    used |= {t for k in ("resourceAliases", "dataSourceAliases") for v in result[k].values() for t in v}
    for tok in sorted(toks - used):
        print(f"warning: SDK token {tok} has no Terraform counterpart here", file=sys.stderr)
    json.dump(result, sys.stdout, indent=1, sort_keys=True)
    print()


if __name__ == "__main__":
    main()
