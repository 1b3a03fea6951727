"""The Art. 45 figures of 2026 from the replayed ledger (the ledger runs to 6 May), by hand."""

from __future__ import annotations

import dataclasses

from orchestrator.core import assessment, report
from orchestrator.core.workdays import default_calendar
from orchestrator.services import report as svc


def _rows(result):
    return {u.unit: u for u in result.units}


def test_assessment_figures_per_unit(ledger, cloud):
    rows = _rows(svc.assessment(ledger, 2026, cloud=cloud))
    assert set(rows) == {"rsj", "sjj", "zjj", "zwb"}
    rsj = rows["rsj"]
    # production with MLPS filing; catalogue RSJ-0101 conditional, RSJ-0102 unconditional;
    # trial (10% of its vCPU in use) and production (a server shut off since March) both inefficient;
    # accept, review, test-ready, test window (destroyed on the day), change review, change applied: met
    assert dataclasses.astuple(rsj) == ("rsj", 1, 1, 2, 2, 1, 1, None, 2, 1, 1, 1, 6, 0)
    # citizen-portal: testing only; accept met; review, test-ready and the test window (due 1 May,
    # never destroyed) missed
    assert dataclasses.astuple(rows["zwb"]) == ("zwb", 1, 0, 1, 0, 0, 0, None, 1, 1, 1, 1, 1, 3)
    # permit-prototype reclaimed: no longer declared; reclamation missed, five met
    assert dataclasses.astuple(rows["zjj"]) == ("zjj", 0, 0, 0, 0, 0, 0, None, 0, 0, 1, 1, 5, 1)
    # open-data accepted on 6 May (due 29 Apr), review due 8 May never given: both missed
    assert dataclasses.astuple(rows["sjj"]) == ("sjj", 1, 0, 0, 0, 0, 0, None, 2, 1, 1, 1, 0, 2)


def test_assessment_percentages(ledger, cloud):
    data = {u["unit"]: u for u in svc.assessment(ledger, 2026, cloud=cloud).as_dict()["units"]}
    assert (
        data["rsj"]["on_cloud_percent"],
        data["rsj"]["inefficient_percent"],
        data["rsj"]["mlps_filed_percent"],
        data["rsj"]["unconditional_percent"],
        data["rsj"]["deadlines_met_percent"],
    ) == (100.0, 100.0, 100.0, 50.0, 100.0)
    assert (
        data["zwb"]["on_cloud_percent"],
        data["zwb"]["inefficient_percent"],
        data["zwb"]["mlps_filed_percent"],
        data["zwb"]["deadlines_met_percent"],
    ) == (0.0, 0.0, None, 25.0)
    assert data["zjj"]["on_cloud_percent"] is None and data["zjj"]["deadlines_met_percent"] == 83.3


def test_without_a_cloud_efficiency_is_unknown(ledger):
    result = svc.assessment(ledger, 2026, unit="rsj")
    assert (result.usage_known, [u.unit for u in result.units]) == (False, ["rsj"])
    unit = result.units[0]
    assert (unit.environments_judged, unit.as_dict()["inefficient_percent"]) == (0, None)


def test_an_invalid_manifest_on_record_counts_against_standards(ledger):
    period = report.year(2026)
    facts = [
        f if f.application != "citizen-portal" else dataclasses.replace(f, manifests=dict.fromkeys(f.manifests))
        for f in svc.facts(ledger, period.end)
    ]
    zwb = next(u for u in assessment.assess(facts, period, default_calendar()).units if u.unit == "zwb")
    assert (zwb.manifests, zwb.manifests_valid, zwb.catalogue_entries) == (1, 0, 0)


def test_an_earlier_year_has_nothing(ledger):
    assert svc.assessment(ledger, 2025).units == ()
