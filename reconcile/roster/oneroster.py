"""OneRoster 1.1 / 1.2 CSV (folder or zip) -> raw rows for :mod:`reconcile.roster.normalise`.

Mapping, set by :class:`reconcile.config.OneRosterSettings`: a class becomes a Canvas
course (or a section of its course); OneRoster roles map to Canvas roles; a
``tobedeleted`` status becomes ``deleted``; guardians become observers
(:mod:`reconcile.roster.guardians`). References that point nowhere (a class or user not
in a bulk file) are errors. Pure: takes the members' bytes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from reconcile.config import OneRosterSettings
from reconcile.frames import ROLE_WORDS
from reconcile.roster.csvread import FILE, ROW, decode_check, read_csv_table
from reconcile.roster.guardians import observer_rows
from reconcile.roster.problems import Problem, closest, did_you_mean, error, warning

REQUIRED = {
    "enrollments.csv": ("sourcedId", "classSourcedId", "userSourcedId", "role"),
    "classes.csv": ("sourcedId",),
    "users.csv": ("sourcedId",),
    "courses.csv": ("sourcedId",),
    "roles.csv": ("userSourcedId", "role"),
}


def looks_like_oneroster(header: list[str]) -> bool:
    """True for a OneRoster enrollments.csv or manifest.csv header."""
    names = set(header)
    return {"classSourcedId", "userSourcedId"} <= names or names == {"propertyName", "value"}


class Files:
    """The member CSVs, parsed on demand, each keyed by its OneRoster file name.

    ``get`` returns None for a missing or unusable member (its problems are recorded)."""

    def __init__(self, members: dict[str, bytes], name: str, problems: list[Problem]) -> None:
        self.members = members
        self.name = name
        self.problems = problems
        self.cache: dict[str, pd.DataFrame | None] = {}

    def label(self, member: str) -> str:
        return f"{self.name}/{member}"

    def get(self, member: str) -> pd.DataFrame | None:
        if member not in self.cache:
            self.cache[member] = self._parse(member)
        return self.cache[member]

    def _parse(self, member: str) -> pd.DataFrame | None:
        data = self.members.get(member)
        if data is None:
            return None
        file = self.label(member)
        data, found = decode_check(data, file)
        if found:
            self.problems.extend(found)
            return None
        table, found = read_csv_table(data, file)
        if member != "enrollments.csv":  # an empty side file is fine; no enrollments is not
            found = [p for p in found if p.code != "empty_file"]
        self.problems.extend(found)
        if table is None:
            return pd.DataFrame(columns=[*REQUIRED.get(member, ()), ROW], dtype=object)
        frame = table.frame
        missing = [c for c in REQUIRED.get(member, ()) if c not in frame.columns]
        for column in missing:
            hint = closest(column, [c for c in frame.columns if c != ROW])
            extra = f' (did you mean the column "{hint}"?)' if hint else ""
            self.problems.append(
                error(file, 1, column, "missing_column", f"required column {column} is missing{extra}")
            )
        if missing:
            return None
        return frame


def _manifest(files: Files) -> tuple[str, dict[str, str]]:
    frame = files.get("manifest.csv")
    if frame is None:
        if "manifest.csv" not in files.members:
            files.problems.append(
                warning(
                    files.name,
                    None,
                    None,
                    "no_manifest",
                    "no manifest.csv: files are read as OneRoster 1.1 bulk",
                )
            )
        return "1.1", {}
    if not {"propertyName", "value"} <= set(frame.columns):
        files.problems.append(
            error(
                files.label("manifest.csv"),
                1,
                None,
                "bad_manifest",
                "manifest.csv needs columns propertyName,value",
            )
        )
        return "1.1", {}
    props = dict(zip(frame["propertyName"].str.strip(), frame["value"].str.strip().str.lower(), strict=True))
    version = props.get("oneroster.version", "1.1")
    if version not in {"1.1", "1.2"}:
        files.problems.append(
            error(
                files.label("manifest.csv"),
                None,
                "value",
                "bad_manifest",
                f"oneroster.version {version!r} is not supported (1.1 or 1.2)",
            )
        )
    modes = {k.removeprefix("file.") + ".csv": v for k, v in props.items() if k.startswith("file.")}
    for member, mode in modes.items():
        if mode not in {"bulk", "delta", "absent"}:
            files.problems.append(
                error(
                    files.label("manifest.csv"),
                    None,
                    "value",
                    "bad_manifest",
                    f"file.{member[:-4]}: mode {mode!r}",
                )
            )
        elif mode != "absent" and member not in files.members:
            files.problems.append(
                error(
                    files.name,
                    None,
                    None,
                    "missing_file",
                    f"manifest lists {member} as {mode} but it is missing",
                )
            )
    return version, modes


def read_oneroster(
    members: dict[str, bytes], name: str, settings: OneRosterSettings
) -> tuple[pd.DataFrame | None, list[Problem], bool]:
    """Map a OneRoster CSV set to raw rows; returns (rows, problems, is_delta)."""
    problems: list[Problem] = []
    files = Files(members, name, problems)
    _version, modes = _manifest(files)
    is_delta = modes.get("enrollments.csv") == "delta"
    if "enrollments.csv" not in members:
        if not any(p.code == "missing_file" for p in problems):
            problems.append(error(name, None, None, "missing_file", "enrollments.csv is missing"))
        return None, problems, is_delta
    enrollments = files.get("enrollments.csv")
    if enrollments is None or len(enrollments) == 0:
        return None, problems, is_delta
    if is_delta:
        problems.append(
            warning(
                files.label("enrollments.csv"),
                None,
                None,
                "delta",
                "delta file: only the enrollments it names change; nothing else is dropped",
            )
        )
    enr_file = files.label("enrollments.csv")
    users = files.get("users.csv")
    classes = files.get("classes.csv")
    bulk = {
        m: modes.get(m, "bulk") == "bulk" and files.get(m) is not None for m in ("users.csv", "classes.csv")
    }

    out = pd.DataFrame({ROW: enrollments[ROW], FILE: enr_file})
    # Rows the mapping could not place are reported here and left out, so the
    # normaliser does not report them again as empty cells.
    rejected = np.zeros(len(enrollments), dtype=bool)
    cls = enrollments["classSourcedId"].str.strip()
    uid = enrollments["userSourcedId"].str.strip()

    def reject_unknown(refs: pd.Series, known: pd.DataFrame, column: str, kind: str, listing: str) -> None:
        unknown = (~refs.isin(known["sourcedId"].str.strip())).to_numpy()
        rejected[:] |= unknown
        for i in np.flatnonzero(unknown):
            problems.append(
                error(
                    enr_file,
                    enrollments[ROW].iat[i],
                    column,
                    f"unknown_{kind}",
                    f"{kind} {refs.iat[i]!r} is not in {listing}",
                )  # fmt: skip
            )

    if classes is not None and bulk["classes.csv"]:
        reject_unknown(cls, classes, "classSourcedId", "class", "classes.csv")
    if users is not None and bulk["users.csv"]:
        reject_unknown(uid, users, "userSourcedId", "user", "users.csv")
    course, section = _places(files, settings, cls, enrollments)
    out["course_id"] = course
    out["section_id"] = section if section is not None else ""
    out["user_id"] = _user_ids(files, settings, uid, enrollments)
    out["role"] = _roles(enrollments, settings, problems, enr_file)
    out["status"] = _statuses(enrollments, problems, enr_file)
    if settings.manage_dates:
        for src, dst in (("beginDate", "start_date"), ("endDate", "end_date")):
            if src in enrollments.columns:
                out[dst] = enrollments[src]
    out["associated_user_id"] = ""
    rejected |= (out["role"] == "").to_numpy() | (out["status"] == "").to_numpy()
    out, uid = out[~rejected].reset_index(drop=True), uid[~rejected].reset_index(drop=True)
    observers, replaced = observer_rows(files, settings, out, uid, problems)
    out = out.drop(index=replaced)
    frame = (
        pd.concat([out, observers], ignore_index=True)
        if observers is not None
        else out.reset_index(drop=True)
    )
    return frame, problems, is_delta


def _column(files: Files, spec: str, cls: pd.Series, enrollments: pd.DataFrame) -> pd.Series | None:
    """Resolve a mapping spec (classSourcedId, courseSourcedId, classes.X, courses.X) per row."""
    if spec == "classSourcedId":
        return cls
    classes = files.get("classes.csv")
    if classes is None:
        files.problems.append(
            error(files.name, None, None, "missing_file", f"classes.csv is needed to map {spec}")
        )
        return None
    by_class = (
        classes.assign(sourcedId=classes["sourcedId"].str.strip())
        .drop_duplicates("sourcedId")
        .set_index("sourcedId")
    )
    table, column = (
        ("classes", "courseSourcedId")
        if spec == "courseSourcedId"
        else spec.split(".", 1)
        if "." in spec
        else ("", spec)
    )
    if table == "classes":
        if column not in by_class.columns:
            files.problems.append(
                error(
                    files.label("classes.csv"),
                    1,
                    column,
                    "missing_column",
                    f"column {column} (from the oneroster mapping) is missing{did_you_mean(column, by_class.columns)}",
                )
            )
            return None
        return cls.map(by_class[column].str.strip())
    if table == "courses":
        courses = files.get("courses.csv")
        if courses is None or "courseSourcedId" not in by_class.columns:
            files.problems.append(
                error(files.name, None, None, "missing_file", f"courses.csv is needed to map {spec}")
            )
            return None
        if column not in courses.columns:
            files.problems.append(
                error(files.label("courses.csv"), 1, column, "missing_column", f"column {column} is missing")
            )
            return None
        by_course = (
            courses.assign(sourcedId=courses["sourcedId"].str.strip())
            .drop_duplicates("sourcedId")
            .set_index("sourcedId")
        )
        return cls.map(by_class["courseSourcedId"].str.strip()).map(by_course[column].str.strip())
    files.problems.append(
        error(files.name, None, None, "bad_mapping", f"oneroster mapping {spec!r} is not understood")
    )
    return None


def _text(series: pd.Series) -> pd.Series:
    """Mapped ids as text, unmatched ones empty (a map with no match at all is float NaN)."""
    return series.astype(object).where(series.notna(), "")


def _places(
    files: Files, settings: OneRosterSettings, cls: pd.Series, enrollments: pd.DataFrame
) -> tuple[pd.Series, pd.Series | None]:
    if settings.class_maps_to == "course":
        course = _column(files, settings.course_id_from or "classSourcedId", cls, enrollments)
        return _text(course if course is not None else cls), None
    course = _column(files, settings.course_id_from or "courseSourcedId", cls, enrollments)
    section = _column(files, settings.section_id_from, cls, enrollments)
    return _text(course if course is not None else cls), _text(section if section is not None else cls)


def _user_ids(
    files: Files, settings: OneRosterSettings, uid: pd.Series, enrollments: pd.DataFrame
) -> pd.Series:
    prefix = {"sis": "sis:", "integration": "integration:", "login": "login:"}[settings.user_id_kind]
    if settings.user_id_from == "sourcedId":
        ids = uid
    else:
        users = files.get("users.csv")
        column = settings.user_id_from
        if users is None or column not in users.columns:
            files.problems.append(
                error(
                    files.label("users.csv"),
                    1,
                    column,
                    "missing_column",
                    f"users.csv column {column} (oneroster.user_id_from) is missing",
                )
            )
            return uid.map(lambda _: "")
        ids = _text(uid.map(users.drop_duplicates("sourcedId").set_index("sourcedId")[column].str.strip()))
    return ids.where(ids == "", prefix + ids)


def _roles(
    enrollments: pd.DataFrame, settings: OneRosterSettings, problems: list[Problem], file: str
) -> pd.Series:
    role = enrollments["role"].str.strip().str.lower()
    mapped = role.map(settings.role_map)
    if "primary" in enrollments.columns and settings.non_primary_teacher_as_ta:
        secondary = (role == "teacher") & (enrollments["primary"].str.strip().str.lower() == "false")
        mapped = mapped.where(~secondary, ROLE_WORDS["ta"])
    for i in np.flatnonzero(mapped.isna().to_numpy()):
        value = role.iat[i]
        problems.append(
            error(
                file,
                enrollments[ROW].iat[i],
                "role",
                "unknown_role",
                f'unknown role "{value}"{did_you_mean(value, settings.role_map)}; map it in oneroster.role_map',
            )
        )
    return _text(mapped)


def _statuses(enrollments: pd.DataFrame, problems: list[Problem], file: str) -> pd.Series:
    if "status" not in enrollments.columns:
        return pd.Series("active", index=enrollments.index, dtype=object)
    status = enrollments["status"].str.strip().str.lower()
    mapped = status.map({"": "active", "active": "active", "tobedeleted": "deleted"})
    for i in np.flatnonzero(mapped.isna().to_numpy()):
        problems.append(
            error(
                file,
                enrollments[ROW].iat[i],
                "status",
                "unknown_status",
                f'unknown status "{status.iat[i]}"{did_you_mean(status.iat[i], ["active", "tobedeleted"])}',
            )
        )
    return _text(mapped)
