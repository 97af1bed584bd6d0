/**
 * `--set key=value` overrides of a scenario: parsing the assignment and setting a dotted key path
 * in the parsed YAML tree, without ever walking into an object's prototype.
 */
import { parse as parseYamlValue } from "yaml";
import { UsageError } from "./options.ts";

/** Keys that would reach Object.prototype (or replace it) if followed or assigned. */
const FORBIDDEN_KEYS = new Set(["__proto__", "prototype", "constructor"]);

/** Parses `key=value` from --set (the value read as YAML, a plain string when it is not YAML). */
export function parseSet(assignment: string): { path: string; value: unknown } {
  const eq = assignment.indexOf("=");
  if (eq <= 0)
    throw new UsageError(`--set "${assignment}": expected key=value, e.g. load.rate=20000`);
  const path = assignment.slice(0, eq).trim();
  const forbidden = path.split(".").find((k) => FORBIDDEN_KEYS.has(k));
  if (forbidden !== undefined) {
    throw new UsageError(`--set "${assignment}": "${forbidden}" is not a scenario key`);
  }
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = text === "" ? "" : parseYamlValue(text, { maxAliasCount: 0 });
  } catch {
    value = text;
  }
  return { path, value };
}

/**
 * Sets `path` (dotted) in a plain object tree, creating objects on the way. A null value (YAML
 * `null` or `~`) removes the key instead: `--set target.options=null` drops a receiver's options
 * when a bundled scenario is pointed at a command. Only own properties are followed, and the
 * keys that lead to a prototype are refused, so no path can change Object.prototype.
 */
export function setPath(root: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split(".");
  if (keys.some((k) => k === "")) throw new Error(`"${path}" is not a dotted key path`);
  const bad = keys.find((k) => FORBIDDEN_KEYS.has(k));
  if (bad !== undefined) throw new Error(`"${bad}" is not a scenario key`);
  const put = (at: Record<string, unknown>, key: string) => {
    if (value === null) delete at[key];
    else
      Object.defineProperty(at, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
  };
  let at: Record<string, unknown> = root;
  for (let i = 0; i < keys.length - 1; i++) {
    // A key that itself holds dots (a sweep grid's `load.hosts`) is matched whole.
    const rest = keys.slice(i).join(".");
    if (Object.hasOwn(at, rest)) {
      put(at, rest);
      return;
    }
    const key = keys[i];
    const next = Object.hasOwn(at, key) ? at[key] : undefined;
    if (next === undefined || next === null) {
      if (value === null) return; // nothing there to remove
      const child: Record<string, unknown> = {};
      Object.defineProperty(at, key, {
        value: child,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else if (typeof next !== "object" || Array.isArray(next)) {
      throw new Error(
        `cannot set "${path}": "${key}" holds ${JSON.stringify(next)}, not a mapping`,
      );
    }
    at = at[key] as Record<string, unknown>;
  }
  put(at, keys[keys.length - 1]);
}
