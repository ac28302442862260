import importlib.metadata
import textwrap

import pytest

from heatflow import exception, registry, resource
from heatflow.plugins import none as none_plugin
from heatflow.registry import Registry


class Widget(resource.Resource):
    pass


class Gadget(resource.Resource):
    pass


def widget_mapping():
    return {"Acme::Widget": Widget, "Acme::Gadget": Gadget}


def not_a_resource():
    return object


BUILTINS = ["OS::Heat::None", "OS::Heat::RandomString",
            "OS::Heat::ResourceChain", "OS::Heat::ResourceGroup",
            "OS::Heat::Stack", "OS::Heat::TestResource", "OS::Heat::Value"]

PLUGIN_MODULE = textwrap.dedent('''
    from heatflow import resource

    class {cls}(resource.Resource):
        marker = {marker!r}

    def resource_mapping():
        return {{{type_name!r}: {cls}}}
''')


def write_plugin(directory, filename, type_name, cls="Thing", marker=None):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / filename).write_text(PLUGIN_MODULE.format(
        cls=cls, type_name=type_name, marker=marker))


@pytest.fixture
def bare():
    return Registry(entry_points=False, builtins=False)


class TestRegister:
    def test_builtins(self):
        reg = Registry(entry_points=False)
        assert reg.types() == BUILTINS
        assert reg.get_class("OS::Heat::None") is none_plugin.NoneResource

    def test_without_builtins(self, bare):
        assert bare.types() == []

    def test_register_and_lookup(self, bare):
        bare.register("Acme::Widget", Widget)
        bare.register("Acme::Gadget", Gadget)
        assert bare.get_class("Acme::Widget") is Widget
        assert "Acme::Widget" in bare and "Acme::Nope" not in bare
        assert bare.types() == ["Acme::Gadget", "Acme::Widget"]

    @pytest.mark.parametrize("cls", [object, 5, resource.ResourceStorage,
                                     "Widget"])
    def test_register_rejects_non_resources(self, bare, cls):
        with pytest.raises(exception.PluginError) as info:
            bare.register("Acme::Widget", cls)
        assert "Acme::Widget" in str(info.value)
        assert "Acme::Widget" not in bare

    def test_register_rejects_bad_names(self, bare):
        for name in ("", None, 5):
            with pytest.raises(exception.PluginError):
                bare.register(name, Widget)

    def test_unknown_type(self, bare):
        with pytest.raises(exception.UnknownResourceType) as info:
            bare.get_class("Acme::Nope", ("resources", "web", "type"))
        assert str(info.value) == \
            "resources.web.type: unknown resource type 'Acme::Nope'"
        assert isinstance(info.value, exception.StackValidationFailed)

    def test_unknown_type_suggests_the_nearest_registered_one(self, bare):
        bare.register("Acme::Widget", Widget)
        with pytest.raises(exception.UnknownResourceType) as info:
            bare.get_class("Acme::Widgt", ("resources", "web", "type"))
        assert str(info.value) == (
            "resources.web.type: unknown resource type 'Acme::Widgt' "
            "(did you mean Acme::Widget?)")
        with pytest.raises(exception.UnknownResourceType) as info:
            bare.get_class("Other::Thing")
        assert "did you mean" not in str(info.value)

    def test_unknown_unhashable_type(self, bare):
        with pytest.raises(exception.UnknownResourceType):
            bare.get_class(["x"])
        assert ["x"] not in bare


class TestPluginDir:
    def test_loads_modules_with_mapping(self, bare, tmp_path):
        write_plugin(tmp_path, "widget.py", "Acme::Widget", marker="w")
        (tmp_path / "helpers.py").write_text("X = 1\n")        # no mapping
        (tmp_path / "_private.py").write_text("raise ImportError('no')\n")
        (tmp_path / "notes.txt").write_text("not python")
        bare.load_plugin_dir(str(tmp_path))
        assert bare.types() == ["Acme::Widget"]
        cls = bare.get_class("Acme::Widget")
        assert issubclass(cls, resource.Resource) and cls.marker == "w"

    def test_same_file_name_in_two_dirs(self, bare, tmp_path):
        write_plugin(tmp_path / "a", "plugin.py", "Acme::A", marker="a")
        write_plugin(tmp_path / "b", "plugin.py", "Acme::B", marker="b")
        bare.load_plugin_dir(tmp_path / "a")
        bare.load_plugin_dir(tmp_path / "b")
        assert bare.get_class("Acme::A").marker == "a"
        assert bare.get_class("Acme::B").marker == "b"

    def test_reloading_reuses_classes(self, tmp_path):
        write_plugin(tmp_path, "w.py", "Acme::W")
        one = Registry(plugin_dirs=[tmp_path], entry_points=False)
        two = Registry(plugin_dirs=[tmp_path], entry_points=False)
        assert one.get_class("Acme::W") is two.get_class("Acme::W")

    def test_plugin_dir_overrides_builtin(self, tmp_path):
        write_plugin(tmp_path, "n.py", "OS::Heat::None", marker="mine")
        reg = Registry(plugin_dirs=[tmp_path], entry_points=False)
        assert reg.get_class("OS::Heat::None").marker == "mine"

    @pytest.mark.parametrize("source,text", [
        ("def broken(:\n", "SyntaxError"),
        ("raise RuntimeError('boom')\n", "boom"),
        ("import sys\nsys.exit(3)\n", "SystemExit"),
        ("def resource_mapping():\n    return {'A::B': object}\n",
         "not a subclass"),
        ("def resource_mapping():\n    return [1]\n", "must be a dict"),
        ("def resource_mapping():\n    raise KeyError('k')\n", "failed"),
    ])
    def test_broken_module_names_the_file(self, bare, tmp_path, source, text):
        path = tmp_path / "bad.py"
        path.write_text(source)
        with pytest.raises(exception.PluginError) as info:
            bare.load_plugin_dir(tmp_path)
        assert str(path) in str(info.value)
        assert text in str(info.value)

    def test_missing_dir(self, bare, tmp_path):
        with pytest.raises(exception.PluginError) as info:
            bare.load_plugin_dir(tmp_path / "nope")
        assert "does not exist" in str(info.value)


