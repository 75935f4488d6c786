"""Pure pieces of the simulator, no server: Rails params, dates, the bucket, bookmarks."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile.sim.dates import course_concluded, effective_state
from reconcile.sim.model import Course, Enrollment, Section, Term, collation_key
from reconcile.sim.pagination import decode_page, encode_bookmark, per_page
from reconcile.sim.params import merge, parse_body, parse_query, ruby_to_i, to_query, value_to_boolean
from reconcile.sim.throttle import Throttle, ThrottleSettings

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 10, 15, 12, tzinfo=UTC)


def test_rails_brackets() -> None:
    params = parse_query("enrollment%5Buser_id%5D=5&state[]=active&state[]=invited&x=1&enrollment[type]=T")
    assert params == {"enrollment": {"user_id": "5", "type": "T"}, "state": ["active", "invited"], "x": "1"}


def test_json_body_and_merge() -> None:
    body = parse_body(b'{"enrollment": {"user_id": 5}, "state[]": "x"}', "application/json")
    assert body == {"enrollment": {"user_id": 5}, "state": ["x"]}
    assert merge({"enrollment": {"type": "A"}, "q": "1"}, body)["enrollment"] == {"type": "A", "user_id": 5}


@pytest.mark.parametrize(("text", "value"), [("12", 12), ("12abc", 12), ("abc", 0), (" -3", -3), ("", 0)])
def test_ruby_to_i(text: str, value: int) -> None:
    assert ruby_to_i(text) == value


@pytest.mark.parametrize(
    ("text", "value"), [("true", True), ("1", True), ("off", False), ("", False), ("maybe", None)]
)
def test_value_to_boolean(text: str, value: bool | None) -> None:
    assert value_to_boolean(text) is value


def test_to_query_sorts_keys_and_brackets_arrays() -> None:
    assert to_query({"type": ["A", "B"], "include": ["uuid"], "a b": "c d"}) == (
        "a+b=c+d&include%5B%5D=uuid&type%5B%5D=A&type%5B%5D=B"
    )


@given(st.dictionaries(st.text(st.characters(blacklist_characters="[]&=", blacklist_categories=("Cs",)), min_size=1),
                       st.lists(st.text(st.characters(blacklist_categories=("Cs",))), min_size=1, max_size=3)))  # fmt: skip
def test_to_query_round_trips_through_parse_query(params: dict[str, list[str]]) -> None:
    assert parse_query(to_query(params)) == params


@pytest.mark.parametrize(("raw", "size"), [(None, 10), ("0", 1), ("-5", 1), ("50", 50), ("500", 100)])
def test_per_page(raw: str | None, size: int) -> None:
    assert per_page({} if raw is None else {"per_page": raw}) == size


def test_bookmark_round_trip() -> None:
    key = ("StudentEnrollment", collation_key("Dubois, Chloé"), 1006)
    token = encode_bookmark(key, "Dubois, Chloé")
    assert decode_page({"page": token}) == key
    assert decode_page({"page": "first"}) is None
    assert decode_page({"page": "bookmark:%%%"}) is None


class _Dates:
    def __init__(self, course: Course, section: Section, term: Term | None) -> None:
        self._course, self._section, self._term = course, section, term

    def course(self, course_id: int) -> Course:
        return self._course

    def section(self, section_id: int) -> Section:
        return self._section

    def term(self, term_id: int | None) -> Term | None:
        return self._term


def _enrollment(
    state: str = "active", etype: str = "StudentEnrollment", **dates: dt.datetime | None
) -> Enrollment:
    return Enrollment(id=1, user_id=1, course_id=1, course_section_id=1, type=etype, role_id=3,
                      workflow_state=state, root_account_id=1, **dates)  # type: ignore[arg-type]  # fmt: skip


FALL = Term(
    id=1,
    name="Fall",
    start_at=dt.datetime(2026, 8, 24, tzinfo=UTC),
    end_at=dt.datetime(2026, 12, 19, tzinfo=UTC),
)
SPRING = Term(
    id=2,
    name="Spring",
    start_at=dt.datetime(2026, 1, 12, tzinfo=UTC),
    end_at=dt.datetime(2026, 5, 15, tzinfo=UTC),
)
NEXT = Term(
    id=3,
    name="Next",
    start_at=dt.datetime(2027, 1, 12, tzinfo=UTC),
    end_at=dt.datetime(2027, 5, 15, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("term", "enrollment", "state"),
    [
        (FALL, _enrollment(), "active"),
        (SPRING, _enrollment(), "completed"),
        (NEXT, _enrollment(), "pending_active"),
        (NEXT, _enrollment("invited"), "pending_invited"),
        (NEXT, _enrollment(etype="TeacherEnrollment"), "inactive"),
        (FALL, _enrollment("inactive"), "inactive"),
        # own dates win only when both are set
        (
            FALL,
            _enrollment(
                start_at=dt.datetime(2027, 1, 1, tzinfo=UTC), end_at=dt.datetime(2027, 2, 1, tzinfo=UTC)
            ),
            "pending_active",
        ),
        (FALL, _enrollment(start_at=dt.datetime(2027, 1, 1, tzinfo=UTC)), "active"),
        (None, _enrollment(), "active"),
    ],
)
def test_effective_state(term: Term | None, enrollment: Enrollment, state: str) -> None:
    course = Course(id=1, name="C", account_id=1, enrollment_term_id=1 if term else None)
    section = Section(id=1, course_id=1, name="S")
    assert effective_state(_Dates(course, section, term), enrollment, NOW) == state


def test_section_and_course_restrictions() -> None:
    course = Course(id=1, name="C", account_id=1, enrollment_term_id=1,
                    start_at=dt.datetime(2026, 9, 1, tzinfo=UTC), end_at=dt.datetime(2026, 10, 1, tzinfo=UTC),
                    restrict_enrollments_to_course_dates=True)  # fmt: skip
    section = Section(id=1, course_id=1, name="S")
    dates = _Dates(course, section, FALL)
    assert effective_state(dates, _enrollment(), NOW) == "completed"
    assert course_concluded(dates, course, NOW)
    restricted = Section(id=1, course_id=1, name="S", start_at=dt.datetime(2026, 11, 1, tzinfo=UTC),
                         end_at=dt.datetime(2026, 12, 1, tzinfo=UTC), restrict_enrollments_to_section_dates=True)  # fmt: skip
    assert effective_state(_Dates(course, restricted, FALL), _enrollment(), NOW) == "pending_active"
    # a teacher with a section restriction still gets the term's dates
    assert (
        effective_state(_Dates(course, restricted, FALL), _enrollment(etype="TeacherEnrollment"), NOW)
        == "active"
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_bucket_reserves_leaks_and_settles() -> None:
    clock = _Clock()
    throttle = Throttle(ThrottleSettings(), clock=clock)
    assert all(throttle.reserve("a") for _ in range(11))  # 550 in flight
    assert not throttle.reserve("a")  # 600 >= hwm: refused, reservation returned
    assert throttle.remaining("a") == pytest.approx(50)
    assert throttle.settle("a", 1.0) == pytest.approx(99)  # one finished: 500 + 1
    clock.now = 10.0  # leaks 100
    assert throttle.remaining("a") == pytest.approx(199)
    assert throttle.reserve("b")  # buckets are per client


def test_bucket_is_capped_at_maximum_and_off_never_refuses() -> None:
    throttle = Throttle(ThrottleSettings(enabled=False), clock=_Clock())
    assert all(throttle.reserve("a") for _ in range(30))
    assert throttle.remaining("a") == pytest.approx(600 - 800)
