// What the serializers (msgpack, pickle) share to name a value in an error:
// path segments from `$`, map-key literals, articles; and the check for the
// engine's stack overflow, which both turn into a clear error.

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** Is `e` V8's "Maximum call stack size exceeded"? */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError &&
    e.message === "Maximum call stack size exceeded";
}

/** The path segment for the property `key`: `.key` or `["key"]`. */
export function propertySegment(key: string): string {
  return IDENTIFIER.test(key) ? "." + key : "[" + JSON.stringify(key) + "]";
}

/** A JavaScript literal for a primitive map key, or undefined for objects. */
export function keyLiteral(key: unknown): string | undefined {
  switch (typeof key) {
    case "string":
      return JSON.stringify(key);
    case "number":
      return Object.is(key, -0) ? "-0" : String(key);
    case "bigint":
      return key + "n";
    case "boolean":
    case "undefined":
      return String(key);
    case "object":
      return key === null ? "null" : undefined;
    default:
      return undefined;
  }
}

/** "a Foo" or "an Error". */
export function article(name: string): string {
  return (/^[AEIO]/i.test(name) ? "an " : "a ") + name;
}
