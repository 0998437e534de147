"""Reading and writing .wslog raw frame logs."""

from alphapulse_cli.wslog.format import (
    HEADER,
    HEADER_SIZE,
    MAGIC,
    PREAMBLE_BYTES,
    PREAMBLE_SIZE,
    Kind,
    make_tag,
    tag_conn,
    tag_kind,
    tag_venue,
)

__all__ = [
    "HEADER",
    "HEADER_SIZE",
    "MAGIC",
    "PREAMBLE_BYTES",
    "PREAMBLE_SIZE",
    "Kind",
    "make_tag",
    "tag_conn",
    "tag_kind",
    "tag_venue",
]
