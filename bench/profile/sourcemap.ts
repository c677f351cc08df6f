// Just enough of source maps (v3) to say which source file a position of a bundle came from, so
// that a CPU profile of dist/hearth.cjs can be told apart by package (express, ioredis, …).

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const DIGIT = new Map([...BASE64].map((char, i) => [char, i]));

export class SourceMap {
  /** Per generated line: [generated column, source index] pairs, ascending. */
  private readonly lines: Array<Array<[number, number]>> = [];

  constructor(private readonly map: { sources: string[]; mappings: string }) {
    let source = 0;
    for (const line of map.mappings.split(";")) {
      const segments: Array<[number, number]> = [];
      let column = 0;
      for (const segment of line.split(",")) {
        if (!segment) continue;
        const fields = decodeVlq(segment);
        column += fields[0]!;
        if (fields.length >= 4) {
          source += fields[1]!;
          segments.push([column, source]);
        }
        // The original line, column and name (also relative) are not needed here.
      }
      this.lines.push(segments);
    }
  }

  /** The source file of a 0-based generated line and column, or undefined. */
  sourceAt(line: number, column: number): string | undefined {
    const segments = this.lines[line];
    if (!segments || segments.length === 0) return undefined;
    let lo = 0;
    let hi = segments.length - 1;
    if (segments[0]![0] > column) return this.map.sources[segments[0]![1]];
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segments[mid]![0] <= column) lo = mid;
      else hi = mid - 1;
    }
    return this.map.sources[segments[lo]![1]];
  }
}

function decodeVlq(segment: string): number[] {
  const values: number[] = [];
  let value = 0;
  let shift = 0;
  for (const char of segment) {
    const digit = DIGIT.get(char);
    if (digit === undefined) throw new Error(`bad VLQ character ${char}`);
    value += (digit & 31) << shift;
    if (digit & 32) {
      shift += 5;
      continue;
    }
    values.push(value & 1 ? -(value >>> 1) : value >>> 1);
    value = 0;
    shift = 0;
  }
  return values;
}
