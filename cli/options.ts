// Parsers for option values; a bad value is a usage error (exit code 2) naming the option.

import { InvalidArgumentError } from "commander";

export function positiveNumber(value: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number < 0 || value.trim() === "") throw new InvalidArgumentError("a number is expected.");
  return number;
}

export function integer(value: string): number {
  const number = positiveNumber(value);
  if (!Number.isInteger(number)) throw new InvalidArgumentError("a whole number is expected.");
  return number;
}

/** Repeatable `--env NAME=VALUE`. */
export function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const equals = value.indexOf("=");
  if (equals <= 0) throw new InvalidArgumentError("NAME=VALUE is expected.");
  return { ...previous, [value.slice(0, equals)]: value.slice(equals + 1) };
}

/** Repeatable options that collect their values. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
