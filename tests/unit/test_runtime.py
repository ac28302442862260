"""The runtime's cache of bound stack definitions: each is bound once per
process however many atoms ask for it at once."""

import threading

from heatflow.template import template as template_mod

TEMPLATE = {"heat_template_version": "2018-08-31",
            "resources": {"a": {"type": "OS::Heat::None"}}}


def test_atoms_asking_at_once_share_one_bind(orch, monkeypatch):
    orch.create_stack("s", TEMPLATE).wait(30)
    row = orch.db.store.find_stack("s")
    binds = []
    real_bind = template_mod.Template.bind
    started = threading.Barrier(8)

    def slow_bind(self, *args, **kwargs):
        binds.append(1)
        threading.Event().wait(0.2)     # long enough for all to pile up
        return real_bind(self, *args, **kwargs)
    monkeypatch.setattr(template_mod.Template, "bind", slow_bind)
    got = []

    def ask():
        started.wait()
        got.append(orch.runtime.definition(row.template_id, "s", "other"))
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(binds) == 1
    assert len(got) == 8 and all(d is got[0] for d in got)


def test_the_api_hands_its_definition_to_the_runtime(orch, monkeypatch):
    binds = []
    real_bind = template_mod.Template.bind

    def counting_bind(self, *args, **kwargs):
        binds.append(1)
        return real_bind(self, *args, **kwargs)
    monkeypatch.setattr(template_mod.Template, "bind", counting_bind)
    orch.create_stack("s", TEMPLATE).wait(30)
    assert orch.get_stack("s").stack_status == "CREATE_COMPLETE"
    assert len(binds) == 1          # the API's; the atoms reuse it
