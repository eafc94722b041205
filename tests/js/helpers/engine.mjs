// The engine's own errors, for outcomes where the TypeScript store lets the
// engine throw (SPEC §2–§4, second edition: ToString of a key, `null.pending`,
// the listing loop over odd answers, a missing host method).

/**
 * The engine's part of a message. JavaScriptCore (Bun) quotes the source
 * text of the failing expression, as its transpiler rewrote it; V8 names
 * the expression only. Comparisons use this part.
 */
export const engineMessage = (m) =>
  m
    .replace(/ \(evaluating '.*'\)$/s, "")
    .replace(/\. \(In '.*$/s, "")
    // JavaScriptCore words a `for…of` over a non-iterable by the tier that
    // runs the loop: "{} is not iterable", or once optimized "undefined is
    // not a function (near '...entry of all...')". The same TypeError.
    .replace(/^undefined is not a function \(near '\.\.\.\w+ of \w+\.\.\.'\)$/s, "(not iterable)")
    .replace(/^.+ is not iterable$/s, "(not iterable)");

/** What `f` throws: the engine's own error for an expression the TS store evaluates. */
export function thrownBy(f) {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error("expected the expression to throw");
}
