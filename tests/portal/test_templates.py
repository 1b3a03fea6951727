"""The pages' template environment looks a dict's keys up first, and answers exactly as Jinja's own."""

from __future__ import annotations

import jinja2

from orchestrator.core.lifecycle import Actor
from orchestrator.portal.pages import templates

SOURCE = (
    "{{ row.unit }}|{{ row.missing }}|{{ row['unit'] }}|{{ row.items()|list|length }}|{{ row.get('unit') }}|"
    "{{ actor.name }}|{{ actor.unit }}|{{ nested.deadline.due }}|{{ row.keys is defined }}"
)


def test_lookups_answer_as_jinjas_own():
    context = {
        "row": {"unit": "zwb", "items": "shadowed", "keys": 1},
        "actor": Actor("li", "unit", "zwb"),
        "nested": {"deadline": {"due": "2026-12-01"}},
    }
    ours = templates.env.from_string(SOURCE).render(context)
    stock = jinja2.Environment(autoescape=True).from_string(SOURCE).render(context)
    assert ours == stock == "zwb||zwb|3|zwb|li|zwb|2026-12-01|True"


def test_templates_are_compiled_once():
    assert templates.env.auto_reload is False
    assert templates.env.get_template("queue.html") is templates.env.get_template("queue.html")
