// What the command prints: tables and field lists for people, the API's answers as they are with --json.

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

/** Columns padded to their widest cell; `message` when there are no rows (an empty table says nothing). */
export function printTable<T>(rows: T[], columns: Column<T>[], empty: string): void {
  if (rows.length === 0) {
    process.stdout.write(`${empty}\n`);
    return;
  }
  const cells = [columns.map((column) => column.header), ...rows.map((row) => columns.map((column) => text(column.value(row))))];
  const widths = columns.map((_, index) => Math.max(...cells.map((line) => line[index]!.length)));
  for (const line of cells) {
    process.stdout.write(`${line.map((cell, index) => (index === line.length - 1 ? cell : cell.padEnd(widths[index]!))).join("  ").trimEnd()}\n`);
  }
}

/** `name: value` lines; nested objects as JSON on their line. */
export function printFields(fields: [string, unknown][]): void {
  const width = Math.max(...fields.map(([name]) => name.length)) + 1;
  for (const [name, value] of fields) process.stdout.write(`${`${name}:`.padEnd(width)} ${text(value)}\n`);
}

/**
 * Text from Hearth or from a function (log lines, error messages, names) for a terminal: control
 * characters shown escaped, so that what a function prints cannot move the cursor, clear the screen or
 * retitle the window. Tabs and newlines stay.
 */
export function printable(value: string): string {
  return value.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (char) => `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function text(value: unknown): string {
  if (value === undefined || value === null || value === "") return "-";
  if (typeof value === "string") return printable(value);
  if (Array.isArray(value) && value.every((item) => typeof item === "string")) return value.length ? printable(value.join(", ")) : "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export function bytes(count: number): string {
  if (count < 1024) return `${count} B`;
  if (count < 1024 * 1024) return `${(count / 1024).toFixed(1)} KiB`;
  return `${(count / 1024 / 1024).toFixed(1)} MiB`;
}

/** A body for the terminal: pretty JSON if it is JSON, else the text as it is; a newline at the end. */
export function printBody(body: Buffer, contentType: string | null): void {
  if (contentType?.includes("json")) {
    try {
      printJson(JSON.parse(body.toString("utf8")));
      return;
    } catch {
      // Not JSON after all: print it as it came.
    }
  }
  process.stdout.write(body);
  if (body.length > 0 && body[body.length - 1] !== 0x0a && process.stdout.isTTY) process.stdout.write("\n");
}
