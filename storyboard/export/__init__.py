"""Exports of a rendered film for other tools (OpenTimelineIO timelines: .otio, .edl, FCP 7 .xml)."""
