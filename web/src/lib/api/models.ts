// Names for the read models the screens display. Every shape is generated from the API's
// response models (api/models.py → openapi.json → schema.d.ts); nothing here is written twice.
import type { components } from "./schema";

type Schemas = components["schemas"];

export type RunStatus = Schemas["BatchRow"]["status"];
export type SourceSummary = Schemas["SourceSummary"];
export type SourceDetail = Schemas["SourceDetail"];
export type SourceRunRow = Schemas["SourceRunRow"];
export type FilesLoaded = Schemas["FilesLoaded"];
export type DqRuleRow = Schemas["DqRuleRow"];
export type RevisionRow = Schemas["RevisionRow"];
export type GroupRow = Schemas["GroupRow"];
export type ScheduleRow = Schemas["ScheduleRow"];
export type BatchRow = Schemas["BatchRow"];
export type StepRow = Schemas["StepRow"];
export type DqResultRow = Schemas["DqResultRow"];
export type TableRow = Schemas["TableRow"];
export type ZoneRow = Schemas["ZoneRow"];
export type BatchDetail = Schemas["BatchDetail"];
export type RunsPage = Schemas["RunsPage"];
export type AuditRow = Schemas["AuditRow"];
export type AuditPage = Schemas["AuditPage"];
export type Me = Schemas["Me"];
export type QuarantineSample = Schemas["QuarantineSample"];
export type SchedulePreview = Schemas["SchedulePreview"];