def fake_entry_points(monkeypatch, *specs):
    eps = [importlib.metadata.EntryPoint(name, value, "heatflow.resources")
           for name, value in specs]

    def entry_points(group=None):
        assert group == "heatflow.resources"
        return eps
    monkeypatch.setattr(registry.importlib.metadata, "entry_points",
                        entry_points)


class TestEntryPoints:
    def test_class_entry_point(self, monkeypatch):
        fake_entry_points(monkeypatch,
                          ("Acme::Widget", "tests.unit.test_registry:Widget"))
        reg = Registry(builtins=False)
        assert reg.types() == ["Acme::Widget"]
        assert reg.get_class("Acme::Widget") is Widget

    def test_mapping_entry_point(self, monkeypatch):
        fake_entry_points(monkeypatch, (
            "acme", "tests.unit.test_registry:widget_mapping"))
        reg = Registry(builtins=False)
        assert reg.types() == ["Acme::Gadget", "Acme::Widget"]
        assert reg.get_class("Acme::Gadget") is Gadget

    @pytest.mark.parametrize("value,text", [
        ("tests.unit.no_such_module:X", "cannot load"),
        ("tests.unit.test_registry:BUILTINS", "neither"),
        ("importlib.metadata:EntryPoint", "not a subclass"),
        ("tests.unit.test_registry:not_a_resource", "must be a dict"),
    ])
    def test_bad_entry_points(self, monkeypatch, value, text):
        fake_entry_points(monkeypatch, ("Acme::Bad", value))
        with pytest.raises(exception.PluginError) as info:
            Registry(builtins=False)
        assert "Acme::Bad" in str(info.value) and text in str(info.value)

    def test_disabled(self, monkeypatch):
        fake_entry_points(monkeypatch,
                          ("Acme::Widget", "tests.unit.test_registry:Widget"))
        assert "Acme::Widget" not in Registry(entry_points=False)


class TestDefault:
    def test_env_dirs_then_given_dirs(self, monkeypatch, tmp_path):
        fake_entry_points(monkeypatch,
                          ("Acme::Widget", "tests.unit.test_registry:Widget"))
        write_plugin(tmp_path / "e1", "p.py", "Acme::E1")
        write_plugin(tmp_path / "e2", "p.py", "Acme::Shared", marker="env")
        write_plugin(tmp_path / "g", "p.py", "Acme::Shared", marker="given")
        monkeypatch.setenv("HEATFLOW_PLUGIN_DIRS", "%s:%s:" % (
            tmp_path / "e1", tmp_path / "e2"))
        reg = Registry.default(plugin_dirs=[tmp_path / "g"])
        assert set(reg.types()) == set(BUILTINS) | {
            "Acme::Widget", "Acme::E1", "Acme::Shared"}
        # given directories come last and so win
        assert reg.get_class("Acme::Shared").marker == "given"

    def test_no_env(self, monkeypatch):
        fake_entry_points(monkeypatch)
        monkeypatch.delenv("HEATFLOW_PLUGIN_DIRS", raising=False)
        assert Registry.default().types() == BUILTINS


class TestPermissive:
    def test_unknown_types_get_a_generic_class(self):
        reg = Registry.permissive(entry_points=False)
        cls = reg.get_class("AWS::EC2::Instance")
        assert issubclass(cls, resource.Resource)
        assert cls.strict_properties is False and cls.strict_attributes is False
        assert reg.get_class("AWS::EC2::Instance") is cls
        assert reg.get_class("OS::Nova::Server") is not cls
        assert "AWS::EC2::Instance" in reg and "" not in reg
        assert reg.get_class("OS::Heat::None") is none_plugin.NoneResource

    def test_generic_accepts_anything(self):
        cls = Registry.permissive(entry_points=False).get_class("X::Y")
        res = cls.for_test("thing", {"image": "cirros", "flavor": {"a": 1}})
        assert res.properties["image"] == "cirros"
        assert res.get_attribute("first_address") is None
        res.handle_create()
        assert res.resource_id and res.get_reference_id() == res.resource_id
        assert res.handle_update(None, {}, {"image": "other"}) is None

    def test_still_rejects_non_names(self):
        with pytest.raises(exception.UnknownResourceType):
            Registry.permissive(entry_points=False).get_class(None)

    def test_plain_registry_is_strict(self):
        with pytest.raises(exception.UnknownResourceType):
            Registry(entry_points=False).get_class("AWS::EC2::Instance")
