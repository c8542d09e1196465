// Parsers for command-line values: each failure is a one-line error naming the option.
import { InvalidArgumentError } from 'commander';

export function integer(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a whole number, got ${JSON.stringify(value)}`);
    const n = Number(value);
    if (n < min || n > max) throw new InvalidArgumentError(`expected a number from ${min} to ${max}, got ${n}`);
    return n;
  };
}

/** An octal file mode such as 0660 or 660. */
export function fileMode(value: string): number {
  if (!/^0?[0-7]{3}$/.test(value)) throw new InvalidArgumentError(`expected an octal mode such as 0660, got ${JSON.stringify(value)}`);
  return parseInt(value, 8);
}
