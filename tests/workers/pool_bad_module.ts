// A task module that fails to load.
export function never(): number {
  return 0;
}
throw new SyntaxError("this module fails at load");
