// Reader options (format_options) as the form shows them: one "key = value" per line.
// Values are typed the way the API stores them: true/false, numbers, or text. Text that would read
// as another type, or has blank edges, is written as a JSON string ("true", "0012", "\t"); secret
// references stay as written.
import type { FieldProblem } from "@/lib/api/problem";

export type OptionValue = string | number | boolean;

const NUMBER = /^-?\d+(\.\d+)?$/;

// Text that would not come back as the same text unquoted: typed look-alikes, and text whose
// edges are blank (a tab or space delimiter), which a line's trimming would lose.
function needsQuotes(text: string): boolean {
  return text === "true" || text === "false" || NUMBER.test(text) || text.startsWith('"') || text !== text.trim() || text === "" || text.includes("\n");
}

export function optionsToText(options: Record<string, unknown> | null | undefined): string {
  return Object.entries(options ?? {})
    .map(([key, value]) => `${key} = ${typeof value === "string" && needsQuotes(value) ? JSON.stringify(value) : String(value)}`)
    .join("\n");
}

function parseValue(text: string): OptionValue {
  if (text === "true" || text === "false") return text === "true";
  if (NUMBER.test(text)) return Number(text);
  if (text.length >= 2 && text.startsWith('"') && text.endsWith('"')) {
    try {
      return String(JSON.parse(text));
    } catch {
      return text;
    }
  }
  return text;
}

/** The options, or the error to show under the field (nothing is sent while a line is malformed). */
export function parseOptions(text: string, field = "format_options"): { options: Record<string, OptionValue> } | { error: FieldProblem } {
  const options: Record<string, OptionValue> = {};
  const lines = text.split("\n");
  for (let index = 0; index < lines.length; index++) {
    const line = lines[index].trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    const key = eq > 0 ? line.slice(0, eq).trim() : "";
    if (!key) {
      return { error: { field, message: `line ${index + 1} ('${line}') is not 'key = value'`, fix: "Write one option per line, e.g. header = true or password = {{secrets/shop/db_password}}." } };
    }
    if (key in options) {
      return { error: { field, message: `line ${index + 1}: option '${key}' is given twice`, fix: "Keep one line per option." } };
    }
    options[key] = parseValue(line.slice(eq + 1).trim());
  }
  return { options };
}
