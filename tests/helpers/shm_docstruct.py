"""The ring's layout as numpy dtypes built from the C structs in shm-dump's man page
(RING_LAYOUT, its RING LAYOUT section) alone, so a reader written from the documentation
can be checked against the writer."""

from __future__ import annotations

import re

import numpy as np

from alphapulse_cli.cli.shm_dump_cmd import RING_LAYOUT

C_TYPES = {
    "char": "S1",
    "uint8_t": "u1",
    "uint32_t": "<u4",
    "int32_t": "<i4",
    "uint64_t": "<u8",
    "float": "<f4",
}
FIELD = re.compile(
    r"^\s*(char|uint8_t|uint32_t|int32_t|uint64_t|float|struct ap_book_entry)\s+(\w+)"
    r"((?:\[\d+\])*);\s*/\*\s*(\d+):?"
)


def documented_structs() -> dict[str, list[tuple[str, str, tuple[int, ...], int]]]:
    """struct name -> [(C type, field, dims, documented offset)] parsed from shm-dump's man
    page text (RING_LAYOUT)."""
    doc = RING_LAYOUT
    structs: dict[str, list[tuple[str, str, tuple[int, ...], int]]] = {}
    current = None
    for line in doc.splitlines():
        m = re.match(r"^\s*struct (\w+) \{", line)
        if m:
            current = structs.setdefault(m.group(1), [])
            continue
        m = FIELD.match(line)
        if m and current is not None:
            dims = tuple(int(d) for d in re.findall(r"\[(\d+)\]", m.group(3)))
            current.append((m.group(1), m.group(2), dims, int(m.group(4))))
    return structs


def dtype_from_doc(fields, item_types) -> np.dtype:
    names, formats, offsets = [], [], []
    for ctype, name, dims, off in fields:
        base = item_types[ctype] if ctype in item_types else C_TYPES[ctype]
        if ctype == "char":
            base, dims = f"S{dims[0]}", ()
        names.append(name)
        formats.append((base, dims) if dims else base)
        offsets.append(off)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets})


def doc_dtypes(stride: int) -> tuple[np.dtype, np.dtype, np.dtype]:
    s = documented_structs()
    header = dtype_from_doc(s["ap_ring_header"], {})
    entry = dtype_from_doc(s["ap_book_entry"], {})
    slot_fields = s["ap_slot"]
    slot = np.dtype(
        {
            "names": [f[1] for f in slot_fields],
            "formats": ["<u8" if f[0] == "uint64_t" else entry for f in slot_fields],
            "offsets": [f[3] for f in slot_fields],
            "itemsize": stride,
        }
    )
    return header, entry, slot
