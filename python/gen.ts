// Regenerates python/_mpq_source.ts from python/mpq.py: `deno task gen:mpq`.
const dir = new URL("./", import.meta.url);
const source = await Deno.readTextFile(new URL("mpq.py", dir));
await Deno.writeTextFile(
  new URL("_mpq_source.ts", dir),
  `// Generated from python/mpq.py by \`deno task gen:mpq\` (tests/cpython_test.ts
// checks they are the same): the module spawnPython() gives a Python worker,
// wherever this package was loaded from.

/** The source of \`python/mpq.py\`. */
export const MPQ_SOURCE: string = ${JSON.stringify(source)};
`,
);
