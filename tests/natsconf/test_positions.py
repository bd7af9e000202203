"""Where each key was set (file and line) and which keys a ``$key`` reference used: what the
parser keeps beside the tree so messages can name a key's line and variables are not stray keys."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nats_account_server.natsconf import parse, parse_file
from nats_account_server.natsconf.parser import Table


def table(value: Any) -> Table:
    assert isinstance(value, Table)
    return value


def test_every_map_knows_the_line_of_each_key() -> None:
    tree = table(parse("a: 1\n\nb {\n  c: 2\n  d { e: [1,\n 2], f: 3 }\n}\ng = {}\n", filename="/x.conf"))
    assert tree.position("a") == ("/x.conf", 1)
    assert tree.position("b") == ("/x.conf", 3)
    assert tree.position("g") == ("/x.conf", 8)
    b = table(tree["b"])
    assert (b.position("c"), b.position("d")) == (("/x.conf", 4), ("/x.conf", 5))
    assert table(b["d"]).position("f") == ("/x.conf", 6)
    assert tree.position("missing") is None


def test_quoted_keys_json_and_no_filename() -> None:
    tree = table(parse('{\n  "a b": 1,\n  \'c\': {"d": 2}\n}'))
    assert tree.position("a b") == (None, 2)
    assert table(tree["c"]).position("d") == (None, 3)


def test_a_key_set_again_has_the_line_of_its_last_setting() -> None:
    tree = table(parse("a: 1\nb: 2\na: 3\n"))
    assert tree["a"] == 3 and tree.position("a") == (None, 3)


def test_included_keys_name_the_included_file(tmp_path: Path) -> None:
    inc = tmp_path / "inc.conf"
    inc.write_text("# comment\nport: 1\nblock {\n  key: 2\n}\n")
    main = tmp_path / "main.conf"
    main.write_text("top: 0\ninclude inc.conf\nafter: 3\n")
    tree = table(parse_file(main))
    assert tree.position("top") == (str(main), 1)
    assert tree.position("port") == (str(tmp_path / "inc.conf"), 2)
    assert table(tree["block"]).position("key") == (str(tmp_path / "inc.conf"), 4)
    assert tree.position("after") == (str(main), 3)


def test_a_map_from_an_environment_variable_has_the_line_of_the_reference() -> None:
    tree = table(parse("\n\nhttp: $CFG\n", env={"CFG": "{ port: 1 }"}))
    assert table(tree["http"]).position("port") == (None, 3)


def test_referenced_keys_are_recorded_in_the_map_that_defines_them(tmp_path: Path) -> None:
    tree = table(parse("v: 1\nw: 2\nblock { x: 3, y: $x, z: $v }\n"))
    assert tree.referenced == {"v"}
    assert table(tree["block"]).referenced == {"x"}
    assert table(parse("a: $E\n", env={"E": "1"})).referenced == set()  # the environment is no key
    (tmp_path / "inc.conf").write_text("u: 1\nuse: $u\n")
    assert table(parse("include inc.conf\n", filename=str(tmp_path / "m.conf"))).referenced == {"u"}
