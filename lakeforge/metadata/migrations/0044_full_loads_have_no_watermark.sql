-- A full load re-reads everything and never reads a watermark; sources saved before the command
-- layer refused that combination lose the unused column, so exporting and applying them again
-- passes the same check. The watermark_state of earlier incremental runs is kept.
SET search_path TO lakeforge, public;

UPDATE source SET watermark_column = NULL WHERE load_mode = 'full' AND watermark_column IS NOT NULL;
