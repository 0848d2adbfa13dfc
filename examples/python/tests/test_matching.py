"""The runner's own rules (examples/features/README.md "Values" and "Matching")."""

import uuid

import pytest
from angzarr import key_root

from feature_runner.matching import Expected, check_list, check_timestamps
from feature_runner.values import Placeholders, StepError, parse_message, parse_root


def check(domain: str, name: str, expected: str, actual: str) -> None:
    Expected.named(domain, name, expected).check(parse_message(domain, name, actual))


def test_only_listed_fields_are_compared() -> None:
    actual = '{"points": 30, "new_balance": 80, "new_lifetime_points": 80, "reason": "x"}'
    check("customer", "LoyaltyPointsAdded", '{"new_balance": 80}', actual)
    check("customer", "LoyaltyPointsAdded", "{}", actual)
    check("customer", "LoyaltyPointsAdded", '{"newBalance": 80, "points": 30}', actual)
    with pytest.raises(StepError, match=r"^new_balance: expected 81, actual 80\n  expected: LoyaltyPointsAdded"):
        check("customer", "LoyaltyPointsAdded", '{"points": 30, "new_balance": 81}', actual)


def test_listed_defaults_must_be_unset_or_default() -> None:
    check("cart", "CartState", '{"coupon": null, "lines": [], "subtotal_cents": 0}', '{"exists": true}')
    with pytest.raises(StepError, match=r'^reason: expected "", actual "welcome"'):
        check("customer", "LoyaltyPointsAdded", '{"reason": ""}', '{"reason": "welcome"}')
    with pytest.raises(StepError, match=r'^coupon: expected null, actual \{"code":"SAVE10",'):
        check("cart", "CartState", '{"coupon": null}', '{"coupon": {"code": "SAVE10"}}')


def test_nested_repeated_and_maps() -> None:
    lines = '{"lines": [{"product_id": "A", "quantity": 2}, {"product_id": "B", "quantity": 1}]}'
    check("cart", "CartState", '{"lines": [{"product_id": "A"}, {"quantity": 1}]}', lines)
    with pytest.raises(StepError, match=r"^lines: expected \[\{"):
        check("cart", "CartState", '{"lines": [{"product_id": "A"}]}', lines)
    with pytest.raises(StepError, match=r'^lines\[1\]\.product_id: expected "C", actual "B"'):
        check("cart", "CartState", '{"lines": [{}, {"product_id": "C"}]}', lines)
    held = '{"reservations": {"o-1": 10, "o-2": 20}}'
    check("inventory", "InventoryState", held, held)
    with pytest.raises(StepError, match=r"^reservations: expected"):
        check("inventory", "InventoryState", '{"reservations": {"o-2": 20}}', held)
    with pytest.raises(StepError, match=r"^reservations\['o-1'\]: expected 11, actual 10"):
        check("inventory", "InventoryState", '{"reservations": {"o-1": 11, "o-2": 20}}', held)


def test_bad_expectations_are_clear() -> None:
    with pytest.raises(StepError, match="unknown message AddItem in domain customer"):
        Expected.named("customer", "AddItem", "{}")
    with pytest.raises(StepError, match="is not a valid LoyaltyPointsAdded"):
        Expected.named("customer", "LoyaltyPointsAdded", '{"pionts": 1}')
    with pytest.raises(StepError, match="expected LoyaltyPointsAdded as a JSON object"):
        Expected.named("customer", "LoyaltyPointsAdded", "[1]")
    with pytest.raises(StepError, match=r"expected CustomerCreated \{\}, got LoyaltyPointsAdded"):
        check_list(
            "events",
            [("", Expected.named("customer", "CustomerCreated", "{}"))],
            [("", parse_message("customer", "LoyaltyPointsAdded", "{}"))],
        )


def test_emitted_events_set_their_timestamps() -> None:
    check_timestamps(parse_message("customer", "CustomerCreated", '{"created_at": "2024-01-01T00:00:00Z"}'))
    with pytest.raises(StepError, match="CustomerCreated leaves created_at unset"):
        check_timestamps(parse_message("customer", "CustomerCreated", '{"name": "A"}'))


def test_placeholders_and_roots() -> None:
    names = Placeholders()
    text = names.substitute('{"reason": "order:$R", "other": "$R2", "same": "$R"} $ 5$ $9')
    r, r2 = names.get("R"), names.get("R2")
    assert r != r2 and r.version == 4
    assert text == f'{{"reason": "order:{r}", "other": "{r2}", "same": "{r}"}} $ 5$ $9'
    assert Placeholders().get("R") != r
    assert names.root("key(inventory, WIDGET-A)") == key_root("inventory", "WIDGET-A")
    assert names.restore(f"{r} {key_root('inventory', 'WIDGET-A')}") == "$R key(inventory, WIDGET-A)"
    assert parse_root(str(r)) == r and isinstance(parse_root("key(customer,a@b)"), uuid.UUID)
    for bad in ["R", "key(customer)"]:
        with pytest.raises(StepError, match=bad.replace("(", r"\(").replace(")", r"\)")):
            parse_root(bad)
