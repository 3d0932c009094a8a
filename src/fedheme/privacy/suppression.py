"""Small-cell suppression of released counts: a count strictly between 0 and the minimum
cell count is hidden, with every cell from which it could be recovered by subtraction."""

from __future__ import annotations


def is_small(count: int, min_cell: int) -> bool:
    """True for a count that must not be released: strictly between 0 and ``min_cell``."""
    return 0 < count < min_cell


def count_pair(total_name: str, total: int, part_name: str, part: int, min_cell: int, path: str, suppressed: list[str]) -> dict:
    """A count and a sub-count (e.g. patients and events): the total is hidden when small;
    the part is hidden when it or its complement (total - part) is small."""
    if is_small(total, min_cell):
        suppressed.append(path)
        return {total_name: None, part_name: None}
    if is_small(part, min_cell) or is_small(total - part, min_cell):
        suppressed.append(f"{path}.{part_name}")
        return {total_name: total, part_name: None}
    return {total_name: total, part_name: part}
