"""`KEY=VALUE` options: one parser for run --agent-opt/--model-opt and improve --set."""

import pytest

from codeagent.cli.assignments import assignment, option_dict
from codeagent.errors import UserError


def test_values_are_json_where_asked_and_keys_are_field_names():
    assert option_dict(["max-steps=20", "x=a=b"], "--agent-opt", "max_steps=20") == {"max_steps": "20", "x": "a=b"}
    assert option_dict(["max_model_len=8192", "name=abc", "opts={\"a\": [1]}"], "--model-opt", "k=1", as_json=True) \
        == {"max_model_len": 8192, "name": "abc", "opts": {"a": [1]}}
    assert assignment("train.lr=1e-4", "--set", "train.lr=1e-4", as_json=True, dotted=True) == ("train.lr", 1e-4)


@pytest.mark.parametrize("text", ["novalue", "=3", " =3"])
def test_a_malformed_option_names_the_flag_and_an_example(text):
    with pytest.raises(UserError, match=r"--model-opt .*: expected KEY=VALUE, e\.g\. max_model_len=8192"):
        option_dict([text], "--model-opt", "max_model_len=8192")


def test_set_needs_a_dotted_field():
    with pytest.raises(UserError, match=r"--set 'lr=1': expected STAGE\.FIELD=VALUE, e\.g\. train\.lr=1e-4"):
        assignment("lr=1", "--set", "train.lr=1e-4", form="STAGE.FIELD=VALUE", dotted=True)
