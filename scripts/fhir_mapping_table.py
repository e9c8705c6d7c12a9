"""Print the event rows of the mapping table in ``docs/fhir.md`` from the tables in
``cllcds.fhir._mapping`` (``EVENT_MAPS``, ``EVENT_COMMON_FIELDS``).

Run: ``python scripts/fhir_mapping_table.py --write`` replaces the event rows of docs/fhir.md
(the rows from ``events[<first type>].date`` to the ``events[*]`` row); without ``--write`` it
prints them.
"""

from __future__ import annotations

import sys
from pathlib import Path

from cllcds.fhir._mapping import EVENT_MAPS

DOC = Path(__file__).resolve().parents[1] / "docs" / "fhir.md"


def rows() -> list[str]:
    out: list[str] = []
    for t, m in EVENT_MAPS.items():
        dates = " / ".join(
            [f"`{m.date_element}`", *(f"`{e}` ({r})" for r, e in m.date_elements.items())]
        )
        out.append(
            f"| `events[{t}].date` | {m.resource} | {dates} (a time of day: course-element "
            "local-time) |"
        )
        out += [f"| `events[{t}].{k}` | {m.resource} | {v} |" for k, v in m.fields.items()]
    out.append(
        "| `events[*].type`, `.id`, `.supersedes`, `.time` | every event resource | extension "
        "course-element (type, id, supersedes, time, sequence) |"
    )
    return out


def main() -> None:
    if "--write" not in sys.argv:
        print("\n".join(rows()))
        return
    lines = DOC.read_text(encoding="utf-8").splitlines()
    first = next(i for i, ln in enumerate(lines) if ln.startswith("| `events[") and ".date`" in ln)
    last = next(i for i, ln in enumerate(lines) if ln.startswith("| `events[*]"))
    lines[first : last + 1] = rows()
    DOC.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
