// Types shared by the stages of examples/pipeline.ts.

/** A line of text and its position. */
export interface Line {
  index: number;
  text: string;
}

/** A transformed line: uppercased, with its word count and who did it. */
export interface Counted {
  index: number;
  upper: string;
  words: number;
  by: string;
}
